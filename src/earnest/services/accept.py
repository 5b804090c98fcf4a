"""An acceptance's receipt and money, in the caller's transaction: the signed receipt, the
journal entry moving escrow to the worker's payable and the fee, and the payout outbox row."""

from __future__ import annotations

from datetime import datetime

from earnest.domain import escrow, ledger
from earnest.domain.money import fee_for
from earnest.domain.receipts import Receipt
from earnest.domain.verification import Submission, Verdict, answer_hash, json_digest
from earnest.domain.work import Campaign
from earnest.services.chain_port import Crypto
from earnest.services.common import new_id
from earnest.services.ports import PayoutRecord, Random, ReceiptRecord, UnitOfWork


def accepted_reward(campaign: Campaign, verdict: Verdict) -> int:
    """What an accepted answer earns: the verifier's metered reward if it gives one, never
    more than the campaign's reward (the unit the escrow reserves for every lease)."""
    return escrow.capped_reward(verdict.reward, campaign.spec.reward)


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
