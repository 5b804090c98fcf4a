"""Address lookup tables: v0 payouts that name recipients by a one-byte index.

A legacy transaction spells out every account in 32 bytes, so 18 transfers fill Solana's
1,232 bytes. A v0 message may load accounts from lookup tables instead: a recipient's token
account then costs one index byte, and a TransferChecked compiles to 18 bytes in all.
The market's tables hold the vault, the mint and every recipient's token account, in the
order they were first paid; 256 entries per table, then a new table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from solders.address_lookup_table_account import (
    LOOKUP_TABLE_MAX_ADDRESSES,
    AddressLookupTable,
    AddressLookupTableAccount,
)
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import create_lookup_table, extend_lookup_table
from solders.transaction import VersionedTransaction

from earnest.domain.errors import InvalidInput

# Addresses per extend transaction: a legacy transaction holding the create and an extend
# is ~268 bytes plus 32 per address, so 28 addresses stay under 1,232 bytes.
EXTEND_CHUNK = 28
TABLE_CAPACITY = LOOKUP_TABLE_MAX_ADDRESSES  # 256: an index is one byte


def decode(data: bytes) -> AddressLookupTable | None:
    """The lookup table held in an account's data, or None if it is not one."""
    try:
        return AddressLookupTable.deserialize(data)
    except ValueError:
        return None


def create(market: Pubkey, recent_slot: int) -> tuple[Instruction, Pubkey]:
    """The instruction creating a table owned by the market, and the table's address."""
    return create_lookup_table(
        {"authority_address": market, "payer_address": market, "recent_slot": recent_slot}
    )


def extend(market: Pubkey, table: Pubkey, addresses: Sequence[Pubkey]) -> Instruction:
    """Append `addresses` to the market's `table` (usable from the next slot on)."""
    return extend_lookup_table(
        {
            "lookup_table_address": table,
            "authority_address": market,
            "payer_address": market,
            "new_addresses": list(addresses),
        }
    )


def chunks(addresses: Sequence[Pubkey]) -> list[list[Pubkey]]:
    """`addresses` cut into groups that each fit one extend transaction."""
    return [list(addresses[i : i + EXTEND_CHUNK]) for i in range(0, len(addresses), EXTEND_CHUNK)]


def sign_v0(
    ixs: list[Instruction],
    payer: Keypair,
    blockhash: Hash,
    tables: Sequence[AddressLookupTableAccount],
) -> VersionedTransaction:
    """A v0 transaction of `ixs`, loading whatever accounts `tables` hold."""
    try:
        message = MessageV0.try_compile(payer.pubkey(), ixs, list(tables), blockhash)
        return VersionedTransaction(message, [payer])
    except ValueError as exc:
        raise InvalidInput(f"cannot build the v0 transaction: {exc}") from exc


def loaded_keys(
    tx: VersionedTransaction, table_of: Callable[[Pubkey], list[Pubkey] | None]
) -> tuple[list[Pubkey], list[Pubkey]]:
    """The (writable, readonly) accounts a v0 message loads from its lookup tables."""
    writable: list[Pubkey] = []
    readonly: list[Pubkey] = []
    for lookup in getattr(tx.message, "address_table_lookups", None) or []:
        entries = table_of(lookup.account_key) or []
        for index in bytes(lookup.writable_indexes):
            if index < len(entries):
                writable.append(entries[index])
        for index in bytes(lookup.readonly_indexes):
            if index < len(entries):
                readonly.append(entries[index])
    return writable, readonly
