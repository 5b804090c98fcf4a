"""The money ports: the ledger, deposits, receipts, payouts and their batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from earnest.domain.ledger import JournalEntry
from earnest.services.ports.base import Unit


@dataclass(frozen=True)
class ReceiptRecord:
    id: str
    body: dict[str, Any]
    digest: str
    signature: str
    worker: str
    campaign_id: str


@dataclass(frozen=True)
class PayoutRecord:
    id: str
    account: str  # the ledger account this payout settles
    recipient: str  # wallet address
    amount: int
    receipt_id: str | None  # withdrawals carry no receipt
    status: str  # pending | batched | paid
    batch_id: str | None
    created_at: datetime
    paid_at: datetime | None = None


@dataclass(frozen=True)
class BonusRecord:
    """A bonus a requester paid a worker of a campaign, owed by the ledger and paid by the
    settler from the payout row `payout_id`."""

    id: str
    campaign_id: str
    requester: str
    worker: str
    amount: int
    fee: int
    reason: str
    payout_id: str
    created_at: datetime


@dataclass(frozen=True)
class BatchRecord:
    id: str
    status: str  # signed | sent | confirmed | dropped
    signature: str
    raw: bytes
    blockhash: str
    last_valid_height: int
    merkle_root: str
    receipt_digests: list[str]
    transfers: int
    size: int
    created_at: datetime
    confirmed_at: datetime | None
    transfer_fees: int | None = 0  # what the reserve pays the mint's fee with (None: 0)


class LedgerRepo(Protocol):
    def post(self, entry: JournalEntry, now: datetime) -> bool: ...
    def defer(self, entry: JournalEntry, now: datetime, *, merge: bool = False) -> None: ...
    def flush(self) -> None: ...
    def balance(self, account: str) -> int: ...
    def balances(self, prefix: str = "") -> dict[str, int]: ...
    def entry_exists(self, key: str) -> bool: ...


class DepositsRepo(Protocol):
    def add(self, signature: str, requester: str, amount: int, now: datetime) -> None: ...


class ReceiptsRepo(Protocol):
    def add(self, record: ReceiptRecord, now: datetime, *, slot: str = "") -> None: ...
    def get(self, receipt_id: str) -> ReceiptRecord | None: ...
    def digests(self, receipt_ids: list[str]) -> dict[str, str]: ...


class PayoutsRepo(Protocol):
    def add(self, record: PayoutRecord) -> None: ...
    def pending(self, limit: int) -> list[PayoutRecord]: ...
    def pending_with_digests(self, limit: int) -> list[tuple[PayoutRecord, str | None]]: ...
    def of_batch(self, batch_id: str) -> list[PayoutRecord]: ...
    def by_receipt(self, receipt_id: str) -> PayoutRecord | None: ...
    def of_recipient(self, recipient: str, limit: int = 200) -> list[PayoutRecord]: ...
    def add_bonus(self, bonus: BonusRecord) -> None: ...
    def bonuses(self, campaign_id: str, limit: int = 500) -> list[BonusRecord]: ...
    def add_batch(self, batch: BatchRecord, payout_ids: list[str]) -> None: ...
    def batch(self, batch_id: str) -> BatchRecord | None: ...
    def unfinished_batches(self) -> list[BatchRecord]: ...
    def set_batches_status(self, batch_ids: list[str], status: str) -> None: ...
    def mark_paid(
        self, batch_ids: list[str], now: datetime
    ) -> dict[str, list[tuple[str, int]]]: ...
    def drop(self, batch_ids: list[str]) -> None: ...
    def backlog(self) -> dict[str, int]: ...
    def confirmed_batches(self) -> list[BatchRecord]: ...
    def lookup_tables(self) -> list[str]: ...
    def add_lookup_table(self, address: str, now: datetime) -> None: ...
    def latencies(self) -> list[float]: ...
    def stats(self) -> dict[str, Any]: ...


class MoneyUnit(Unit, Protocol):
    @property
    def ledger(self) -> LedgerRepo: ...
    @property
    def deposits(self) -> DepositsRepo: ...
    @property
    def receipts(self) -> ReceiptsRepo: ...
    @property
    def payouts(self) -> PayoutsRepo: ...
