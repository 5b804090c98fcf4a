"""An in-memory store of every area (money, people, devices, work, quality, reports): a
`Store`, so the claim, answer and verification use cases run on it as on the SQL store.

A unit of work works on a copy of the rows and puts it back on `commit()`, so a use case
that raises leaves nothing behind, as a rolled-back transaction does. One thread at a
time: concurrency is what the SQL tests are for.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from earnest.services.ports import (
    DeviceRecord,
    DevicesStore,
    IdempotencyRepo,
    MoneyStore,
    PeopleStore,
    QualityStore,
    ReportsStore,
    Store,
    WorkStore,
)
from tests.fakes.devices import FakeDevices
from tests.fakes.money import FakeDeposits, FakeLedger, FakePayouts, FakeReceipts, MoneyRows
from tests.fakes.people import (
    FakeAuth,
    FakeIdempotency,
    FakeParties,
    FakeRateCounts,
    PeopleRows,
)
from tests.fakes.quality import (
    FakeAppeals,
    FakeConfusions,
    FakeFacts,
    FakeLimits,
    FakePeerReviews,
    FakeReputations,
    QualityRows,
)
from tests.fakes.reports import FakeReports
from tests.fakes.webhooks import FakeWebhooks, WebhookRows
from tests.fakes.work import (
    FakeAssignments,
    FakeBodies,
    FakeCampaigns,
    FakeTasks,
    FakeWorkers,
    WorkRows,
    unbatched,
)


@dataclass
class Rows:
    money: MoneyRows = field(default_factory=MoneyRows)
    people: PeopleRows = field(default_factory=PeopleRows)
    devices: dict[str, DeviceRecord] = field(default_factory=dict)
    work: WorkRows = field(default_factory=WorkRows)
    quality: QualityRows = field(default_factory=QualityRows)
    webhooks: WebhookRows = field(default_factory=WebhookRows)


class FakeUnit:
    """A UnitOfWork (every area's repositories) over a copy of the store's rows."""

    def __init__(self, store: FakeStore, readonly: bool) -> None:
        self._store = store
        self._readonly = readonly

    def __enter__(self) -> Self:
        self.rows = copy.deepcopy(self._store.rows)
        money, people = self.rows.money, self.rows.people
        self.ledger = FakeLedger(money)
        self.deposits = FakeDeposits(money)
        self.receipts = FakeReceipts(money)
        self.payouts = FakePayouts(money)
        self.parties = FakeParties(people)
        self.auth = FakeAuth(people)
        self.rates = FakeRateCounts(people)
        self.idempotency = FakeIdempotency(people)
        self.devices = FakeDevices(self.rows.devices)
        work, quality = self.rows.work, self.rows.quality
        self.confusions = FakeConfusions(quality, work)
        self.reputations = FakeReputations(quality)
        self.limits = FakeLimits(quality)
        self.appeals = FakeAppeals(quality)
        self.peer_reviews = FakePeerReviews(quality, work)
        self.facts = FakeFacts(quality, work)
        self.reports = FakeReports(work, quality, money)
        self.campaigns = FakeCampaigns(work)
        self.tasks = FakeTasks(work)
        self.assignments = FakeAssignments(work, self._reserved_elsewhere)
        self.workers = FakeWorkers(work)
        self.bodies = FakeBodies(work)
        self.webhooks = FakeWebhooks(self.rows.webhooks, work)
        return self

    def _reserved_elsewhere(self, campaign_id: str) -> int:
        """Units a campaign's escrow keeps beyond its live leases: open appeals and gold
        reviews under way (the SQL `outstanding` counts them in the same statement)."""
        return self.appeals.open_in(campaign_id) + self.peer_reviews.gold_under_way(campaign_id)

    def batched(self) -> AbstractContextManager[None]:
        return unbatched()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        del self.rows  # uncommitted rows go with the unit

    def commit(self) -> None:
        if self._readonly:
            raise AssertionError("a read-only unit of work was committed")
        self.ledger.flush()  # deferred entries are part of the transaction, as in SQL
        self._store.rows = copy.deepcopy(self.rows)
        self._store.commits += 1


class FakeStore:
    """A Store (every area at once) and each area's StoreOf, in memory."""

    dialect = "memory"

    def __init__(self) -> None:
        self.rows = Rows()
        self.commits = 0

    def uow(self, *, readonly: bool = False, single: bool = False) -> FakeUnit:
        return FakeUnit(self, readonly)

    def held(self, slot: str) -> UnheldCommit:
        return UnheldCommit(self, slot)


class UnheldCommit:
    """The fake holds no commit: a request's record is written after its effects."""

    def __init__(self, store: FakeStore, slot: str) -> None:
        self._store, self.slot, self.recorded = store, slot, False

    def __enter__(self) -> UnheldCommit:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def arm(self) -> None:
        return None

    def answer(self, status: int, body: bytes) -> None:
        return None

    def settle(self, exc: BaseException | None) -> None:
        return None

    def record(self, write: Callable[[IdempotencyRepo], None]) -> None:
        with self._store.uow(single=True) as unit:
            write(unit.idempotency)
            unit.commit()


def conforms(
    store: FakeStore,
) -> tuple[MoneyStore, PeopleStore, DevicesStore, WorkStore, QualityStore, ReportsStore, Store]:
    """Nothing calls this: mypy (`make typecheck` covers tests/fakes) checks that the fake
    satisfies each area's port, so a port that grows a method fails until the fake has it."""
    return store, store, store, store, store, store, store
