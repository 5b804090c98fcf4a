"""Repositories of the quality engine: learned confusions, reputation, limits, appeals."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update

from earnest.adapters.store.pending import PendingRows
from earnest.adapters.store.tables import (
    appeal_votes,
    appeals,
    assignments,
    confusions,
    reputation_events,
    tasks,
    upsert,
    worker_limits,
)
from earnest.services.ports import AppealRecord, LimitRecord, ReputationRow

PUT_CHUNK = 500  # voters per statement: far below SQLite's and PostgreSQL's parameter limits


class Confusions:
    """Counts per voter, remembered for the transaction: a suite of answers reads and
    updates the same voters' matrices once per answer, and writes each once at commit."""

    def __init__(self, conn: Connection, pg: bool) -> None:
        self.c = conn
        self.pg = pg
        self._known: dict[tuple[str, str], list[list[float]] | None] = {}
        self._dirty: dict[str, dict[str, datetime]] = {}  # campaign → voter → when
        self._if_free: set[tuple[str, str]] = set()  # written only if no one holds the row

    def get(self, campaign_id: str, voters: Iterable[str]) -> dict[str, list[list[float]]]:
        """Stored counts of the given voters (and of "*", the class counts)."""
        wanted = sorted(set(voters) | {"*"})
        missing = [v for v in wanted if (campaign_id, v) not in self._known]
        if missing:
            rows = self.c.execute(
                select(confusions.c.voter, confusions.c.counts).where(
                    confusions.c.campaign_id == campaign_id, confusions.c.voter.in_(missing)
                )
            )
            found = {r.voter: r.counts for r in rows}
            for v in missing:
                self._known[(campaign_id, v)] = found.get(v)
        out = {}
        for v in wanted:
            counts = self._known[(campaign_id, v)]
            if counts is not None:
                out[v] = [list(row) for row in counts]
        return out

    def put(
        self,
        campaign_id: str,
        counts: dict[str, list[list[float]]],
        now: datetime,
        *,
        if_free: Iterable[str] = (),
    ) -> None:
        """Replace the counts of these voters (written at the next flush). The `if_free`
        voters' rows are running estimates that every answer of a campaign updates (its
        class counts): on PostgreSQL a flush leaves them alone while another transaction
        holds them, instead of queueing behind it."""
        dirty = self._dirty.setdefault(campaign_id, {})
        for voter, matrix in counts.items():
            self._known[(campaign_id, voter)] = [list(row) for row in matrix]
            dirty[voter] = now
        self._if_free |= {(campaign_id, v) for v in if_free}

    def flush(self) -> None:
        """Write the replaced counts: one upsert per chunk of voters, so that concurrent
        transactions writing the same row (the class counts "*") overwrite, not collide."""
        dirty, self._dirty = self._dirty, {}
        if_free, self._if_free = self._if_free, set()
        for campaign_id, voters in dirty.items():
            for voter in [v for v in voters if (campaign_id, v) in if_free]:
                if self.pg and self._busy(campaign_id, voter):
                    del voters[voter]  # the next answer's transaction writes it
            names = sorted(voters)  # one lock order for every writer
            for start in range(0, len(names), PUT_CHUNK):
                stmt = upsert(confusions, self.pg).values(
                    [
                        {
                            "campaign_id": campaign_id,
                            "voter": v,
                            "counts": self._known[(campaign_id, v)],
                            "updated_at": voters[v],
                        }
                        for v in names[start : start + PUT_CHUNK]
                    ]
                )
                self.c.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[confusions.c.campaign_id, confusions.c.voter],
                        set_={
                            "counts": stmt.excluded.counts,
                            "updated_at": stmt.excluded.updated_at,
                        },
                    )
                )

    def _busy(self, campaign_id: str, voter: str) -> bool:
        """True if the row exists and another transaction holds it (then this one does not
        wait for it); otherwise this transaction now holds it, or will insert it."""
        row = (confusions.c.campaign_id == campaign_id) & (confusions.c.voter == voter)
        if self.c.execute(
            select(confusions.c.voter).where(row).with_for_update(skip_locked=True)
        ).first():
            return False
        return self.c.execute(select(confusions.c.voter).where(row)).first() is not None

    def training_data(
        self, campaign_id: str
    ) -> Iterator[tuple[int, str, Any, Any | None, Any | None]]:
        """(task, worker, answer, gold, prediction) of every answer in a campaign, by task."""
        rows = self.c.execute(
            select(
                assignments.c.task_id,
                assignments.c.worker,
                assignments.c.answer,
                tasks.c.gold,
                tasks.c.prediction,
            )
            .join(tasks, tasks.c.id == assignments.c.task_id)
            .where(assignments.c.campaign_id == campaign_id)
            .where(assignments.c.status.in_(["submitted", "accepted", "rejected"]))
            .order_by(assignments.c.task_id)
        )
        for r in rows:
            yield r.task_id, r.worker, r.answer, r.gold, r.prediction


class Reputations:
    def __init__(self, conn: Connection) -> None:
        self.c = conn
        self.later = PendingRows(conn, reputation_events)
        # (worker, skill) → (kind, requester, good) → count: tallies read in this
        # transaction, kept current as events are added (a suite adds one per answer).
        self._tallies: dict[tuple[str, str], dict[tuple[str, str, bool], int]] = {}

    def add(self, row: ReputationRow) -> None:
        self.later.add(dict(row.__dict__))
        known = self._tallies.get((row.worker, row.skill))
        if known is not None and not row.reversed:
            key = (row.kind, row.requester, bool(row.good))
            known[key] = known.get(key, 0) + 1

    def of_worker(
        self, worker: str, skill: str | None = None, limit: int = 500
    ) -> list[ReputationRow]:
        """A worker's reputation events, newest first."""
        self.later.flush()
        stmt = select(reputation_events).where(reputation_events.c.worker == worker)
        if skill is not None:
            stmt = stmt.where(reputation_events.c.skill == skill)
        rows = self.c.execute(stmt.order_by(reputation_events.c.at.desc()).limit(limit))
        return [ReputationRow(**r._mapping) for r in rows]

    def flush(self) -> None:
        self.later.flush()

    def tallies(
        self, workers: Iterable[str], skill: str
    ) -> dict[str, list[tuple[str, str, bool, int]]]:
        """Per worker: (kind, requester, good, count) of the events that still count."""
        wanted = sorted(set(workers))
        missing = [w for w in wanted if (w, skill) not in self._tallies]
        if missing:
            self.later.flush()
            e = reputation_events
            rows = self.c.execute(
                select(e.c.worker, e.c.kind, e.c.requester, e.c.good, func.count())
                .where(e.c.worker.in_(missing), e.c.skill == skill)
                .where(e.c.reversed.is_(False))
                .group_by(e.c.worker, e.c.kind, e.c.requester, e.c.good)
            )
            for w in missing:
                self._tallies[(w, skill)] = {}
            for worker, kind, requester, good, n in rows:
                self._tallies[(worker, skill)][(kind, requester, bool(good))] = int(n)
        out: dict[str, list[tuple[str, str, bool, int]]] = {}
        for w in wanted:
            for (kind, requester, good), n in self._tallies[(w, skill)].items():
                out.setdefault(w, []).append((kind, requester, good, n))
        return out

    def experienced(self, skill: str, min_events: int, limit: int) -> list[str]:
        """Workers with at least `min_events` counted events in a skill."""
        self.later.flush()
        e = reputation_events
        rows = self.c.execute(
            select(e.c.worker)
            .where(e.c.skill == skill, e.c.reversed.is_(False))
            .group_by(e.c.worker)
            .having(func.count() >= min_events)
            .order_by(e.c.worker)
            .limit(limit)
        )
        return [r.worker for r in rows]

    def reverse(self, assignment_id: str) -> int:
        """Stop counting the bad events an assignment produced (an overturned rejection)."""
        self.later.flush()
        self._tallies.clear()
        done = self.c.execute(
            update(reputation_events)
            .where(
                reputation_events.c.assignment_id == assignment_id,
                reputation_events.c.good.is_(False),
            )
            .values(reversed=True)
        )
        return int(done.rowcount)


class Limits:
    def __init__(self, conn: Connection) -> None:
        self.c = conn

    def add(self, record: LimitRecord) -> None:
        self.c.execute(insert(worker_limits).values(**record.__dict__))

    def active(self, worker: str, campaign_id: str | None, now: datetime) -> list[LimitRecord]:
        """Limits on a worker still in force (in one campaign, or anywhere)."""
        stmt = select(worker_limits).where(
            worker_limits.c.worker == worker, worker_limits.c.until > now
        )
        if campaign_id is not None:
            stmt = stmt.where(worker_limits.c.campaign_id == campaign_id)
        rows = self.c.execute(stmt.order_by(worker_limits.c.until.desc()))
        return [LimitRecord(**r._mapping) for r in rows]

    def of_worker(self, worker: str, limit: int = 100) -> list[LimitRecord]:
        rows = self.c.execute(
            select(worker_limits)
            .where(worker_limits.c.worker == worker)
            .order_by(worker_limits.c.created_at.desc())
            .limit(limit)
        )
        return [LimitRecord(**r._mapping) for r in rows]

    def of_campaign(self, campaign_id: str) -> list[LimitRecord]:
        rows = self.c.execute(
            select(worker_limits)
            .where(worker_limits.c.campaign_id == campaign_id)
            .order_by(worker_limits.c.created_at)
        )
        return [LimitRecord(**r._mapping) for r in rows]


class Appeals:
    def __init__(self, conn: Connection, pg: bool) -> None:
        self.c = conn
        self.pg = pg

    def add(self, record: AppealRecord, panel: list[str]) -> None:
        self.c.execute(insert(appeals).values(**_appeal_values(record)))
        if panel:
            self.c.execute(
                insert(appeal_votes), [{"appeal_id": record.id, "reviewer": r} for r in panel]
            )

    def get(self, appeal_id: str, *, lock: bool = False) -> AppealRecord | None:
        stmt = select(appeals).where(appeals.c.id == appeal_id)
        if lock and self.pg:
            stmt = stmt.with_for_update()
        row = self.c.execute(stmt).first()
        return self._record(row._mapping) if row else None

    def by_assignment(self, assignment_id: str) -> AppealRecord | None:
        row = self.c.execute(
            select(appeals).where(appeals.c.assignment_id == assignment_id)
        ).first()
        return self._record(row._mapping) if row else None

    def listed(
        self,
        *,
        worker: str | None = None,
        requester: str | None = None,
        panelist: str | None = None,
    ) -> list[AppealRecord]:
        """Appeals filed by a worker, against a requester, or before a panelist; newest first."""
        stmt = select(appeals)
        if worker is not None:
            stmt = stmt.where(appeals.c.worker == worker)
        if requester is not None:
            stmt = stmt.where(appeals.c.requester == requester)
        if panelist is not None:
            stmt = stmt.join(
                appeal_votes,
                and_(appeal_votes.c.appeal_id == appeals.c.id, appeal_votes.c.reviewer == panelist),
            )
        rows = self.c.execute(stmt.order_by(appeals.c.created_at.desc()).limit(200))
        return [self._record(r._mapping) for r in rows]

    def vote(
        self, appeal_id: str, reviewer: str, overturn: bool, reason: str, now: datetime
    ) -> bool:
        """Record a panelist's vote; False if they are not on the panel or already voted."""
        done = self.c.execute(
            update(appeal_votes)
            .where(appeal_votes.c.appeal_id == appeal_id, appeal_votes.c.reviewer == reviewer)
            .where(appeal_votes.c.overturn.is_(None))
            .values(overturn=overturn, reason=reason, voted_at=now)
        )
        return done.rowcount == 1

    def decide(
        self, appeal_id: str, status: str, reason: str, decided_by: str, now: datetime
    ) -> bool:
        done = self.c.execute(
            update(appeals)
            .where(appeals.c.id == appeal_id, appeals.c.status == "open")
            .values(status=status, decision_reason=reason, decided_by=decided_by, decided_at=now)
        )
        return done.rowcount == 1

    def _record(self, r: Any) -> AppealRecord:
        votes = self.c.execute(
            select(appeal_votes.c.reviewer, appeal_votes.c.overturn, appeal_votes.c.reason)
            .where(appeal_votes.c.appeal_id == r["id"])
            .order_by(appeal_votes.c.reviewer)
        )
        return AppealRecord(
            id=r["id"],
            assignment_id=r["assignment_id"],
            worker=r["worker"],
            campaign_id=r["campaign_id"],
            requester=r["requester"],
            mode=r["mode"],
            reason=r["reason"],
            status=r["status"],
            decision_reason=r["decision_reason"],
            decided_by=r["decided_by"],
            created_at=r["created_at"],
            decided_at=r["decided_at"],
            votes=tuple((v.reviewer, v.overturn, v.reason) for v in votes),
        )


def _appeal_values(record: AppealRecord) -> dict[str, Any]:
    values = dict(record.__dict__)
    values.pop("votes")
    return values
