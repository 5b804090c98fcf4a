"""The tasks repository, including the claim query that picks the next tasks to lease."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    and_,
    bindparam,
    exists,
    func,
    insert,
    select,
    update,
)

from earnest.adapters.store.pending import PendingUpdates, flushed_first
from earnest.adapters.store.tables import assignments, tasks
from earnest.domain.work import (
    Prediction,
    Task,
    TaskStatus,
)

# Prebuilt single-row updates (bind parameters named apart from the columns, as executemany
# wants): built once, not per call, and queued by a suite's answers (PendingUpdates).
_RESOLVE = (
    update(tasks)
    .where(tasks.c.id == bindparam("b_id"))
    .values(
        status="resolved",
        result=bindparam("b_result", type_=tasks.c.result.type),
        confidence=bindparam("b_confidence", type_=tasks.c.confidence.type),
        resolved_at=bindparam("b_at", type_=tasks.c.resolved_at.type),
        uncertainty=func.coalesce(
            bindparam("b_uncertainty", type_=tasks.c.uncertainty.type), tasks.c.uncertainty
        ),
    )
)
_UNCERTAINTY = (
    update(tasks)
    .where(tasks.c.id == bindparam("b_id"))
    .values(uncertainty=bindparam("b_uncertainty", type_=tasks.c.uncertainty.type))
)


@flushed_first("get", "set_uncertainty", "resolve")
class Tasks:
    def __init__(self, conn: Connection, pg: bool) -> None:
        self.c = conn
        self.pg = pg
        self._ahead: dict[int, Task] = {}
        self.later = PendingUpdates(conn)  # held while a suite's answers are verified

    def keyed(self, campaign_id: str, keys: Sequence[str]) -> dict[str, Task]:
        if not keys:
            return {}
        rows = self.c.execute(
            select(tasks).where(tasks.c.campaign_id == campaign_id, tasks.c.task_key.in_(keys))
        )
        return {r.task_key: _task(r._mapping) for r in rows}

    def add_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert a chunk of tasks (dicts with campaign_id, task_key, external_id, data, gold,
        prediction)."""
        if rows:
            self.c.execute(
                insert(tasks),
                [
                    {"prediction": None}
                    | r
                    | {
                        "is_gold": r["gold"] is not None,
                        "status": "open",
                        "filled": 0,
                        "uncertainty": _uncertainty(r.get("prediction")),
                    }
                    for r in rows
                ],
            )

    def get(self, task_id: int) -> Task | None:
        found = self._ahead.pop(task_id, None)  # read ahead for a suite: used once
        if found is not None:
            return found
        self.later.flush()
        row = self.c.execute(select(tasks).where(tasks.c.id == task_id)).first()
        return _task(row._mapping) if row else None

    def read_ahead(self, task_ids: Sequence[int]) -> None:
        """Read these tasks in one query; the next `get` of each is answered from it."""
        if task_ids:
            rows = self.c.execute(select(tasks).where(tasks.c.id.in_(list(task_ids))))
            self._ahead.update({r.id: _task(r._mapping) for r in rows})

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
        """The next `limit` open tasks with a free slot that `worker` has never been given."""
        seen = exists().where(
            and_(assignments.c.task_id == tasks.c.id, assignments.c.worker == worker)
        )
        stmt = select(tasks).where(
            tasks.c.campaign_id == campaign_id, tasks.c.is_gold == gold, ~seen
        )
        if not qualifying:
            stmt = stmt.where(tasks.c.status == "open", tasks.c.filled < overlap)
        # A worker in qualification may get any control task they have not seen, whatever
        # its overlap: control tasks check workers rather than label data.
        stmt = stmt.limit(limit)
        # Breadth first (fewest slots taken first) when overlap is dynamic: leasing a task's
        # later slots before its first answers are in would spend labels it may not need.
        order: list[ColumnElement[Any]] = [tasks.c.filled] if breadth_first or qualifying else []
        if uncertain_first:
            order.insert(0, tasks.c.uncertainty.desc())
        stmt = stmt.order_by(*order, tasks.c.id)
        if self.pg:
            # Concurrent claimers skip rows another transaction is leasing, instead of
            # queueing on them; the slot counter below is updated under the same lock.
            stmt = stmt.with_for_update(skip_locked=True, of=tasks)
        return [_task(row._mapping) for row in self.c.execute(stmt)]

    def change_filled(self, task_id: int, delta: int) -> None:
        self.c.execute(
            update(tasks).where(tasks.c.id == task_id).values(filled=tasks.c.filled + delta)
        )

    def fill(self, task_ids: Sequence[int]) -> None:
        """One more slot taken on each task (a suite of leases, in one statement)."""
        self.c.execute(
            update(tasks).where(tasks.c.id.in_(list(task_ids))).values(filled=tasks.c.filled + 1)
        )

    def set_uncertainty(self, task_id: int, uncertainty: float) -> None:
        self.later.add("uncertainty", _UNCERTAINTY, {"b_id": task_id, "b_uncertainty": uncertainty})

    def resolve(
        self,
        task_id: int,
        result: Any,
        confidence: float | None,
        now: datetime,
        uncertainty: float | None = None,
    ) -> None:
        params = {
            "b_id": task_id,
            "b_result": result,
            "b_confidence": confidence,
            "b_at": now,
            "b_uncertainty": uncertainty,  # None keeps the task's own
        }
        self.later.add("resolve", _RESOLVE, params)

    def counts(self, campaign_id: str) -> dict[str, int]:
        rows = self.c.execute(
            select(tasks.c.status, tasks.c.is_gold, func.count())
            .where(tasks.c.campaign_id == campaign_id)
            .group_by(tasks.c.status, tasks.c.is_gold)
        )
        out = {"tasks": 0, "gold_tasks": 0, "open": 0, "resolved": 0}
        for status, is_gold, n in rows:
            out["tasks"] += n
            out["gold_tasks"] += n if is_gold else 0
            out[status] += n
        return out

    def resolved(self, campaign_id: str, after_id: int, limit: int) -> list[Task]:
        rows = self.c.execute(
            select(tasks)
            .where(
                tasks.c.campaign_id == campaign_id,
                tasks.c.status == "resolved",
                tasks.c.id > after_id,
            )
            .where(tasks.c.is_gold.is_(False))
            .order_by(tasks.c.id)
            .limit(limit)
        )
        return [_task(r._mapping) for r in rows]


def _uncertainty(prediction: Mapping[str, Any] | None) -> float:
    """How unsure the market is of a fresh task: the model's doubt, or fully unsure."""
    return 1.0 if not prediction else 1.0 - float(prediction["confidence"])


def _task(r: RowMapping) -> Task:
    p = r["prediction"]
    return Task(
        r["id"],
        r["campaign_id"],
        r["external_id"],
        r["data"],
        r["gold"],
        TaskStatus(r["status"]),
        r["result"],
        r["confidence"],
        Prediction(p["answer"], float(p["confidence"]), p.get("model", "model")) if p else None,
    )
