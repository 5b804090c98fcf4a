"""The data browser on the dashboard: a campaign's tasks with their answers and labels, its
workers' accuracy, their agreement; one answer with the task, the control answer, the other
answers and the worker's history, where reviews and appeals are decided."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from earnest.services import data_browser
from earnest.web.render import page
from earnest.web.session import MarketDep, SignedIn, same_origin
from earnest.web.widgets import widget_for

router = APIRouter(
    prefix="/dashboard", include_in_schema=False, dependencies=[Depends(same_origin)]
)


@router.get("/campaigns/{campaign_id}/data", response_class=HTMLResponse)
def data(
    campaign_id: str, request: Request, who: SignedIn, m: MarketDep, after: int = 0
) -> Response:
    """Resolved tasks (50 a page) with every answer, the label and its confidence; each
    worker against control answers and against the labels; Krippendorff's alpha."""
    view = data_browser.campaign_data(who, campaign_id, store=m.store, after=max(after, 0))
    return page(
        request,
        "requester/data.html",
        who,
        view=view,
        campaign=view.campaign,
        widget=widget_for(view.campaign.spec),
        stats_tasks=data_browser.STATS_TASKS,
    )


@router.get("/assignments/{assignment_id}", response_class=HTMLResponse)
def answer(assignment_id: str, request: Request, who: SignedIn, m: MarketDep) -> Response:
    """One answer in its context, with the review or appeal still to decide."""
    ctx = data_browser.answer_context(who, assignment_id, store=m.store)
    return page(
        request,
        "requester/answer.html",
        who,
        ctx=ctx,
        campaign=ctx.campaign,
        data=ctx.task.data,
        widget=widget_for(ctx.campaign.spec),
    )
