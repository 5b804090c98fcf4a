"""Work use cases, the answer side: an answer to a live lease, or a suite's answers at once,
each checked, stored and verified in the transaction that records it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from earnest.domain.errors import Conflict, EarnestError, InvalidInput, NotFound
from earnest.domain.verification import Decision, Submission
from earnest.domain.work import MAX_LEASES_PER_WORKER, Assignment, AssignmentStatus, Campaign, Task
from earnest.services.chain_port import Crypto
from earnest.services.decisions import RuleChecks, apply_outcome
from earnest.services.devices import attest_readings
from earnest.services.identity import Principal
from earnest.services.ports import Clock, Random, Store, UnitOfWork
from earnest.services.schemas import check, validator
from earnest.services.verify import verify_task


@dataclass(frozen=True)
class SubmitAnswer:
    """Answer the caller's live lease `assignment_id`."""

    who: Principal
    assignment_id: str
    answer: Any


@dataclass(frozen=True)
class SubmitAnswers:
    """Answer a suite of the caller's leases: (assignment id, answer) pairs, in order."""

    who: Principal
    answers: Sequence[tuple[str, Any]]


@dataclass(frozen=True)
class SubmitResult:
    assignment: Assignment
    decision: Decision
    reason: str
    receipt_id: str | None


@dataclass(frozen=True)
class Lease:
    """A live lease with its campaign and task, read under the assignment's lock."""

    assignment: Assignment
    campaign: Campaign
    task: Task


def submit_work(
    cmd: SubmitAnswer, *, store: Store, crypto: Crypto, clock: Clock, rand: Random
) -> SubmitResult:
    """Record an answer on a live lease and run the campaign's verifier on the task."""
    who, assignment_id, answer = cmd.who, cmd.assignment_id, cmd.answer
    who.require("work")
    now = clock.now()
    with store.uow() as uow:
        lease = _checked(uow, who, assignment_id, answer, crypto, now)
        result = record_answer(uow, lease, answer, crypto, now, rand)
        uow.commit()
    return result


def submit_answers(
    cmd: SubmitAnswers, *, store: Store, crypto: Crypto, clock: Clock, rand: Random
) -> list[SubmitResult | EarnestError]:
    """Answer a suite of leases in one transaction; each answer is checked on its own.

    Each answer is what `submit_work` would make of it, in the order given. One that its
    checks refuse (a lease expired, an answer off the schema, a second answer to a lease)
    comes back as its error and is not kept; the others are. An assignment that is not the
    caller's refuses the whole request (NotFound), as `submit_work` would. The campaign's
    rules run once per worker, after the last answer.
    """
    who, answers = cmd.who, cmd.answers
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
