"""In-memory work repositories: campaigns, tasks, assignments, workers' records, bodies.

They keep the SQL repositories' rules (a task is picked at most once per worker, only while
it has a free slot, breadth or uncertainty first when asked; one task per key in a campaign;
a lease moves leased → submitted → decided only from the state the caller names), not their
statements or locks. `outstanding` counts the quality area's open appeals and gold reviews
under way through the callable FakeStore hands it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from earnest.domain.errors import Conflict
from earnest.domain.verification import Submission, WorkerHistory
from earnest.domain.work import (
    Assignment,
    AssignmentStatus,
    Campaign,
    CampaignSpec,
    CampaignStatus,
    Prediction,
    Task,
    TaskStatus,
)

_LIVE = (AssignmentStatus.LEASED, AssignmentStatus.SUBMITTED)
_DECIDED = (AssignmentStatus.ACCEPTED, AssignmentStatus.REJECTED)


@dataclass
class TaskRow:
    task: Task
    is_gold: bool
    filled: int = 0
    uncertainty: float = 1.0
    resolved_at: datetime | None = None
    key: str | None = None


@dataclass
class WorkRows:
    """Everything the work area stores (one copy per unit of work, see FakeStore)."""

    campaigns: dict[str, Campaign] = field(default_factory=dict)
    tasks: dict[int, TaskRow] = field(default_factory=dict)
    assignments: dict[str, Assignment] = field(default_factory=dict)
    workers: dict[str, WorkerHistory] = field(default_factory=dict)
    bodies: dict[str, bytes] = field(default_factory=dict)


class FakeCampaigns:
    def __init__(self, rows: WorkRows) -> None:
        self.rows = rows

    def add(self, campaign: Campaign) -> None:
        self.rows.campaigns[campaign.id] = campaign

    def get(self, campaign_id: str) -> Campaign | None:
        return self.rows.campaigns.get(campaign_id)

    def of_requester(self, requester: str) -> list[Campaign]:
        mine = [c for c in self.rows.campaigns.values() if c.requester == requester]
        return sorted(mine, key=lambda c: c.created_at)

    def active(self, limit: int = 100) -> list[Campaign]:
        live = [c for c in self.rows.campaigns.values() if c.status is CampaignStatus.ACTIVE]
        return sorted(live, key=lambda c: c.created_at)[:limit]

    def lock(self, campaign_id: str) -> None:
        """One thread at a time: nothing to serialize."""

    def set_status(self, campaign_id: str, status: CampaignStatus) -> None:
        found = self.rows.campaigns.get(campaign_id)
        if found is not None:
            self.rows.campaigns[campaign_id] = replace(found, status=status)

    def update_spec(self, campaign_id: str, spec: CampaignSpec) -> None:
        found = self.rows.campaigns.get(campaign_id)
        if found is not None:
            self.rows.campaigns[campaign_id] = replace(found, spec=spec)


class FakeTasks:
    def __init__(self, rows: WorkRows) -> None:
        self.rows = rows

    def keyed(self, campaign_id: str, keys: Sequence[str]) -> dict[str, Task]:
        wanted = set(keys)
        return {
            t.key: t.task
            for t in self.rows.tasks.values()
            if t.key in wanted and t.task.campaign_id == campaign_id
        }

    def add_many(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            key = r.get("task_key")
            if key is not None and self.keyed(r["campaign_id"], [key]):
                # the unique index ux_tasks_key: the SQL store refuses the transaction so
                raise Conflict("a concurrent request changed the same object; retry")
            task_id = max(self.rows.tasks, default=0) + 1
            p = r.get("prediction")
            prediction = (
                Prediction(p["answer"], float(p["confidence"]), p.get("model", "model"))
                if p
                else None
            )
            task = Task(
                task_id,
                r["campaign_id"],
                r.get("external_id"),
                r["data"],
                r["gold"],
                TaskStatus.OPEN,
                prediction=prediction,
            )
            doubt = 1.0 if not p else 1.0 - float(p["confidence"])
            self.rows.tasks[task_id] = TaskRow(
                task, r["gold"] is not None, uncertainty=doubt, key=key
            )

    def get(self, task_id: int) -> Task | None:
        found = self.rows.tasks.get(task_id)
        return found.task if found else None

    def read_ahead(self, task_ids: Sequence[int]) -> None:
        """Every read is from memory already."""

    def pick(
        self,
        campaign_id: str,
        worker: str,
        gold: bool,
        overlap: int,
        uncertain_first: bool = False,
        breadth_first: bool = False,
        qualifying: bool = False,
        limit: int = 1,
    ) -> list[Task]:
        seen = {a.task_id for a in self.rows.assignments.values() if a.worker == worker}
        found = [
            t
            for t in self.rows.tasks.values()
            if t.task.campaign_id == campaign_id
            and t.is_gold == gold
            and t.task.id not in seen
            and (qualifying or (t.task.status is TaskStatus.OPEN and t.filled < overlap))
        ]

        def order(t: TaskRow) -> tuple[float, int, int]:
            return (
                -t.uncertainty if uncertain_first else 0.0,
                t.filled if breadth_first or qualifying else 0,
                t.task.id,
            )

        return [t.task for t in sorted(found, key=order)[:limit]]

    def change_filled(self, task_id: int, delta: int) -> None:
        self.rows.tasks[task_id].filled += delta

    def fill(self, task_ids: Sequence[int]) -> None:
        for task_id in task_ids:
            self.rows.tasks[task_id].filled += 1

    def set_uncertainty(self, task_id: int, uncertainty: float) -> None:
        self.rows.tasks[task_id].uncertainty = uncertainty

    def resolve(
        self,
        task_id: int,
        result: Any,
        confidence: float | None,
        now: datetime,
        uncertainty: float | None = None,
    ) -> None:
        row = self.rows.tasks[task_id]
        row.task = replace(
            row.task, status=TaskStatus.RESOLVED, result=result, confidence=confidence
        )
        row.resolved_at = now
        if uncertainty is not None:
            row.uncertainty = uncertainty

    def counts(self, campaign_id: str) -> dict[str, int]:
        out = {"tasks": 0, "gold_tasks": 0, "open": 0, "resolved": 0}
        for t in self.rows.tasks.values():
            if t.task.campaign_id == campaign_id:
                out["tasks"] += 1
                out["gold_tasks"] += t.is_gold
                out[t.task.status.value] += 1
        return out

    def resolved(self, campaign_id: str, after_id: int, limit: int) -> list[Task]:
        found = [
            t.task
            for _, t in sorted(self.rows.tasks.items())
            if t.task.campaign_id == campaign_id
            and not t.is_gold
            and t.task.id > after_id
            and t.task.status is TaskStatus.RESOLVED
        ]
        return found[:limit]


class FakeAssignments:
    def __init__(self, rows: WorkRows, reserved_elsewhere: Callable[[str], int]) -> None:
        self.rows = rows
        self._elsewhere = reserved_elsewhere  # campaign → its open appeals and gold reviews

    def _gold(self, a: Assignment) -> bool:
        return self.rows.tasks[a.task_id].is_gold

    def _move(self, assignment_id: str, was: AssignmentStatus, **changes: Any) -> bool:
        found = self.rows.assignments.get(assignment_id)
        if found is None or found.status is not was:
            return False
        self.rows.assignments[assignment_id] = replace(found, **changes)
        return True

    def add_many(self, leases: Sequence[Assignment]) -> None:
        for a in leases:
            self.rows.assignments[a.id] = replace(a, reward=0)

    def get(self, assignment_id: str, *, lock: bool = False) -> Assignment | None:
        return self.rows.assignments.get(assignment_id)

    def get_many(self, assignment_ids: Sequence[str]) -> dict[str, Assignment]:
        return {i: self.rows.assignments[i] for i in assignment_ids if i in self.rows.assignments}

    def read_ahead(self, assignment_ids: Sequence[str]) -> dict[str, Assignment]:
        return self.get_many(sorted(set(assignment_ids)))

    def lock_task(self, task_id: int) -> None:
        """One thread at a time: nothing to serialize."""

    def submissions(self, task_id: int) -> list[Submission]:
        return self.submissions_of([task_id]).get(task_id, [])

    def submissions_of(self, task_ids: Sequence[int]) -> dict[int, list[Submission]]:
        wanted = set(task_ids)
        answered = [
            a
            for a in self.rows.assignments.values()
            if a.task_id in wanted and a.submitted_at is not None
        ]
        out: dict[int, list[Submission]] = {}
        for a in sorted(answered, key=lambda a: (a.submitted_at, a.id)):
            out.setdefault(a.task_id, []).append(
                Submission(a.id, a.worker, a.answer, a.status, a.submitted_at)  # type: ignore[arg-type]
            )
        return out

    def submit(self, assignment_id: str, answer: Any, now: datetime) -> bool:
        return self._move(
            assignment_id,
            AssignmentStatus.LEASED,
            status=AssignmentStatus.SUBMITTED,
            answer=answer,
            submitted_at=now,
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
        return self._move(
            assignment_id,
            was,
            status=status,
            reason=reason,
            reward=reward,
            evidence=dict(evidence) if evidence else None,
        )

    def await_review(self, assignment_id: str, due: datetime, evidence: Mapping[str, Any]) -> None:
        found = self.rows.assignments.get(assignment_id)
        if found and found.status is AssignmentStatus.SUBMITTED and found.review_due is None:
            self.rows.assignments[assignment_id] = replace(
                found, review_due=due, evidence=dict(evidence)
            )

    def awaiting_review(
        self, campaign_id: str | None, limit: int, due_before: datetime | None = None
    ) -> list[Assignment]:
        held = [
            a
            for a in self.rows.assignments.values()
            if a.status is AssignmentStatus.SUBMITTED
            and a.review_due is not None
            and (campaign_id is None or a.campaign_id == campaign_id)
            and (due_before is None or a.review_due <= due_before)
        ]
        return sorted(held, key=lambda a: (a.review_due, a.id))[:limit]

    def recent(self, worker: str, campaign_id: str, limit: int) -> list[tuple[Assignment, bool]]:
        answered = [
            a
            for a in self.rows.assignments.values()
            if a.worker == worker and a.campaign_id == campaign_id and a.submitted_at is not None
        ]
        latest = sorted(answered, key=lambda a: (a.submitted_at, a.id), reverse=True)[:limit]
        return [(a, self._gold(a)) for a in reversed(latest)]

    def gold_record(self, worker: str, campaign_id: str, skip: int = 0) -> tuple[int, int]:
        decided = [
            a
            for a in self.rows.assignments.values()
            if a.worker == worker
            and a.campaign_id == campaign_id
            and self._gold(a)
            and a.status in _DECIDED
        ]
        decided = sorted(decided, key=lambda a: (a.submitted_at or a.leased_at, a.id))[skip:]
        return sum(a.status is AssignmentStatus.ACCEPTED for a in decided), len(decided)

    def expire_due(
        self, now: datetime, limit: int, campaign_id: str | None = None
    ) -> list[tuple[str, int]]:
        due = [
            (a.id, a.task_id)
            for a in self.rows.assignments.values()
            if a.status is AssignmentStatus.LEASED
            and a.expires_at <= now
            and (campaign_id is None or a.campaign_id == campaign_id)
        ][:limit]
        for assignment_id, _ in due:
            self._move(assignment_id, AssignmentStatus.LEASED, status=AssignmentStatus.EXPIRED)
        return due

    def release(self, assignment_id: str, now: datetime) -> bool:
        return self._move(assignment_id, AssignmentStatus.LEASED, status=AssignmentStatus.EXPIRED)

    def accepted_rewards(self, campaign_id: str) -> dict[int, int]:
        out: dict[int, int] = {}
        for a in self._of(campaign_id):
            if a.status is AssignmentStatus.ACCEPTED:
                out[a.reward] = out.get(a.reward, 0) + 1
        return out

    def outstanding(self, campaign_id: str) -> int:
        live = sum(a.status in _LIVE for a in self._of(campaign_id))
        return live + self._elsewhere(campaign_id)

    def regular_answers(self, campaign_id: str) -> int:
        answered = (*_DECIDED, AssignmentStatus.SUBMITTED)
        return sum(a.status in answered and not self._gold(a) for a in self._of(campaign_id))

    def counts(self, campaign_id: str) -> dict[str, int]:
        out = {s.value: 0 for s in AssignmentStatus}
        for a in self._of(campaign_id):
            out[a.status.value] += 1
        return out

    def of_worker(
        self, worker: str, limit: int = 100, statuses: Iterable[str] | None = None
    ) -> list[Assignment]:
        wanted = set(statuses) if statuses is not None else None
        mine = [
            a
            for a in self.rows.assignments.values()
            if a.worker == worker and (wanted is None or a.status.value in wanted)
        ]
        return sorted(mine, key=lambda a: a.leased_at, reverse=True)[:limit]

    def answers_for_tasks(self, task_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        wanted = set(task_ids)
        decided = [
            a
            for a in self.rows.assignments.values()
            if a.task_id in wanted and a.status in _DECIDED
        ]
        out: dict[int, list[dict[str, Any]]] = {}
        for a in sorted(decided, key=lambda a: a.submitted_at or a.leased_at):
            out.setdefault(a.task_id, []).append(
                {"worker": a.worker, "answer": a.answer, "status": a.status.value}
            )
        return out

    def _of(self, campaign_id: str) -> Iterator[Assignment]:
        return (a for a in self.rows.assignments.values() if a.campaign_id == campaign_id)


class FakeWorkers:
    def __init__(self, rows: WorkRows) -> None:
        self.rows = rows

    def history(self, workers: Iterable[str]) -> dict[str, WorkerHistory]:
        """The gold record of each worker with one (a worker never decided has none)."""
        return {w: self.rows.workers[w] for w in sorted(set(workers)) if w in self.rows.workers}

    def record(self, worker: str, *, accepted: bool, gold: bool) -> None:
        h = self.rows.workers.get(worker, WorkerHistory())
        self.rows.workers[worker] = WorkerHistory(
            h.gold_correct + int(gold and accepted), h.gold_total + int(gold)
        )


class FakeBodies:
    def __init__(self, rows: WorkRows) -> None:
        self.rows = rows

    def put(self, sha256: str, body: bytes, now: datetime) -> None:
        self.rows.bodies.setdefault(sha256, body)

    def get(self, sha256: str) -> bytes | None:
        return self.rows.bodies.get(sha256)


@contextmanager
def unbatched() -> Iterator[None]:
    """The fake writes at once: a batch holds nothing back."""
    yield
