"""What a worker's pages show: the work they can do now, a leased task, their earnings."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from earnest.domain import escrow, ledger
from earnest.domain.errors import Conflict, NotFound
from earnest.domain.work import (
    MAX_LEASES_PER_WORKER,
    Assignment,
    AssignmentStatus,
    Campaign,
    TaskStatus,
)
from earnest.services.funds import Balances, PaidPayout, balances, my_payouts
from earnest.services.identity import Principal
from earnest.services.ports import AppealRecord, Clock, Store, UnitOfWork
from earnest.services.work import Claim, gate_reason, in_qualification

TIMING_SAMPLE = 50  # recent answers behind a campaign's time estimate
HISTORY = 200  # assignments read for the earnings page


@dataclass(frozen=True)
class Offer:
    """A campaign in a worker's feed."""

    campaign: Campaign
    slots: int  # tasks Start can still give this worker, and the escrow can pay for
    typical_seconds: float | None  # median time workers took per answer; None before any
    blocked: str | None  # why this worker may not work here now, or None


@dataclass(frozen=True)
class Rejection:
    """A rejected answer with what the worker needs to judge it: their own answer, the rule
    that decided (the campaign's verifier, its reason and evidence), and the task's final
    result once the task is resolved (no one can be given it any more, so showing it helps
    no one cheat, and a control task still looks like any other)."""

    assignment: Assignment
    title: str
    appeal: AppealRecord | None
    verifier: str = ""
    expected: Any = None
    resolved: bool = False  # whether `expected` is the task's final result


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
            blocked = gate_reason(uow, campaign, who.address, now)
            slots = min(_left_for(uow, campaign, who.address, blocked), _affordable(uow, campaign))
            if slots <= 0:
                continue
            answers = uow.reports.answers(campaign.id, TIMING_SAMPLE)
            seconds = [
                (a.submitted_at - a.leased_at).total_seconds()
                for a, _ in answers
                if a.submitted_at is not None
            ]
            typical = statistics.median(seconds) if seconds else None
            offers.append(Offer(campaign, slots, typical, blocked))
    return sorted(offers, key=lambda o: (o.blocked is not None, -o.campaign.spec.reward))


def _left_for(uow: UnitOfWork, campaign: Campaign, worker: str, blocked: str | None) -> int:
    """The tasks Start could give this worker, picked as `work._pick` picks them."""
    qualifying = blocked is None and in_qualification(uow, campaign, worker)
    # In qualification only control tasks come; a peer-reviewed campaign's are for reviewers.
    gold = True if qualifying else (False if campaign.spec.peer_reviewed else None)
    return uow.reports.open_for(campaign.id, worker, campaign.spec.overlap, gold, qualifying)


def _affordable(uow: UnitOfWork, campaign: Campaign) -> int:
    return escrow.leases_affordable(
        uow.ledger.balance(ledger.campaign_escrow(campaign.id)),
        uow.assignments.outstanding(campaign.id),
        campaign.unit_cost,
    )


@dataclass(frozen=True)
class InProgress:
    """A task the worker holds a live lease on, to resume or give back."""

    assignment: Assignment
    title: str


def in_progress(who: Principal, *, store: Store, clock: Clock) -> list[InProgress]:
    """The worker's live leases, the one expiring first first."""
    now = clock.now()
    with store.uow(readonly=True) as uow:
        held = uow.assignments.of_worker(who.address, MAX_LEASES_PER_WORKER, ["leased"])
        live = [a for a in held if a.expires_at > now]
        titles = {cid: _title(uow, cid) for cid in {a.campaign_id for a in live}}
    live.sort(key=lambda a: a.expires_at)
    return [InProgress(a, titles[a.campaign_id]) for a in live]


def _title(uow: UnitOfWork, campaign_id: str) -> str:
    found = uow.campaigns.get(campaign_id)
    return found.spec.title if found else campaign_id


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
        campaigns = {cid: uow.campaigns.get(cid) for cid in {a.campaign_id for a in mine}}
        # An overturned rejection is accepted now; it stays listed so its appeal's outcome shows.
        rejected = [a for a in mine if a.status is AssignmentStatus.REJECTED or a.id in appeals]
        tasks = {a.task_id: uow.tasks.get(a.task_id) for a in rejected}
    rejections = []
    for a in rejected:
        campaign, task = campaigns[a.campaign_id], tasks[a.task_id]
        resolved = task is not None and task.status is TaskStatus.RESOLVED
        rejections.append(
            Rejection(
                a,
                campaign.spec.title if campaign else a.campaign_id,
                appeals.get(a.id),
                campaign.spec.verifier if campaign else "",
                task.result if resolved and task is not None else None,
                resolved,
            )
        )
    return Earnings(
        balances=balances(who, store=store),
        payouts=my_payouts(who, store=store),
        rejections=rejections,
        accepted=sum(a.status is AssignmentStatus.ACCEPTED for a in mine),
        waiting=sum(a.status is AssignmentStatus.SUBMITTED for a in mine),
    )
