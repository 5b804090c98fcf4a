"""One campaign on the requester's dashboard: live progress, money, tasks, quality, results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.datastructures import UploadFile

from earnest.bootstrap import Market
from earnest.domain.errors import EarnestError, InsufficientFunds, InvalidInput, SchemaViolation
from earnest.domain.money import format_units, parse_units, tokens
from earnest.services import formats, insights
from earnest.services.appeals import DecideAppeal, ReviewSubmission
from earnest.services.campaigns import CloseCampaign, FundCampaign
from earnest.services.identity import Principal
from earnest.services.payout_cost import EstimatePayoutCost, PayoutCost
from earnest.services.uploads import UploadTasks
from earnest.web import charts
from earnest.web.confirm import DecisionForm, confirm
from earnest.web.render import page
from earnest.web.session import MarketDep, SignedIn, market, same_origin
from earnest.web.widgets import widget_for

SOL_DECIMALS = 9  # lamports per SOL: 10^9

router = APIRouter(
    prefix="/dashboard", include_in_schema=False, dependencies=[Depends(same_origin)]
)


def progress_of(status: dict[str, Any]) -> dict[str, int]:
    """The live numbers: open tasks, claimed (leased now), answers submitted, tasks resolved."""
    tasks, answers = status["tasks"], status["assignments"]
    return {
        "tasks": tasks["tasks"],
        "open": tasks["open"],
        "claimed": answers["leased"],
        "submitted": answers["submitted"] + answers["accepted"] + answers["rejected"],
        "resolved": tasks["resolved"],
        "escrow": status["escrow"],
        "spent": status["spent"],
    }


def _compact(units: float, decimals: int) -> str:
    """An axis label in tokens with three significant digits. The chart places its ticks at
    float positions; a tick is rounded to whole base units, then shown exactly (Decimal)."""
    shown = tokens(round(units), decimals)
    return f"{shown:.3g}" if shown else "0"


def _charts(found: insights.Insights, decimals: int) -> dict[str, Any]:
    return {
        "agreement": charts.line_chart(
            [(p.at, p.value) for p in found.agreement],
            title="Agreement with the result",
            label=lambda v: f"{v:.0%}",
            top=1.0,
        ),
        "accuracy": charts.histogram(found.worker_accuracy, title="Worker accuracy"),
        "cost": charts.line_chart(
            [(p.at, p.value) for p in found.cost_per_task],
            title="Cost per resolved task",
            label=lambda v: _compact(v, decimals),
        ),
    }


def _campaign(
    request: Request, who: Principal, m: Market, campaign_id: str, status: int = 200, **extra: Any
) -> Response:
    found = m.views.campaign_status(who, campaign_id)
    campaign = found["campaign"]
    open_appeals = [
        a
        for a in m.views.appeals(who, "requester")
        if a.campaign_id == campaign_id and a.status == "open"
    ]
    return page(
        request,
        "requester/campaign.html",
        who,
        status,
        campaign=campaign,
        status_=found,
        progress=progress_of(found),
        charts=_charts(m.views.insights(who, campaign_id), m.chain.decimals),
        appeals=open_appeals,
        cost=_payout_cost(who, m, campaign_id),
        reviews=m.views.awaiting_review(who, campaign_id),
        widget=widget_for(campaign.spec),
        columns=list(campaign.spec.input_schema.get("properties", {})),
        **extra,
    )


def _payout_cost(who: Principal, m: Market, campaign_id: str) -> dict[str, Any] | None:
    """The estimate before funding (services/payout_cost.py), its lamports shown in SOL;
    None if the chain cannot say."""
    try:
        cost: PayoutCost = m.campaigns.payout_cost(EstimatePayoutCost(who, campaign_id))
    except EarnestError:
        return None
    sol = {
        k: format_units(getattr(cost, k), SOL_DECIMALS)
        for k in ("total_lamports", "network_fees", "rent")
    }
    return cost.as_dict() | {"sol": sol}


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(
    campaign_id: str, request: Request, who: SignedIn, m: MarketDep, done: str | None = None
) -> Response:
    """Progress that updates itself, money, task upload, quality charts, results."""
    return _campaign(request, who, m, campaign_id, done=done)


@router.get("/campaigns/{campaign_id}/progress")
def progress(campaign_id: str, who: SignedIn, m: MarketDep) -> JSONResponse:
    """The live numbers, polled by the campaign page."""
    found = m.views.campaign_status(who, campaign_id)
    numbers = progress_of(found)
    shown = {k: format_units(numbers[k], m.chain.decimals) for k in ("escrow", "spent")}
    return JSONResponse(numbers | {"shown": shown, "status": found["campaign"].status.value})


@router.post("/campaigns/{campaign_id}/fund")
def fund(
    campaign_id: str,
    request: Request,
    who: SignedIn,
    m: MarketDep,
    amount: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    """Move tokens from the balance into the campaign's escrow, once confirmed; the
    campaign opens."""
    decimals = m.chain.decimals
    try:
        units = parse_units(amount, decimals, positive=True)
    except EarnestError as exc:
        return _campaign(request, who, m, campaign_id, 422, error=exc.detail)
    if confirmed != "yes":
        found = m.views.campaign_status(who, campaign_id)["campaign"]
        available = format_units(m.money.balances(who).available, decimals)
        return confirm(
            request,
            who,
            f"/dashboard/campaigns/{campaign_id}/fund",
            campaign_id,
            heading="Fund the campaign?",
            message=f"Move {format_units(units, decimals)} tokens from your balance "
            f"({available} tokens available) into the escrow of “{found.spec.title}”.",
            fields={"amount": amount},
            button=f"Fund {format_units(units, decimals)} tokens",
        )

    def act() -> None:
        try:
            m.campaigns.fund(FundCampaign(who, campaign_id, units))
        except InsufficientFunds as exc:
            have = exc.extra.get("available")
            shown = format_units(have, decimals) if isinstance(have, int) else "less"
            raise InsufficientFunds(
                f"your available balance is {shown} tokens, less than "
                f"{format_units(units, decimals)}; deposit first"
            ) from exc

    return _then(request, who, m, campaign_id, "funded", act)


@router.post("/campaigns/{campaign_id}/tasks")
async def upload(campaign_id: str, request: Request, who: SignedIn) -> Response:
    """Add tasks from a CSV or JSON Lines file, all or none; bad rows are listed."""
    m = market(request)
    form = await request.form()
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            raise InvalidInput("choose a CSV or JSON Lines file of tasks")
        kind = formats.SUFFIX_KINDS.get(Path(file.filename).suffix.lower(), "jsonl")
        cmd = UploadTasks(who, campaign_id, file.file, kind)
        report = await to_thread.run_sync(m.tasks.upload, cmd)
    except EarnestError as exc:
        rows = exc.extra.get("errors", []) if isinstance(exc, SchemaViolation) else []
        detail = exc.detail
        return await to_thread.run_sync(
            lambda: _campaign(request, who, m, campaign_id, 422, error=detail, row_errors=rows)
        )
    finally:
        await form.close()
    done = f"added-{report.added}"
    if report.skipped:  # the page itself, listing them: a redirect could not carry the rows
        return await to_thread.run_sync(
            lambda: _campaign(request, who, m, campaign_id, done=done, skipped=report)
        )
    return RedirectResponse(f"/dashboard/campaigns/{campaign_id}?done={done}", status_code=303)


@router.get("/campaigns/{campaign_id}/results.{fmt}")
def results(campaign_id: str, fmt: str, who: SignedIn, m: MarketDep) -> Response:
    """Download resolved tasks as CSV or JSON Lines."""
    fmt = fmt if fmt in formats.EXPORTS else "jsonl"
    body = m.tasks.export(who, campaign_id, fmt)
    media = "text/csv" if fmt == "csv" else "application/x-ndjson"
    name = f"{campaign_id}-results.{fmt}"
    return StreamingResponse(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.post("/campaigns/{campaign_id}/close")
def close(
    campaign_id: str,
    request: Request,
    who: SignedIn,
    m: MarketDep,
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    """Stop new claims, once confirmed; unspent escrow returns to the balance."""
    if confirmed != "yes":
        found = m.views.campaign_status(who, campaign_id)
        back = format_units(max(found["escrow"] - found["reserved"], 0), m.chain.decimals)
        return confirm(
            request,
            who,
            f"/dashboard/campaigns/{campaign_id}/close",
            campaign_id,
            heading="Close the campaign and refund?",
            message=f"“{found['campaign'].spec.title}” will take no more claims, and cannot "
            f"be opened again. About {back} tokens of its escrow (what live leases do not "
            "reserve) return to your balance.",
            fields={},
            button="Close and refund",
            danger=True,
        )
    return _then(
        request,
        who,
        m,
        campaign_id,
        "closed",
        lambda: m.campaigns.close(CloseCampaign(who, campaign_id)),
    )


@router.post("/assignments/{assignment_id}/review")
def review(
    assignment_id: str, request: Request, who: SignedIn, m: MarketDep, form: DecisionForm
) -> Response:
    """Accept (once confirmed: it pays), or reject with a reason, an answer held for review."""
    asked = form.confirming(
        request, who, m, f"/dashboard/assignments/{assignment_id}/review", "Accept the answer"
    )
    if asked is not None:
        return asked
    cmd = ReviewSubmission(who, assignment_id, form.yes, form.reason)
    return _then(request, who, m, form.campaign_id, "reviewed", lambda: m.reviews.review(cmd))


@router.post("/appeals/{appeal_id}/decide")
def decide(
    appeal_id: str, request: Request, who: SignedIn, m: MarketDep, form: DecisionForm
) -> Response:
    """Overturn (pay, once confirmed) or uphold a rejection the worker appealed, with a reason."""
    asked = form.confirming(
        request, who, m, f"/dashboard/appeals/{appeal_id}/decide", "Overturn the rejection"
    )
    if asked is not None:
        return asked
    cmd = DecideAppeal(who, appeal_id, form.yes, form.reason)
    return _then(request, who, m, form.campaign_id, "decided", lambda: m.reviews.decide(cmd))


def _then(
    request: Request,
    who: Principal,
    m: Market,
    campaign_id: str,
    done: str,
    action: Callable[[], object],
) -> Response:
    """Run a campaign page's action: back to the page when done, or the page with why not."""
    try:
        action()
    except EarnestError as exc:
        return _campaign(request, who, m, campaign_id, 422, error=exc.detail)
    return RedirectResponse(f"/dashboard/campaigns/{campaign_id}?done={done}", status_code=303)
