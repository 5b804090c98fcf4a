"""Bonuses: a requester pays a worker of a campaign beyond its rewards, and lists workers.

A bonus is money like a reward: one journal entry moves it (and the market fee) from the
requester's balance to the worker's payable, and a payout row written in the same
transaction is the settler's outbox, so it lands on chain exactly once, in the next batch.
Only a worker who answered in the campaign can get one. Lists: a requester blocks a worker
from all of their campaigns, or allows one into campaigns open to chosen workers only
(`quality.allowlist_only`); the claim reads both (services/work.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from earnest.domain import ledger
from earnest.domain.errors import InsufficientFunds, InvalidInput, NotFound
from earnest.domain.money import parse_amount, unit_cost
from earnest.services.common import new_id, owned_campaign
from earnest.services.identity import Principal
from earnest.services.ports import (
    BonusRecord,
    Clock,
    MoneyUnit,
    PayoutRecord,
    PeopleUnit,
    Random,
    StoreOf,
    WorkUnit,
)

MAX_REASON = 500
ADDRESS = re.compile(r"[1-9A-HJ-NP-Za-km-z]{32,44}")  # base58, as Solana addresses are
KINDS = ("block", "allow")


class BonusUnit(WorkUnit, MoneyUnit, PeopleUnit, Protocol):
    """A bonus reads the campaign and its answers, and moves the requester's money."""


@dataclass(frozen=True)
class PayBonus:
    """Pay `amount` base units (plus the market fee) to a worker of the caller's campaign."""

    who: Principal
    campaign_id: str
    worker: str
    amount: int
    reason: str


@dataclass(frozen=True)
class ListWorker:
    """Put a worker on the caller's block or allow list (`kind` None: on neither)."""

    who: Principal
    worker: str
    kind: str | None


def pay_bonus(
    cmd: PayBonus, *, fee_bps: int, store: StoreOf[BonusUnit], clock: Clock, rand: Random
) -> BonusRecord:
    """Owe the bonus and queue its payout, in one transaction; refuse beyond the balance."""
    cmd.who.require("funds:write")
    parse_amount(cmd.amount, "amount", positive=True)
    reason = cmd.reason.strip()
    if not 1 <= len(reason) <= MAX_REASON:
        raise InvalidInput(f"say why, in 1 to {MAX_REASON} characters")
    fee = unit_cost(cmd.amount, fee_bps) - cmd.amount
    now = clock.now()
    with store.uow() as uow:
        campaign = owned_campaign(uow, cmd.campaign_id, cmd.who.address)
        if not uow.assignments.recent(cmd.worker, campaign.id, 1):
            raise NotFound(f"{cmd.worker} has not answered in this campaign")
        # In a transfer-fee mint the worker receives the bonus whole, as a reward (money.md).
        carry = campaign.transfer_fee.on(cmd.amount)
        available = uow.ledger.balance(ledger.requester_available(cmd.who.address))
        if available < cmd.amount + fee + carry:
            raise InsufficientFunds(
                f"available balance is {available}, less than {cmd.amount + fee + carry} "
                "(the bonus and the market fee)",
                available=available,
                needed=cmd.amount + fee + carry,
            )
        bonus_id, payout_id = new_id("bon", rand), new_id("pay", rand)
        entry = ledger.bonus(
            f"bonus:{bonus_id}", cmd.who.address, cmd.worker, cmd.amount, fee, carry
        )
        uow.ledger.post(entry, now)
        payable = ledger.worker_payable(cmd.worker)
        payout = PayoutRecord(
            payout_id, payable, cmd.worker, cmd.amount, None, "pending", None, now
        )
        uow.payouts.add(payout)
        record = BonusRecord(
            bonus_id, campaign.id, cmd.who.address, cmd.worker, cmd.amount, fee, reason,
            payout_id, now,
        )  # fmt: skip
        uow.payouts.add_bonus(record)
        uow.commit()
    return record


def campaign_bonuses(
    who: Principal, campaign_id: str, *, store: StoreOf[BonusUnit]
) -> list[BonusRecord]:
    """The bonuses paid in the caller's campaign, newest first."""
    who.require("campaigns:read")
    with store.uow(readonly=True) as uow:
        owned_campaign(uow, campaign_id, who.address)
        return uow.payouts.bonuses(campaign_id)


def list_worker(cmd: ListWorker, *, store: StoreOf[PeopleUnit], clock: Clock) -> str | None:
    """Block or allow a worker for all of the caller's campaigns, or take them off."""
    cmd.who.require("campaigns:write")
    if not ADDRESS.fullmatch(cmd.worker) or cmd.worker == cmd.who.address:
        raise InvalidInput("worker must be another party's address (base58)")
    if cmd.kind is not None and cmd.kind not in KINDS:
        raise InvalidInput("kind must be block, allow or null")
    with store.uow() as uow:
        uow.parties.set_listing(cmd.who.address, cmd.worker, cmd.kind, clock.now())
        uow.commit()
    return cmd.kind


def listings(who: Principal, *, store: StoreOf[PeopleUnit]) -> dict[str, str]:
    """The caller's lists: worker address -> block or allow."""
    who.require("campaigns:read")
    with store.uow(readonly=True) as uow:
        return uow.parties.listings(who.address)
