"""The requester's dashboard: balance and deposits, campaigns, a new campaign, API keys."""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from earnest.bootstrap import Market
from earnest.domain.errors import EarnestError
from earnest.domain.money import parse_units
from earnest.domain.work import CampaignSpec, QualityPolicy
from earnest.services import identity
from earnest.services.campaigns import CreateCampaign
from earnest.services.funds import RecordDeposit
from earnest.services.identity import CreateApiKey, Principal, RevokeApiKey
from earnest.services.templates import TEMPLATES, Template, template
from earnest.web import campaign_form
from earnest.web.render import fragment, page
from earnest.web.session import MarketDep, SignedIn, market, same_origin
from earnest.web.widgets import widget_for

router = APIRouter(
    prefix="/dashboard", include_in_schema=False, dependencies=[Depends(same_origin)]
)
PREVIEW_REWARD = 10_000


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, who: SignedIn, m: MarketDep, done: str | None = None) -> Response:
    """Balance, how to deposit, and every campaign with its progress."""
    return _dashboard(request, who, m, done=done)


def _dashboard(
    request: Request, who: Principal, m: Market, status: int = 200, **extra: Any
) -> Response:
    mine = [m.views.campaign_status(who, c.id) for c in m.views.my_campaigns(who)]
    return page(
        request,
        "requester/dashboard.html",
        who,
        status,
        balance=m.money.balances(who),
        campaigns=sorted(mine, key=lambda s: s["campaign"].created_at, reverse=True),
        chain=m.chain,
        **extra,
    )


@router.post("/deposits")
def deposit(
    request: Request, who: SignedIn, m: MarketDep, signature: Annotated[str, Form()] = ""
) -> Response:
    """Credit a transfer to the vault the requester made from their wallet."""
    try:
        m.money.record_deposit(RecordDeposit(who, signature.strip()))
    except EarnestError as exc:
        return _dashboard(request, who, m, 422, error=exc.detail)
    return RedirectResponse("/dashboard?done=deposited", status_code=303)


def spec_from_form(fields: dict[str, str], decimals: int) -> CampaignSpec:
    """A campaign spec from the new-campaign form (amounts typed in tokens), with every
    setting of web/campaign_form.py over the template's defaults."""
    chosen = template(fields.get("template", ""))
    input_schema, output_schema = chosen.schemas(fields.get("options", chosen.options))
    overlap = fields.get("overlap", "1").strip()
    settings, quality = campaign_form.settings_of(fields, decimals)
    return CampaignSpec(
        type=chosen.type,
        title=fields.get("title", "").strip() or chosen.label,
        instructions=fields.get("instructions", "").strip(),
        input_schema=input_schema,
        output_schema=output_schema,
        reward=parse_units(fields.get("reward", ""), decimals, "reward"),
        overlap=int(overlap) if overlap.isdigit() else 0,
        verifier=chosen.verifier,
        **({"gold_share": 0.1} | settings),
        quality=QualityPolicy(**(chosen.quality | quality)),
    )


def new_fields(chosen: Template, decimals: int) -> dict[str, str]:
    """The new-campaign form's fields for a template: its texts, and every setting at the
    template's default."""
    defaults = CampaignSpec(
        type=chosen.type,
        title=chosen.label,
        instructions="",
        input_schema={},
        output_schema={},
        reward=1,
        gold_share=0.1,
        quality=QualityPolicy(**chosen.quality),
    )
    return campaign_form.form_of(defaults, decimals) | {
        "template": chosen.name,
        "title": "",
        "instructions": chosen.instructions,
        "options": chosen.options,
        "reward": "0.01",
        "overlap": "3",
    }


@router.get("/new", response_class=HTMLResponse)
def new(
    request: Request, who: SignedIn, m: MarketDep, template: str = "classification"
) -> Response:
    """Create a campaign from a template, with a live preview of what workers will see."""
    chosen = TEMPLATES.get(template, TEMPLATES["classification"])
    return _new(request, who, m, new_fields(chosen, m.chain.decimals))


def _new(
    request: Request,
    who: Principal,
    m: Market,
    fields: dict[str, str],
    status: int = 200,
    error: str | None = None,
) -> Response:
    preview = _preview_context(fields, m.chain.decimals)
    return page(
        request,
        "requester/new.html",
        who,
        status,
        templates=TEMPLATES,
        fields=fields,
        settings=campaign_form.SETTINGS,
        groups=campaign_form.GROUPS,
        fixed={},
        error=error,
        **preview,
    )


def _preview_context(fields: dict[str, str], decimals: int) -> dict[str, Any]:
    chosen = TEMPLATES.get(fields.get("template", ""), TEMPLATES["classification"])
    problem: str | None = None
    try:
        spec = spec_from_form(fields, decimals)
    except (EarnestError, ValueError) as exc:
        fallback = new_fields(chosen, decimals) | {"reward": "1", "overlap": "1"}
        spec, problem = spec_from_form(fallback, decimals), str(getattr(exc, "detail", exc))
    return {
        "spec": spec,
        "data": chosen.sample,
        "widget": widget_for(spec),
        "preview": True,
        "assignment": None,
        "preview_problem": problem,
    }


@router.get("/preview", response_class=HTMLResponse)
def preview(request: Request, who: SignedIn, m: MarketDep) -> Response:
    """The task as a worker would see it, for the form's current fields (swapped in live)."""
    fields = dict(request.query_params)
    return fragment(request, "worker/_task.html", **_preview_context(fields, m.chain.decimals))


@router.post("/campaigns")
async def create(request: Request, who: SignedIn) -> Response:
    """Create a draft campaign with every setting; fund it and upload tasks on its page."""
    m = market(request)
    fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        spec = spec_from_form(fields, m.chain.decimals)
        made = await to_thread.run_sync(lambda: m.campaigns.create(CreateCampaign(who, spec)))
    except EarnestError as exc:
        detail = exc.detail
        return await to_thread.run_sync(lambda: _new(request, who, m, fields, 422, detail))
    return RedirectResponse(f"/dashboard/campaigns/{made.id}?done=created", status_code=303)


@router.get("/keys", response_class=HTMLResponse)
def keys(request: Request, who: SignedIn, m: MarketDep) -> Response:
    """API keys for programs (the SDK, the CLI): create with scopes, revoke."""
    return _keys(request, who, m)


def _keys(request: Request, who: Principal, m: Market, status: int = 200, **extra: Any) -> Response:
    listed = m.identity.api_keys(who)
    return page(
        request,
        "requester/keys.html",
        who,
        status,
        keys=listed,
        scopes=sorted(identity.SCOPES),
        **extra,
    )


@router.post("/keys")
def create_key(
    request: Request,
    who: SignedIn,
    m: MarketDep,
    name: Annotated[str, Form()] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Create a key; its secret is shown on this answer only."""
    try:
        secret, record = m.identity.create_api_key(CreateApiKey(who, name, tuple(scopes or ())))
    except EarnestError as exc:
        return _keys(request, who, m, 422, error=exc.detail)
    return _keys(request, who, m, 201, secret=secret, created=record)


@router.post("/keys/{key_id}/revoke")
def revoke_key(key_id: str, request: Request, who: SignedIn, m: MarketDep) -> Response:
    """Revoke one of my keys at once."""
    try:
        m.identity.revoke_api_key(RevokeApiKey(who, key_id))
    except EarnestError as exc:
        return _keys(request, who, m, 404, error=exc.detail)
    return RedirectResponse("/dashboard/keys", status_code=303)
