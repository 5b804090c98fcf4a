"""Bandwidth: post a scrape, return a fetch (body + signed metering record), download bodies."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Header, Request, Response

from earnest.api.deps import Caller, MarketDep
from earnest.api.schemas import BandwidthCampaignIn, CampaignOut, SubmitOut
from earnest.domain.bandwidth import BandwidthTerms, campaign_spec
from earnest.domain.errors import InvalidInput
from earnest.services import bandwidth
from earnest.services.campaigns import CreateCampaign
from earnest.services.schemas import loads

router = APIRouter(tags=["bandwidth"])

_BODY = {
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
}


@router.post("/bandwidth/campaigns", response_model=CampaignOut, status_code=201)
def create(body: BandwidthCampaignIn, who: Caller, m: MarketDep) -> CampaignOut:
    """Create a draft scrape; upload {"data": {"url": ...}} rows, fund it to open it to nodes."""
    terms = BandwidthTerms(body.price_per_kb, tuple(body.allowlist), body.max_bytes)
    spec = campaign_spec(
        title=body.title,
        instructions=body.instructions,
        terms=terms,
        reward=body.reward,
        overlap=body.overlap,
        lease_seconds=body.lease_seconds,
        deadline=body.deadline,
        min_reputation=body.min_reputation,
    )
    return CampaignOut.of(m.campaigns.create(CreateCampaign(who, spec)))


@router.post(
    "/assignments/{assignment_id}/fetch",
    response_model=SubmitOut,
    openapi_extra={"requestBody": _BODY},
)
async def fetch(
    assignment_id: str,
    request: Request,
    who: Caller,
    m: MarketDep,
    earnest_metering: Annotated[
        str, Header(max_length=12_000, description="the metering record: base64url JSON")
    ],
    earnest_signature: Annotated[
        str, Header(max_length=100, description="the node's Ed25519 signature, base58")
    ],
) -> SubmitOut:
    """Return a fetch job: the body as sent by the site (cut at the job's max_bytes) and
    the node's signed metering record; the verdict comes back as for any answer."""
    returned = bandwidth.FetchReturn(
        _record(earnest_metering), earnest_signature, await request.body()
    )
    cmd = bandwidth.SubmitFetch(who, assignment_id, returned)
    result = await to_thread.run_sync(lambda: m.work.fetch(cmd))
    return SubmitOut.of(result)


def _record(header: str) -> Any:
    try:
        # bounded: a header of 3,000 brackets was a RecursionError (a 500), like a deep body
        return loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)), "the record")
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("Earnest-Metering must be the record's JSON, base64url") from exc


@router.get(
    "/campaigns/{campaign_id}/tasks/{task_id}/body",
    response_class=Response,
    responses={200: _BODY},
)
def body(campaign_id: str, task_id: int, who: Caller, m: MarketDep) -> Response:
    """The body the nodes agreed on, as the site sent it (never rendered: an attachment)."""
    found = m.views.fetched_body(who, campaign_id, task_id)
    r = found.result
    headers = {
        "content-disposition": f'attachment; filename="task-{task_id}.bin"',
        "x-content-type-options": "nosniff",
        "earnest-sha256": str(r["sha256"]),
        "earnest-status": str(r["status"]),
        "earnest-content-type": str(r["content_type"]).encode("ascii", "replace").decode(),
    }
    return Response(found.body, media_type="application/octet-stream", headers=headers)
