"""Claims, task suites, answers and their verdicts: request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from earnest.api.schemas.common import Body
from earnest.domain.work import (
    MAX_LEASES_PER_WORKER,
    Assignment,
)
from earnest.services.answers import SubmitResult


class ClaimIn(Body):
    campaign_id: str | None = Field(None, max_length=32)


class AssignmentOut(BaseModel):
    id: str
    task_id: int
    campaign_id: str
    status: str
    leased_at: datetime
    expires_at: datetime
    answer: Any = None
    submitted_at: datetime | None = None
    reason: str | None = None
    evidence: dict[str, Any] | None = None
    review_due: datetime | None = None
    reward: int = 0

    @classmethod
    def of(cls, a: Assignment) -> AssignmentOut:
        return cls(
            id=a.id,
            task_id=a.task_id,
            campaign_id=a.campaign_id,
            status=a.status.value,
            leased_at=a.leased_at,
            expires_at=a.expires_at,
            answer=a.answer,
            submitted_at=a.submitted_at,
            reason=a.reason,
            evidence=a.evidence,
            review_due=a.review_due,
            reward=a.reward,
        )


class ClaimOut(BaseModel):
    assignment: AssignmentOut
    task: dict[str, Any]
    title: str
    instructions: str
    output_schema: dict[str, Any]
    reward: int
    terms: dict[str, Any] = Field(
        default_factory=dict, description="a fetch job's terms: allowlist, max_bytes, price"
    )


class SubmitIn(Body):
    answer: Any


class SuiteIn(Body):
    campaign_id: str | None = Field(None, max_length=32)
    count: int = Field(10, ge=1, le=MAX_LEASES_PER_WORKER, description="leases wanted at most")


class LeaseOut(BaseModel):
    assignment: AssignmentOut
    task: dict[str, Any]


class SuiteOut(BaseModel):
    """A task suite: leases on one campaign's tasks, with the campaign's instructions once."""

    campaign_id: str
    title: str
    instructions: str
    output_schema: dict[str, Any]
    reward: int
    terms: dict[str, Any] = Field(default_factory=dict)
    leases: list[LeaseOut]


class AnswerIn(Body):
    assignment_id: str = Field(max_length=40)
    answer: Any


class AnswersIn(Body):
    answers: list[AnswerIn] = Field(min_length=1, max_length=MAX_LEASES_PER_WORKER)


class AnswerResult(BaseModel):
    """One answer's outcome: its verdict, or the problem that refused it (nothing kept)."""

    assignment_id: str
    decision: str | None = None
    reason: str | None = None
    receipt_id: str | None = None
    assignment: AssignmentOut | None = None
    problem: dict[str, Any] | None = None


class AnswersOut(BaseModel):
    results: list[AnswerResult]


class SubmitOut(BaseModel):
    assignment: AssignmentOut
    decision: str
    reason: str
    receipt_id: str | None

    @classmethod
    def of(cls, r: SubmitResult) -> SubmitOut:
        return cls(
            assignment=AssignmentOut.of(r.assignment),
            decision=r.decision.value,
            reason=r.reason,
            receipt_id=r.receipt_id,
        )
