"""Repositories of answers judged outside the verifier: peer reviews, and measured facts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from earnest.adapters.store.tables import (
    assignments,
    campaigns,
    devices,
    facts,
    peer_reviews,
    tasks,
)
from earnest.services.ports import DeviceRecord, PeerReview


class PeerReviews:
    def __init__(self, conn: Connection, pg: bool) -> None:
        self.c = conn
        self.pg = pg

    def add(self, review: PeerReview) -> None:
        self.c.execute(insert(peer_reviews).values(**review.__dict__))

    def get(self, review_id: str, *, lock: bool = False) -> PeerReview | None:
        stmt = select(peer_reviews).where(peer_reviews.c.id == review_id)
        if lock and self.pg:
            stmt = stmt.with_for_update()
        row = self.c.execute(stmt).first()
        return _review(row._mapping) if row else None

    def expire_due(self, campaign_id: str, now: datetime) -> int:
        """Expire the campaign's review leases past their deadline (the answer is free again)."""
        done = self.c.execute(
            update(peer_reviews)
            .where(peer_reviews.c.campaign_id == campaign_id, peer_reviews.c.status == "leased")
            .where(peer_reviews.c.expires_at <= now)
            .values(status="expired")
        )
        return int(done.rowcount or 0)

    def live_count(self, reviewer: str, now: datetime) -> int:
        """Review leases the reviewer holds and may still submit, in every campaign."""
        return int(
            self.c.scalar(
                select(func.count())
                .select_from(peer_reviews)
                .where(peer_reviews.c.reviewer == reviewer, peer_reviews.c.status == "leased")
                .where(peer_reviews.c.expires_at > now)
            )
            or 0
        )

    def next_answer(self, campaign_id: str, reviewer: str) -> tuple[str, int, Any] | None:
        """The oldest held answer nobody is reviewing, not the reviewer's own, never seen by them."""
        taken = exists().where(
            peer_reviews.c.assignment_id == assignments.c.id,
            peer_reviews.c.status.in_(["leased", "done"]),
        )
        seen = exists().where(
            peer_reviews.c.assignment_id == assignments.c.id, peer_reviews.c.reviewer == reviewer
        )
        theirs = assignments.alias("theirs")
        answered = exists().where(
            theirs.c.task_id == assignments.c.task_id, theirs.c.worker == reviewer
        )
        stmt = (
            select(assignments.c.id, assignments.c.task_id, assignments.c.answer)
            .where(assignments.c.campaign_id == campaign_id, assignments.c.status == "submitted")
            .where(assignments.c.review_due.is_not(None), assignments.c.worker != reviewer)
            .where(~taken, ~seen, ~answered)
            .order_by(assignments.c.review_due, assignments.c.id)
            .limit(1)
        )
        if self.pg:
            stmt = stmt.with_for_update(skip_locked=True, of=assignments)
        row = self.c.execute(stmt).first()
        return (row.id, int(row.task_id), row.answer) if row else None

    def next_gold(self, campaign_id: str, reviewer: str, at: float) -> int | None:
        """A gold review (gold task) the reviewer has not had, at fraction `at` of the rest.

        Drawn at random rather than in order, so reviewers cannot share the sequence.
        """
        seen = exists().where(
            peer_reviews.c.task_id == tasks.c.id, peer_reviews.c.reviewer == reviewer
        )
        unseen = (
            select(tasks.c.id)
            .where(tasks.c.campaign_id == campaign_id, tasks.c.is_gold.is_(True), ~seen)
            .order_by(tasks.c.id)
        )
        left = int(self.c.scalar(select(func.count()).select_from(unseen.subquery())) or 0)
        if left == 0:
            return None
        row = self.c.execute(unseen.offset(min(int(at * left), left - 1)).limit(1)).first()
        return int(row.id) if row else None

    def gold_record(self, reviewer: str, campaign_id: str) -> tuple[int, int]:
        """(correct, done) gold reviews of a reviewer in a campaign: the qualification."""
        rows = self.c.execute(
            select(peer_reviews.c.correct, func.count())
            .where(peer_reviews.c.reviewer == reviewer, peer_reviews.c.campaign_id == campaign_id)
            .where(peer_reviews.c.assignment_id.is_(None), peer_reviews.c.status == "done")
            .group_by(peer_reviews.c.correct)
        )
        counts = {bool(correct): int(n) for correct, n in rows}
        return counts.get(True, 0), sum(counts.values())

    def paid_count(self, campaign_id: str) -> int:
        """Reviews done and paid (all but failed gold reviews)."""
        return int(
            self.c.scalar(
                select(func.count())
                .select_from(peer_reviews)
                .where(peer_reviews.c.campaign_id == campaign_id, peer_reviews.c.status == "done")
                .where(peer_reviews.c.reward > 0)
            )
            or 0
        )

    def finish(
        self,
        review_id: str,
        accept: bool,
        reason: str,
        correct: bool | None,
        reward: int,
        now: datetime,
    ) -> bool:
        """Record the verdict on a live lease; False if it was not leased any more."""
        done = self.c.execute(
            update(peer_reviews)
            .where(peer_reviews.c.id == review_id, peer_reviews.c.status == "leased")
            .values(
                status="done",
                accept=accept,
                reason=reason,
                correct=correct,
                reward=reward,
                decided_at=now,
            )
        )
        return done.rowcount == 1

    def of_reviewer(self, reviewer: str, limit: int = 100) -> list[PeerReview]:
        rows = self.c.execute(
            select(peer_reviews)
            .where(peer_reviews.c.reviewer == reviewer)
            .order_by(peer_reviews.c.leased_at.desc(), peer_reviews.c.id)
            .limit(limit)
        )
        return [_review(r._mapping) for r in rows]


def _review(r: RowMapping) -> PeerReview:
    return PeerReview(**{k: r[k] for k in PeerReview.__dataclass_fields__})


class Facts:
    """Measurements of answers (sandbox runs), one per assignment."""

    def __init__(self, conn: Connection) -> None:
        self.c = conn

    def add(
        self,
        assignment_id: str,
        task_id: int,
        campaign_id: str,
        body: dict[str, Any],
        now: datetime,
    ) -> None:
        self.c.execute(
            insert(facts).values(
                assignment_id=assignment_id,
                task_id=task_id,
                campaign_id=campaign_id,
                body=body,
                created_at=now,
            )
        )

    def of_task(self, task_id: int) -> dict[str, dict[str, Any]]:
        rows = self.c.execute(
            select(facts.c.assignment_id, facts.c.body).where(facts.c.task_id == task_id)
        )
        return {r.assignment_id: r.body for r in rows}

    def unmeasured(self, verifiers: Iterable[str], limit: int) -> list[tuple[str, int, str]]:
        """Answers waiting for a measurement, oldest first: (assignment, task, campaign)."""
        measured = exists().where(facts.c.assignment_id == assignments.c.id)
        rows = self.c.execute(
            select(assignments.c.id, assignments.c.task_id, assignments.c.campaign_id)
            .join(campaigns, campaigns.c.id == assignments.c.campaign_id)
            .where(campaigns.c.verifier.in_(list(verifiers)), assignments.c.status == "submitted")
            .where(~measured)
            .order_by(assignments.c.submitted_at, assignments.c.id)
            .limit(limit)
        )
        return [(r.id, int(r.task_id), r.campaign_id) for r in rows]


class Devices:
    """Meters and other devices, each registered to one owner."""

    def __init__(self, conn: Connection) -> None:
        self.c = conn

    def add(self, device: DeviceRecord) -> bool:
        """Register a device; False if its key is registered already (to anyone)."""
        if self.get(device.address) is not None:
            return False
        try:
            with self.c.begin_nested():
                self.c.execute(insert(devices).values(**device.__dict__))
        except IntegrityError:
            return False  # registered meanwhile by a concurrent request
        return True

    def get(self, address: str) -> DeviceRecord | None:
        row = self.c.execute(select(devices).where(devices.c.address == address)).first()
        return DeviceRecord(**row._mapping) if row else None

    def of_owner(self, owner: str) -> list[DeviceRecord]:
        rows = self.c.execute(
            select(devices).where(devices.c.owner == owner).order_by(devices.c.registered_at)
        )
        return [DeviceRecord(**r._mapping) for r in rows]
