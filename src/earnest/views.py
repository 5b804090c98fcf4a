"""The read models bound to the market's ports, as `earnest.handlers` binds the use cases:
what the pages (and the API's reads) show, asked for with the caller and an id, never with
a store, a chain or a clock.

`Market.views` is one `Views`; like the handlers it reads the market's ports when called.
"""

from __future__ import annotations

from typing import Any

from earnest.domain.work import Assignment, Campaign
from earnest.handlers import Ports
from earnest.services import (
    appeals,
    bandwidth,
    campaigns,
    data_browser,
    insights,
    operations,
    peer_review,
    reputation,
    worker_view,
)
from earnest.services.bandwidth import FetchedBody
from earnest.services.data_browser import AnswerContext, DataView
from earnest.services.identity import Principal
from earnest.services.operations import Health
from earnest.services.ports import AppealRecord, PeerReview
from earnest.services.reconcile import ReconcileReport, reconcile_as_operator
from earnest.services.work import Claim
from earnest.services.worker_view import Earnings, InProgress, Offer


class Views:
    """A worker's feed, tasks, earnings and reputation; a requester's campaigns, their
    insights, held answers and appeals; the operator's health, flags, queue and books."""

    def __init__(self, ports: Ports) -> None:
        self._p = ports

    # a worker's pages
    def available_work(self, who: Principal) -> list[Offer]:
        return worker_view.available_work(who, store=self._p.store, clock=self._p.clock)

    def in_progress(self, who: Principal) -> list[InProgress]:
        return worker_view.in_progress(who, store=self._p.store, clock=self._p.clock)

    def leased_task(self, who: Principal, assignment_id: str) -> Claim:
        p = self._p
        return worker_view.leased_task(who, assignment_id, store=p.store, clock=p.clock)

    def earnings(self, who: Principal) -> Earnings:
        return worker_view.earnings(who, store=self._p.store)

    def quality(self, who: Principal) -> dict[str, Any]:
        """A worker's reputation per skill, its history, and their limits."""
        return reputation.my_quality(who, store=self._p.store, now=self._p.clock.now())

    def fetched_body(self, who: Principal, campaign_id: str, task_id: int) -> FetchedBody:
        """The body a bandwidth job's nodes agreed on, for its requester."""
        return bandwidth.fetched_body(who, campaign_id, task_id, store=self._p.store)

    def my_reviews(self, who: Principal) -> list[PeerReview]:
        return peer_review.my_reviews(who, store=self._p.store)

    # a requester's pages
    def my_campaigns(self, who: Principal) -> list[Campaign]:
        return campaigns.my_campaigns(who, store=self._p.store)

    def campaign_status(self, who: Principal, campaign_id: str) -> dict[str, Any]:
        return campaigns.campaign_status(who, campaign_id, store=self._p.store)

    def insights(self, who: Principal, campaign_id: str) -> insights.Insights:
        return insights.campaign_insights(who, campaign_id, store=self._p.store)

    def data(self, who: Principal, campaign_id: str, after: int = 0) -> DataView:
        """The data browser: a page of resolved tasks after task id `after`, the workers'
        figures and the agreement."""
        return data_browser.campaign_data(who, campaign_id, store=self._p.store, after=after)

    def answer_context(self, who: Principal, assignment_id: str) -> AnswerContext:
        return data_browser.answer_context(who, assignment_id, store=self._p.store)

    def awaiting_review(self, who: Principal, campaign_id: str) -> list[Assignment]:
        return appeals.awaiting_review(who, campaign_id, store=self._p.store)

    def appeals(self, who: Principal, role: str) -> list[AppealRecord]:
        """Appeals the caller filed (worker), decides (requester) or sits on (panel)."""
        return appeals.my_appeals(who, role, store=self._p.store)

    def appeal_case(self, who: Principal, appeal_id: str) -> tuple[AppealRecord, Assignment]:
        return appeals.appeal_case(who, appeal_id, store=self._p.store)

    # the operator's pages (sessions of EARNEST_OPERATORS) and the API's reconcile
    def health(self, who: Principal) -> Health:
        operators = self._p.settings.operator_addresses
        return operations.market_health(who, operators=operators, store=self._p.store)

    def quality_flags(self, who: Principal) -> list[dict[str, Any]]:
        p = self._p
        return operations.quality_flags(
            who, operators=p.settings.operator_addresses, store=p.store, clock=p.clock
        )

    def appeals_queue(self, who: Principal) -> list[AppealRecord]:
        operators = self._p.settings.operator_addresses
        return operations.appeals_queue(who, operators=operators, store=self._p.store)

    def check_books(self, who: Principal) -> ReconcileReport:
        """Reconcile for an operator's page session."""
        p = self._p
        return operations.check_books(
            who, operators=p.settings.operator_addresses, store=p.store, chain=p.chain
        )

    def reconcile(self, who: Principal) -> ReconcileReport:
        """Reconcile for a caller with the operator scope (the API)."""
        p = self._p
        return reconcile_as_operator(
            who, operators=p.settings.operators, store=p.store, chain=p.chain
        )
