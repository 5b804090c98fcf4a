"""The in-memory read models the pages show (ReportsRepo): counted from the other areas'
rows, as the SQL reads them from their tables."""

from __future__ import annotations

from datetime import datetime

from earnest.domain.work import Assignment, TaskStatus
from earnest.services.ports import LimitRecord
from tests.fakes.money import MoneyRows
from tests.fakes.quality import QualityRows
from tests.fakes.work import WorkRows


class FakeReports:
    def __init__(self, work: WorkRows, quality: QualityRows, money: MoneyRows) -> None:
        self.work, self.quality, self.money = work, quality, money

    def open_for(
        self, campaign_id: str, worker: str, overlap: int, gold: bool | None, qualifying: bool
    ) -> int:
        seen = {a.task_id for a in self.work.assignments.values() if a.worker == worker}
        return sum(
            t.task.campaign_id == campaign_id
            and t.task.id not in seen
            and (gold is None or t.is_gold == gold)
            and (qualifying or (t.task.status is TaskStatus.OPEN and t.filled < overlap))
            for t in self.work.tasks.values()
        )

    def answers(self, campaign_id: str, limit: int) -> list[tuple[Assignment, bool]]:
        answered = [
            a
            for a in self.work.assignments.values()
            if a.campaign_id == campaign_id and a.submitted_at is not None
        ]
        latest = sorted(answered, key=lambda a: (a.submitted_at, a.id), reverse=True)[:limit]
        return [(a, self.work.tasks[a.task_id].is_gold) for a in reversed(latest)]

    def resolution_times(self, campaign_id: str, limit: int) -> list[datetime]:
        times = [
            t.resolved_at
            for t in self.work.tasks.values()
            if t.task.campaign_id == campaign_id and not t.is_gold and t.resolved_at is not None
        ]
        return sorted(times)[-limit:] if limit > 0 else []

    def recent_limits(self, limit: int) -> list[LimitRecord]:
        return sorted(self.quality.limits, key=lambda r: r.created_at, reverse=True)[:limit]

    def oldest_unpaid(self) -> datetime | None:
        unpaid = [p.created_at for p in self.money.payouts.values() if p.status != "paid"]
        return min(unpaid, default=None)

    def last_confirmed(self) -> datetime | None:
        confirmed = [
            b.confirmed_at
            for b in self.money.batches.values()
            if b.status == "confirmed" and b.confirmed_at is not None
        ]
        return max(confirmed, default=None)
