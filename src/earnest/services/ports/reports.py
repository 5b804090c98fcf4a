"""The store port for read models: what the web pages show that no use case writes."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from earnest.domain.work import Assignment
from earnest.services.ports.base import Unit
from earnest.services.ports.quality import LimitRecord


class ReportsRepo(Protocol):
    def open_for(
        self, campaign_id: str, worker: str, overlap: int, gold: bool | None, qualifying: bool
    ) -> int:
        """Tasks a claim could still give `worker`: never given to them, of the kind asked
        (gold: None for both), open with a free slot unless `qualifying` (as `pick` does)."""
        ...

    def answers(self, campaign_id: str, limit: int) -> list[tuple[Assignment, bool]]:
        """The campaign's latest submitted answers, oldest first, each with is-gold."""
        ...

    def resolution_times(self, campaign_id: str, limit: int) -> list[datetime]:
        """When each regular task of the campaign resolved, oldest first."""
        ...

    def recent_limits(self, limit: int) -> list[LimitRecord]:
        """The latest limits the quality rules placed, on any worker, newest first."""
        ...

    def oldest_unpaid(self) -> datetime | None:
        """When the oldest payout not yet confirmed on chain was created."""
        ...

    def last_confirmed(self) -> datetime | None:
        """When the latest payout batch was confirmed on chain."""
        ...


class ReportsUnit(Unit, Protocol):
    @property
    def reports(self) -> ReportsRepo: ...
