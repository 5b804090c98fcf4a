"""Webhooks: endpoints that hear of resolved tasks and finished campaigns, and their log."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from earnest.api.deps import Caller, MarketDep
from earnest.api.schemas import Body
from earnest.services.ports import DeliveryRecord, EndpointRecord
from earnest.services.webhooks import MAX_URL, CreateWebhook

router = APIRouter(tags=["webhooks"])
Event = Literal["task.resolved", "campaign.finished"]


def _every_event() -> list[Event]:
    return ["task.resolved", "campaign.finished"]


class WebhookIn(Body):
    url: str = Field(min_length=8, max_length=MAX_URL, description="http:// or https://")
    campaign_id: str | None = Field(
        None, max_length=32, description="one campaign of mine; none: every campaign of mine"
    )
    events: list[Event] = Field(default_factory=_every_event, min_length=1, max_length=2)


class WebhookOut(BaseModel):
    id: str
    url: str
    campaign_id: str | None
    events: list[str]
    created_at: datetime
    secret: str | None = Field(
        None,
        description="whsec_...: the key deliveries are signed with (HMAC-SHA256); in the "
        "answer to its creation only",
    )

    @classmethod
    def of(cls, e: EndpointRecord, *, secret: bool = False) -> WebhookOut:
        return cls(
            id=e.id,
            url=e.url,
            campaign_id=e.campaign_id,
            events=list(e.events),
            created_at=e.created_at,
            secret=e.secret if secret else None,
        )


class DeliveryOut(BaseModel):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: str = Field(description="pending (due at next_at) | delivered | failed (given up)")
    attempts: int
    next_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    last_status: int | None = Field(description="the receiver's last HTTP status")
    last_error: str | None
    body: str = Field(description="the exact JSON sent (and signed) on every attempt")

    @classmethod
    def of(cls, d: DeliveryRecord) -> DeliveryOut:
        return cls(**d.__dict__)


@router.post("/webhooks", response_model=WebhookOut, status_code=201)
def create(body: WebhookIn, who: Caller, m: MarketDep) -> WebhookOut:
    """Register an endpoint; its signing secret is in this answer only."""
    cmd = CreateWebhook(who, body.url, body.campaign_id, tuple(body.events))
    return WebhookOut.of(m.webhooks.create(cmd), secret=True)


@router.get("/webhooks", response_model=list[WebhookOut])
def mine(who: Caller, m: MarketDep) -> list[WebhookOut]:
    return [WebhookOut.of(e) for e in m.webhooks.of(who)]


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete(webhook_id: str, who: Caller, m: MarketDep) -> Response:
    """Stop an endpoint: nothing more is sent to it; its delivery log stays readable."""
    m.webhooks.delete(who, webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut])
def deliveries(webhook_id: str, who: Caller, m: MarketDep) -> list[DeliveryOut]:
    """The endpoint's last 100 deliveries, newest first."""
    return [DeliveryOut.of(d) for d in m.webhooks.deliveries(who, webhook_id)]


@router.post("/webhook-deliveries/{delivery_id}/resend", response_model=DeliveryOut)
def resend(delivery_id: str, who: Caller, m: MarketDep) -> DeliveryOut:
    """Send a delivery again, now (and retry it for another three days if refused)."""
    return DeliveryOut.of(m.webhooks.resend(who, delivery_id))
