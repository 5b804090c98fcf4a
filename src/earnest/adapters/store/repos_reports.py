"""Read models for the web pages: slots left, answers over time, recent limits, payout age."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, exists, func, select

from earnest.adapters.store.repos_assignments import _assignment
from earnest.adapters.store.tables import assignments, batches, payouts, tasks, worker_limits
from earnest.domain.work import Assignment
from earnest.services.ports import LimitRecord


class Reports:
    def __init__(self, conn: Connection) -> None:
        self.c = conn

    def open_for(
        self, campaign_id: str, worker: str, overlap: int, gold: bool | None, qualifying: bool
    ) -> int:
        """Tasks of the campaign a claim could still give `worker`, counted as `pick` picks."""
        seen = exists().where(
            and_(assignments.c.task_id == tasks.c.id, assignments.c.worker == worker)
        )
        stmt = select(func.count()).where(tasks.c.campaign_id == campaign_id, ~seen)
        if gold is not None:
            stmt = stmt.where(tasks.c.is_gold == gold)
        if not qualifying:
            stmt = stmt.where(tasks.c.status == "open", tasks.c.filled < overlap)
        return int(self.c.scalar(stmt) or 0)

    def answers(self, campaign_id: str, limit: int) -> list[tuple[Assignment, bool]]:
        """The campaign's latest submitted answers, oldest first, each with is-gold."""
        rows = self.c.execute(
            select(assignments, tasks.c.is_gold)
            .join(tasks, tasks.c.id == assignments.c.task_id)
            .where(assignments.c.campaign_id == campaign_id)
            .where(assignments.c.submitted_at.is_not(None))
            .order_by(assignments.c.submitted_at.desc(), assignments.c.id.desc())
            .limit(limit)
        )
        return [(_assignment(r._mapping), bool(r.is_gold)) for r in reversed(list(rows))]

    def resolution_times(self, campaign_id: str, limit: int) -> list[datetime]:
        """When each regular task of the campaign resolved, oldest first."""
        rows = self.c.execute(
            select(tasks.c.resolved_at)
            .where(tasks.c.campaign_id == campaign_id, tasks.c.is_gold.is_(False))
            .where(tasks.c.resolved_at.is_not(None))
            .order_by(tasks.c.resolved_at.desc())
            .limit(limit)
        )
        return [r.resolved_at for r in reversed(list(rows))]

    def recent_limits(self, limit: int) -> list[LimitRecord]:
        """The latest limits the quality rules placed, on any worker, newest first."""
        rows = self.c.execute(
            select(worker_limits).order_by(worker_limits.c.created_at.desc()).limit(limit)
        )
        return [LimitRecord(**r._mapping) for r in rows]

    def oldest_unpaid(self) -> datetime | None:
        """When the oldest payout not yet confirmed on chain was created."""
        at: datetime | None = self.c.scalar(
            select(func.min(payouts.c.created_at)).where(payouts.c.status != "paid")
        )
        return at

    def last_confirmed(self) -> datetime | None:
        """When the latest payout batch was confirmed on chain."""
        at: datetime | None = self.c.scalar(
            select(func.max(batches.c.confirmed_at)).where(batches.c.status == "confirmed")
        )
        return at
