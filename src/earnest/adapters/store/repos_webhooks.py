"""The webhooks repository: endpoints, and the outbox of their deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, func, or_, select, update

from earnest.adapters.store.tables import campaigns, tasks, upsert
from earnest.adapters.store.tables import webhook_deliveries as deliveries
from earnest.adapters.store.tables import webhook_endpoints as endpoints
from earnest.services.ports.webhooks import DeliveryRecord, EndpointRecord, Resolution


class Webhooks:
    def __init__(self, conn: Connection, pg: bool) -> None:
        self.c = conn
        self.pg = pg

    def add_endpoint(self, endpoint: EndpointRecord) -> None:
        row = endpoint.__dict__ | {"events": list(endpoint.events)}
        self.c.execute(endpoints.insert().values(row))

    def endpoint(self, endpoint_id: str) -> EndpointRecord | None:
        row = self.c.execute(select(endpoints).where(endpoints.c.id == endpoint_id)).first()
        return _endpoint(row._mapping) if row else None

    def endpoints_of(self, owner: str) -> list[EndpointRecord]:
        rows = self.c.execute(
            select(endpoints).where(endpoints.c.owner == owner).order_by(endpoints.c.created_at)
        )
        return [_endpoint(r._mapping) for r in rows]

    def active(self) -> list[EndpointRecord]:
        rows = self.c.execute(select(endpoints).where(endpoints.c.disabled_at.is_(None)))
        return [_endpoint(r._mapping) for r in rows]

    def disable(self, endpoint_id: str, now: datetime) -> None:
        self.c.execute(
            update(endpoints).where(endpoints.c.id == endpoint_id).values(disabled_at=now)
        )

    def scanned(self, endpoint_id: str, to: datetime, task_id: int) -> None:
        self.c.execute(
            update(endpoints)
            .where(endpoints.c.id == endpoint_id)
            .values(scanned_to=to, scanned_task=task_id)
        )

    def _campaigns_of(self, endpoint: EndpointRecord) -> Any:
        if endpoint.campaign_id is not None:
            return tasks.c.campaign_id == endpoint.campaign_id
        owned = select(campaigns.c.id).where(campaigns.c.requester == endpoint.owner)
        return tasks.c.campaign_id.in_(owned.scalar_subquery())

    def resolutions(
        self, endpoint: EndpointRecord, before: datetime, limit: int
    ) -> list[Resolution]:
        stmt = select(tasks).where(
            self._campaigns_of(endpoint),
            tasks.c.status == "resolved",
            ~tasks.c.is_gold,
            tasks.c.resolved_at < before,
        )
        at, last = endpoint.scanned_to, endpoint.scanned_task or 0
        if at is not None:
            stmt = stmt.where(
                or_(tasks.c.resolved_at > at, and_(tasks.c.resolved_at == at, tasks.c.id > last))
            )
        rows = self.c.execute(stmt.order_by(tasks.c.resolved_at, tasks.c.id).limit(limit))
        return [
            Resolution(r.id, r.campaign_id, r.external_id, r.result, r.confidence, r.resolved_at)
            for r in rows
        ]

    def _held(self, endpoint_id: str, event_ids: list[str]) -> set[str]:
        if not event_ids:
            return set()
        found = self.c.execute(
            select(deliveries.c.event_id).where(
                deliveries.c.endpoint_id == endpoint_id, deliveries.c.event_id.in_(event_ids)
            )
        )
        return set(found.scalars())

    def finished(self, endpoint: EndpointRecord) -> list[dict[str, Any]]:
        mine = (
            campaigns.c.id == endpoint.campaign_id
            if endpoint.campaign_id is not None
            else campaigns.c.requester == endpoint.owner
        )
        regular = and_(tasks.c.campaign_id == campaigns.c.id, ~tasks.c.is_gold)
        total = select(func.count()).where(regular).scalar_subquery()
        resolved = select(func.count()).where(regular, tasks.c.status == "resolved")
        done = resolved.scalar_subquery()
        rows = self.c.execute(
            select(campaigns.c.id, campaigns.c.status, total.label("n"), done.label("r")).where(
                mine, or_(campaigns.c.status == "closed", and_(total > 0, total == done))
            )
        ).all()
        held = self._held(endpoint.id, [f"campaign.finished:{r.id}" for r in rows])
        return [
            {"campaign_id": r.id, "status": r.status, "tasks": r.n, "resolved": r.r}
            for r in rows
            if f"campaign.finished:{r.id}" not in held
        ]

    def enqueue(self, rows: Sequence[DeliveryRecord]) -> int:
        if not rows:
            return 0
        stmt = upsert(deliveries, self.pg).on_conflict_do_nothing(
            index_elements=["endpoint_id", "event_id"]
        )
        done = self.c.execute(stmt, [r.__dict__ for r in rows])
        return int(done.rowcount)

    def due(self, now: datetime, limit: int) -> list[DeliveryRecord]:
        rows = self.c.execute(
            select(deliveries)
            .where(deliveries.c.status == "pending", deliveries.c.next_at <= now)
            .order_by(deliveries.c.next_at)
            .limit(limit)
        )
        return [_delivery(r._mapping) for r in rows]

    def attempt(self, delivery_id: str, attempts: int, next_at: datetime) -> bool:
        done = self.c.execute(
            update(deliveries)
            .where(
                deliveries.c.id == delivery_id,
                deliveries.c.status == "pending",
                deliveries.c.attempts == attempts - 1,
            )
            .values(attempts=attempts, next_at=next_at)
        )
        return bool(done.rowcount)

    def settle(
        self,
        delivery_id: str,
        *,
        status: str,
        last_status: int | None,
        last_error: str | None,
        at: datetime,
    ) -> None:
        values: dict[str, Any] = {
            "status": status,
            "last_status": last_status,
            "last_error": None if last_error is None else last_error[:300],
        }
        if status == "delivered":
            values["delivered_at"] = at
        self.c.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(values))

    def deliveries(self, endpoint_id: str, limit: int) -> list[DeliveryRecord]:
        rows = self.c.execute(
            select(deliveries)
            .where(deliveries.c.endpoint_id == endpoint_id)
            .order_by(deliveries.c.created_at.desc(), deliveries.c.id)
            .limit(limit)
        )
        return [_delivery(r._mapping) for r in rows]

    def delivery(self, delivery_id: str) -> DeliveryRecord | None:
        row = self.c.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()
        return _delivery(row._mapping) if row else None

    def resend(self, delivery_id: str, now: datetime) -> None:
        self.c.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(status="pending", next_at=now, created_at=now)
        )


def _endpoint(row: RowMapping) -> EndpointRecord:
    return EndpointRecord(**(dict(row) | {"events": tuple(row["events"])}))


def _delivery(row: RowMapping) -> DeliveryRecord:
    return DeliveryRecord(**dict(row))
