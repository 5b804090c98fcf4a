"""Builders shared by the verifier unit tests: a task, submissions, a verification input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from earnest.domain.verification import (
    Decision,
    Outcome,
    Submission,
    Verdict,
    VerificationInput,
    WorkerHistory,
)
from earnest.domain.work import AssignmentStatus, Task, TaskStatus

AT = datetime(2025, 1, 1, tzinfo=UTC)
SUBMITTED = AssignmentStatus.SUBMITTED


def task(
    gold: Any = None,
    status: TaskStatus = TaskStatus.OPEN,
    result: Any = None,
    data: dict[str, Any] | None = None,
) -> Task:
    """Task 1 of campaign cmp_1; a resolved one carries confidence 0.9."""
    return Task(
        id=1,
        campaign_id="cmp_1",
        external_id="t1",
        data=data or {},
        gold=gold,
        status=status,
        result=result,
        confidence=0.9 if result is not None else None,
    )


def submission(n: int, answer: Any, status: AssignmentStatus = SUBMITTED) -> Submission:
    """Worker Wn's answer on assignment an."""
    return Submission(f"a{n}", f"W{n}", answer, status, AT)


def vin(
    subs: list[Submission],
    t: Task | None = None,
    overlap: int = 3,
    history: dict[str, WorkerHistory] | None = None,
    min_overlap: int = 1,
    confidence: float = 0.0,
) -> VerificationInput:
    return VerificationInput(
        t or task(), overlap, tuple(subs), history or {}, min_overlap, confidence
    )


def decisions(outcome: Outcome) -> dict[str, Decision]:
    return {v.assignment_id: v.decision for v in outcome.verdicts}


def verdict(outcome: Outcome, assignment_id: str) -> Verdict:
    return next(v for v in outcome.verdicts if v.assignment_id == assignment_id)
