"""A requester's view of a campaign's quality and cost over time (read only)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from earnest.domain.work import Assignment, AssignmentStatus
from earnest.services.common import owned_campaign
from earnest.services.identity import Principal
from earnest.services.ports import ReportsUnit, StoreOf, WorkUnit
from earnest.services.reputation import agreed_with_result

SAMPLE = 5000  # latest answers behind the charts: enough for a trend, cheap to read
PERIODS = 12


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float


@dataclass(frozen=True)
class Insights:
    agreement: list[Point]  # share of decided answers that agreed with the result, per period
    worker_accuracy: list[float]  # per worker: share of their decided answers that agreed
    cost_per_task: list[Point]  # base units spent so far per task resolved so far (rounded down)
    answers: int  # answers behind the charts


class InsightsUnit(WorkUnit, ReportsUnit, Protocol):
    """A campaign's insights check its owner, then read its reports."""


def campaign_insights(
    who: Principal, campaign_id: str, *, store: StoreOf[InsightsUnit]
) -> Insights:
    """Agreement over time, the spread of worker accuracy, and cost per resolved task."""
    who.require("campaigns:read")
    with store.uow(readonly=True) as uow:
        campaign = owned_campaign(uow, campaign_id, who.address)
        rows = uow.reports.answers(campaign_id, SAMPLE)
        resolved = uow.reports.resolution_times(campaign_id, SAMPLE)
    decided = [a for a, _ in rows if _decided(a)]
    return Insights(
        agreement=agreement_series(decided, PERIODS),
        worker_accuracy=accuracy_by_worker(decided),
        cost_per_task=cost_series(decided, resolved, campaign.unit_cost, PERIODS),
        answers=len(rows),
    )


def _decided(a: Assignment) -> bool:
    return a.submitted_at is not None and a.status in (
        AssignmentStatus.ACCEPTED,
        AssignmentStatus.REJECTED,
    )


def _when(a: Assignment) -> datetime:
    return a.submitted_at or a.leased_at


def period_ends(times: Sequence[datetime], periods: int) -> list[datetime]:
    """`periods` equal steps from the first time to the last, as their end times."""
    if not times:
        return []
    start, end = min(times), max(times)
    step = (end - start) / periods
    # The last period ends at the last time exactly: a step rounded to microseconds,
    # times `periods`, may fall short of it.
    return [start + step * (i + 1) for i in range(periods - 1)] + [end] if step else [end]


def agreement_series(decided: Sequence[Assignment], periods: int) -> list[Point]:
    """Per period, the share of answers decided in it that agreed with the task's result."""
    ends = period_ends([_when(a) for a in decided], periods)
    tally: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for a in decided:
        slot = next((i for i, end in enumerate(ends) if _when(a) <= end), len(ends) - 1)
        tally[slot][0] += agreed_with_result(a)
        tally[slot][1] += 1
    return [Point(ends[i], agreed / total) for i, (agreed, total) in sorted(tally.items())]


def accuracy_by_worker(decided: Sequence[Assignment]) -> list[float]:
    """Each worker's share of decided answers that agreed with the result."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a in decided:
        tally[a.worker][0] += agreed_with_result(a)
        tally[a.worker][1] += 1
    return sorted(agreed / total for agreed, total in tally.values())


def cost_series(
    decided: Sequence[Assignment], resolved: Sequence[datetime], unit_cost: int, periods: int
) -> list[Point]:
    """At the end of each period: escrow spent so far divided by tasks resolved so far."""
    paid = sorted(_when(a) for a in decided if a.status is AssignmentStatus.ACCEPTED)
    points = []
    for end in period_ends([*paid, *resolved], periods):
        done = sum(t <= end for t in resolved)
        if done:
            points.append(Point(end, sum(t <= end for t in paid) * unit_cost // done))
    return points
