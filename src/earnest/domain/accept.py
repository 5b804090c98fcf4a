"""A verdict's receipt and money, decided without a store: the pure half of accepting.

From the campaign, the task, the answer, the verdict and the reward, `decided` returns what
the market signs (the receipt's body and its digest), the journal entry moving the escrow
to the worker's payable and the fee, and what the worker is owed (the payout row's amount).
`services/accept.py` only signs, saves and enqueues it, in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from earnest.domain import ledger
from earnest.domain.errors import InvalidInput
from earnest.domain.money import fee_for
from earnest.domain.receipts import Receipt
from earnest.domain.verification import Submission, answer_hash, json_digest
from earnest.domain.work import Campaign

VERDICTS = ("accept", "reject")


@dataclass(frozen=True)
class Decided:
    """What one verdict records: its receipt, its journal entries and the worker's payout."""

    receipt: Receipt
    body: dict[str, Any]
    digest: str  # sha256 hex of the body's canonical JSON: what the market key signs
    entries: tuple[ledger.JournalEntry, ...]  # none when nothing is paid
    payout: int  # base units owed to the worker; 0: no payout row
    fee: int  # the market's, on the payout
    transfer_fee: int = 0  # what sending the payout whole costs in a transfer-fee mint

    @property
    def cost(self) -> int:
        """What the escrow pays: the reward, the fee and the transfer fee."""
        return self.payout + self.fee + self.transfer_fee


def decided(
    campaign: Campaign,
    task_id: int,
    sub: Submission,
    verdict: str,
    reason: str,
    reward: int,
    *,
    cap: int,
    receipt_id: str,
    issued_at: datetime,
) -> Decided:
    """The receipt, entries and payout of one verdict on `sub`.

    `cap` is the most this payment may earn: the reward the escrow reserved for it (the
    campaign's reward for an answer, `review_reward` for a review). A reward above it, a
    negative one, or a paid rejection is refused: the escrow never pays beyond what it
    holds for the unit.
    """
    if verdict not in VERDICTS:
        raise InvalidInput(f"a verdict is one of {VERDICTS}, not {verdict!r}")
    if not 0 <= reward <= cap:
        raise InvalidInput(f"a reward of {reward} is outside 0..{cap}, what the escrow holds")
    if reward and verdict != "accept":
        raise InvalidInput("a rejection pays nothing")
    receipt = Receipt(
        receipt_id,
        sub.assignment_id,
        task_id,
        campaign.id,
        sub.worker,
        answer_hash(sub.answer),
        verdict,
        reason,
        campaign.spec.verifier,
        reward,
        issued_at.isoformat(),
    )
    body = receipt.body()
    entries: tuple[ledger.JournalEntry, ...] = ()
    fee = fee_for(reward, campaign.fee_bps)
    transfer_fee = campaign.transfer_fee.on(reward)
    if reward:  # metered work may earn nothing (an empty page): nothing to pay or owe
        # The assignment's (or review's) change of status, in the same transaction, is what
        # makes this key happen once; the accepts of a transaction merge into one entry.
        key = f"accept:{sub.assignment_id}"
        entries = (ledger.accept_unit(key, campaign.id, sub.worker, reward, fee, transfer_fee),)
    return Decided(receipt, body, json_digest(body), entries, reward, fee, transfer_fee)
