"""A campaign's settings on the dashboard: edit what can still change (the rest shown with
the reason it is fixed), pause, resume, clone."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from earnest.bootstrap import Market
from earnest.domain.editing import fixed_reason
from earnest.domain.errors import EarnestError
from earnest.domain.money import format_units
from earnest.domain.work import Campaign, CampaignStatus
from earnest.services.campaign_settings import CloneCampaign, SetCampaignStatus, UpdateCampaign
from earnest.services.identity import Principal
from earnest.web import campaign_form
from earnest.web.render import page
from earnest.web.session import MarketDep, SignedIn, market, same_origin

router = APIRouter(
    prefix="/dashboard", include_in_schema=False, dependencies=[Depends(same_origin)]
)


def _fixed(campaign: Campaign, has_tasks: bool) -> dict[str, str]:
    names = [s.name for s in (*campaign_form.HEAD, *campaign_form.SETTINGS)]
    found = {n: fixed_reason(campaign, n, has_tasks) for n in names}
    return {n: why for n, why in found.items() if why is not None}


def _settings(
    request: Request,
    who: Principal,
    m: Market,
    campaign_id: str,
    status: int = 200,
    fields: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    found = m.views.campaign_status(who, campaign_id)
    campaign: Campaign = found["campaign"]
    spec, decimals = campaign.spec, m.chain.decimals
    current = campaign_form.form_of(spec, decimals) | {
        "title": spec.title,
        "instructions": spec.instructions,
        "reward": format_units(spec.reward, decimals),
        "overlap": str(spec.overlap),
    }
    return page(
        request,
        "requester/settings.html",
        who,
        status,
        campaign=campaign,
        fields=current | (fields or {}),
        settings=campaign_form.SETTINGS,
        groups=campaign_form.GROUPS,
        fixed=_fixed(campaign, found["tasks"]["tasks"] > 0),
        **extra,
    )


@router.get("/campaigns/{campaign_id}/settings", response_class=HTMLResponse)
def settings_page(
    campaign_id: str, request: Request, who: SignedIn, m: MarketDep, done: str | None = None
) -> Response:
    """Every setting: what can still change is a field, the rest says why it is fixed."""
    return _settings(request, who, m, campaign_id, done=done)


@router.post("/campaigns/{campaign_id}/settings")
async def save_settings(campaign_id: str, request: Request, who: SignedIn) -> Response:
    """Save the settings the form changed; a refused one shows the page with the reason."""
    m = market(request)
    fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}

    def save() -> Response:
        found = m.views.campaign_status(who, campaign_id)
        campaign: Campaign = found["campaign"]
        fixed = _fixed(campaign, found["tasks"]["tasks"] > 0)
        editable = {s.name for s in (*campaign_form.HEAD, *campaign_form.SETTINGS)}
        try:
            changes = campaign_form.changes_of(
                fields, campaign.spec, m.chain.decimals, editable - set(fixed)
            )
            if changes:
                m.campaigns.update(UpdateCampaign(who, campaign_id, changes))
        except EarnestError as exc:
            return _settings(request, who, m, campaign_id, 422, fields, error=exc.detail)
        done = "saved" if changes else "unchanged"
        return RedirectResponse(
            f"/dashboard/campaigns/{campaign_id}/settings?done={done}", status_code=303
        )

    return await to_thread.run_sync(save)


def _status(request: Request, who: Principal, m: Market, campaign_id: str, to: str) -> Response:
    try:
        m.campaigns.set_status(SetCampaignStatus(who, campaign_id, CampaignStatus(to)))
    except EarnestError as exc:
        return _settings(request, who, m, campaign_id, 409, error=exc.detail)
    done = "paused" if to == "paused" else "resumed"
    return RedirectResponse(f"/dashboard/campaigns/{campaign_id}?done={done}", status_code=303)


@router.post("/campaigns/{campaign_id}/pause")
def pause(campaign_id: str, request: Request, who: SignedIn, m: MarketDep) -> Response:
    """Stop new claims; live leases may still be answered."""
    return _status(request, who, m, campaign_id, "paused")


@router.post("/campaigns/{campaign_id}/resume")
def resume(campaign_id: str, request: Request, who: SignedIn, m: MarketDep) -> Response:
    """Offer the campaign's tasks again."""
    return _status(request, who, m, campaign_id, "active")


@router.post("/campaigns/{campaign_id}/clone")
def clone(campaign_id: str, request: Request, who: SignedIn, m: MarketDep) -> Response:
    """A new draft with these settings; its settings page opens, to change what differs."""
    try:
        made = m.campaigns.clone(CloneCampaign(who, campaign_id))
    except EarnestError as exc:
        return _settings(request, who, m, campaign_id, 422, error=exc.detail)
    return RedirectResponse(f"/dashboard/campaigns/{made.id}/settings?done=cloned", status_code=303)
