"""Campaigns: create, fund, upload tasks, watch progress, close, export results."""

from __future__ import annotations

import tempfile

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from earnest.api.deps import Caller, MarketDep
from earnest.api.recorded import recorded
from earnest.api.schemas import (
    AmountIn,
    BonusIn,
    BonusOut,
    CampaignChangesIn,
    CampaignIn,
    CampaignOut,
    CampaignStatusOut,
    CloneIn,
    CloseOut,
    FundOut,
    ListingIn,
    TemplateOut,
    UploadOut,
)
from earnest.domain.errors import InvalidInput
from earnest.domain.work import CampaignSpec, CampaignStatus, QualityPolicy
from earnest.services.bonuses import ListWorker, PayBonus
from earnest.services.campaign_settings import CloneCampaign, SetCampaignStatus, UpdateCampaign
from earnest.services.campaigns import CloseCampaign, CreateCampaign, FundCampaign
from earnest.services.formats import MEDIA_KINDS
from earnest.services.templates import TEMPLATES, template_view
from earnest.services.uploads import UploadTasks

router = APIRouter(tags=["campaigns"])
SPOOL_IN_MEMORY = 8 << 20  # an upload above 8 MiB is spooled to a temporary file


@router.get("/templates", response_model=list[TemplateOut])
def list_templates() -> list[TemplateOut]:
    """Campaign templates, one per kind of labor: schemas, verifier, quality, a sample task."""
    return [TemplateOut(**template_view(t)) for t in TEMPLATES.values()]


@router.post("/campaigns", response_model=CampaignOut, status_code=201)
@recorded(201)
def create(body: CampaignIn, who: Caller, m: MarketDep) -> CampaignOut:
    """Create a draft campaign; fund it to open it to workers."""
    fields = body.model_dump()
    spec = CampaignSpec(**(fields | {"quality": QualityPolicy(**fields["quality"])}))
    return CampaignOut.of(m.campaigns.create(CreateCampaign(who, spec)))


@router.get("/campaigns", response_model=list[CampaignOut])
def mine(who: Caller, m: MarketDep) -> list[CampaignOut]:
    return [CampaignOut.of(c) for c in m.views.my_campaigns(who)]


@router.get("/campaigns/{campaign_id}", response_model=CampaignStatusOut)
def status(campaign_id: str, who: Caller, m: MarketDep) -> CampaignStatusOut:
    """Progress (tasks, assignments) and money (escrow, reserved, spent)."""
    found = m.views.campaign_status(who, campaign_id)
    return CampaignStatusOut(**(found | {"campaign": CampaignOut.of(found["campaign"])}))


@router.patch("/campaigns/{campaign_id}", response_model=CampaignOut)
def edit(campaign_id: str, body: CampaignChangesIn, who: Caller, m: MarketDep) -> CampaignOut:
    """Change the settings the campaign's state still allows: name only what changes. A
    setting it fixes (the price once funded, the schemas once tasks exist) is refused with
    409 and the reason, naming it in `setting`."""
    changes = body.model_dump(exclude_unset=True)
    return CampaignOut.of(m.campaigns.update(UpdateCampaign(who, campaign_id, changes)))


@router.post("/campaigns/{campaign_id}/pause", response_model=CampaignOut)
def pause(campaign_id: str, who: Caller, m: MarketDep) -> CampaignOut:
    """Stop new claims for now; live leases may still be answered, the escrow stays."""
    cmd = SetCampaignStatus(who, campaign_id, CampaignStatus.PAUSED)
    return CampaignOut.of(m.campaigns.set_status(cmd))


@router.post("/campaigns/{campaign_id}/resume", response_model=CampaignOut)
def resume(campaign_id: str, who: Caller, m: MarketDep) -> CampaignOut:
    """Offer a paused campaign's tasks again."""
    cmd = SetCampaignStatus(who, campaign_id, CampaignStatus.ACTIVE)
    return CampaignOut.of(m.campaigns.set_status(cmd))


@router.post("/campaigns/{campaign_id}/clone", response_model=CampaignOut, status_code=201)
def clone(campaign_id: str, who: Caller, m: MarketDep, body: CloneIn | None = None) -> CampaignOut:
    """A new draft with this campaign's settings (no tasks, no money); fund it to open it."""
    title = body.title if body else None
    return CampaignOut.of(m.campaigns.clone(CloneCampaign(who, campaign_id, title)))


@router.post("/campaigns/{campaign_id}/bonuses", response_model=BonusOut, status_code=201)
def pay_bonus(campaign_id: str, body: BonusIn, who: Caller, m: MarketDep) -> BonusOut:
    """Pay a worker who answered here a bonus from my balance (plus the market fee); the
    settler sends it on chain in its next batch, as it sends rewards."""
    cmd = PayBonus(who, campaign_id, body.worker, body.amount, body.reason)
    return BonusOut(**m.campaigns.bonus(cmd).__dict__)


@router.get("/campaigns/{campaign_id}/bonuses", response_model=list[BonusOut])
def bonuses(campaign_id: str, who: Caller, m: MarketDep) -> list[BonusOut]:
    """The bonuses paid in this campaign, newest first."""
    return [BonusOut(**b.__dict__) for b in m.campaigns.bonuses(who, campaign_id)]


@router.get("/worker-lists", response_model=dict[str, str])
def worker_lists(who: Caller, m: MarketDep) -> dict[str, str]:
    """My block and allow lists: worker address -> "block" or "allow"."""
    return m.campaigns.listings(who)


@router.put("/worker-lists/{worker}", response_model=ListingIn)
def list_worker(worker: str, body: ListingIn, who: Caller, m: MarketDep) -> ListingIn:
    """Block a worker from all my campaigns, allow them, or (null) take them off my lists."""
    kind = m.campaigns.list_worker(ListWorker(who, worker, body.kind))
    return ListingIn(kind="block" if kind == "block" else "allow" if kind else None)


@router.post("/campaigns/{campaign_id}/fund", response_model=FundOut)
@recorded(200)
def fund(campaign_id: str, body: AmountIn, who: Caller, m: MarketDep) -> FundOut:
    """Move balance into the campaign's escrow; the campaign opens to workers."""
    return FundOut(escrow=m.campaigns.fund(FundCampaign(who, campaign_id, body.amount)))


@router.post("/campaigns/{campaign_id}/close", response_model=CloseOut)
def close(campaign_id: str, who: Caller, m: MarketDep) -> CloseOut:
    """Stop new claims; unreserved escrow returns to the requester's balance."""
    return CloseOut(refunded=m.campaigns.close(CloseCampaign(who, campaign_id)))


@router.post(
    "/campaigns/{campaign_id}/tasks",
    response_model=UploadOut,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "text/csv": {"schema": {"type": "string"}},
            }
        }
    },
)
async def upload(campaign_id: str, request: Request, who: Caller, m: MarketDep) -> UploadOut:
    """Add tasks: JSON Lines (one {"id", "data", "gold"?} per line), a JSON array, or CSV (a
    header row: `id`, `gold`, `prediction` and the data's fields); all or none. Idempotent:
    rows the campaign holds already (same `id`, or same data without one) and rows repeating
    an earlier row are skipped, counted in `skipped` and listed in `duplicates`."""
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    kind = MEDIA_KINDS.get(media)
    if kind is None:
        raise InvalidInput(
            "send tasks as application/x-ndjson (JSON Lines), application/json (an array) "
            "or text/csv (a header row, then one task per row)"
        )
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        async for chunk in request.stream():
            await to_thread.run_sync(spool.write, chunk)
        spool.seek(0)
        cmd = UploadTasks(who, campaign_id, spool, kind)
        report = await to_thread.run_sync(m.tasks.upload, cmd)
    return UploadOut.of(report)


@router.get(
    "/campaigns/{campaign_id}/results",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "one JSON object per line (jsonl), or CSV with a header row",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
def results(
    campaign_id: str,
    who: Caller,
    m: MarketDep,
    format: str = Query("jsonl", pattern="^(jsonl|csv)$"),
) -> StreamingResponse:
    """Resolved tasks with result, confidence and answers, streamed as JSON Lines or CSV."""
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(m.tasks.export(who, campaign_id, format), media_type=media)
