"""Peer review of free-text answers: qualified reviewers claim, judge, and are paid."""

from __future__ import annotations

from fastapi import APIRouter

from earnest.api.deps import Caller, MarketDep
from earnest.api.schemas import PeerReviewItemOut, PeerReviewOut, ReviewIn
from earnest.services.peer_review import ClaimReview, SubmitReview

router = APIRouter(tags=["quality"])


@router.post(
    "/campaigns/{campaign_id}/peer-reviews", response_model=PeerReviewItemOut, status_code=201
)
def claim(campaign_id: str, who: Caller, m: MarketDep) -> PeerReviewItemOut:
    """Lease the next answer to review in a peer-reviewed campaign (control reviews first)."""
    item = m.reviews.claim(ClaimReview(who, campaign_id))
    return PeerReviewItemOut(
        review=PeerReviewOut.of(item.review),
        title=item.campaign.spec.title,
        instructions=item.campaign.spec.instructions,
        task=item.task_data,
        answer=item.answer,
        review_reward=item.campaign.spec.quality.review_reward,
    )


@router.post("/peer-reviews/{review_id}", response_model=PeerReviewOut)
def submit(review_id: str, body: ReviewIn, who: Caller, m: MarketDep) -> PeerReviewOut:
    """Accept, or reject with a reason the worker can act on, the answer under review."""
    done = m.reviews.submit(SubmitReview(who, review_id, body.accept, body.reason))
    return PeerReviewOut.of(done)


@router.get("/me/peer-reviews", response_model=list[PeerReviewOut])
def mine(who: Caller, m: MarketDep) -> list[PeerReviewOut]:
    """The reviews I claimed, newest first, with verdicts and pay."""
    return [PeerReviewOut.of(r) for r in m.views.my_reviews(who)]
