"""What a worker's pages show: the work they can do now, a leased task, their earnings."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from earnest.domain import escrow, ledger
from earnest.domain.errors import Conflict, NotFound
from earnest.domain.work import Assignment, AssignmentStatus, Campaign
from earnest.services.funds import Balances, PaidPayout, balances, my_payouts
from earnest.services.identity import Principal
from earnest.services.ports import AppealRecord, Clock, Store, UnitOfWork
from earnest.services.work import Claim, gate_reason

TIMING_SAMPLE = 50  # recent answers behind a campaign's time estimate
HISTORY = 200  # assignments read for the earnings page


@dataclass(frozen=True)
class Offer:
    """A campaign in a worker's feed."""

    campaign: Campaign
    slots: int  # answers the campaign still wants and can pay for
    typical_seconds: float | None  # median time workers took per answer; None before any
    blocked: str | None  # why this worker may not work here now, or None


@dataclass(frozen=True)
class Rejection:
    assignment: Assignment
    title: str
    appeal: AppealRecord | None


@dataclass(frozen=True)
class Earnings:
    balances: Balances
    payouts: list[PaidPayout]
    rejections: list[Rejection]  # rejected answers, and answers whose rejection was appealed
    accepted: int
    waiting: int  # answers not decided yet (more answers needed, or requester review)


def available_work(who: Principal, *, store: Store, clock: Clock) -> list[Offer]:
    """Active campaigns with work left, best paid first, each with the worker's standing."""
    now = clock.now()
    offers = []
    with store.uow(readonly=True) as uow:
        for campaign in uow.campaigns.active():
            if campaign.requester == who.address or not campaign.is_open_for_work(now):
                continue
            slots = min(
                uow.reports.open_slots(campaign.id, campaign.spec.overlap),
                _affordable(uow, campaign),
            )
            if slots <= 0:
                continue
            answers = uow.reports.answers(campaign.id, TIMING_SAMPLE)
            seconds = [
                (a.submitted_at - a.leased_at).total_seconds()
                for a, _ in answers
                if a.submitted_at is not None
            ]
            typical = statistics.median(seconds) if seconds else None
            blocked = gate_reason(uow, campaign, who.address, now)
            offers.append(Offer(campaign, slots, typical, blocked))
    return sorted(offers, key=lambda o: (o.blocked is not None, -o.campaign.spec.reward))


def _affordable(uow: UnitOfWork, campaign: Campaign) -> int:
    return escrow.leases_affordable(
        uow.ledger.balance(ledger.campaign_escrow(campaign.id)),
        uow.assignments.outstanding(campaign.id),
        campaign.unit_cost,
    )


def leased_task(who: Principal, assignment_id: str, *, store: Store, clock: Clock) -> Claim:
    """A task the worker holds a live lease on, to show it again (after a reload)."""
    with store.uow(readonly=True) as uow:
        assignment = uow.assignments.get(assignment_id)
        if assignment is None or assignment.worker != who.address:
            raise NotFound(f"no assignment {assignment_id!r}")
        task = uow.tasks.get(assignment.task_id)
        campaign = uow.campaigns.get(assignment.campaign_id)
    if task is None or campaign is None:
        raise NotFound("the task of this assignment is gone")
    if assignment.status is not AssignmentStatus.LEASED or assignment.expires_at <= clock.now():
        raise Conflict(f"this task is {assignment.status.value}; take the next one")
    return Claim(assignment, task.data, campaign)


def earnings(who: Principal, *, store: Store) -> Earnings:
    """Pending and paid money, payouts with their transactions, rejections with appeals."""
    with store.uow(readonly=True) as uow:
        mine = uow.assignments.of_worker(who.address, HISTORY)
        appeals = {a.assignment_id: a for a in uow.appeals.listed(worker=who.address)}
        titles = {
            cid: (c.spec.title if c else cid)
            for cid in {a.campaign_id for a in mine}
            for c in [uow.campaigns.get(cid)]
        }
    # An overturned rejection is accepted now; it stays listed so its appeal's outcome shows.
    rejected = [a for a in mine if a.status is AssignmentStatus.REJECTED or a.id in appeals]
    return Earnings(
        balances=balances(who, store=store),
        payouts=my_payouts(who, store=store),
        rejections=[Rejection(a, titles[a.campaign_id], appeals.get(a.id)) for a in rejected],
        accepted=sum(a.status is AssignmentStatus.ACCEPTED for a in mine),
        waiting=sum(a.status is AssignmentStatus.SUBMITTED for a in mine),
    )
