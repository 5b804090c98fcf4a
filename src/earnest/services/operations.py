"""What a market operator watches: settlement health, rule limits, the appeals queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from earnest.domain.errors import Forbidden
from earnest.services.chain_port import Chain
from earnest.services.identity import Principal
from earnest.services.ports import (
    AppealRecord,
    Clock,
    MoneyStore,
    MoneyUnit,
    QualityStore,
    ReportsStore,
    ReportsUnit,
    StoreOf,
    WorkUnit,
)
from earnest.services.reconcile import ReconcileReport, reconcile
from earnest.services.reputation import limit_view

FLAGS_SHOWN = 100


@dataclass(frozen=True)
class Health:
    settlement: dict[str, int]  # confirmed transactions, transfers, backlog by status
    unfinished_batches: int  # signed or sent, not yet confirmed
    oldest_unpaid: datetime | None
    last_confirmed: datetime | None
    active_campaigns: int


def require_operator(who: Principal, operators: frozenset[str]) -> None:
    """Raise Forbidden unless the caller signed in with an operator's wallet."""
    if who.credential != "session" or who.address not in operators:
        raise Forbidden("these pages are for the market's operators")


class HealthUnit(MoneyUnit, WorkUnit, ReportsUnit, Protocol):
    """The health page reads the payouts, the campaigns and the reports."""


def market_health(
    who: Principal, *, operators: frozenset[str], store: StoreOf[HealthUnit]
) -> Health:
    """The settler's backlog and pace, and how many campaigns are running."""
    require_operator(who, operators)
    with store.uow(readonly=True) as uow:
        return Health(
            settlement=uow.payouts.stats() | uow.payouts.backlog(),
            unfinished_batches=len(uow.payouts.unfinished_batches()),
            oldest_unpaid=uow.reports.oldest_unpaid(),
            last_confirmed=uow.reports.last_confirmed(),
            active_campaigns=len(uow.campaigns.active()),
        )


def quality_flags(
    who: Principal, *, operators: frozenset[str], store: ReportsStore, clock: Clock
) -> list[dict[str, Any]]:
    """The latest limits the quality rules placed on workers, newest first."""
    require_operator(who, operators)
    now = clock.now()
    with store.uow(readonly=True) as uow:
        limits = uow.reports.recent_limits(FLAGS_SHOWN)
    return [limit_view(limit, now) | {"worker": limit.worker} for limit in limits]


def appeals_queue(
    who: Principal, *, operators: frozenset[str], store: QualityStore
) -> list[AppealRecord]:
    """Open appeals, oldest first: the ones waiting longest on a requester or a panel."""
    require_operator(who, operators)
    with store.uow(readonly=True) as uow:
        listed = uow.appeals.listed()
    return sorted((a for a in listed if a.status == "open"), key=lambda a: a.created_at)


def check_books(
    who: Principal, *, operators: frozenset[str], store: MoneyStore, chain: Chain
) -> ReconcileReport:
    """Reconcile the vault on chain against the ledger, on an operator's request."""
    require_operator(who, operators)
    return reconcile(store=store, chain=chain)
