"""Work use cases: claim a task (a lease), submit an answer, verify, accept or reject.

Accepting is one database transaction: the verdict, the journal entry moving escrow to the
worker's payable and the fee, the signed receipt, and the payout outbox row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from earnest.domain import ledger
from earnest.domain.errors import Conflict, NotFound, NoWorkAvailable
from earnest.domain.money import fee_for
from earnest.domain.receipts import Receipt
from earnest.domain.verification import Decision, Outcome, VerificationInput, answer_hash
from earnest.domain.work import Assignment, AssignmentStatus, Campaign, Task
from earnest.quality import verifier_for
from earnest.services.chain_port import Crypto
from earnest.services.common import new_id
from earnest.services.identity import Principal
from earnest.services.ports import Clock, PayoutRecord, Random, ReceiptRecord, Store, UnitOfWork
from earnest.services.schemas import check, compile_schema

REAP_BATCH = 200
MAX_LEASES_PER_WORKER = 20


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
    who.require("work")
    now = clock.now()
    with store.uow() as uow:
        expire_leases(uow, now, campaign_id)
        if (
            len(uow.assignments.of_worker(who.address, MAX_LEASES_PER_WORKER + 1, ["leased"]))
            >= MAX_LEASES_PER_WORKER
        ):
            raise Conflict(
                f"you already hold {MAX_LEASES_PER_WORKER} leases; submit or let them expire"
            )
        candidates = [uow.campaigns.get(campaign_id)] if campaign_id else uow.campaigns.active()
        for campaign in candidates:
            if campaign is None:
                raise NotFound(f"no campaign {campaign_id!r}")
            claim = _claim_in(uow, campaign, who.address, now, rand)
            if claim is not None:
                uow.parties.ensure(who.address, "person", now)
                uow.commit()
                return claim
        uow.commit()  # keep the expired leases
    raise NoWorkAvailable("no task is available for you right now")


def _claim_in(
    uow: UnitOfWork, campaign: Campaign, worker: str, now: datetime, rand: Random
) -> Claim | None:
    if not campaign.is_open_for_work(now) or campaign.requester == worker:
        return None
    uow.campaigns.lock(campaign.id)  # two claims must not both count the same escrow
    escrow = uow.ledger.balance(ledger.campaign_escrow(campaign.id))
    if escrow < (uow.assignments.outstanding(campaign.id) + 1) * campaign.unit_cost:
        return None  # every unit that might still be accepted must stay covered
    want_gold = rand.random() < campaign.spec.gold_share
    task = uow.tasks.pick(campaign.id, worker, want_gold, campaign.spec.overlap)
    if task is None:
        task = uow.tasks.pick(campaign.id, worker, not want_gold, campaign.spec.overlap)
    if task is None:
        return None
    assignment = Assignment(
        new_id("asg", rand),
        task.id,
        campaign.id,
        worker,
        AssignmentStatus.LEASED,
        now,
        now + timedelta(seconds=campaign.spec.lease_seconds),
    )
    uow.assignments.add(assignment)
    uow.tasks.change_filled(task.id, +1)
    return Claim(assignment, task.data, campaign)


def expire_leases(uow: UnitOfWork, now: datetime, campaign_id: str | None = None) -> int:
    """Expire overdue leases and free their slots."""
    due = uow.assignments.expire_due(now, REAP_BATCH, campaign_id)
    for _, task_id in due:
        uow.tasks.change_filled(task_id, -1)
    return len(due)


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
        assignment = uow.assignments.get(assignment_id, lock=True)
        if assignment is None or assignment.worker != who.address:
            raise NotFound(f"no assignment {assignment_id!r}")
        assignment.check_can_submit(now)
        campaign = uow.campaigns.get(assignment.campaign_id)
        task = uow.tasks.get(assignment.task_id)
        if campaign is None or task is None:
            raise NotFound("the task of this assignment is gone")
        check(compile_schema(campaign.spec.output_schema, "output_schema"), answer, "the answer")
        uow.assignments.lock_task(task.id)
        if not uow.assignments.submit(assignment_id, answer, now):
            raise Conflict("this assignment changed meanwhile; it is no longer leased")
        outcome = _verify(uow, campaign, task)
        receipts = _apply(uow, campaign, task, outcome, crypto, now, rand)
        uow.commit()
    mine = next((v for v in outcome.verdicts if v.assignment_id == assignment_id), None)
    decision = mine.decision if mine else Decision.WAIT
    status = {
        Decision.ACCEPT: AssignmentStatus.ACCEPTED,
        Decision.REJECT: AssignmentStatus.REJECTED,
    }
    updated = Assignment(
        **{
            **assignment.__dict__,
            "status": status.get(decision, AssignmentStatus.SUBMITTED),
            "answer": answer,
            "submitted_at": now,
            "reason": mine.reason if mine else None,
        }
    )
    return SubmitResult(updated, decision, mine.reason if mine else "", receipts.get(assignment_id))


def _verify(uow: UnitOfWork, campaign: Campaign, task: Task) -> Outcome:
    submissions = tuple(uow.assignments.submissions(task.id))
    history = uow.workers.history(s.worker for s in submissions)
    given = VerificationInput(task, campaign.spec.overlap, submissions, history)
    return verifier_for(campaign.spec.verifier).verify(given)


def _apply(
    uow: UnitOfWork,
    campaign: Campaign,
    task: Task,
    outcome: Outcome,
    crypto: Crypto,
    now: datetime,
    rand: Random,
) -> dict[str, str]:
    """Carry out the verdicts; returns assignment id → receipt id for every decided one."""
    workers = {s.assignment_id: s for s in uow.assignments.submissions(task.id)}
    receipt_ids: dict[str, str] = {}
    for verdict in outcome.verdicts:
        if verdict.decision is Decision.WAIT:
            continue
        sub = workers[verdict.assignment_id]
        accepted = verdict.decision is Decision.ACCEPT
        reward = campaign.spec.reward if accepted else 0
        status = AssignmentStatus.ACCEPTED if accepted else AssignmentStatus.REJECTED
        uow.assignments.decide(sub.assignment_id, status, verdict.reason, reward, now)
        uow.workers.record(sub.worker, accepted=accepted, gold=task.is_gold)
        receipt = Receipt(
            new_id("rcp", rand),
            sub.assignment_id,
            task.id,
            campaign.id,
            sub.worker,
            answer_hash(sub.answer),
            verdict.decision.value,
            verdict.reason,
            campaign.spec.verifier,
            reward,
            now.isoformat(),
        )
        digest = receipt.digest()
        uow.receipts.add(
            ReceiptRecord(
                receipt.id,
                receipt.body(),
                digest,
                crypto.sign(bytes.fromhex(digest)),
                sub.worker,
                campaign.id,
            ),
            now,
        )
        receipt_ids[sub.assignment_id] = receipt.id
        if accepted:
            _owe(uow, campaign, sub.worker, receipt.id, sub.assignment_id, now, rand)
    if outcome.resolved and task.status.value == "open":
        uow.tasks.resolve(task.id, outcome.result, outcome.confidence, now)
    return receipt_ids


def _owe(
    uow: UnitOfWork,
    campaign: Campaign,
    worker: str,
    receipt_id: str,
    assignment_id: str,
    now: datetime,
    rand: Random,
) -> None:
    """The accept entry and its payout row, in the caller's transaction (the outbox)."""
    reward = campaign.spec.reward
    fee = fee_for(reward, campaign.fee_bps)
    uow.ledger.post(
        ledger.accept_unit(f"accept:{assignment_id}", campaign.id, worker, reward, fee), now
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


def my_assignments(who: Principal, *, store: Store, limit: int = 100) -> list[Assignment]:
    with store.uow(readonly=True) as uow:
        return uow.assignments.of_worker(who.address, limit)


def get_assignment(who: Principal, assignment_id: str, *, store: Store) -> Assignment:
    with store.uow(readonly=True) as uow:
        found = uow.assignments.get(assignment_id)
    if found is None or found.worker != who.address:
        raise NotFound(f"no assignment {assignment_id!r}")
    return found
