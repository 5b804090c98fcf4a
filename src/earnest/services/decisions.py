"""Carry out a task's verdicts, inside the caller's transaction.

Accepting is one database transaction: the verdict with its evidence, the journal entry
moving escrow to the worker's payable and the fee, the signed receipt, the payout outbox
row (services.accept), and the reputation evidence. Under requester review the verifier's
verdicts are only suggestions: the answer waits for the requester until the review window
closes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from earnest.domain.errors import Conflict, NotFound
from earnest.domain.verification import Decision, Outcome, Submission, Verdict
from earnest.domain.work import (
    Assignment,
    AssignmentStatus,
    Campaign,
    ReviewMode,
    Task,
    TaskStatus,
)
from earnest.services.accept import accepted_reward, record_verdict
from earnest.services.chain_port import Crypto
from earnest.services.learning import learn_gold, learn_resolution
from earnest.services.ports import Random, UnitOfWork
from earnest.services.reputation import apply_rules, evidence_of, record_evidence


def apply_outcome(
    uow: UnitOfWork,
    campaign: Campaign,
    task: Task,
    given: tuple[Submission, ...],
    outcome: Outcome,
    crypto: Crypto,
    now: datetime,
    rand: Random,
    rules: RuleChecks | None = None,
) -> dict[str, str]:
    """Carry out the verdicts on the `given` submissions; returns assignment → receipt id.

    The campaign's rules run on each worker decided here, now, or later through `rules`.
    """
    submissions = {s.assignment_id: s for s in given}
    receipt_ids: dict[str, str] = {}
    review = campaign.spec.quality.review is not ReviewMode.AUTO
    peer = campaign.spec.peer_reviewed
    for verdict in outcome.verdicts:
        if verdict.decision is Decision.WAIT:
            continue
        sub = submissions[verdict.assignment_id]
        # A peer reviews what the rules let through; a rule's rejection stands at once
        # (appealable), and its task goes back to other workers.
        if review and not (peer and verdict.decision is Decision.REJECT):
            _hold_for_review(uow, campaign, sub, verdict, now)
            continue
        receipt_ids[sub.assignment_id] = decide(
            uow, campaign, task, sub, verdict, crypto, now, rand
        )
        if peer:
            after_peer_decision(uow, campaign, task.id, False, now)
        learn_gold(uow, campaign, task, sub, now)
    if outcome.resolved and task.status is TaskStatus.OPEN:
        uncertainty = None if outcome.confidence is None else round(1.0 - outcome.confidence, 6)
        uow.tasks.resolve(task.id, outcome.result, outcome.confidence, now, uncertainty)
        learn_resolution(uow, campaign, task, list(submissions.values()), outcome.result, now)
    elif outcome.confidence is not None:
        uow.tasks.set_uncertainty(task.id, round(1.0 - outcome.confidence, 6))
    due = rules or RuleChecks()
    for worker in {submissions[v.assignment_id].worker for v in outcome.verdicts}:
        due.add(campaign, worker)
    if rules is None:
        due.run(uow, now, rand)
    return receipt_ids


class RuleChecks:
    """Workers whose campaign rules are due: evaluated once after a suite of answers, which
    sees the same recent answers as evaluating them after each one would at its end."""

    def __init__(self) -> None:
        self._due: dict[tuple[str, str], Campaign] = {}

    def add(self, campaign: Campaign, worker: str) -> None:
        self._due[(campaign.id, worker)] = campaign

    def run(self, uow: UnitOfWork, now: datetime, rand: Random) -> None:
        due, self._due = self._due, {}
        for (_, worker), campaign in due.items():
            apply_rules(uow, campaign, worker, now, rand)


def after_peer_decision(
    uow: UnitOfWork, campaign: Campaign, task_id: int, accepted: bool, now: datetime
) -> None:
    """A rejection frees its slot for another worker; `overlap` acceptances resolve the task."""
    if not accepted:
        uow.tasks.change_filled(task_id, -1)
        return
    task = uow.tasks.get(task_id)
    if task is None or task.status is not TaskStatus.OPEN:
        return
    answers = [
        s.answer
        for s in uow.assignments.submissions(task_id)
        if s.status is AssignmentStatus.ACCEPTED
    ]
    overlap = campaign.spec.overlap
    if len(answers) >= overlap:
        uow.tasks.resolve(task_id, answers[0] if overlap == 1 else answers, 1.0, now)


def _hold_for_review(
    uow: UnitOfWork, campaign: Campaign, sub: Submission, verdict: Verdict, now: datetime
) -> None:
    due = now + timedelta(seconds=campaign.spec.quality.review_seconds)
    suggestion = {"suggested": verdict.decision.value, "suggested_reason": verdict.reason}
    uow.assignments.await_review(sub.assignment_id, due, suggestion | dict(verdict.evidence))


def decide(
    uow: UnitOfWork,
    campaign: Campaign,
    task: Task,
    sub: Submission,
    verdict: Verdict,
    crypto: Crypto,
    now: datetime,
    rand: Random,
    *,
    reputation: bool = True,
) -> str:
    """Record one decision with its receipt, reputation evidence and (if accepted) payout.

    `reputation=False` leaves the evidence to the caller: a requester's review is recorded
    as one review event, and an automatic acceptance says nothing about the worker.
    """
    gold = task.is_gold
    accepted = verdict.decision is Decision.ACCEPT
    reward = accepted_reward(campaign, verdict) if accepted else 0
    status = AssignmentStatus.ACCEPTED if accepted else AssignmentStatus.REJECTED
    if not uow.assignments.decide(
        sub.assignment_id, status, verdict.reason, reward, now, verdict.evidence
    ):
        # Decided meanwhile (a review racing the automatic acceptance): paying now would pay
        # for an answer whose row says otherwise.
        raise Conflict("this answer was decided meanwhile")
    uow.workers.record(sub.worker, accepted=accepted, gold=gold)
    found = evidence_of(verdict, gold) if reputation else None
    if found is not None:
        kind, good = found
        record_evidence(
            uow, campaign, sub.assignment_id, sub.worker, kind, good, verdict.reason, now, rand
        )
    return record_verdict(
        uow,
        campaign,
        task.id,
        sub,
        verdict.decision.value,
        verdict.reason,
        reward,
        crypto,
        now,
        rand,
    )


def decide_held(
    uow: UnitOfWork,
    campaign: Campaign,
    a: Assignment,
    verdict: Verdict,
    crypto: Crypto,
    now: datetime,
    rand: Random,
) -> str:
    """Decide an answer held for review; the caller records what the review says."""
    task = uow.tasks.get(a.task_id)
    if task is None:
        raise NotFound("the task of this assignment is gone")
    sub = Submission(a.id, a.worker, a.answer, a.status, a.submitted_at or now)
    # The verifier's reading is only a suggestion here: it is not evidence about the worker.
    return decide(uow, campaign, task, sub, verdict, crypto, now, rand, reputation=False)
