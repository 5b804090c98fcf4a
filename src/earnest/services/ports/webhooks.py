"""The webhooks port: requesters' endpoints, and the outbox their deliveries wait in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from earnest.services.ports.base import Unit


@dataclass(frozen=True)
class EndpointRecord:
    id: str
    owner: str
    campaign_id: str | None  # None: every campaign of the owner
    url: str
    secret: str
    events: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None = None
    scanned_to: datetime | None = None
    scanned_task: int | None = None


@dataclass(frozen=True)
class DeliveryRecord:
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    body: str
    status: str  # pending | delivered | failed
    attempts: int
    next_at: datetime
    created_at: datetime
    delivered_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Resolution:
    """A task resolved: what a task.resolved event says."""

    task_id: int
    campaign_id: str
    external_id: str | None
    result: Any
    confidence: float | None
    resolved_at: datetime


class WebhooksRepo(Protocol):
    def add_endpoint(self, endpoint: EndpointRecord) -> None: ...
    def endpoint(self, endpoint_id: str) -> EndpointRecord | None: ...
    def endpoints_of(self, owner: str) -> list[EndpointRecord]: ...
    def active(self) -> list[EndpointRecord]: ...
    def disable(self, endpoint_id: str, now: datetime) -> None: ...
    def scanned(self, endpoint_id: str, to: datetime, task_id: int) -> None: ...
    def resolutions(
        self, endpoint: EndpointRecord, before: datetime, limit: int
    ) -> list[Resolution]:
        """Resolved regular tasks of the endpoint's campaigns after its scan mark, in
        (resolved_at, id) order, resolved before `before`."""
        ...

    def finished(self, endpoint: EndpointRecord) -> list[dict[str, Any]]:
        """The endpoint's campaigns that finished (closed, or every regular task resolved)
        with no campaign.finished delivery yet: id, status, tasks, resolved."""
        ...

    def enqueue(self, deliveries: Sequence[DeliveryRecord]) -> int:
        """Add deliveries, skipping an event the endpoint has one of already; how many."""
        ...

    def due(self, now: datetime, limit: int) -> list[DeliveryRecord]: ...
    def attempt(self, delivery_id: str, attempts: int, next_at: datetime) -> bool:
        """Record an attempt about to be made (the next one is due at `next_at` should this
        one never report back); False if another process took it first."""
        ...

    def settle(
        self,
        delivery_id: str,
        *,
        status: str,
        last_status: int | None,
        last_error: str | None,
        at: datetime,
    ) -> None: ...
    def deliveries(self, endpoint_id: str, limit: int) -> list[DeliveryRecord]: ...
    def delivery(self, delivery_id: str) -> DeliveryRecord | None: ...
    def resend(self, delivery_id: str, now: datetime) -> None: ...


class WebhooksUnit(Unit, Protocol):
    @property
    def webhooks(self) -> WebhooksRepo: ...
