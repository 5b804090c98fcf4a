"""The requester's data browser: each task with its answers and the aggregated label, each
worker's accuracy against control answers and against the aggregated labels, and the
agreement between workers (Krippendorff's alpha), for one campaign.

A read model over the work repositories: it changes nothing. The worker figures and alpha
are computed over the first `STATS_TASKS` resolved tasks, so a page never reads a whole
large campaign; the export (services/campaigns.results) streams all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from earnest.domain.errors import NotFound
from earnest.domain.verification import canonical_json
from earnest.domain.work import Assignment, Campaign, Task
from earnest.quality.agreement import answers_alpha
from earnest.services.common import owned_campaign
from earnest.services.identity import Principal
from earnest.services.ports import AppealRecord, Store

STATS_TASKS = 2_000
STATS_WORKERS = 200
HISTORY = 20  # the worker's answers shown beside one of them


@dataclass
class WorkerFigures:
    """One worker's record in a campaign."""

    worker: str
    answers: int = 0
    agreed: int = 0  # answers equal to the task's aggregated label
    gold_correct: int = 0
    gold_answered: int = 0
    accepted: int = 0

    @property
    def agreement(self) -> float | None:
        """Accuracy against the estimator: the share of answers equal to the task's label."""
        return self.agreed / self.answers if self.answers else None

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_answered if self.gold_answered else None


@dataclass
class TaskRow:
    task: Task
    answers: list[dict[str, Any]]


@dataclass
class DataView:
    campaign: Campaign
    tasks: list[TaskRow]
    workers: list[WorkerFigures]
    alpha: float | None
    counted: int  # resolved tasks the figures read
    next_after: int | None  # the cursor of the next page of tasks
    extra: dict[str, Any] = field(default_factory=dict)


def campaign_data(
    who: Principal, campaign_id: str, *, store: Store, after: int = 0, per_page: int = 50
) -> DataView:
    """A page of resolved tasks (after task id `after`), the workers' figures and alpha."""
    who.require("results:read")
    with store.uow(readonly=True) as uow:
        campaign = owned_campaign(uow, campaign_id, who.address)
        counted = uow.tasks.resolved(campaign_id, 0, STATS_TASKS)
        answers = uow.assignments.answers_for_tasks([t.id for t in counted]) if counted else {}
        page = uow.tasks.resolved(campaign_id, after, per_page + 1)
        shown = uow.assignments.answers_for_tasks([t.id for t in page]) if page else {}
        figures = _figures(counted, answers)
        for worker in figures[:STATS_WORKERS]:
            worker.gold_correct, worker.gold_answered = uow.assignments.gold_record(
                worker.worker, campaign_id
            )
    more = len(page) > per_page
    rows = [TaskRow(t, shown.get(t.id, [])) for t in page[:per_page]]
    alpha = answers_alpha([a["answer"] for a in answers.get(t.id, [])] for t in counted)
    return DataView(
        campaign,
        rows,
        figures,
        alpha,
        len(counted),
        rows[-1].task.id if more and rows else None,
    )


def _figures(tasks: list[Task], answers: dict[int, list[dict[str, Any]]]) -> list[WorkerFigures]:
    by_worker: dict[str, WorkerFigures] = {}
    for task in tasks:
        label = canonical_json(task.result)
        for answer in answers.get(task.id, []):
            w = by_worker.setdefault(answer["worker"], WorkerFigures(answer["worker"]))
            w.answers += 1
            w.agreed += canonical_json(answer["answer"]) == label
            w.accepted += answer["status"] == "accepted"
    return sorted(by_worker.values(), key=lambda w: (-w.answers, w.worker))


@dataclass
class AnswerContext:
    """An answer as its requester judges it: the task, the answer, the control answer, the
    other answers and the result, the worker's recent history here, and its appeal."""

    campaign: Campaign
    assignment: Assignment
    task: Task
    others: list[dict[str, Any]]
    history: list[tuple[Assignment, bool]]  # the worker's recent answers here (gold or not)
    appeal: AppealRecord | None
    gold: WorkerFigures


def answer_context(who: Principal, assignment_id: str, *, store: Store) -> AnswerContext:
    """Everything behind one answer to the caller's campaign (NotFound for anyone else)."""
    who.require("results:read")
    with store.uow(readonly=True) as uow:
        found = uow.assignments.get(assignment_id)
        if found is None:
            raise NotFound(f"no assignment {assignment_id!r}")
        campaign = owned_campaign(uow, found.campaign_id, who.address)
        task = uow.tasks.get(found.task_id)
        if task is None:
            raise NotFound(f"no assignment {assignment_id!r}")
        others = uow.assignments.answers_for_tasks([task.id]).get(task.id, [])
        history = uow.assignments.recent(found.worker, campaign.id, HISTORY)
        appeal = uow.appeals.by_assignment(assignment_id)
        figures = WorkerFigures(found.worker)
        figures.gold_correct, figures.gold_answered = uow.assignments.gold_record(
            found.worker, campaign.id
        )
    others = [o for o in others if o["worker"] != found.worker]
    return AnswerContext(campaign, found, task, others, list(reversed(history)), appeal, figures)
