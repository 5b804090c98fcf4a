"""Verify a task's answers and carry out the verdicts, inside the caller's transaction.

Accepting is one database transaction: the verdict with its evidence, the journal entry
moving escrow to the worker's payable and the fee, the signed receipt, the payout outbox
row, and the reputation evidence. Under requester review the verifier's verdicts are only
suggestions: the answer waits for the requester until the review window closes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from earnest.domain import ledger
from earnest.domain.errors import Conflict, NotFound
from earnest.domain.money import fee_for
from earnest.domain.receipts import Receipt
from earnest.domain.verification import (
    Decision,
    Outcome,
    Submission,
    Verdict,
    VerificationInput,
    WorkerHistory,
    answer_hash,
    json_digest,
    model_voter,
)
from earnest.domain.work import (
    Assignment,
    AssignmentStatus,
    Campaign,
    ReviewMode,
    Task,
    TaskStatus,
)
from earnest.quality import MEASURED, verifier_for
from earnest.quality.controls import disguised
from earnest.quality.dawid_skene import CLASS_COUNTS, ClassMap, Counts, counted
from earnest.services.chain_port import Crypto
from earnest.services.common import new_id
from earnest.services.ports import PayoutRecord, Random, ReceiptRecord, UnitOfWork
from earnest.services.reputation import apply_rules, evidence_of, record_evidence, scores


def verify_task(
    uow: UnitOfWork, campaign: Campaign, task: Task, submissions: tuple[Submission, ...]
) -> Outcome:
    """Run the campaign's verifier on everything the task has received."""
    workers = [s.worker for s in submissions]
    classes = ClassMap.of_schema(campaign.spec.output_schema)
    voters = workers + ([model_voter(task.prediction.model)] if task.prediction else [])
    learned = uow.confusions.get(campaign.id, voters) if classes else {}
    stats = uow.workers.history(workers)
    reputation = scores(uow, workers, campaign.spec.skill)
    history = {
        v: WorkerHistory(
            stats[v].gold_correct if v in stats else 0,
            stats[v].gold_total if v in stats else 0,
            learned.get(v),
            reputation[v].mean if v in reputation else None,
        )
        for v in voters
    }
    q = campaign.spec.quality
    given = VerificationInput(
        task,
        campaign.spec.overlap,
        submissions,
        history,
        min_overlap=q.min_overlap,
        confidence=q.confidence,
        class_counts=(learned.get(CLASS_COUNTS) or [[]])[0],
        classes=classes.classes,
        facts=uow.facts.of_task(task.id) if campaign.spec.verifier in MEASURED else {},
        terms=campaign.spec.terms,
    )
    # A control task's verdict reads and waits like an ordinary one (quality/controls.py).
    return disguised(verifier_for(campaign.spec.verifier), given, _qualifying(uow, campaign, given))


def _qualifying(uow: UnitOfWork, campaign: Campaign, given: VerificationInput) -> set[str]:
    """Workers still in the campaign's qualification: their tasks are controls by the rules."""
    needed = campaign.spec.quality.qualification_tasks
    if not given.task.is_gold or needed == 0:
        return set()
    workers = {s.worker for s in given.pending()}
    return {w for w in workers if uow.assignments.gold_record(w, campaign.id)[1] < needed}


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
        _learn_gold(uow, campaign, task, sub, now)
    if outcome.resolved and task.status is TaskStatus.OPEN:
        uncertainty = None if outcome.confidence is None else round(1.0 - outcome.confidence, 6)
        uow.tasks.resolve(task.id, outcome.result, outcome.confidence, now, uncertainty)
        _learn_resolution(uow, campaign, task, list(submissions.values()), outcome.result, now)
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
    receipt_id = issue_receipt(
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
    if reward > 0:  # metered work may earn nothing (an empty page): no payout to owe
        owe(uow, campaign, sub.worker, receipt_id, sub.assignment_id, now, rand, reward=reward)
    return receipt_id


def accepted_reward(campaign: Campaign, verdict: Verdict) -> int:
    """What an accepted answer earns: the verifier's metered reward if it gives one, never
    more than the campaign's reward (the unit the escrow reserves for every lease)."""
    if verdict.reward is None:
        return campaign.spec.reward
    return max(0, min(verdict.reward, campaign.spec.reward))


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


def issue_receipt(
    uow: UnitOfWork,
    campaign: Campaign,
    task_id: int,
    sub: Submission,
    verdict: str,
    reason: str,
    reward: int,
    crypto: Crypto,
    now: datetime,
    rand: Random,
    *,
    slot: str = "",
) -> str:
    """Sign and store a verdict's receipt. `slot` tells a second receipt (an appeal's) apart."""
    receipt = Receipt(
        new_id("rcp", rand),
        sub.assignment_id,
        task_id,
        campaign.id,
        sub.worker,
        answer_hash(sub.answer),
        verdict,
        reason,
        campaign.spec.verifier,
        reward,
        now.isoformat(),
    )
    body = receipt.body()
    digest = json_digest(body)
    uow.receipts.add(
        ReceiptRecord(
            receipt.id,
            body,
            digest,
            crypto.sign(bytes.fromhex(digest)),
            sub.worker,
            campaign.id,
        ),
        now,
        slot=slot,
    )
    return receipt.id


def owe(
    uow: UnitOfWork,
    campaign: Campaign,
    worker: str,
    receipt_id: str,
    assignment_id: str,
    now: datetime,
    rand: Random,
    *,
    reward: int | None = None,
) -> None:
    """The accept entry and its payout row, in the caller's transaction (the outbox).

    `reward` defaults to the campaign's; a peer review is paid its `review_reward`.
    """
    reward = campaign.spec.reward if reward is None else reward
    fee = fee_for(reward, campaign.fee_bps)
    # Deferred and merged: the accepts of a transaction (a suite of answers) are one journal
    # entry at commit, one posting per account. The assignment's change of status, in this
    # same transaction, is what makes each accept happen once.
    uow.ledger.defer(
        ledger.accept_unit(f"accept:{assignment_id}", campaign.id, worker, reward, fee),
        now,
        merge=True,
    )
    uow.payouts.add(
        PayoutRecord(
            new_id("pay", rand),
            ledger.worker_payable(worker),
            worker,
            reward,
            receipt_id,
            "pending",
            None,
            now,
        )
    )


def _learn_gold(
    uow: UnitOfWork, campaign: Campaign, task: Task, sub: Submission, now: datetime
) -> None:
    """A control answer teaches the worker's confusion matrix with certainty."""
    if task.is_gold:
        _count(uow, campaign, task.gold, [(sub.worker, sub.answer)], now)


def _learn_resolution(
    uow: UnitOfWork,
    campaign: Campaign,
    task: Task,
    subs: list[Submission],
    result: Any,
    now: datetime,
) -> None:
    """Online M-step: the resolved result counts once in each voter's matrix (hard EM).

    The background re-estimation (services.aggregation) replaces these counts with the
    soft, full Dawid-Skene estimate; between two runs this keeps every matrix current.
    """
    if task.is_gold:
        return
    votes = [(s.worker, s.answer) for s in subs]
    if task.prediction is not None:
        votes.append((model_voter(task.prediction.model), task.prediction.answer))
    _count(uow, campaign, result, votes, now, class_counts=True)


def _count(
    uow: UnitOfWork,
    campaign: Campaign,
    truth: Any,
    votes: list[tuple[str, Any]],
    now: datetime,
    *,
    class_counts: bool = False,
) -> None:
    mapping = ClassMap.of_schema(campaign.spec.output_schema)
    true = mapping.label_of(truth)
    if true is None:
        return
    k = len(mapping)
    names = [v for v, _ in votes] + ([CLASS_COUNTS] if class_counts else [])
    counts = uow.confusions.get(campaign.id, names)
    changed: dict[str, Counts] = {}
    for voter, answer in votes:
        given = mapping.label_of(answer)
        if given is not None:
            changed[voter] = counted(changed.get(voter) or counts.get(voter), k, true, given)
    if class_counts:
        row = counts.get(CLASS_COUNTS) or [[0.0] * k]
        row[0][true] += 1.0
        changed[CLASS_COUNTS] = row
    # The class counts are a running estimate every answer of the campaign updates: under
    # load one transaction's count may be left out rather than queue every answer behind
    # one row (concurrent writers overwrite each other anyway; the background
    # re-estimation, services.aggregation, recounts them all).
    uow.confusions.put(campaign.id, changed, now, if_free=[CLASS_COUNTS])
