"""Campaign use cases: create, fund, upload tasks, status, close, results."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from earnest.domain import bandwidth, escrow, ledger
from earnest.domain.errors import Conflict, InsufficientFunds, InvalidInput
from earnest.domain.money import parse_amount
from earnest.domain.transfer_fee import NO_FEE
from earnest.domain.work import Campaign, CampaignSpec, CampaignStatus, Task
from earnest.quality import SANDBOXED, verifier_for
from earnest.quality.dawid_skene import classes_of
from earnest.quality.predictors import load_predictor
from earnest.services.chain_port import MintTerms
from earnest.services.common import new_id, owned_campaign
from earnest.services.identity import Principal
from earnest.services.ports import (
    Clock,
    MoneyUnit,
    PeopleUnit,
    Random,
    Sandbox,
    Store,
    StoreOf,
    WorkUnit,
)
from earnest.services.schemas import compile_schema


class CampaignUnit(WorkUnit, MoneyUnit, PeopleUnit, Protocol):
    """Creating, funding and closing a campaign touch its rows, its escrow and its owner."""


@dataclass(frozen=True)
class CreateCampaign:
    """Create a draft campaign of `spec` for the caller to fund."""

    who: Principal
    spec: CampaignSpec


@dataclass(frozen=True)
class FundCampaign:
    """Move `amount` base units of the caller's balance into the campaign's escrow."""

    who: Principal
    campaign_id: str
    amount: int


@dataclass(frozen=True)
class CloseCampaign:
    """Stop the campaign's claims and refund its escrow not reserved by live leases."""

    who: Principal
    campaign_id: str


def create_campaign(
    cmd: CreateCampaign,
    *,
    fee_bps: int,
    store: StoreOf[CampaignUnit],
    clock: Clock,
    rand: Random,
    sandbox: Sandbox | None = None,
    mint: MintTerms | None = None,
) -> Campaign:
    """Create a draft campaign after checking its schemas, its verifier and that the market
    can pay in its mint (`mint`, read from the chain; None: a mint with no extensions)."""
    who, spec = cmd.who, cmd.spec
    who.require("campaigns:write")
    if mint is not None and mint.refused:
        raise InvalidInput(f"this market cannot pay rewards in its mint: {mint.refused}")
    check_spec(spec, sandbox)
    now = clock.now()
    if spec.deadline is not None and spec.deadline <= now:
        raise InvalidInput("deadline must be in the future")
    campaign = Campaign(
        new_id("cmp", rand),
        who.address,
        spec,
        fee_bps,
        CampaignStatus.DRAFT,
        now,
        mint.fee_ceiling if mint is not None else NO_FEE,
    )
    with store.uow() as uow:
        uow.parties.ensure(who.address, "person", now)
        uow.campaigns.add(campaign)
        uow.commit()
    return campaign


def check_spec(spec: CampaignSpec, sandbox: Sandbox | None) -> None:
    """Refuse a spec whose schemas, verifier, terms or predictor cannot run here."""
    if spec.verifier in SANDBOXED:
        # Strangers' code runs confined or not at all: no sandbox, no bug bounty.
        missing = "no sandbox is configured" if sandbox is None else sandbox.available()
        if missing is not None:
            raise InvalidInput(f"bug bounties are unavailable here: {missing}")
    compile_schema(spec.input_schema, "input_schema")
    compile_schema(spec.output_schema, "output_schema")
    verifier_for(spec.verifier)
    if spec.is_bandwidth:
        bandwidth.check_spec(spec)
    if spec.quality.predictor:
        load_predictor(spec.quality.predictor, spec.quality.predictor_options)
    if spec.verifier == "dawid_skene" and not classes_of(spec.output_schema):
        raise InvalidInput(
            "the dawid_skene verifier needs categorical answers: an output_schema with an "
            "enum, or one required enum or boolean property"
        )


def fund_campaign(
    cmd: FundCampaign, *, store: StoreOf[CampaignUnit], clock: Clock, rand: Random
) -> int:
    """Move `amount` from the requester's balance into the campaign's escrow; open it."""
    who, campaign_id, amount = cmd.who, cmd.campaign_id, cmd.amount
    who.require("funds:write")
    parse_amount(amount, positive=True)
    now = clock.now()
    with store.uow() as uow:
        campaign = owned_campaign(uow, campaign_id, who.address)
        if campaign.status is CampaignStatus.CLOSED:
            raise Conflict("the campaign is closed")
        source = ledger.requester_available(who.address)
        if uow.ledger.balance(source) < amount:
            available = uow.ledger.balance(source)
            raise InsufficientFunds(
                f"available balance is {available}, less than {amount}",
                available=available,
                needed=amount,
            )
        entry = ledger.transfer(
            f"fund:{campaign_id}:{new_id('f', rand)}",
            "fund",
            source,
            ledger.campaign_escrow(campaign_id),
            amount,
        )
        uow.ledger.post(entry, now)
        if campaign.status is CampaignStatus.DRAFT:  # a paused campaign stays paused
            uow.campaigns.set_status(campaign_id, CampaignStatus.ACTIVE)
        balance = uow.ledger.balance(ledger.campaign_escrow(campaign_id))
        uow.commit()
    return balance


def campaign_status(who: Principal, campaign_id: str, *, store: Store) -> dict[str, Any]:
    """Progress and money of one campaign."""
    who.require("campaigns:read")
    with store.uow(readonly=True) as uow:
        campaign = owned_campaign(uow, campaign_id, who.address)
        tasks = uow.tasks.counts(campaign_id)
        assignments = uow.assignments.counts(campaign_id)
        balance = uow.ledger.balance(ledger.campaign_escrow(campaign_id))
        outstanding = uow.assignments.outstanding(campaign_id)
        rewards = uow.assignments.accepted_rewards(campaign_id)
        reviews = uow.peer_reviews.paid_count(campaign_id) if campaign.spec.peer_reviewed else 0
    review_reward = campaign.spec.quality.review_reward
    return {
        "campaign": campaign,
        "tasks": tasks,
        "assignments": assignments,
        "escrow": balance,
        "reserved": escrow.reserved(outstanding, campaign.unit_cost),
        "spent": escrow.spent(
            rewards, reviews, review_reward, campaign.fee_bps, campaign.transfer_fee
        ),
    }


def close_campaign(
    cmd: CloseCampaign, *, store: StoreOf[CampaignUnit], clock: Clock, rand: Random
) -> int:
    """Stop new claims and refund the escrow not reserved by live leases; returns the refund."""
    who, campaign_id = cmd.who, cmd.campaign_id
    who.require("campaigns:write")
    now = clock.now()
    with store.uow() as uow:
        campaign = owned_campaign(uow, campaign_id, who.address)
        uow.campaigns.lock(campaign_id)
        refund = escrow.refund_on_close(
            uow.ledger.balance(ledger.campaign_escrow(campaign_id)),
            uow.assignments.outstanding(campaign_id),
            campaign.unit_cost,
        )
        uow.campaigns.set_status(campaign_id, CampaignStatus.CLOSED)
        if refund > 0:
            uow.ledger.post(
                ledger.transfer(
                    f"refund:{campaign_id}:{new_id('r', rand)}",
                    "refund",
                    ledger.campaign_escrow(campaign_id),
                    ledger.requester_available(who.address),
                    refund,
                ),
                now,
            )
        uow.commit()
    return refund


def results(
    who: Principal, campaign_id: str, *, store: Store, page: int = 1000
) -> Iterator[dict[str, Any]]:
    """Resolved (non-gold) tasks with their result, confidence and answers, in task order.

    A bug bounty's rows also carry `sandbox`: what the sandbox measured for each answer,
    its runs' output included. That log is the requester's alone (the repository is
    theirs); the hunters see only their verdicts."""
    who.require("results:read")
    with store.uow(readonly=True) as uow:
        campaign = owned_campaign(uow, campaign_id, who.address)
    logs = campaign.spec.verifier in SANDBOXED
    after = 0
    while True:
        with store.uow(readonly=True) as uow:
            batch: list[Task] = uow.tasks.resolved(campaign_id, after, page)
            answers = uow.assignments.answers_for_tasks([t.id for t in batch])
            measured = {t.id: uow.facts.of_task(t.id) for t in batch} if logs else {}
        for task in batch:
            row = {
                "task_id": task.id,
                "external_id": task.external_id,
                "data": task.data,
                "result": task.result,
                "confidence": task.confidence,
                "answers": answers.get(task.id, []),
            }
            yield row | ({"sandbox": measured[task.id]} if logs else {})
        if len(batch) < page:
            return
        after = batch[-1].id


def owned(who: Principal, campaign_id: str, *, store: Store) -> Campaign:
    """One of my campaigns (NotFound for anyone else's, as for one that does not exist)."""
    with store.uow(readonly=True) as uow:
        return owned_campaign(uow, campaign_id, who.address)


def my_campaigns(who: Principal, *, store: Store) -> list[Campaign]:
    who.require("campaigns:read")
    with store.uow(readonly=True) as uow:
        return uow.campaigns.of_requester(who.address)
