"""Campaign use cases: create, fund, upload tasks, status, close, results."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from earnest.domain import ledger
from earnest.domain.errors import Conflict, InsufficientFunds, InvalidInput, SchemaViolation
from earnest.domain.work import Campaign, CampaignSpec, CampaignStatus, Task
from earnest.quality import verifier_for
from earnest.quality.classes import classes_of
from earnest.services.common import new_id, owned_campaign
from earnest.services.identity import Principal
from earnest.services.ports import Clock, Random, Store
from earnest.services.schemas import compile_schema, first_error

UPLOAD_CHUNK = 1000
MAX_REPORTED_ERRORS = 20


@dataclass(frozen=True)
class TaskLine:
    """One row of an upload: its position, and the parsed object or why it did not parse."""

    row: int
    value: Any = None
    parse_error: str | None = None


def create_campaign(
    who: Principal, spec: CampaignSpec, *, fee_bps: int, store: Store, clock: Clock, rand: Random
) -> Campaign:
    """Create a draft campaign after checking its schemas and verifier."""
    who.require("campaigns:write")
    compile_schema(spec.input_schema, "input_schema")
    compile_schema(spec.output_schema, "output_schema")
    verifier_for(spec.verifier)
    if spec.verifier == "dawid_skene" and not classes_of(spec.output_schema):
        raise InvalidInput(
            "the dawid_skene verifier needs categorical answers: an output_schema with an "
            "enum, or one required enum or boolean property"
        )
    now = clock.now()
    if spec.deadline is not None and spec.deadline <= now:
        raise InvalidInput("deadline must be in the future")
    campaign = Campaign(new_id("cmp", rand), who.address, spec, fee_bps, CampaignStatus.DRAFT, now)
    with store.uow() as uow:
        uow.parties.ensure(who.address, "person", now)
        uow.campaigns.add(campaign)
        uow.commit()
    return campaign


def fund_campaign(
    who: Principal, campaign_id: str, amount: int, *, store: Store, clock: Clock, rand: Random
) -> int:
    """Move `amount` from the requester's balance into the campaign's escrow; open it."""
    who.require("funds:write")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput("amount must be a positive integer of base units")
    now = clock.now()
    with store.uow() as uow:
        campaign = owned_campaign(uow, campaign_id, who.address)
        if campaign.status is CampaignStatus.CLOSED:
            raise Conflict("the campaign is closed")
        source = ledger.requester_available(who.address)
        if uow.ledger.balance(source) < amount:
            raise InsufficientFunds(
                f"available balance is {uow.ledger.balance(source)}, less than {amount}"
            )
        entry = ledger.transfer(
            f"fund:{campaign_id}:{new_id('f', rand)}",
            "fund",
            source,
            ledger.campaign_escrow(campaign_id),
            amount,
        )
        uow.ledger.post(entry, now)
        uow.campaigns.set_status(campaign_id, CampaignStatus.ACTIVE)
        escrow = uow.ledger.balance(ledger.campaign_escrow(campaign_id))
        uow.commit()
    return escrow


def add_tasks(who: Principal, campaign_id: str, lines: Iterable[TaskLine], *, store: Store) -> int:
    """Validate and insert tasks, all or none; SchemaViolation lists the first bad rows."""
    who.require("tasks:write")
    with store.uow() as uow:
        campaign = owned_campaign(uow, campaign_id, who.address)
        if campaign.status is CampaignStatus.CLOSED:
            raise Conflict("the campaign is closed")
        validate_in = compile_schema(campaign.spec.input_schema, "input_schema")
        validate_out = compile_schema(campaign.spec.output_schema, "output_schema")
        errors: list[dict[str, Any]] = []
        count = 0
        chunk: list[dict[str, Any]] = []
        for row in _rows(lines, validate_in, validate_out, errors):
            count += 1
            if errors:
                continue  # keep reading to report more errors, stop inserting
            chunk.append(row | {"campaign_id": campaign_id})
            if len(chunk) >= UPLOAD_CHUNK:
                uow.tasks.add_many(chunk)
                chunk = []
        if errors:
            raise SchemaViolation(
                f"{len(errors)} bad row(s); nothing was added", errors=errors[:MAX_REPORTED_ERRORS]
            )
        if count == 0:
            raise InvalidInput("the upload holds no tasks")
        uow.tasks.add_many(chunk)
        uow.commit()
    return count


def _rows(
    lines: Iterable[TaskLine], validate_in: Any, validate_out: Any, errors: list[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    for line in lines:
        problem = line.parse_error or _task_problem(line.value, validate_in, validate_out)
        if problem:
            errors.append({"row": line.row, "error": problem})
            yield {}
            continue
        value = line.value
        external = value.get("id")
        yield {
            "external_id": None if external is None else str(external),
            "data": value["data"],
            "gold": value.get("gold"),
            "prediction": value.get("prediction"),
        }


def _task_problem(value: Any, validate_in: Any, validate_out: Any) -> str | None:
    if not isinstance(value, dict) or "data" not in value:
        return (
            'each task must be an object with a "data" field '
            '(and optional "id", "gold", "prediction")'
        )
    extra = set(value) - {"id", "data", "gold", "prediction"}
    if extra:
        return f"unknown field(s) {sorted(extra)}"
    if value.get("prediction") is not None:
        problem = _prediction_problem(value["prediction"], validate_out)
        if problem:
            return problem
    problem = first_error(validate_in, value["data"])
    if problem:
        return f"data {problem}"
    if value.get("gold") is not None:
        problem = first_error(validate_out, value["gold"])
        if problem:
            return f"gold {problem}"
    return None


def _prediction_problem(prediction: Any, validate_out: Any) -> str | None:
    """A model's vote: {"answer": <valid answer>, "confidence": 0..1, "model": "name"}."""
    if not isinstance(prediction, dict) or set(prediction) - {"answer", "confidence", "model"}:
        return 'prediction must be {"answer": ..., "confidence": 0..1, "model": "name"}'
    confidence = prediction.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        return "prediction.confidence must be a number between 0 and 1"
    if not 0.0 <= confidence <= 1.0:
        return "prediction.confidence must be a number between 0 and 1"
    model = prediction.get("model", "model")
    if not isinstance(model, str) or not 1 <= len(model) <= 60:
        return "prediction.model must be a name of 1 to 60 characters"
    problem = first_error(validate_out, prediction.get("answer"))
    return f"prediction.answer {problem}" if problem else None


def campaign_status(who: Principal, campaign_id: str, *, store: Store) -> dict[str, Any]:
    """Progress and money of one campaign."""
    who.require("campaigns:read")
    with store.uow(readonly=True) as uow:
        campaign = owned_campaign(uow, campaign_id, who.address)
        tasks = uow.tasks.counts(campaign_id)
        assignments = uow.assignments.counts(campaign_id)
        escrow = uow.ledger.balance(ledger.campaign_escrow(campaign_id))
        outstanding = uow.assignments.outstanding(campaign_id)
    return {
        "campaign": campaign,
        "tasks": tasks,
        "assignments": assignments,
        "escrow": escrow,
        "reserved": outstanding * campaign.unit_cost,
        "spent": assignments["accepted"] * campaign.unit_cost,
    }


def close_campaign(
    who: Principal, campaign_id: str, *, store: Store, clock: Clock, rand: Random
) -> int:
    """Stop new claims and refund the escrow not reserved by live leases; returns the refund."""
    who.require("campaigns:write")
    now = clock.now()
    with store.uow() as uow:
        campaign = owned_campaign(uow, campaign_id, who.address)
        uow.campaigns.lock(campaign_id)
        escrow = uow.ledger.balance(ledger.campaign_escrow(campaign_id))
        refund = escrow - uow.assignments.outstanding(campaign_id) * campaign.unit_cost
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
    return max(refund, 0)


def results(
    who: Principal, campaign_id: str, *, store: Store, page: int = 1000
) -> Iterator[dict[str, Any]]:
    """Resolved (non-gold) tasks with their result, confidence and answers, in task order."""
    who.require("results:read")
    with store.uow(readonly=True) as uow:
        owned_campaign(uow, campaign_id, who.address)
    after = 0
    while True:
        with store.uow(readonly=True) as uow:
            batch: list[Task] = uow.tasks.resolved(campaign_id, after, page)
            answers = uow.assignments.answers_for_tasks([t.id for t in batch])
        for task in batch:
            yield {
                "task_id": task.id,
                "external_id": task.external_id,
                "data": task.data,
                "result": task.result,
                "confidence": task.confidence,
                "answers": answers.get(task.id, []),
            }
        if len(batch) < page:
            return
        after = batch[-1].id


def my_campaigns(who: Principal, *, store: Store) -> list[Campaign]:
    who.require("campaigns:read")
    with store.uow(readonly=True) as uow:
        return uow.campaigns.of_requester(who.address)
