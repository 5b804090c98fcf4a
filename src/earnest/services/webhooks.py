"""Webhooks: a requester's endpoints hear of resolved tasks and finished campaigns.

Events are found, not emitted: each round looks for what happened since an endpoint's last
round (tasks resolved, campaigns closed or fully resolved) and writes one delivery per event
and endpoint into an outbox table, in one transaction with the endpoint's mark. The hot path
(claims, answers) writes nothing for webhooks, and a crash loses nothing: what happened is
in the store, and what was queued stays queued. A delivery is marked attempted (with the
time of its retry) before it is sent, so a process killed mid-delivery leaves it due again
at that time, for any process; receivers may therefore see an event twice and dedupe by
`Earnest-Event-Id`. Failures are retried with growing waits (domain/webhooks.py) for three
days from the event, then given up; the log keeps every delivery, and `resend` queues one
again at once. Each delivery is signed under the endpoint's own secret.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from earnest.domain.errors import InvalidInput, NotFound
from earnest.domain.webhooks import RETRY_FOR, SIGNATURE_HEADER, retry_delay, signature_header
from earnest.services.common import new_id, owned_campaign
from earnest.services.identity import Principal
from earnest.services.loop import Every
from earnest.services.ports import (
    Clock,
    DeliveryRecord,
    EndpointRecord,
    Random,
    Resolution,
    StoreOf,
    WebhooksStore,
    WebhooksUnit,
    WorkUnit,
)

log = logging.getLogger("earnest.webhooks")

EVENTS = ("task.resolved", "campaign.finished")
MAX_ENDPOINTS = 20  # per requester
MAX_URL = 2000
# A round takes resolutions stamped at least this long ago: the transaction that stamped one
# has committed by then (the market's last milliseconds, a suite's under a second), so the
# scan mark, which only moves forward in (resolved_at, id) order, never passes one unseen.
SETTLE = timedelta(seconds=5)
SCAN_LIMIT = 500  # resolutions queued per endpoint and round (a backlog drains over rounds)
SEND_LIMIT = 50  # deliveries attempted per round


class WebhookUnit(WebhooksUnit, WorkUnit, Protocol):
    """Endpoints and the campaigns they listen to."""


class Sender(Protocol):
    """Posts one delivery; the receiver's HTTP status, or an exception if none came back."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int: ...


@dataclass(frozen=True)
class CreateWebhook:
    who: Principal
    url: str
    campaign_id: str | None = None  # None: every campaign of mine
    events: tuple[str, ...] = EVENTS


def create_webhook(
    cmd: CreateWebhook, *, store: StoreOf[WebhookUnit], clock: Clock, rand: Random
) -> EndpointRecord:
    """Register an endpoint; its secret is in the answer (and kept to sign with)."""
    cmd.who.require("campaigns:write")
    _check_url(cmd.url)
    events = tuple(dict.fromkeys(cmd.events))
    unknown = [e for e in events if e not in EVENTS]
    if unknown or not events:
        raise InvalidInput(f"events must be some of {', '.join(EVENTS)}", field="events")
    now = clock.now()
    with store.uow() as uow:
        if cmd.campaign_id is not None:
            owned_campaign(uow, cmd.campaign_id, cmd.who.address)
        mine = [e for e in uow.webhooks.endpoints_of(cmd.who.address) if e.disabled_at is None]
        if len(mine) >= MAX_ENDPOINTS:
            raise InvalidInput(f"at most {MAX_ENDPOINTS} webhook endpoints; delete one first")
        endpoint = EndpointRecord(
            id=new_id("wh", rand),
            owner=cmd.who.address,
            campaign_id=cmd.campaign_id,
            url=cmd.url,
            secret=f"whsec_{rand.token(24)}",
            events=events,
            created_at=now,
            scanned_to=now - SETTLE,  # events from now on, not a campaign's whole past
            scanned_task=0,
        )
        uow.webhooks.add_endpoint(endpoint)
        uow.commit()
    return endpoint


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"the webhook URL must be http:// or https:// with a host, at most {MAX_URL} "
            "characters",
            field="url",
        )
    if parts.username or parts.password:
        raise InvalidInput("the webhook URL must not hold credentials", field="url")


def my_webhooks(who: Principal, *, store: WebhooksStore) -> list[EndpointRecord]:
    who.require("campaigns:read")
    with store.uow(readonly=True) as uow:
        return [e for e in uow.webhooks.endpoints_of(who.address) if e.disabled_at is None]


def _mine(uow: WebhooksUnit, who: Principal, endpoint_id: str) -> EndpointRecord:
    found = uow.webhooks.endpoint(endpoint_id)
    if found is None or found.owner != who.address or found.disabled_at is not None:
        raise NotFound(f"no webhook {endpoint_id!r}")
    return found


def delete_webhook(who: Principal, endpoint_id: str, *, store: WebhooksStore, clock: Clock) -> None:
    """Stop an endpoint: nothing more is queued or sent to it; its log stays readable."""
    who.require("campaigns:write")
    with store.uow() as uow:
        _mine(uow, who, endpoint_id)
        uow.webhooks.disable(endpoint_id, clock.now())
        uow.commit()


def deliveries(
    who: Principal, endpoint_id: str, *, store: WebhooksStore, limit: int = 100
) -> list[DeliveryRecord]:
    """An endpoint's delivery log, newest first."""
    who.require("campaigns:read")
    with store.uow(readonly=True) as uow:
        _mine(uow, who, endpoint_id)
        return uow.webhooks.deliveries(endpoint_id, limit)


def resend(
    who: Principal, delivery_id: str, *, store: WebhooksStore, clock: Clock
) -> DeliveryRecord:
    """Queue a delivery again, due now, whatever became of it (another three days to go)."""
    who.require("campaigns:write")
    with store.uow() as uow:
        found = uow.webhooks.delivery(delivery_id)
        if found is None:
            raise NotFound(f"no delivery {delivery_id!r}")
        _mine(uow, who, found.endpoint_id)
        uow.webhooks.resend(delivery_id, clock.now())
        uow.commit()
        again = uow.webhooks.delivery(delivery_id)
    assert again is not None  # it was there a moment ago, in this transaction
    return again


def queue_events(*, store: WebhooksStore, clock: Clock, rand: Random) -> int:
    """One round of finding events: queue a delivery per new event and endpoint."""
    with store.uow(readonly=True) as uow:
        listening = uow.webhooks.active()
    queued = 0
    for endpoint in listening:
        with store.uow() as uow:
            queued += _queue_for(uow, endpoint, clock.now(), rand)
            uow.commit()
    return queued


def _queue_for(uow: WebhooksUnit, endpoint: EndpointRecord, now: datetime, rand: Random) -> int:
    events: list[tuple[str, str, dict[str, Any]]] = []
    if "task.resolved" in endpoint.events:
        found = uow.webhooks.resolutions(endpoint, now - SETTLE, SCAN_LIMIT)
        events += [(f"task.resolved:{r.task_id}", "task.resolved", _resolved(r)) for r in found]
        if found:  # the next round goes on after the last one seen
            uow.webhooks.scanned(endpoint.id, found[-1].resolved_at, found[-1].task_id)
    if "campaign.finished" in endpoint.events:
        events += [
            (f"campaign.finished:{c['campaign_id']}", "campaign.finished", c)
            for c in uow.webhooks.finished(endpoint)
        ]
    rows = [_delivery(endpoint, event_id, kind, data, now, rand) for event_id, kind, data in events]
    return uow.webhooks.enqueue(rows)


def _resolved(r: Resolution) -> dict[str, Any]:
    return {
        "campaign_id": r.campaign_id,
        "task_id": r.task_id,
        "external_id": r.external_id,
        "result": r.result,
        "confidence": r.confidence,
        "resolved_at": r.resolved_at.isoformat(),
    }


def _delivery(
    endpoint: EndpointRecord,
    event_id: str,
    kind: str,
    data: dict[str, Any],
    now: datetime,
    rand: Random,
) -> DeliveryRecord:
    body = {"id": event_id, "type": kind, "created_at": now.isoformat(), "data": data}
    return DeliveryRecord(
        id=new_id("whd", rand),
        endpoint_id=endpoint.id,
        event_id=event_id,
        event_type=kind,
        body=json.dumps(body, separators=(",", ":"), sort_keys=True),
        status="pending",
        attempts=0,
        next_at=now,
        created_at=now,
    )


def send_due(*, store: WebhooksStore, clock: Clock, sender: Sender, limit: int = SEND_LIMIT) -> int:
    """One round of sending: attempt the deliveries that are due; how many were accepted."""
    with store.uow(readonly=True) as uow:
        due = uow.webhooks.due(clock.now(), limit)
        targets = {d.endpoint_id: uow.webhooks.endpoint(d.endpoint_id) for d in due}
    return sum(_send(d, targets[d.endpoint_id], store, clock, sender) for d in due)


def _send(
    d: DeliveryRecord,
    endpoint: EndpointRecord | None,
    store: WebhooksStore,
    clock: Clock,
    sender: Sender,
) -> bool:
    attempts, now = d.attempts + 1, clock.now()
    retry_at = now + retry_delay(attempts)
    with store.uow() as uow:  # durable before the request: a crash now makes it due at retry_at
        if not uow.webhooks.attempt(d.id, attempts, retry_at):
            return False  # another process took this attempt
        uow.commit()
    if endpoint is None or endpoint.disabled_at is not None:
        return _settle(store, d, clock, "failed", None, "the endpoint was deleted")
    body = d.body.encode()
    headers = {
        "content-type": "application/json",
        SIGNATURE_HEADER: signature_header(endpoint.secret, int(clock.now().timestamp()), body),
        "Earnest-Event-Id": d.event_id,
        "Earnest-Event-Type": d.event_type,
        "Earnest-Delivery-Id": d.id,
    }
    try:
        status: int | None = sender.post(endpoint.url, body, headers)
        error = None if status is not None and 200 <= status < 300 else f"HTTP {status}"
    except Exception as exc:  # the receiver's failure, whatever it is, is the delivery's
        status, error = None, f"{type(exc).__name__}: {exc}"
    if error is None:
        return _settle(store, d, clock, "delivered", status, None)
    over = retry_at > d.created_at + RETRY_FOR
    return _settle(store, d, clock, "failed" if over else "pending", status, error)


def _settle(
    store: WebhooksStore,
    d: DeliveryRecord,
    clock: Clock,
    status: str,
    code: int | None,
    error: str | None,
) -> bool:
    with store.uow() as uow:
        uow.webhooks.settle(d.id, status=status, last_status=code, last_error=error, at=clock.now())
        uow.commit()
    if error:
        log.info("webhook %s to endpoint %s: %s (%s)", d.id, d.endpoint_id, error, status)
    return status == "delivered"


def webhooks_loop(
    store: WebhooksStore, clock: Clock, rand: Random, sender: Sender, interval: float
) -> Every:
    """The background loop: find events, then send what is due, every `interval` seconds."""

    def round_() -> None:
        queue_events(store=store, clock=clock, rand=rand)
        send_due(store=store, clock=clock, sender=sender)

    return Every("webhooks", interval, round_, log)


def shown(endpoint: EndpointRecord) -> EndpointRecord:
    """An endpoint as listed: its secret is shown once, when it is created."""
    return replace(endpoint, secret="")
