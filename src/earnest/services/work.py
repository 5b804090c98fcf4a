"""Work use cases, the lease side: claim a task or a suite of tasks, give a lease back.

A claim passes the campaign's gates first: AI agents allowed, no rule limit in force, the
minimum reputation, and the qualification test (the first N tasks are control tasks).
Answers to leases are services/answers.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from earnest.domain import escrow, ledger
from earnest.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, NoWorkAvailable
from earnest.domain.work import (
    MAX_LEASES_PER_WORKER,
    Assignment,
    AssignmentStatus,
    Campaign,
    Routing,
    Task,
    check_transition,
)
from earnest.quality.qualification import Standing
from earnest.services.common import new_id
from earnest.services.identity import Principal
from earnest.services.ports import Clock, Random, Store, UnitOfWork
from earnest.services.reputation import (
    check_may_work,
    check_qualified,
    check_reputation,
    qualification_of,
)

REAP_BATCH = 200


@dataclass(frozen=True)
class ClaimTask:
    """Lease the next task the caller has never seen, of `campaign_id` (None: any)."""

    who: Principal
    campaign_id: str | None


@dataclass(frozen=True)
class ClaimSuite:
    """Lease up to `count` tasks of one campaign (None: the first that has work) at once."""

    who: Principal
    campaign_id: str | None
    count: int


@dataclass(frozen=True)
class ReleaseLease:
    """Give the caller's live lease back unanswered."""

    who: Principal
    assignment_id: str


@dataclass(frozen=True)
class Claim:
    assignment: Assignment
    task_data: dict[str, Any]
    campaign: Campaign


def claim_task(cmd: ClaimTask, *, store: Store, clock: Clock, rand: Random) -> Claim:
    """Lease the next task the worker has never seen, if the escrow can pay for it."""
    suite = ClaimSuite(cmd.who, cmd.campaign_id, 1)
    return claim_suite(suite, store=store, clock=clock, rand=rand)[0]


def claim_suite(cmd: ClaimSuite, *, store: Store, clock: Clock, rand: Random) -> list[Claim]:
    """Lease up to `count` tasks of one campaign at once (a task suite), in one transaction.

    Every lease is what `claim_task` would give, one after the other: the gates are checked
    once, the escrow must cover each lease, and the worker never holds more than the
    campaign's `max_leases` of its tasks, nor MAX_LEASES_PER_WORKER in all. Fewer than
    `count` come back when fewer are available.
    """
    who, campaign_id, count = cmd.who, cmd.campaign_id, cmd.count
    who.require("work")
    if not 1 <= count <= MAX_LEASES_PER_WORKER:
        raise InvalidInput(f"count must be between 1 and {MAX_LEASES_PER_WORKER}")
    now = clock.now()
    with store.uow() as uow:
        expire_leases(uow, now, campaign_id)
        held = uow.assignments.of_worker(who.address, MAX_LEASES_PER_WORKER + 1, ["leased"])
        if len(held) >= MAX_LEASES_PER_WORKER:
            raise Conflict(
                f"you already hold {MAX_LEASES_PER_WORKER} leases; submit or let them expire"
            )
        count = min(count, MAX_LEASES_PER_WORKER - len(held))
        candidates = [uow.campaigns.get(campaign_id)] if campaign_id else uow.campaigns.active()
        kind = uow.parties.kind(who.address)
        if kind is None:  # before any escrow lock: that lock is held until the commit
            uow.parties.ensure(who.address, "person", now)
        for campaign in candidates:
            if campaign is None:
                raise NotFound(f"no campaign {campaign_id!r}")
            mine = sum(a.campaign_id == campaign.id for a in held)
            if mine >= campaign.spec.max_leases:
                if campaign_id is None:
                    continue
                uow.commit()  # keep the expired leases
                raise Conflict(
                    f"you already hold {mine} leases in this campaign, the most it allows "
                    "(max_leases); submit or let them expire",
                    campaign_id=campaign.id,
                )
            want = min(count, campaign.spec.max_leases - mine)
            try:
                claims = _claim_in(uow, campaign, who.address, kind, want, now, rand)
            except Forbidden:
                if campaign_id is None:
                    continue  # a gate of one campaign; others may still have work
                uow.commit()  # keep the expired leases
                raise
            if claims:
                uow.commit()
                return claims
        uow.commit()  # keep the expired leases
    raise NoWorkAvailable("no task is available for you right now")


def _claim_in(
    uow: UnitOfWork,
    campaign: Campaign,
    worker: str,
    kind: str | None,
    count: int,
    now: datetime,
    rand: Random,
) -> list[Claim]:
    if not campaign.is_open_for_work(now) or campaign.requester == worker:
        return []
    only_gold = _check_gates(uow, campaign, worker, kind, now)
    # Tasks are picked (and locked: other claims skip them) before the campaign's lock,
    # which queues every claim of the campaign until this one commits: under it, only the
    # escrow check and the writes.
    picked = _pick(uow, campaign, worker, only_gold, count, rand)
    if not picked and only_gold:
        in_qualification(uow, campaign, worker, final=True)  # no control left to decide by
    if not picked:
        return []
    uow.campaigns.lock(campaign.id)  # two claims must not both count the same escrow
    balance = uow.ledger.balance(ledger.campaign_escrow(campaign.id))
    # Every unit that might still be accepted must stay covered, these leases included.
    outstanding = uow.assignments.outstanding(campaign.id)
    count = min(count, escrow.leases_affordable(balance, outstanding, campaign.unit_cost))
    if count <= 0:
        return []
    picked = picked[:count]  # shuffled: the control share stays as drawn
    expires = now + timedelta(seconds=campaign.spec.lease_seconds)
    leases = [
        Assignment(
            new_id("asg", rand),
            task.id,
            campaign.id,
            worker,
            AssignmentStatus.LEASED,
            now,
            expires,
        )
        for task in picked
    ]
    uow.assignments.add_many(leases)
    uow.tasks.fill([task.id for task in picked])
    return [Claim(a, task.data, campaign) for a, task in zip(leases, picked, strict=True)]


def _pick(
    uow: UnitOfWork, campaign: Campaign, worker: str, only_gold: bool, count: int, rand: Random
) -> list[Task]:
    """`count` tasks at most: each one gold with probability `gold_share`, as single claims
    would draw them; when one kind runs short the other fills in."""
    spec = campaign.spec
    uncertain = spec.quality.routing is Routing.UNCERTAIN_FIRST
    breadth = spec.quality.confidence > 0
    overlap = spec.overlap
    if only_gold:
        return uow.tasks.pick(campaign.id, worker, True, overlap, qualifying=True, limit=count)
    if spec.peer_reviewed:  # its gold tasks are gold reviews, for reviewers only
        return uow.tasks.pick(campaign.id, worker, False, overlap, uncertain, breadth, limit=count)
    gold = sum(rand.random() < spec.gold_share for _ in range(count))
    want = {True: gold, False: count - gold}
    got = {
        kind: uow.tasks.pick(campaign.id, worker, kind, overlap, uncertain, breadth, limit=n)
        if n
        else []
        for kind, n in want.items()
    }
    for kind in (True, False):  # a kind that gave all it was asked for may give more
        short = count - len(got[True]) - len(got[False])
        if short > 0 and len(got[kind]) == want[kind]:
            taken = {t.id for t in got[kind]}
            more = uow.tasks.pick(
                campaign.id, worker, kind, overlap, uncertain, breadth, limit=want[kind] + short
            )
            got[kind] += [t for t in more if t.id not in taken][:short]
    return _shuffled(got[True] + got[False], rand)


def _shuffled(items: list[Task], rand: Random) -> list[Task]:
    """A suite in random order, so that its control tasks are not the first ones."""
    out = list(items)
    for i in range(len(out) - 1, 0, -1):
        j = min(i, int(rand.random() * (i + 1)))
        out[i], out[j] = out[j], out[i]
    return out


def _check_gates(
    uow: UnitOfWork, campaign: Campaign, worker: str, kind: str | None, now: datetime
) -> bool:
    """Raise Forbidden (with the reason) unless the worker may work here; True = test first."""
    _check_node(campaign, kind)
    check_may_work(uow, campaign, worker, kind == "agent", now)
    q = campaign.spec.quality
    listed = uow.parties.listing(campaign.requester, worker)
    if listed == "block":
        raise Forbidden(
            "the requester of this campaign takes no work from you", campaign_id=campaign.id
        )
    if q.allowlist_only and listed != "allow":
        raise Forbidden(
            "this campaign is open only to workers its requester chose", campaign_id=campaign.id
        )
    if q.languages or q.regions:
        profile = uow.parties.profile(worker)
        refusal = q.refusal_for(profile.languages, profile.region)
        if refusal is not None:
            raise Forbidden(
                f"{refusal}; declare yours on your profile (PUT /v1/me/profile)",
                campaign_id=campaign.id,
            )
    check_reputation(uow, campaign, worker, campaign.spec.skill, q.min_reputation)
    return in_qualification(uow, campaign, worker)


def _check_node(campaign: Campaign, kind: str | None) -> None:
    """Fetch jobs go to bandwidth nodes only, and a node takes nothing else."""
    if campaign.spec.is_bandwidth and kind != "node":
        raise Forbidden(
            "this campaign's fetch jobs are done by bandwidth nodes (`earnest node`, which "
            'signs in with kind "node")',
            campaign_id=campaign.id,
        )
    if kind == "node" and not campaign.spec.is_bandwidth:
        raise Forbidden("a bandwidth node takes fetch jobs only", campaign_id=campaign.id)


def gate_reason(uow: UnitOfWork, campaign: Campaign, worker: str, now: datetime) -> str | None:
    """Why `worker` may not claim in `campaign` now (a gate or a limit), or None if they may."""
    try:
        _check_gates(uow, campaign, worker, uow.parties.kind(worker), now)
    except Forbidden as exc:
        return exc.detail
    return None


def in_qualification(
    uow: UnitOfWork, campaign: Campaign, worker: str, *, final: bool = False
) -> bool:
    """True while the worker still owes practice or qualification answers, or the test is
    undecided (quality.qualification); raise if they failed it. The first
    `practice_tasks` control answers count for nothing. `final`: no control task is left
    to offer, so the share decides an undecided worker."""
    found, correct, answered = qualification_of(uow, campaign, worker, final=final)
    if found is Standing.FAILED:
        test = campaign.spec.quality.qualification_tasks
        check_qualified(campaign, correct, answered, "tasks", test, final=True)  # raises
    return found is Standing.QUALIFYING


def expire_leases(uow: UnitOfWork, now: datetime, campaign_id: str | None = None) -> int:
    """Expire overdue leases and free their slots."""
    due = uow.assignments.expire_due(now, REAP_BATCH, campaign_id)
    for _, task_id in due:
        uow.tasks.change_filled(task_id, -1)
    return len(due)


def release_lease(cmd: ReleaseLease, *, store: Store, clock: Clock) -> Assignment:
    """Give a lease back unanswered (a node declining a fetch): its slot reopens at once."""
    who, assignment_id = cmd.who, cmd.assignment_id
    who.require("work")
    now = clock.now()
    with store.uow() as uow:
        found = uow.assignments.get(assignment_id, lock=True)
        if found is None or found.worker != who.address:
            raise NotFound(f"no assignment {assignment_id!r}")
        check_transition(found.status, AssignmentStatus.EXPIRED)
        if not uow.assignments.release(assignment_id, now):
            raise Conflict("this assignment changed meanwhile; it is no longer leased")
        uow.tasks.change_filled(found.task_id, -1)
        released = uow.assignments.get(assignment_id)
        uow.commit()
    if released is None:
        raise NotFound(f"no assignment {assignment_id!r}")
    return released


def my_assignments(who: Principal, *, store: Store, limit: int = 100) -> list[Assignment]:
    with store.uow(readonly=True) as uow:
        return uow.assignments.of_worker(who.address, limit)


def get_assignment(who: Principal, assignment_id: str, *, store: Store) -> Assignment:
    with store.uow(readonly=True) as uow:
        found = uow.assignments.get(assignment_id)
    if found is None or found.worker != who.address:
        raise NotFound(f"no assignment {assignment_id!r}")
    return found
