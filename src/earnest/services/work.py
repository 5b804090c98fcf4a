"""Work use cases: claim a task (a lease), submit an answer (verified at once).

A claim passes the campaign's gates first: AI agents allowed, no rule limit in force, the
minimum reputation, and the qualification test (the first N tasks are control tasks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from earnest.domain import ledger
from earnest.domain.errors import (
    Conflict,
    EarnestError,
    Forbidden,
    InvalidInput,
    NotFound,
    NoWorkAvailable,
)
from earnest.domain.verification import Decision, Submission
from earnest.domain.work import (
    MAX_LEASES_PER_WORKER,
    Assignment,
    AssignmentStatus,
    Campaign,
    Routing,
    Task,
    check_transition,
)
from earnest.services.chain_port import Crypto
from earnest.services.common import new_id
from earnest.services.decisions import RuleChecks, apply_outcome
from earnest.services.devices import attest_readings
from earnest.services.identity import Principal
from earnest.services.ports import Clock, Random, Store, UnitOfWork
from earnest.services.reputation import check_may_work, check_qualified, check_reputation
from earnest.services.schemas import check, validator
from earnest.services.verify import verify_task

REAP_BATCH = 200


@dataclass(frozen=True)
class Claim:
    assignment: Assignment
    task_data: dict[str, Any]
    campaign: Campaign


@dataclass(frozen=True)
class SubmitResult:
    assignment: Assignment
    decision: Decision
    reason: str
    receipt_id: str | None


def claim_task(
    who: Principal, campaign_id: str | None, *, store: Store, clock: Clock, rand: Random
) -> Claim:
    """Lease the next task the worker has never seen, if the escrow can pay for it."""
    return claim_suite(who, campaign_id, 1, store=store, clock=clock, rand=rand)[0]


def claim_suite(
    who: Principal,
    campaign_id: str | None,
    count: int,
    *,
    store: Store,
    clock: Clock,
    rand: Random,
) -> list[Claim]:
    """Lease up to `count` tasks of one campaign at once (a task suite), in one transaction.

    Every lease is what `claim_task` would give, one after the other: the gates are checked
    once, the escrow must cover each lease, and the worker never holds more than the
    campaign's `max_leases` of its tasks, nor MAX_LEASES_PER_WORKER in all. Fewer than
    `count` come back when fewer are available.
    """
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
    if not picked:
        return []
    uow.campaigns.lock(campaign.id)  # two claims must not both count the same escrow
    escrow = uow.ledger.balance(ledger.campaign_escrow(campaign.id))
    # Every unit that might still be accepted must stay covered, these leases included.
    count = min(count, escrow // campaign.unit_cost - uow.assignments.outstanding(campaign.id))
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
    check_reputation(uow, campaign, worker, campaign.spec.skill, q.min_reputation)
    return _in_qualification(uow, campaign, worker)


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


def _in_qualification(uow: UnitOfWork, campaign: Campaign, worker: str) -> bool:
    """True while the worker still owes qualification answers; raise if they failed it."""
    q = campaign.spec.quality
    if q.qualification_tasks == 0:
        return False
    correct, answered = uow.assignments.gold_record(worker, campaign.id)
    if answered < q.qualification_tasks:
        return True
    check_qualified(campaign, correct, answered, "tasks")
    return False


def expire_leases(uow: UnitOfWork, now: datetime, campaign_id: str | None = None) -> int:
    """Expire overdue leases and free their slots."""
    due = uow.assignments.expire_due(now, REAP_BATCH, campaign_id)
    for _, task_id in due:
        uow.tasks.change_filled(task_id, -1)
    return len(due)


@dataclass(frozen=True)
class Lease:
    """A live lease with its campaign and task, read under the assignment's lock."""

    assignment: Assignment
    campaign: Campaign
    task: Task


def submit_work(
    who: Principal,
    assignment_id: str,
    answer: Any,
    *,
    store: Store,
    crypto: Crypto,
    clock: Clock,
    rand: Random,
) -> SubmitResult:
    """Record an answer on a live lease and run the campaign's verifier on the task."""
    who.require("work")
    now = clock.now()
    with store.uow() as uow:
        lease = _checked(uow, who, assignment_id, answer, crypto, now)
        result = record_answer(uow, lease, answer, crypto, now, rand)
        uow.commit()
    return result


def submit_answers(
    who: Principal,
    answers: Sequence[tuple[str, Any]],
    *,
    store: Store,
    crypto: Crypto,
    clock: Clock,
    rand: Random,
) -> list[SubmitResult | EarnestError]:
    """Answer a suite of leases in one transaction; each answer is checked on its own.

    Each answer is what `submit_work` would make of it, in the order given. One that its
    checks refuse (a lease expired, an answer off the schema, a second answer to a lease)
    comes back as its error and is not kept; the others are. An assignment that is not the
    caller's refuses the whole request (NotFound), as `submit_work` would. The campaign's
    rules run once per worker, after the last answer.
    """
    who.require("work")
    if not 1 <= len(answers) <= MAX_LEASES_PER_WORKER:
        raise InvalidInput(f"send between 1 and {MAX_LEASES_PER_WORKER} answers at once")
    now = clock.now()
    out: list[SubmitResult | EarnestError | None] = []
    taken: list[tuple[int, Lease]] = []
    rules = RuleChecks()
    with store.uow() as uow:
        # Every lease and its task locked and read up front, in one order for everyone.
        ahead = uow.assignments.read_ahead([a for a, _ in answers])
        uow.tasks.read_ahead([a.task_id for a in ahead.values() if a.worker == who.address])
        # Set-based: the answers are stored together, their tasks' submissions read in one
        # query, and the verdicts' updates sent together (a verdict on one task reads
        # nothing another task's verdict writes to those tables).
        with uow.batched():
            for assignment_id, answer in answers:
                try:
                    lease = _checked(uow, who, assignment_id, answer, crypto, now)
                except NotFound:
                    raise
                except EarnestError as exc:
                    out.append(exc)
                    continue
                # Past its checks (made under the lease's lock) an answer is recorded;
                # anything refused from here on refuses the whole request: nothing is kept.
                _store_answer(uow, lease, answer, now)
                taken.append((len(out), lease))
                out.append(None)
            given = uow.assignments.submissions_of([lease.task.id for _, lease in taken])
            for at, lease in taken:
                subs = tuple(given.get(lease.task.id, ()))
                out[at] = _verify_answer(uow, lease, subs, crypto, now, rand, rules)
        rules.run(uow, now, rand)
        decided = uow.assignments.get_many(
            [r.assignment.id for r in out if isinstance(r, SubmitResult)]
        )
        uow.commit()
    peer = {lease.assignment.id: lease.campaign.spec.peer_reviewed for _, lease in taken}
    return [
        _with_row(r, decided, peer[r.assignment.id]) if isinstance(r, SubmitResult) else r
        for r in out
        if r is not None
    ]


def _checked(
    uow: UnitOfWork,
    who: Principal,
    assignment_id: str,
    answer: Any,
    crypto: Crypto,
    now: datetime,
) -> Lease:
    """The caller's live lease, locked, once the answer has passed every check that may
    refuse it; nothing is written before the last check (a device's readings are stored
    only once they have all been checked)."""
    lease = live_lease(uow, who, assignment_id, now)
    if lease.campaign.spec.is_bandwidth:
        raise InvalidInput(
            "a fetch job is returned with its body and signed metering record: "
            f"POST /v1/assignments/{assignment_id}/fetch"
        )
    check(validator(lease.campaign.spec.output_schema, "output_schema"), answer, "the answer")
    if lease.campaign.spec.verifier == "energy":
        a = lease.assignment
        attest_readings(uow, crypto, a.id, a.task_id, a.campaign_id, a.worker, answer, now)
    return lease


def live_lease(uow: UnitOfWork, who: Principal, assignment_id: str, now: datetime) -> Lease:
    """The caller's lease, locked, with its campaign and task; raise unless it takes answers."""
    assignment = uow.assignments.get(assignment_id, lock=True)
    if assignment is None or assignment.worker != who.address:
        raise NotFound(f"no assignment {assignment_id!r}")
    assignment.check_can_submit(now)
    campaign = uow.campaigns.get(assignment.campaign_id)
    task = uow.tasks.get(assignment.task_id)
    if campaign is None or task is None:
        raise NotFound("the task of this assignment is gone")
    return Lease(assignment, campaign, task)


def record_answer(
    uow: UnitOfWork,
    lease: Lease,
    answer: Any,
    crypto: Crypto,
    now: datetime,
    rand: Random,
) -> SubmitResult:
    """Store a checked answer, verify the task and carry out the verdicts, the campaign's
    rules included (caller commits); the result carries the decided row."""
    _store_answer(uow, lease, answer, now)
    submissions = tuple(uow.assignments.submissions(lease.task.id))
    result = _verify_answer(uow, lease, submissions, crypto, now, rand, None)
    rows = uow.assignments.get_many([lease.assignment.id])
    return _with_row(result, rows, lease.campaign.spec.peer_reviewed)


def _store_answer(uow: UnitOfWork, lease: Lease, answer: Any, now: datetime) -> None:
    """Move the lease to submitted, under its task's lock."""
    uow.assignments.lock_task(lease.task.id)
    if not uow.assignments.submit(lease.assignment.id, answer, now):
        raise Conflict("this assignment changed meanwhile; it is no longer leased")


def _verify_answer(
    uow: UnitOfWork,
    lease: Lease,
    submissions: tuple[Submission, ...],
    crypto: Crypto,
    now: datetime,
    rand: Random,
    rules: RuleChecks | None,
) -> SubmitResult:
    """Verify the task of a stored answer and carry out the verdicts; the result carries
    the assignment as it was leased (`_with_row` gives the decided row)."""
    assignment_id, campaign, task = lease.assignment.id, lease.campaign, lease.task
    outcome = verify_task(uow, campaign, task, submissions)
    receipts = apply_outcome(uow, campaign, task, submissions, outcome, crypto, now, rand, rules)
    mine = next((v for v in outcome.verdicts if v.assignment_id == assignment_id), None)
    decision = mine.decision if mine else Decision.WAIT
    return SubmitResult(
        lease.assignment, decision, mine.reason if mine else "", receipts.get(assignment_id)
    )


def _with_row(result: SubmitResult, rows: Mapping[str, Assignment], peer: bool) -> SubmitResult:
    """The result with its assignment's stored row, which (not the verdict) says what
    happened: under requester or peer review a verdict is only a suggestion, and an
    accepted answer carries its reward."""
    updated = rows.get(result.assignment.id)
    if updated is None:
        raise NotFound(f"no assignment {result.assignment.id!r}")
    decision, reason = result.decision, result.reason
    if updated.status is AssignmentStatus.SUBMITTED and updated.review_due is not None:
        decision = Decision.WAIT
        by = "a qualified peer" if peer else "the requester"
        reason = (
            f"{by} reviews this answer; if nobody has by "
            f"{updated.review_due.isoformat()}, it is accepted automatically"
        )
    return SubmitResult(updated, decision, reason, result.receipt_id)


def release_lease(who: Principal, assignment_id: str, *, store: Store, clock: Clock) -> Assignment:
    """Give a lease back unanswered (a node declining a fetch): its slot reopens at once."""
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
