"""An acceptance's receipt and money, in the caller's transaction: what `domain.accept`
decides (the receipt, the journal entry moving escrow to the worker's payable and the fee,
the payout), signed, saved and queued here (the payout row is the settler's outbox)."""

from __future__ import annotations

from datetime import datetime

from earnest.domain import escrow, ledger
from earnest.domain.accept import decided
from earnest.domain.verification import Submission, Verdict
from earnest.domain.work import Campaign
from earnest.services.chain_port import Crypto
from earnest.services.common import new_id
from earnest.services.ports import PayoutRecord, Random, ReceiptRecord, UnitOfWork


def accepted_reward(campaign: Campaign, verdict: Verdict) -> int:
    """What an accepted answer earns: the verifier's metered reward if it gives one, never
    more than the campaign's reward (the unit the escrow reserves for every lease)."""
    return escrow.capped_reward(verdict.reward, campaign.spec.reward)


def record_verdict(
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
    cap: int | None = None,
    slot: str = "",
) -> str:
    """Sign and store a verdict's receipt, and queue its payment; returns the receipt id.

    `cap` is the reward the escrow reserved (the campaign's unless given: a peer review's
    is its `review_reward`); `slot` tells a second receipt (an appeal's) apart.
    """
    cap = campaign.spec.reward if cap is None else cap
    done = decided(
        campaign,
        task_id,
        sub,
        verdict,
        reason,
        reward,
        cap=cap,
        receipt_id=new_id("rcp", rand),
        issued_at=now,
    )
    signature = crypto.sign(bytes.fromhex(done.digest))
    record = ReceiptRecord(
        done.receipt.id, done.body, done.digest, signature, sub.worker, campaign.id
    )
    uow.receipts.add(record, now, slot=slot)
    for entry in done.entries:
        # Deferred and merged: the accepts of a transaction (a suite of answers) are one
        # journal entry at commit, one posting per account.
        uow.ledger.defer(entry, now, merge=True)
    if done.payout:
        payable = ledger.worker_payable(sub.worker)
        uow.payouts.add(
            PayoutRecord(
                new_id("pay", rand),
                payable,
                sub.worker,
                done.payout,
                done.receipt.id,
                "pending",
                None,
                now,
            )
        )
    return done.receipt.id
