"""The ports the use cases need: store (unit of work + repositories), clock, randomness.

The chain and crypto ports live in `chain_port`. Adapters implement these Protocols; use
cases take them as arguments, so every use case runs against SQLite, PostgreSQL or a fake.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from earnest.domain.ledger import JournalEntry
from earnest.domain.verification import Submission, WorkerHistory
from earnest.domain.work import Assignment, AssignmentStatus, Campaign, CampaignStatus, Task
from earnest.services.ports_quality import (
    AppealsRepo,
    ConfusionsRepo,
    DevicesRepo,
    FactsRepo,
    LimitsRepo,
    PeerReviewsRepo,
    ReputationsRepo,
)
from earnest.services.ports_reports import ReportsRepo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, UTC."""
        ...


class Random(Protocol):
    def random(self) -> float: ...

    def token(self, nbytes: int) -> str:
        """A URL-safe random string with `nbytes` bytes of entropy."""
        ...


@dataclass(frozen=True)
class ApiKeyRecord:
    id: str
    address: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class IdempotencyRecord:
    fingerprint: str
    status_code: int | None  # None while the first request is still running
    body: bytes | None


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


class PartiesRepo(Protocol):
    def ensure(self, address: str, kind: str, now: datetime) -> None: ...
    def kind(self, address: str) -> str | None: ...


class AuthRepo(Protocol):
    def add_nonce(self, nonce: str, address: str, message: str, expires_at: datetime) -> None: ...
    def consume_nonce(self, nonce: str, now: datetime) -> tuple[str, str, datetime] | None: ...
    def add_session(
        self, token_hash: str, address: str, now: datetime, expires_at: datetime
    ) -> None: ...
    def session(self, token_hash: str, now: datetime) -> tuple[str, datetime] | None: ...
    def add_api_key(self, record: ApiKeyRecord, key_hash: str) -> None: ...
    def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None: ...
    def api_keys_of(self, address: str) -> list[ApiKeyRecord]: ...
    def revoke_api_key(self, key_id: str, address: str, now: datetime) -> bool: ...


class WorkersRepo(Protocol):
    def history(self, workers: Iterable[str]) -> dict[str, WorkerHistory]: ...
    def record(self, worker: str, *, accepted: bool, gold: bool) -> None: ...


class IdempotencyRepo(Protocol):
    def get(self, scope: str) -> IdempotencyRecord | None: ...
    def claim(self, scope: str, fingerprint: str, now: datetime) -> IdempotencyRecord | None: ...
    def finish(self, scope: str, status_code: int, body: bytes) -> None: ...
    def forget(self, scope: str) -> None: ...


class LedgerRepo(Protocol):
    def post(self, entry: JournalEntry, now: datetime) -> bool: ...
    def balance(self, account: str) -> int: ...
    def balances(self, prefix: str = "") -> dict[str, int]: ...
    def entry_exists(self, key: str) -> bool: ...


class DepositsRepo(Protocol):
    def add(self, signature: str, requester: str, amount: int, now: datetime) -> None: ...


class CampaignsRepo(Protocol):
    def add(self, campaign: Campaign) -> None: ...
    def get(self, campaign_id: str) -> Campaign | None: ...
    def of_requester(self, requester: str) -> list[Campaign]: ...
    def active(self, limit: int = 100) -> list[Campaign]: ...
    def lock(self, campaign_id: str) -> None: ...
    def set_status(self, campaign_id: str, status: CampaignStatus) -> None: ...


class TasksRepo(Protocol):
    def add_many(self, rows: list[dict[str, Any]]) -> None: ...
    def get(self, task_id: int) -> Task | None: ...
    def pick(
        self,
        campaign_id: str,
        worker: str,
        gold: bool,
        overlap: int,
        uncertain_first: bool = False,
        breadth_first: bool = False,
        qualifying: bool = False,
    ) -> Task | None: ...
    def change_filled(self, task_id: int, delta: int) -> None: ...
    def set_uncertainty(self, task_id: int, uncertainty: float) -> None: ...
    def resolve(
        self, task_id: int, result: Any, confidence: float | None, now: datetime
    ) -> None: ...
    def counts(self, campaign_id: str) -> dict[str, int]: ...
    def resolved(self, campaign_id: str, after_id: int, limit: int) -> list[Task]: ...


class AssignmentsRepo(Protocol):
    def add(self, a: Assignment) -> None: ...
    def get(self, assignment_id: str, *, lock: bool = False) -> Assignment | None: ...
    def lock_task(self, task_id: int) -> None: ...
    def submissions(self, task_id: int) -> list[Submission]: ...
    def submit(self, assignment_id: str, answer: Any, now: datetime) -> bool: ...
    def decide(
        self,
        assignment_id: str,
        status: AssignmentStatus,
        reason: str,
        reward: int,
        now: datetime,
        evidence: Mapping[str, Any] | None = None,
        *,
        was: AssignmentStatus = AssignmentStatus.SUBMITTED,
    ) -> bool: ...
    def await_review(
        self, assignment_id: str, due: datetime, evidence: Mapping[str, Any]
    ) -> None: ...
    def awaiting_review(
        self, campaign_id: str | None, limit: int, due_before: datetime | None = None
    ) -> list[Assignment]: ...
    def recent(
        self, worker: str, campaign_id: str, limit: int
    ) -> list[tuple[Assignment, bool]]: ...
    def gold_record(self, worker: str, campaign_id: str) -> tuple[int, int]: ...
    def expire_due(
        self, now: datetime, limit: int, campaign_id: str | None = None
    ) -> list[tuple[str, int]]: ...
    def release(self, assignment_id: str, now: datetime) -> bool: ...
    def accepted_rewards(self, campaign_id: str) -> dict[int, int]: ...
    def outstanding(self, campaign_id: str) -> int: ...
    def regular_answers(self, campaign_id: str) -> int: ...
    def counts(self, campaign_id: str) -> dict[str, int]: ...
    def of_worker(
        self, worker: str, limit: int = 100, statuses: Iterable[str] | None = None
    ) -> list[Assignment]: ...
    def answers_for_tasks(self, task_ids: list[int]) -> dict[int, list[dict[str, Any]]]: ...


class ReceiptsRepo(Protocol):
    def add(self, record: ReceiptRecord, now: datetime, *, slot: str = "") -> None: ...
    def get(self, receipt_id: str) -> ReceiptRecord | None: ...
    def digests(self, receipt_ids: list[str]) -> dict[str, str]: ...


class PayoutsRepo(Protocol):
    def add(self, record: PayoutRecord) -> None: ...
    def pending(self, limit: int) -> list[PayoutRecord]: ...
    def of_batch(self, batch_id: str) -> list[PayoutRecord]: ...
    def by_receipt(self, receipt_id: str) -> PayoutRecord | None: ...
    def of_recipient(self, recipient: str, limit: int = 200) -> list[PayoutRecord]: ...
    def add_batch(self, batch: BatchRecord, payout_ids: list[str]) -> None: ...
    def batch(self, batch_id: str) -> BatchRecord | None: ...
    def unfinished_batches(self) -> list[BatchRecord]: ...
    def set_batch_status(self, batch_id: str, status: str, now: datetime | None = None) -> None: ...
    def mark_paid(self, batch_id: str, now: datetime) -> None: ...
    def release(self, batch_id: str) -> None: ...
    def backlog(self) -> dict[str, int]: ...
    def confirmed_batches(self) -> list[BatchRecord]: ...
    def lookup_tables(self) -> list[str]: ...
    def add_lookup_table(self, address: str, now: datetime) -> None: ...
    def latencies(self) -> list[float]: ...
    def stats(self) -> dict[str, Any]: ...


class BodiesRepo(Protocol):
    def put(self, sha256: str, body: bytes, now: datetime) -> None: ...
    def get(self, sha256: str) -> bytes | None: ...


class UnitOfWork(Protocol):
    parties: PartiesRepo
    auth: AuthRepo
    workers: WorkersRepo
    idempotency: IdempotencyRepo
    ledger: LedgerRepo
    deposits: DepositsRepo
    campaigns: CampaignsRepo
    tasks: TasksRepo
    assignments: AssignmentsRepo
    receipts: ReceiptsRepo
    payouts: PayoutsRepo
    confusions: ConfusionsRepo
    reputations: ReputationsRepo
    limits: LimitsRepo
    appeals: AppealsRepo
    peer_reviews: PeerReviewsRepo
    facts: FactsRepo
    devices: DevicesRepo
    bodies: BodiesRepo
    reports: ReportsRepo

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


class Store(Protocol):
    @property
    def dialect(self) -> str: ...

    def uow(self, *, readonly: bool = False) -> UnitOfWork: ...
