"""Reviews, peer reviews, appeals and a worker's quality: request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from earnest.api.schemas.common import Body
from earnest.api.schemas.work import AssignmentOut
from earnest.services.ports import AppealRecord, PeerReview


class ReviewIn(Body):
    accept: bool
    reason: str = Field("", max_length=4000, description="required (10+ characters) to reject")


class PeerReviewOut(BaseModel):
    id: str
    campaign_id: str
    status: str
    leased_at: datetime
    expires_at: datetime
    accept: bool | None
    reason: str | None
    correct: bool | None = Field(description="set once done, for a control (gold) review only")
    reward: int
    decided_at: datetime | None

    @classmethod
    def of(cls, r: PeerReview) -> PeerReviewOut:
        return cls(
            id=r.id,
            campaign_id=r.campaign_id,
            status=r.status,
            leased_at=r.leased_at,
            expires_at=r.expires_at,
            accept=r.accept,
            reason=r.reason,
            correct=r.correct if r.status == "done" else None,
            reward=r.reward,
            decided_at=r.decided_at,
        )


class PeerReviewItemOut(BaseModel):
    """An answer to review, blind to who gave it (a control review looks the same)."""

    review: PeerReviewOut
    title: str
    instructions: str
    task: dict[str, Any]
    answer: Any
    review_reward: int


class AppealIn(Body):
    reason: str = Field(min_length=10, max_length=4000)


class AppealDecisionIn(Body):
    overturn: bool
    reason: str = Field(min_length=10, max_length=4000)


class AppealVote(BaseModel):
    reviewer: str
    overturn: bool | None
    reason: str | None


class AppealOut(BaseModel):
    id: str
    assignment_id: str
    worker: str
    campaign_id: str
    mode: str
    reason: str
    status: str
    decision_reason: str | None
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None
    votes: list[AppealVote]

    @classmethod
    def of(cls, r: AppealRecord, viewer: str) -> AppealOut:
        # Panelists see each other's votes only once the appeal is decided.
        show = r.status != "open" or viewer in (r.worker, r.requester)
        return cls(
            id=r.id,
            assignment_id=r.assignment_id,
            worker=r.worker,
            campaign_id=r.campaign_id,
            mode=r.mode,
            reason=r.reason,
            status=r.status,
            decision_reason=r.decision_reason,
            decided_by=r.decided_by,
            created_at=r.created_at,
            decided_at=r.decided_at,
            votes=[
                AppealVote(
                    reviewer=v,
                    overturn=o if show or v == viewer else None,
                    reason=why if show or v == viewer else None,
                )
                for v, o, why in r.votes
            ],
        )


class AppealCaseOut(BaseModel):
    appeal: AppealOut
    assignment: AssignmentOut


class QualityOut(BaseModel):
    address: str
    skills: dict[str, Any]
    limits: list[dict[str, Any]]
