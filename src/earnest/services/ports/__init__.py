"""The ports the use cases need, one module per area; adapters implement them.

Each area has its repositories and a unit of work that shows only them, as read-only
properties: `MoneyUnit` (ledger, deposits, receipts, payouts), `PeopleUnit` (parties, sign-in,
rate counts, Idempotency-Key records), `WorkUnit` (campaigns, tasks, assignments, workers,
bodies), `QualityUnit` (confusions, reputation, limits, appeals, peer reviews, facts),
`DevicesUnit` and `ReportsUnit` (the pages' read models). A use case asks for the store of
the areas it touches, `StoreOf[MoneyUnit]`, so a test hands it an in-memory fake of those
areas alone (tests/fakes). `UnitOfWork` and `Store` are every area at once. The chain and
crypto ports live in `chain_port`.
"""

from __future__ import annotations

from typing import Protocol, TypeAlias

from earnest.services.ports.base import Clock, Random, StoreOf, Unit
from earnest.services.ports.devices import DeviceRecord, DevicesRepo, DevicesUnit
from earnest.services.ports.money import (
    BatchRecord,
    BonusRecord,
    DepositsRepo,
    LedgerRepo,
    MoneyUnit,
    PayoutRecord,
    PayoutsRepo,
    ReceiptRecord,
    ReceiptsRepo,
)
from earnest.services.ports.people import (
    HELD,
    IDEMPOTENCY_LEASE,
    ApiKeyRecord,
    AuthRepo,
    HeldCommit,
    IdempotencyRecord,
    IdempotencyRepo,
    PartiesRepo,
    PeopleUnit,
    RateCountsRepo,
)
from earnest.services.ports.quality import (
    AppealRecord,
    AppealsRepo,
    ConfusionsRepo,
    FactsRepo,
    LimitRecord,
    LimitsRepo,
    PeerReview,
    PeerReviewsRepo,
    QualityUnit,
    ReputationRow,
    ReputationsRepo,
    Sandbox,
    SandboxJob,
)
from earnest.services.ports.reports import ReportsRepo, ReportsUnit
from earnest.services.ports.webhooks import (
    DeliveryRecord,
    EndpointRecord,
    Resolution,
    WebhooksRepo,
    WebhooksUnit,
)
from earnest.services.ports.work import (
    AssignmentsRepo,
    BodiesRepo,
    CampaignsRepo,
    TasksRepo,
    WorkersRepo,
    WorkUnit,
)

MoneyStore: TypeAlias = StoreOf[MoneyUnit]
PeopleStore: TypeAlias = StoreOf[PeopleUnit]
DevicesStore: TypeAlias = StoreOf[DevicesUnit]
ReportsStore: TypeAlias = StoreOf[ReportsUnit]
WorkStore: TypeAlias = StoreOf[WorkUnit]
QualityStore: TypeAlias = StoreOf[QualityUnit]
WebhooksStore: TypeAlias = StoreOf[WebhooksUnit]


class UnitOfWork(
    PeopleUnit, MoneyUnit, WorkUnit, QualityUnit, DevicesUnit, ReportsUnit, WebhooksUnit, Protocol
):
    """Every area's repositories in one transaction."""


class Store(StoreOf[UnitOfWork], Protocol):
    """Every area: for the use cases that touch most of them (claim, answer, settle)."""

    @property
    def dialect(self) -> str: ...

    def held(self, slot: str) -> HeldCommit:
        """The request whose Idempotency-Key record is `slot` (see HeldCommit)."""
        ...


__all__ = [
    "HELD",
    "IDEMPOTENCY_LEASE",
    "ApiKeyRecord",
    "AppealRecord",
    "AppealsRepo",
    "AssignmentsRepo",
    "AuthRepo",
    "BatchRecord",
    "BodiesRepo",
    "BonusRecord",
    "CampaignsRepo",
    "Clock",
    "ConfusionsRepo",
    "DeliveryRecord",
    "DepositsRepo",
    "DeviceRecord",
    "DevicesRepo",
    "DevicesStore",
    "DevicesUnit",
    "EndpointRecord",
    "FactsRepo",
    "HeldCommit",
    "IdempotencyRecord",
    "IdempotencyRepo",
    "LedgerRepo",
    "LimitRecord",
    "LimitsRepo",
    "MoneyStore",
    "MoneyUnit",
    "PartiesRepo",
    "PayoutRecord",
    "PayoutsRepo",
    "PeerReview",
    "PeerReviewsRepo",
    "PeopleStore",
    "PeopleUnit",
    "QualityStore",
    "QualityUnit",
    "Random",
    "RateCountsRepo",
    "ReceiptRecord",
    "ReceiptsRepo",
    "ReportsRepo",
    "ReportsStore",
    "ReportsUnit",
    "ReputationRow",
    "ReputationsRepo",
    "Resolution",
    "Sandbox",
    "SandboxJob",
    "Store",
    "StoreOf",
    "TasksRepo",
    "Unit",
    "UnitOfWork",
    "WebhooksRepo",
    "WebhooksStore",
    "WebhooksUnit",
    "WorkStore",
    "WorkUnit",
    "WorkersRepo",
]
