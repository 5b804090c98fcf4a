"""Read SPL token movements and failure reasons back out of transactions."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

from earnest.services.chain_port import TokenTransfer

# SPL Token instruction tags (spl-token `TokenInstruction` enum order).
_TRANSFER = 3  # accounts: source, destination, authority; data: u64 amount
_TRANSFER_CHECKED = 12  # accounts: source, mint, destination, authority; data: u64, u8
# Token-2022's TransferFeeExtension, sub-instruction 1 TransferCheckedWithFee: accounts as
# TransferChecked; data: u64 amount, u8 decimals, u64 fee.
_TRANSFER_FEE_EXTENSION, _WITH_FEE = 26, 1
_PROGRAMS = (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID)
_LOG_LINES = 4  # enough of the program log to say why, short enough for a problem JSON


def token_transfers(
    tx: VersionedTransaction,
    mint_of: Callable[[Pubkey], Pubkey | None],
    loaded: Sequence[Pubkey] = (),
    fee_of: Callable[[Pubkey, int], int] = lambda _mint, _amount: 0,
) -> list[TokenTransfer]:
    """The top-level Transfer/TransferChecked(WithFee) instructions of `tx` under either
    token program, in order.

    `mint_of` names the mint of a token account, needed for plain Transfer, whose
    instruction does not carry it; `loaded` are the accounts a v0 message loaded from
    lookup tables (writable, then readonly), which its indexes count after the static keys;
    `fee_of` is what a mint withholds from an amount (a transfer that does not state it).
    """
    keys = [*tx.message.account_keys, *loaded]
    found = []
    for ix in tx.message.instructions:
        data, accounts = bytes(ix.data), [keys[i] for i in bytes(ix.accounts)]
        if keys[ix.program_id_index] not in _PROGRAMS or not data:
            continue
        stated: int | None = None
        at = 1
        if data[:2] == bytes([_TRANSFER_FEE_EXTENSION, _WITH_FEE]) and len(data) >= 19:
            source, mint, destination, authority = accounts[:4]
            (stated,) = struct.unpack_from("<Q", data, 11)
            at = 2
        elif data[0] == _TRANSFER_CHECKED and len(data) >= 10 and len(accounts) >= 4:
            source, mint, destination, authority = accounts[:4]
        elif data[0] == _TRANSFER and len(data) >= 9 and len(accounts) >= 3:
            source, destination, authority = accounts[:3]
            known = mint_of(source) or mint_of(destination)
            if known is None:  # both accounts closed since: the movement cannot be priced
                continue
            mint = known
        else:
            continue
        (amount,) = struct.unpack_from("<Q", data, at)
        found.append(
            TokenTransfer(
                source=str(source),
                destination=str(destination),
                authority=str(authority),
                mint=str(mint),
                amount=amount,
                fee=fee_of(mint, amount) if stated is None else stated,
            )
        )
    return found


def failure_reason(result: FailedTransactionMetadata) -> str:
    """A one-line reason for a failed transaction: the error and the end of the log."""
    logs = list(result.meta().logs())[-_LOG_LINES:]
    reason = " ".join(str(result.err()).split())
    return f"{reason}; logs: {' | '.join(logs)}" if logs else reason
