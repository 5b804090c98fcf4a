"""The assignments repository: leases, answers and their decisions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, func, insert, select, update

from earnest.adapters.store.pending import PendingUpdates, flushed_first
from earnest.adapters.store.tables import appeals, assignments, peer_reviews, tasks
from earnest.domain.verification import Submission
from earnest.domain.work import (
    Assignment,
    AssignmentStatus,
)

_SUBMIT = (
    update(assignments)
    .where(assignments.c.id == bindparam("b_id"), assignments.c.status == "leased")
    .values(
        status="submitted",
        answer=bindparam("b_answer", type_=assignments.c.answer.type),
        submitted_at=bindparam("b_at", type_=assignments.c.submitted_at.type),
    )
)
_DECIDE = (
    update(assignments)
    .where(assignments.c.id == bindparam("b_id"), assignments.c.status == bindparam("b_was"))
    .values(
        status=bindparam("b_status"),
        reason=bindparam("b_reason"),
        reward=bindparam("b_reward", type_=assignments.c.reward.type),
        decided_at=bindparam("b_at", type_=assignments.c.decided_at.type),
        evidence=bindparam("b_evidence", type_=assignments.c.evidence.type),
    )
)

# An answer stored and decided in one transaction (a suite's answers verified at once): one
# update, so one row version and one set of index entries instead of two.
_SUBMIT_DECIDE = (
    update(assignments)
    .where(assignments.c.id == bindparam("b_id"), assignments.c.status == "leased")
    .values(
        status=bindparam("b_status"),
        answer=bindparam("b_answer", type_=assignments.c.answer.type),
        submitted_at=bindparam("b_submitted_at", type_=assignments.c.submitted_at.type),
        reason=bindparam("b_reason"),
        reward=bindparam("b_reward", type_=assignments.c.reward.type),
        decided_at=bindparam("b_at", type_=assignments.c.decided_at.type),
        evidence=bindparam("b_evidence", type_=assignments.c.evidence.type),
    )
)


@flushed_first("get", "lock_task", "submit", "decide", "submissions_of")
class Assignments:
    def __init__(self, conn: Connection, pg: bool) -> None:
        self.c = conn
        self.pg = pg
        self._ahead: dict[str, Assignment] = {}
        self._known: dict[str, Assignment] = {}  # every row read ahead, as it was read
        self._locked_tasks: set[int] = set()  # row locks last until the transaction ends
        self.later = PendingUpdates(conn)  # held while a suite's answers are verified

    def add_many(self, leases: Sequence[Assignment]) -> None:
        self.c.execute(
            insert(assignments),
            [
                {
                    "id": a.id,
                    "task_id": a.task_id,
                    "campaign_id": a.campaign_id,
                    "worker": a.worker,
                    "status": a.status.value,
                    "leased_at": a.leased_at,
                    "expires_at": a.expires_at,
                    "reward": 0,
                }
                for a in leases
            ],
        )

    def get(self, assignment_id: str, *, lock: bool = False) -> Assignment | None:
        found = self._ahead.pop(assignment_id, None)  # read ahead (and locked): used once
        if found is not None:
            return found
        self.later.flush()
        stmt = select(assignments).where(assignments.c.id == assignment_id)
        if lock and self.pg:
            stmt = stmt.with_for_update()
        row = self.c.execute(stmt).first()
        return _assignment(row._mapping) if row else None

    def get_many(self, assignment_ids: Sequence[str]) -> dict[str, Assignment]:
        if not assignment_ids:
            return {}
        rows = self.c.execute(select(assignments).where(assignments.c.id.in_(assignment_ids)))
        return {r.id: _assignment(r._mapping) for r in rows}

    def read_ahead(self, assignment_ids: Sequence[str]) -> dict[str, Assignment]:
        """Lock and read these assignments, then lock their tasks, each in one statement and
        in id order (two suites sharing tasks take their locks in one order: no deadlock).
        The next `get` of each assignment, and `lock_task` of each task, use what was read."""
        stmt = select(assignments).where(assignments.c.id.in_(sorted(set(assignment_ids))))
        if self.pg:
            stmt = stmt.order_by(assignments.c.id).with_for_update()
        found = {r.id: _assignment(r._mapping) for r in self.c.execute(stmt)}
        self._ahead.update(found)
        self._known.update(found)
        task_ids = sorted({a.task_id for a in found.values()})
        if self.pg and task_ids:
            self.c.execute(
                select(tasks.c.id)
                .where(tasks.c.id.in_(task_ids))
                .order_by(tasks.c.id)
                .with_for_update()
            )
        self._locked_tasks.update(task_ids)
        return found

    def lock_task(self, task_id: int) -> None:
        """Serialize verification of one task's answers (a no-op on SQLite's single writer)."""
        if self.pg and task_id not in self._locked_tasks:
            self.c.execute(select(tasks.c.id).where(tasks.c.id == task_id).with_for_update())
            self._locked_tasks.add(task_id)

    def submissions(self, task_id: int) -> list[Submission]:
        return self.submissions_of([task_id]).get(task_id, [])

    def submissions_of(self, task_ids: Sequence[int]) -> dict[int, list[Submission]]:
        """Each task's submissions so far, in the order they came, in one query.

        Answers stored in this transaction and still queued (a suite's, all read ahead)
        count without being sent first: each is then sent once, with its decision."""
        queued = self._queued_answers()
        if queued is None:
            self.later.flush()
        rows = self.c.execute(
            select(assignments)
            .where(assignments.c.task_id.in_(list(task_ids)))
            .where(assignments.c.submitted_at.is_not(None))
            .order_by(assignments.c.submitted_at, assignments.c.id)
        )
        out: dict[int, list[Submission]] = {}
        for r in rows:
            out.setdefault(r.task_id, []).append(
                Submission(r.id, r.worker, r.answer, AssignmentStatus(r.status), r.submitted_at)
            )
        wanted, grown = set(task_ids), set()
        for task_id, sub in queued or ():
            if task_id in wanted:
                out.setdefault(task_id, []).append(sub)
                grown.add(task_id)
        for task_id in grown:  # in the order the query gives: by time, then id
            out[task_id].sort(key=lambda s: (s.submitted_at, s.assignment_id))
        return out

    def _queued_answers(self) -> list[tuple[int, Submission]] | None:
        """The answers queued to be stored, if nothing but such answers of rows read ahead
        is queued; None otherwise (the queue must then be sent before reading)."""
        if self.later.names() - {"submit"}:
            return None
        found = []
        for params in self.later.queued("submit"):
            row = self._known.get(params["b_id"])
            if row is None:
                return None
            found.append(
                (
                    row.task_id,
                    Submission(
                        row.id,
                        row.worker,
                        params["b_answer"],
                        AssignmentStatus.SUBMITTED,
                        params["b_at"],
                    ),
                )
            )
        return found

    def submit(self, assignment_id: str, answer: Any, now: datetime) -> bool:
        """Move a live lease to submitted; False if it was not leased any more."""
        return self.later.add(
            "submit", _SUBMIT, {"b_id": assignment_id, "b_answer": answer, "b_at": now}
        )

    def decide(
        self,
        assignment_id: str,
        status: AssignmentStatus,
        reason: str,
        reward: int,
        now: datetime,
        evidence: Mapping[str, Any] | None = None,
        *,
        was: AssignmentStatus = AssignmentStatus.SUBMITTED,
    ) -> bool:
        """Record a decision on an assignment that is still `was`; False if it moved on."""
        params = {
            "b_id": assignment_id,
            "b_was": was.value,
            "b_status": status.value,
            "b_reason": reason,
            "b_reward": reward,
            "b_at": now,
            "b_evidence": dict(evidence) if evidence else None,
        }
        stored = (
            self.later.take(assignment_id, "submit") if was is AssignmentStatus.SUBMITTED else None
        )
        if stored is not None:  # stored in this transaction, still queued: one update
            del params["b_was"]
            params |= {"b_answer": stored["b_answer"], "b_submitted_at": stored["b_at"]}
            return self.later.add("submit+decide", _SUBMIT_DECIDE, params)
        return self.later.add("decide", _DECIDE, params)

    def await_review(self, assignment_id: str, due: datetime, evidence: Mapping[str, Any]) -> None:
        """Hold a submission for the requester's review until `due`.

        A held answer keeps its first deadline and suggestion: later answers to the same
        task re-run the verifier, and must not push the worker's deadline back.
        """
        self.c.execute(
            update(assignments)
            .where(assignments.c.id == assignment_id, assignments.c.status == "submitted")
            .where(assignments.c.review_due.is_(None))
            .values(review_due=due, evidence=dict(evidence))
        )

    def awaiting_review(
        self, campaign_id: str | None, limit: int, due_before: datetime | None = None
    ) -> list[Assignment]:
        """Submissions held for review, oldest first (only overdue ones with `due_before`)."""
        stmt = select(assignments).where(
            assignments.c.status == "submitted", assignments.c.review_due.is_not(None)
        )
        if campaign_id is not None:
            stmt = stmt.where(assignments.c.campaign_id == campaign_id)
        if due_before is not None:
            stmt = stmt.where(assignments.c.review_due <= due_before)
        rows = self.c.execute(stmt.order_by(assignments.c.review_due).limit(limit))
        return [_assignment(r._mapping) for r in rows]

    def recent(self, worker: str, campaign_id: str, limit: int) -> list[tuple[Assignment, bool]]:
        """The worker's latest answers in a campaign, oldest first, each with is-gold."""
        rows = self.c.execute(
            select(assignments, tasks.c.is_gold)
            .join(tasks, tasks.c.id == assignments.c.task_id)
            .where(assignments.c.worker == worker, assignments.c.campaign_id == campaign_id)
            .where(assignments.c.submitted_at.is_not(None))
            .order_by(assignments.c.submitted_at.desc(), assignments.c.id.desc())
            .limit(limit)
        )
        return [(_assignment(r._mapping), bool(r.is_gold)) for r in reversed(list(rows))]

    def gold_record(self, worker: str, campaign_id: str, skip: int = 0) -> tuple[int, int]:
        """(correct, decided) control answers of a worker in a campaign: the qualification;
        `skip` leaves out the first answers in the order given (practice)."""
        query = (
            select(assignments.c.status)
            .join(tasks, tasks.c.id == assignments.c.task_id)
            .where(assignments.c.worker == worker, assignments.c.campaign_id == campaign_id)
            .where(tasks.c.is_gold.is_(True))
            .where(assignments.c.status.in_(["accepted", "rejected"]))
        )
        if skip:
            query = query.order_by(assignments.c.submitted_at, assignments.c.id).offset(skip)
        answered = query.subquery()
        rows = self.c.execute(select(answered.c.status, func.count()).group_by(answered.c.status))
        counts = {status: int(n) for status, n in rows}
        return counts.get("accepted", 0), sum(counts.values())

    def expire_due(
        self, now: datetime, limit: int, campaign_id: str | None = None
    ) -> list[tuple[str, int]]:
        """Expire up to `limit` leases past their deadline; return (assignment, task) pairs."""
        stmt = select(assignments.c.id, assignments.c.task_id).where(
            assignments.c.status == "leased", assignments.c.expires_at <= now
        )
        if campaign_id is not None:
            stmt = stmt.where(assignments.c.campaign_id == campaign_id)
        stmt = stmt.limit(limit)
        if self.pg:
            stmt = stmt.with_for_update(skip_locked=True)
        due = [(r.id, r.task_id) for r in self.c.execute(stmt)]
        if due:
            self.c.execute(
                update(assignments)
                .where(assignments.c.id.in_([d[0] for d in due]), assignments.c.status == "leased")
                .values(status="expired", decided_at=now)
            )
        return due

    def release(self, assignment_id: str, now: datetime) -> bool:
        """End a live lease early (the worker gave it back); False if it was not leased."""
        done = self.c.execute(
            update(assignments)
            .where(assignments.c.id == assignment_id, assignments.c.status == "leased")
            .values(status="expired", decided_at=now)
        )
        return done.rowcount == 1

    def accepted_rewards(self, campaign_id: str) -> dict[int, int]:
        """How many accepted answers earned each reward (metered work earns different ones)."""
        rows = self.c.execute(
            select(assignments.c.reward, func.count())
            .where(assignments.c.campaign_id == campaign_id, assignments.c.status == "accepted")
            .group_by(assignments.c.reward)
        )
        return {int(reward): int(n) for reward, n in rows}

    def outstanding(self, campaign_id: str) -> int:
        """Units the campaign may still owe: live leases, undecided answers, open appeals,
        gold reviews under way (each reserved as a whole unit: more than it can cost)."""
        # One statement: this runs on every claim.
        live = (
            select(func.count())
            .select_from(assignments)
            .where(assignments.c.campaign_id == campaign_id)
            .where(assignments.c.status.in_(["leased", "submitted"]))
            .scalar_subquery()
        )
        appealed = (
            select(func.count())
            .select_from(appeals)
            .where(appeals.c.campaign_id == campaign_id, appeals.c.status == "open")
            .scalar_subquery()
        )
        gold_reviews = (
            select(func.count())
            .select_from(peer_reviews)
            .where(peer_reviews.c.campaign_id == campaign_id, peer_reviews.c.status == "leased")
            .where(peer_reviews.c.assignment_id.is_(None))
            .scalar_subquery()
        )
        return int(self.c.scalar(select(live + appealed + gold_reviews)) or 0)

    def regular_answers(self, campaign_id: str) -> int:
        """Answers given to the campaign's regular (not control) tasks."""
        return int(
            self.c.scalar(
                select(func.count())
                .select_from(assignments)
                .join(tasks, tasks.c.id == assignments.c.task_id)
                .where(assignments.c.campaign_id == campaign_id, tasks.c.is_gold.is_(False))
                .where(assignments.c.status.in_(["submitted", "accepted", "rejected"]))
            )
            or 0
        )

    def counts(self, campaign_id: str) -> dict[str, int]:
        rows = self.c.execute(
            select(assignments.c.status, func.count())
            .where(assignments.c.campaign_id == campaign_id)
            .group_by(assignments.c.status)
        )
        out = {s.value: 0 for s in AssignmentStatus}
        out.update({status: int(n) for status, n in rows})
        return out

    def of_worker(
        self, worker: str, limit: int = 100, statuses: Iterable[str] | None = None
    ) -> list[Assignment]:
        stmt = select(assignments).where(assignments.c.worker == worker)
        if statuses is not None:
            stmt = stmt.where(assignments.c.status.in_(list(statuses)))
        rows = self.c.execute(stmt.order_by(assignments.c.leased_at.desc()).limit(limit))
        return [_assignment(r._mapping) for r in rows]

    def answers_for_tasks(self, task_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """Decided answers per task, for results exports."""
        rows = self.c.execute(
            select(
                assignments.c.task_id,
                assignments.c.worker,
                assignments.c.answer,
                assignments.c.status,
            )
            .where(assignments.c.task_id.in_(task_ids))
            .where(assignments.c.status.in_(["accepted", "rejected"]))
            .order_by(assignments.c.submitted_at)
        )
        out: dict[int, list[dict[str, Any]]] = {}
        for r in rows:
            out.setdefault(r.task_id, []).append(
                {"worker": r.worker, "answer": r.answer, "status": r.status}
            )
        return out


def _assignment(r: RowMapping) -> Assignment:
    return Assignment(
        r["id"],
        r["task_id"],
        r["campaign_id"],
        r["worker"],
        AssignmentStatus(r["status"]),
        r["leased_at"],
        r["expires_at"],
        r["answer"],
        r["submitted_at"],
        r["reason"],
        int(r["reward"]),
        r["evidence"],
        r["review_due"],
    )
