"""The worker's pages: the work feed, a task, its verdict, earnings, receipts, reputation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from earnest.bootstrap import Market
from earnest.domain.errors import EarnestError, NoWorkAvailable
from earnest.domain.money import parse_units
from earnest.domain.receipts import verify_proof
from earnest.services import cashout
from earnest.services.answers import SubmitAnswer
from earnest.services.appeals import FileAppeal
from earnest.services.identity import Principal
from earnest.services.work import Claim, ClaimTask, ReleaseLease
from earnest.web import charts, i18n
from earnest.web.answers import answer_from_form
from earnest.web.render import fragment, page
from earnest.web.session import (
    MarketDep,
    SignedIn,
    market,
    same_origin,
    wants_fragment,
)
from earnest.web.widgets import widget_for

router = APIRouter(prefix="/work", include_in_schema=False, dependencies=[Depends(same_origin)])


def task_context(claim: Claim, *, preview: bool = False) -> dict[str, Any]:
    """What the task templates need: the task, its campaign and the widget to answer with."""
    spec = claim.campaign.spec
    return {
        "assignment": claim.assignment,
        "campaign": claim.campaign,
        "spec": spec,
        "data": claim.task_data,
        "widget": widget_for(spec),
        "preview": preview,
    }


@router.get("", response_class=HTMLResponse)
def feed(
    request: Request,
    who: SignedIn,
    m: MarketDep,
    empty: str | None = None,
    done: str | None = None,
) -> Response:
    """The campaigns this worker can work on now, best paid first."""
    offers = m.views.available_work(who)
    held = m.views.in_progress(who)
    return page(request, "worker/feed.html", who, offers=offers, held=held, empty=empty, done=done)


@router.post("/{campaign_id}/claim")
def claim(campaign_id: str, request: Request, who: SignedIn, m: MarketDep) -> Response:
    """Lease the next task; a script gets the task's part of the page to swap in."""
    try:
        got = m.work.claim(ClaimTask(who, campaign_id))
    except NoWorkAvailable:
        if wants_fragment(request):
            return fragment(request, "worker/_nowork.html", campaign_id=campaign_id)
        return RedirectResponse(f"/work?empty={campaign_id}", status_code=303)
    except EarnestError as exc:
        if wants_fragment(request):
            return fragment(
                request, "worker/_nowork.html", campaign_id=campaign_id, error=exc.detail
            )
        return _feed_with_error(request, who, m, exc)
    if wants_fragment(request):
        return fragment(request, "worker/_task.html", **task_context(got))
    return RedirectResponse(f"/work/tasks/{got.assignment.id}", status_code=303)


def _feed_with_error(request: Request, who: Principal, m: Market, exc: EarnestError) -> Response:
    offers = m.views.available_work(who)
    held = m.views.in_progress(who)
    return page(request, "worker/feed.html", who, 409, offers=offers, held=held, error=exc.detail)


@router.post("/tasks/{assignment_id}/release")
def release(
    assignment_id: str,
    request: Request,
    who: SignedIn,
    m: MarketDep,
    then: Annotated[str, Form()] = "feed",
) -> Response:
    """Give a task back unanswered (its slot reopens at once); `then=next` skips to the next
    task of the same campaign, which is never this one again."""
    try:
        released = m.work.release(ReleaseLease(who, assignment_id))
    except EarnestError as exc:
        if wants_fragment(request):
            return fragment(request, "worker/_nowork.html", error=exc.detail)
        return _feed_with_error(request, who, m, exc)
    if then == "next":
        return claim(released.campaign_id, request, who, m)
    if wants_fragment(request):
        return JSONResponse({"released": assignment_id, "campaign_id": released.campaign_id})
    return RedirectResponse("/work?done=released", status_code=303)


@router.get("/tasks/{assignment_id}", response_class=HTMLResponse)
def task(assignment_id: str, request: Request, who: SignedIn, m: MarketDep) -> Response:
    """A leased task, with the widget its campaign's answers need."""
    try:
        got = m.views.leased_task(who, assignment_id)
    except EarnestError:
        return RedirectResponse(f"/work/done/{assignment_id}", status_code=303)
    return page(request, "worker/task.html", who, **task_context(got))


@router.post("/tasks/{assignment_id}")
async def submit(assignment_id: str, request: Request, who: SignedIn) -> Response:
    """Answer a task: a script gets the verdict as JSON, a plain form the verdict page."""
    m = market(request)
    form = await request.form()
    try:
        result = await to_thread.run_sync(_submit, who, m, assignment_id, form)
    except EarnestError as exc:
        if request.headers.get("accept") == "application/json":
            return JSONResponse({"detail": exc.detail, "code": exc.code}, status_code=422)
        return await to_thread.run_sync(_task_with_error, request, who, m, assignment_id, exc)
    finally:
        await form.close()
    if request.headers.get("accept") == "application/json":
        return JSONResponse(result)
    return RedirectResponse(f"/work/done/{assignment_id}", status_code=303)


def _submit(who: Principal, m: Market, assignment_id: str, form: FormData) -> dict[str, Any]:
    got = m.views.leased_task(who, assignment_id)
    spec = got.campaign.spec
    answer = answer_from_form(widget_for(spec), form, spec.output_schema)
    r = m.work.answer(SubmitAnswer(who, assignment_id, answer))
    return {
        "decision": r.decision.value,
        "reason": r.reason,
        "reward": r.assignment.reward,
        "campaign_id": got.campaign.id,
        "receipt_id": r.receipt_id,
        "assignment_id": assignment_id,
    }


def _task_with_error(
    request: Request, who: Principal, m: Market, assignment_id: str, exc: EarnestError
) -> Response:
    try:
        got = m.views.leased_task(who, assignment_id)
    except EarnestError:
        return RedirectResponse(f"/work/done/{assignment_id}", status_code=303)
    return page(request, "worker/task.html", who, 422, error=exc.detail, **task_context(got))


@router.get("/done/{assignment_id}", response_class=HTMLResponse)
def done(assignment_id: str, request: Request, who: SignedIn, m: MarketDep) -> Response:
    """The verdict on an answer, and the way to the next task (the page without scripts)."""
    found = m.work.assignment(who, assignment_id)
    return page(request, "worker/done.html", who, assignment=found)


@router.get("/earnings", response_class=HTMLResponse)
def earnings(
    request: Request, who: SignedIn, m: MarketDep, done: str | None = None, tx: str = ""
) -> Response:
    """Pending and paid money, payouts with their transactions, rejections and appeals,
    and sending money on from the wallet."""
    return _earnings(request, who, m, done=done, sent=tx[:100] if done == "sent" else "")


def _earnings(
    request: Request, who: Principal, m: Market, status: int = 200, **extra: Any
) -> Response:
    mine = m.views.earnings(who)
    wallet = m.money.wallet_balance(who)
    return page(request, "worker/earnings.html", who, status, earnings=mine, wallet=wallet, **extra)


def _cashout(who: Principal, m: Market, to: str, amount: str) -> cashout.CashOut:
    units = parse_units(amount, m.chain.decimals, "the amount", positive=True)
    return cashout.CashOut(who, to.strip(), units)


@router.post("/cashout")
def cashout_review(
    request: Request,
    who: SignedIn,
    m: MarketDep,
    to: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
) -> Response:
    """Check a transfer from the worker's wallet and show it, with its fees, to confirm."""
    try:
        found = m.money.cashout_quote(_cashout(who, m, to, amount))
    except EarnestError as exc:
        return _earnings(request, who, m, 422, error=exc.detail, to=to, amount=amount)
    return page(request, "worker/cashout.html", who, quote=found, amount_text=amount)


@router.post("/cashout/send")
def cashout_send(
    request: Request,
    who: SignedIn,
    m: MarketDep,
    to: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    create: Annotated[str, Form()] = "",
    blockhash: Annotated[str, Form()] = "",
    signature: Annotated[str, Form()] = "",
) -> Response:
    """Send the transfer the worker's key signed in the page; the market pays its fee."""
    try:
        out = _cashout(who, m, to, amount)
        sent = m.money.cashout_send(cashout.SendCashOut(out, create == "1", blockhash, signature))
    except EarnestError as exc:
        return _earnings(request, who, m, 422, error=exc.detail, to=to, amount=amount)
    return RedirectResponse(f"/work/earnings?done=sent&tx={sent}", status_code=303)


@router.post("/assignments/{assignment_id}/appeal")
def appeal(
    assignment_id: str,
    request: Request,
    who: SignedIn,
    m: MarketDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Appeal a rejection, once, saying why it is wrong."""
    try:
        m.reviews.appeal(FileAppeal(who, assignment_id, reason))
    except EarnestError as exc:
        return _earnings(request, who, m, 422, error=exc.detail, failed=assignment_id)
    return RedirectResponse("/work/earnings?done=appealed", status_code=303)


@router.get("/receipts/{receipt_id}", response_class=HTMLResponse)
def receipt(receipt_id: str, request: Request, who: SignedIn, m: MarketDep) -> Response:
    """A signed receipt and the Merkle proof that anchors it in a payout's memo."""
    found = m.money.receipt(who, receipt_id)
    payout = found.get("payout") or {}
    proven = "proof" in payout and verify_proof(
        found["digest"], payout["proof"], payout["merkle_root"]
    )
    return page(request, "worker/receipt.html", who, r=found, payout=payout, proven=proven)


@router.get("/reputation", response_class=HTMLResponse)
def my_reputation(request: Request, who: SignedIn, m: MarketDep) -> Response:
    """Reputation per skill with the history behind it, and every limit placed on me."""
    mine = m.views.quality(who)
    locale = i18n.negotiate(request)
    trends = {
        skill: charts.line_chart(
            score_trend(found),
            title=i18n.gettext(locale, "Score in %(skill)s", skill=skill),
            label=lambda v: f"{v:.0%}",
            top=1.0,
        )
        for skill, found in mine["skills"].items()
    }
    return page(request, "worker/reputation.html", who, quality=mine, trends=trends)


def score_trend(skill: dict[str, Any]) -> list[tuple[datetime, float]]:
    """The score after each event, oldest first, rebuilt from the weight each one counted."""
    history = list(reversed(skill["history"]))
    good = skill["good"] - sum(e["weight"] for e in history if e["good"])
    bad = skill["bad"] - sum(e["weight"] for e in history if not e["good"])
    points = []
    for event in history:
        good += event["weight"] if event["good"] else 0.0
        bad += 0.0 if event["good"] else event["weight"]
        points.append((datetime.fromisoformat(event["at"]), good / (good + bad)))
    return points
