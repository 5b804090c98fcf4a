"""The data browser on the dashboard: a campaign's tasks with their answers and labels, its
workers' accuracy, their agreement; one answer with the task, the control answer, the other
answers and the worker's history, where reviews and appeals are decided."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from earnest.bootstrap import Market
from earnest.domain.errors import EarnestError, InsufficientFunds
from earnest.domain.money import format_units, parse_units, unit_cost
from earnest.services import data_browser
from earnest.services.bonuses import ListWorker, PayBonus
from earnest.services.identity import Principal
from earnest.web.confirm import confirm
from earnest.web.render import page
from earnest.web.session import MarketDep, SignedIn, same_origin
from earnest.web.widgets import widget_for

router = APIRouter(
    prefix="/dashboard", include_in_schema=False, dependencies=[Depends(same_origin)]
)


@router.get("/campaigns/{campaign_id}/data", response_class=HTMLResponse)
def data(
    campaign_id: str,
    request: Request,
    who: SignedIn,
    m: MarketDep,
    after: int = 0,
    done: str | None = None,
) -> Response:
    """Resolved tasks (50 a page) with every answer, the label and its confidence; each
    worker against control answers and against the labels; Krippendorff's alpha."""
    return _data(request, who, m, campaign_id, after=after, done=done)


def _data(
    request: Request,
    who: Principal,
    m: Market,
    campaign_id: str,
    status: int = 200,
    after: int = 0,
    **extra: Any,
) -> Response:
    view = m.views.data(who, campaign_id, after=max(after, 0))
    return page(
        request,
        "requester/data.html",
        who,
        status,
        view=view,
        lists=m.campaigns.listings(who),
        bonuses=m.campaigns.bonuses(who, campaign_id),
        **extra,
        campaign=view.campaign,
        widget=widget_for(view.campaign.spec),
        stats_tasks=data_browser.STATS_TASKS,
    )


@router.get("/assignments/{assignment_id}", response_class=HTMLResponse)
def answer(assignment_id: str, request: Request, who: SignedIn, m: MarketDep) -> Response:
    """One answer in its context, with the review or appeal still to decide."""
    ctx = m.views.answer_context(who, assignment_id)
    return page(
        request,
        "requester/answer.html",
        who,
        ctx=ctx,
        campaign=ctx.campaign,
        data=ctx.task.data,
        widget=widget_for(ctx.campaign.spec),
    )


@router.post("/workers/{worker}/list")
def list_worker(
    worker: str,
    request: Request,
    who: SignedIn,
    m: MarketDep,
    campaign_id: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
) -> Response:
    """Block or allow a worker for all my campaigns, or take them off my lists."""
    try:
        m.campaigns.list_worker(ListWorker(who, worker, kind or None))
    except EarnestError as exc:
        return _data(request, who, m, campaign_id, 422, error=exc.detail)
    return RedirectResponse(f"/dashboard/campaigns/{campaign_id}/data?done=listed", status_code=303)


@router.post("/campaigns/{campaign_id}/bonuses")
def bonus(
    campaign_id: str,
    request: Request,
    who: SignedIn,
    m: MarketDep,
    worker: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    """Pay a worker a bonus in tokens (plus the market fee), once confirmed."""
    decimals = m.chain.decimals
    try:
        units = parse_units(amount, decimals, "bonus", positive=True)
        if confirmed != "yes":
            fee = unit_cost(units, m.settings.fee_bps) - units
            return confirm(
                request,
                who,
                f"/dashboard/campaigns/{campaign_id}/bonuses",
                campaign_id,
                heading="Pay a bonus?",
                message=f"Pay {format_units(units, decimals)} tokens to {worker} from your "
                f"balance, and {format_units(fee, decimals)} tokens of market fee; it is sent "
                "on chain in the next payout batch.",
                fields={"worker": worker, "amount": amount, "reason": reason},
                button=f"Pay {format_units(units, decimals)} tokens",
            )
        m.campaigns.bonus(PayBonus(who, campaign_id, worker, units, reason))
    except EarnestError as exc:
        return _data(request, who, m, campaign_id, 422, error=in_tokens(exc, decimals))
    return RedirectResponse(f"/dashboard/campaigns/{campaign_id}/data?done=bonus", status_code=303)


def in_tokens(exc: EarnestError, decimals: int) -> str:
    """A refusal as a person reads it: a shortfall in tokens, not base units."""
    have, need = exc.extra.get("available"), exc.extra.get("needed")
    if isinstance(exc, InsufficientFunds) and isinstance(have, int) and isinstance(need, int):
        return (
            f"your available balance is {format_units(have, decimals)} tokens, less than "
            f"{format_units(need, decimals)}; deposit first"
        )
    return exc.detail
