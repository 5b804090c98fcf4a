"""Quality and protections: my reputation and limits, requester review, appeals."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from earnest.api.deps import Caller, MarketDep
from earnest.api.schemas import (
    AppealCaseOut,
    AppealDecisionIn,
    AppealIn,
    AppealOut,
    AssignmentOut,
    ProfileIn,
    ProfileOut,
    QualityOut,
    ReviewIn,
)
from earnest.domain.criteria import WorkerProfile
from earnest.services.appeals import DecideAppeal, FileAppeal, ReviewSubmission, VoteAppeal
from earnest.services.profiles import SetProfile

router = APIRouter(tags=["quality"])


@router.get("/me/quality", response_model=QualityOut)
def my_quality(who: Caller, m: MarketDep) -> QualityOut:
    """My reputation per skill with the history behind it, and every limit placed on me."""
    return QualityOut(**m.views.quality(who))


@router.get("/me/profile", response_model=ProfileOut)
def my_profile(who: Caller, m: MarketDep) -> ProfileOut:
    """The languages and region I declared, which campaigns' worker criteria read."""
    found = m.identity.profile(who)
    return ProfileOut(languages=list(found.languages), region=found.region)


@router.put("/me/profile", response_model=ProfileOut)
def set_my_profile(body: ProfileIn, who: Caller, m: MarketDep) -> ProfileOut:
    """Declare the languages I speak and the region I live in (replaces what was declared)."""
    declared = WorkerProfile(tuple(body.languages), body.region)
    saved = m.identity.set_profile(SetProfile(who, declared))
    return ProfileOut(languages=list(saved.languages), region=saved.region)


@router.get("/campaigns/{campaign_id}/reviews", response_model=list[AssignmentOut])
def to_review(campaign_id: str, who: Caller, m: MarketDep) -> list[AssignmentOut]:
    """Answers held for my review, oldest first, with the verifier's suggestion."""
    held = m.views.awaiting_review(who, campaign_id)
    return [AssignmentOut.of(a) for a in held]


@router.post("/assignments/{assignment_id}/review", response_model=AssignmentOut)
def review(assignment_id: str, body: ReviewIn, who: Caller, m: MarketDep) -> AssignmentOut:
    """Accept, or reject with a reason, an answer held for my review."""
    done = m.reviews.review(ReviewSubmission(who, assignment_id, body.accept, body.reason))
    return AssignmentOut.of(done)


@router.post("/assignments/{assignment_id}/appeal", response_model=AppealOut, status_code=201)
def appeal(assignment_id: str, body: AppealIn, who: Caller, m: MarketDep) -> AppealOut:
    """Appeal a rejection of my work, once; say why it is wrong."""
    filed = m.reviews.appeal(FileAppeal(who, assignment_id, body.reason))
    return AppealOut.of(filed, who.address)


@router.get("/appeals", response_model=list[AppealOut])
def listed(
    who: Caller,
    m: MarketDep,
    role: Literal["worker", "requester", "panel"] = Query("worker"),
) -> list[AppealOut]:
    """Appeals I filed (worker), that I decide (requester), or that I sit on (panel)."""
    return [AppealOut.of(a, who.address) for a in m.views.appeals(who, role)]


@router.get("/appeals/{appeal_id}", response_model=AppealCaseOut)
def case(appeal_id: str, who: Caller, m: MarketDep) -> AppealCaseOut:
    """An appeal with the work, the rejection's reason and evidence (parties only)."""
    found, assignment = m.views.appeal_case(who, appeal_id)
    return AppealCaseOut(
        appeal=AppealOut.of(found, who.address), assignment=AssignmentOut.of(assignment)
    )


@router.post("/appeals/{appeal_id}/decide", response_model=AppealOut)
def decide(appeal_id: str, body: AppealDecisionIn, who: Caller, m: MarketDep) -> AppealOut:
    """The requester overturns (pays) or upholds a rejection, with a reason."""
    done = m.reviews.decide(DecideAppeal(who, appeal_id, body.overturn, body.reason))
    return AppealOut.of(done, who.address)


@router.post("/appeals/{appeal_id}/vote", response_model=AppealOut)
def vote(appeal_id: str, body: AppealDecisionIn, who: Caller, m: MarketDep) -> AppealOut:
    """A panelist's vote; two matching votes of three decide."""
    done = m.reviews.vote(VoteAppeal(who, appeal_id, body.overturn, body.reason))
    return AppealOut.of(done, who.address)
