"""In-memory webhooks: endpoints and the outbox, keeping the SQL repository's rules (one
delivery per endpoint and event; an attempt taken once, from the count the caller read;
resolutions after the scan mark in (resolved_at, id) order)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from earnest.domain.work import CampaignStatus, TaskStatus
from earnest.services.ports import DeliveryRecord, EndpointRecord, Resolution
from tests.fakes.work import WorkRows


@dataclass
class WebhookRows:
    endpoints: dict[str, EndpointRecord] = field(default_factory=dict)
    deliveries: dict[str, DeliveryRecord] = field(default_factory=dict)


class FakeWebhooks:
    def __init__(self, rows: WebhookRows, work: WorkRows) -> None:
        self.rows, self.work = rows, work

    def add_endpoint(self, endpoint: EndpointRecord) -> None:
        self.rows.endpoints[endpoint.id] = endpoint

    def endpoint(self, endpoint_id: str) -> EndpointRecord | None:
        return self.rows.endpoints.get(endpoint_id)

    def endpoints_of(self, owner: str) -> list[EndpointRecord]:
        return sorted(
            (e for e in self.rows.endpoints.values() if e.owner == owner),
            key=lambda e: e.created_at,
        )

    def active(self) -> list[EndpointRecord]:
        return [e for e in self.rows.endpoints.values() if e.disabled_at is None]

    def disable(self, endpoint_id: str, now: datetime) -> None:
        self._change(endpoint_id, disabled_at=now)

    def scanned(self, endpoint_id: str, to: datetime, task_id: int) -> None:
        self._change(endpoint_id, scanned_to=to, scanned_task=task_id)

    def _change(self, endpoint_id: str, **values: Any) -> None:
        self.rows.endpoints[endpoint_id] = replace(self.rows.endpoints[endpoint_id], **values)

    def _campaigns(self, endpoint: EndpointRecord) -> set[str]:
        if endpoint.campaign_id is not None:
            return {endpoint.campaign_id}
        return {c.id for c in self.work.campaigns.values() if c.requester == endpoint.owner}

    def resolutions(
        self, endpoint: EndpointRecord, before: datetime, limit: int
    ) -> list[Resolution]:
        mine = self._campaigns(endpoint)
        mark = (endpoint.scanned_to, endpoint.scanned_task or 0)
        found = sorted(
            (row.resolved_at, row.task.id, row.task)
            for row in self.work.tasks.values()
            if row.task.campaign_id in mine
            and not row.is_gold
            and row.task.status is TaskStatus.RESOLVED
            and row.resolved_at is not None
            and row.resolved_at < before
            and (mark[0] is None or (row.resolved_at, row.task.id) > mark)
        )
        return [
            Resolution(t.id, t.campaign_id, t.external_id, t.result, t.confidence, at)
            for at, _, t in found[:limit]
        ]

    def finished(self, endpoint: EndpointRecord) -> list[dict[str, Any]]:
        out = []
        for campaign_id in sorted(self._campaigns(endpoint)):
            campaign = self.work.campaigns[campaign_id]
            regular = [
                r
                for r in self.work.tasks.values()
                if r.task.campaign_id == campaign_id and not r.is_gold
            ]
            done = sum(r.task.status is TaskStatus.RESOLVED for r in regular)
            over = campaign.status is CampaignStatus.CLOSED or (regular and done == len(regular))
            held = self._held(endpoint.id, f"campaign.finished:{campaign_id}")
            if over and not held:
                out.append(
                    {
                        "campaign_id": campaign_id,
                        "status": campaign.status.value,
                        "tasks": len(regular),
                        "resolved": done,
                    }
                )
        return out

    def _held(self, endpoint_id: str, event_id: str) -> bool:
        return any(
            d.endpoint_id == endpoint_id and d.event_id == event_id
            for d in self.rows.deliveries.values()
        )

    def enqueue(self, deliveries: Sequence[DeliveryRecord]) -> int:
        added = 0
        for d in deliveries:
            if not self._held(d.endpoint_id, d.event_id):
                self.rows.deliveries[d.id] = d
                added += 1
        return added

    def due(self, now: datetime, limit: int) -> list[DeliveryRecord]:
        found = [
            d for d in self.rows.deliveries.values() if d.status == "pending" and d.next_at <= now
        ]
        return sorted(found, key=lambda d: d.next_at)[:limit]

    def attempt(self, delivery_id: str, attempts: int, next_at: datetime) -> bool:
        d = self.rows.deliveries[delivery_id]
        if d.status != "pending" or d.attempts != attempts - 1:
            return False
        self.rows.deliveries[delivery_id] = replace(d, attempts=attempts, next_at=next_at)
        return True

    def settle(
        self,
        delivery_id: str,
        *,
        status: str,
        last_status: int | None,
        last_error: str | None,
        at: datetime,
    ) -> None:
        d = self.rows.deliveries[delivery_id]
        delivered = at if status == "delivered" else d.delivered_at
        self.rows.deliveries[delivery_id] = replace(
            d,
            status=status,
            last_status=last_status,
            last_error=None if last_error is None else last_error[:300],
            delivered_at=delivered,
        )

    def deliveries(self, endpoint_id: str, limit: int) -> list[DeliveryRecord]:
        mine = [d for d in self.rows.deliveries.values() if d.endpoint_id == endpoint_id]
        return sorted(mine, key=lambda d: (-d.created_at.timestamp(), d.id))[:limit]

    def delivery(self, delivery_id: str) -> DeliveryRecord | None:
        return self.rows.deliveries.get(delivery_id)

    def resend(self, delivery_id: str, now: datetime) -> None:
        d = self.rows.deliveries[delivery_id]
        self.rows.deliveries[delivery_id] = replace(
            d, status="pending", next_at=now, created_at=now
        )
