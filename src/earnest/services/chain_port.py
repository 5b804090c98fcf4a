"""The chain port: what the market needs from Solana, in the domain's words.

Addresses, signatures and blockhashes cross this boundary as base58 strings and amounts as
integers of the mint's base units, so nothing outside `adapters/chain` imports solders.
Two adapters implement it: LocalChain (the real runtime in-process, persisted) and RpcChain
(any Solana JSON-RPC endpoint).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from earnest.domain.transfer_fee import TransferFee

# Solana's maximum serialized transaction size (IPv6 MTU 1280 - 48 header bytes).
MAX_TRANSACTION_BYTES = 1232


@dataclass(frozen=True)
class Transfer:
    """One payout line: `amount` base units to the token account of wallet `owner`.

    With a transfer-fee mint, `fee` is what the mint withholds from `amount` (the transfer
    fails if it would withhold anything else); `memo` puts a memo right before the transfer,
    for an account that requires one on incoming transfers.
    """

    owner: str
    amount: int
    fee: int = 0
    memo: bool = False


@dataclass(frozen=True)
class MintTerms:
    """What paying in the market's mint involves, read from the chain."""

    program: str  # "spl-token" or "spl-token-2022"
    decimals: int
    transfer_fee: TransferFee  # the mint's fee now (none: NO_FEE)
    fee_ceiling: TransferFee  # the higher of its current and scheduled fees
    refused: str | None  # why the market cannot pay in this mint; None when it can
    account_rent: int  # lamports a new payee's token account locks up (rent exemption)
    account_size: int  # bytes of that account
    signature_fee: int  # lamports per signature of a transaction


@dataclass(frozen=True)
class SignedTransaction:
    """A transaction signed and serialized, ready to send (or to re-send byte for byte)."""

    signature: str
    raw: bytes
    blockhash: str
    last_valid_height: int

    @property
    def size(self) -> int:
        return len(self.raw)


class TxState(StrEnum):
    UNKNOWN = "unknown"  # the chain has never seen it (or forgot it)
    FAILED = "failed"  # landed, but its instructions failed: nothing moved
    CONFIRMED = "confirmed"  # landed and succeeded


@dataclass(frozen=True)
class TxStatus:
    state: TxState
    slot: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class TokenTransfer:
    """A token movement read back from a landed transaction (for deposits)."""

    source: str  # token account debited
    destination: str  # token account credited
    authority: str  # wallet that signed for the source
    mint: str
    amount: int  # what left the source
    fee: int = 0  # what the mint withheld of it (a transfer-fee mint): the rest arrived

    @property
    def arrived(self) -> int:
        """What the destination received."""
        return self.amount - self.fee


class Chain(Protocol):
    """Solana as the market sees it: one mint, one vault, batched payouts."""

    @property
    def mint(self) -> str: ...

    @property
    def decimals(self) -> int: ...

    @property
    def vault_owner(self) -> str:
        """The market's wallet address, owner of the vault token account."""
        ...

    @property
    def vault(self) -> str:
        """The vault: the market wallet's associated token account for the mint."""
        ...

    def token_account(self, owner: str) -> str:
        """The associated token account address of `owner` for the mint."""
        ...

    def missing_token_accounts(self, owners: Sequence[str]) -> set[str]:
        """The owners among `owners` whose associated token account does not exist yet."""
        ...

    def transfer_fee(self) -> TransferFee:
        """The mint's transfer fee now (NO_FEE for a classic mint, without a read)."""
        ...

    def mint_terms(self) -> MintTerms:
        """The mint's program, fee, refusal reason and a new payee account's rent, now."""
        ...

    def memo_required(self, owners: Sequence[str]) -> set[str]:
        """The owners whose token account requires a memo before an incoming transfer."""
        ...

    def build_payout(
        self,
        transfers: Sequence[Transfer],
        memo: bytes,
        create_for: Sequence[str] = (),
        tables: Sequence[str] = (),
    ) -> SignedTransaction:
        """Sign one payout: idempotent ATA creates, transfer_checked each, a memo.

        A v0 transaction loading token accounts from the lookup tables `tables` if any are
        given, else a legacy one. Raises TransactionTooLarge, never returns a transaction
        over MAX_TRANSACTION_BYTES.
        """
        ...

    def create_token_accounts(self, owners: Sequence[str]) -> None:
        """Create the owners' token accounts (idempotent), a few per transaction."""
        ...

    def extend_lookup(self, owners: Sequence[str], tables: Sequence[str]) -> list[str]:
        """Put the owners' token accounts in the market's lookup tables (`tables` first,
        then new ones); return every table, once their new entries are usable."""
        ...

    def lookup_positions(self, owners: Sequence[str]) -> dict[str, int]:
        """Each owner's place across the lookup tables (to batch neighbours together)."""
        ...

    def send(self, tx: SignedTransaction) -> None:
        """Send the signed bytes; it may land later (see `await_landing`). Raises ChainError
        if the chain refuses them."""
        ...

    def await_landing(self, txs: Sequence[SignedTransaction]) -> None:
        """Return once each of `txs` has landed, failed, or can no longer land (bounded in
        time; `status` tells which), resending the same bytes meanwhile. Several sent
        together are awaited together: about one confirmation, not one each."""
        ...

    def status(self, signature: str) -> TxStatus:
        """What the chain knows of a signature, including from history."""
        ...

    def blockhash_valid(self, tx: SignedTransaction) -> bool:
        """Whether `tx` can still land (its blockhash has not expired)."""
        ...

    def token_transfers(self, signature: str) -> list[TokenTransfer] | None:
        """The SPL token transfers of a confirmed transaction; None if unknown or failed."""
        ...

    def token_balance(self, token_account: str) -> int:
        """Balance of a token account in base units (0 if it does not exist)."""
        ...

    def slot(self) -> int:
        """The current slot, stated with reconciliation reports."""
        ...

    def fresh_blockhash(self) -> str:
        """A blockhash for a transaction a client signs."""
        ...

    def build_transfer(
        self, owner: str, to: str, amount: int, *, create: bool, blockhash: str
    ) -> bytes:
        """The message of `owner`'s transfer of `amount` to `to`'s token account (created
        first when `create`), paid for by the market: the same inputs, the same bytes."""
        ...

    def send_transfer(self, message: bytes, owner_signature: str) -> str:
        """Co-sign `message` (from `build_transfer`) as fee payer, send it, and return its
        signature once it landed. Raises ChainError if the chain refuses it."""
        ...


class Crypto(Protocol):
    """Ed25519 over Solana addresses: check wallet signatures, sign as the market."""

    @property
    def market_address(self) -> str: ...

    def is_address(self, text: str) -> bool:
        """Whether `text` is a base58 Solana address (32 bytes)."""
        ...

    def verify(self, address: str, message: bytes, signature: str) -> bool:
        """Whether `signature` (base58) is `address`'s Ed25519 signature of `message`."""
        ...

    def sign(self, message: bytes) -> str:
        """The market key's signature of `message`, base58."""
        ...
