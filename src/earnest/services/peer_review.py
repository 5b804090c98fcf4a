"""Peer review: qualified reviewers accept or reject held answers (free text), and are paid.

A campaign with `quality.review = "peer"` holds every answer; its verifier only suggests.
Reviewers claim reviews as workers claim tasks, blind to who answered. A reviewer first
gets `reviewer_tasks` gold reviews: gold tasks whose `gold` is {"answer": ..., "accept":
true|false}, shown exactly like real answers. Passing them with `qualification_accuracy`
qualifies the reviewer; afterwards a gold review comes with probability `gold_share`, and
the reviewer's whole gold record in the campaign must keep that accuracy. Gold reviews also
build the reviewer's reputation in `review:<skill>` (gated by `reviewer_reputation`).

Every review is paid `review_reward` from escrow, except a failed gold review. An accepted
answer is paid; a rejected one carries the reviewer's reason (the worker may appeal) and
frees its slot for another worker. The task resolves once `overlap` answers are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from earnest.domain import escrow, ledger
from earnest.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    LeaseExpired,
    NotFound,
    NoWorkAvailable,
)
from earnest.domain.verification import Decision, Submission, Verdict
from earnest.domain.work import (
    MAX_REVIEW_LEASES,
    REVIEW_SKILL_PREFIX,
    AssignmentStatus,
    Campaign,
    CampaignStatus,
    Task,
)
from earnest.quality.reputation import EvidenceKind
from earnest.services.accept import record_verdict
from earnest.services.chain_port import Crypto
from earnest.services.common import new_id
from earnest.services.decisions import after_peer_decision, decide_held
from earnest.services.identity import Principal
from earnest.services.ports import Clock, PeerReview, Random, Store, UnitOfWork
from earnest.services.reputation import (
    check_may_work,
    check_qualified,
    check_reputation,
    record_evidence,
)


@dataclass(frozen=True)
class ReviewItem:
    """What a reviewer sees: the task, an answer to it, the lease and the pay."""

    review: PeerReview
    campaign: Campaign
    task_data: dict[str, Any]
    answer: Any


def review_skill(campaign: Campaign) -> str:
    """The reputation skill a campaign's reviews build."""
    return f"{REVIEW_SKILL_PREFIX}{campaign.spec.skill}"


@dataclass(frozen=True)
class ClaimReview:
    """Lease the next answer to review (or a gold review) in a peer-reviewed campaign."""

    who: Principal
    campaign_id: str


@dataclass(frozen=True)
class SubmitReview:
    """Accept, or reject with a reason, the answer under the review lease `review_id`."""

    who: Principal
    review_id: str
    accept: bool
    reason: str


def claim_review(cmd: ClaimReview, *, store: Store, clock: Clock, rand: Random) -> ReviewItem:
    """Lease the next answer to review (or a gold review) in a peer-reviewed campaign."""
    who, campaign_id = cmd.who, cmd.campaign_id
    who.require("work")
    now = clock.now()
    with store.uow() as uow:
        campaign = _peer_campaign(uow, campaign_id)
        if campaign.requester == who.address:
            raise Forbidden("a requester does not review answers to their own campaign")
        if campaign.status is not CampaignStatus.ACTIVE:
            raise NoWorkAvailable(f"the campaign is {campaign.status.value}")
        if uow.peer_reviews.live_count(who.address, now) >= MAX_REVIEW_LEASES:
            raise Conflict(
                f"you already hold {MAX_REVIEW_LEASES} review leases; "
                "submit them or let them expire"
            )
        uow.campaigns.lock(campaign.id)  # one claim at a time counts the escrow
        uow.peer_reviews.expire_due(campaign.id, now)
        agent = uow.parties.kind(who.address) == "agent"
        gold_only = _check_reviewer(uow, campaign, who.address, agent, now)
        item = _next_item(uow, campaign, who.address, gold_only, now, rand)
        uow.commit()
    return item


def _peer_campaign(uow: UnitOfWork, campaign_id: str) -> Campaign:
    campaign = uow.campaigns.get(campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id!r}")
    if not campaign.spec.peer_reviewed:
        raise Conflict("this campaign's answers are not peer-reviewed")
    return campaign


def _check_reviewer(
    uow: UnitOfWork, campaign: Campaign, reviewer: str, agent: bool, now: datetime
) -> bool:
    """Raise Forbidden unless the reviewer may review here; True while still qualifying."""
    check_may_work(uow, campaign, reviewer, agent, now)
    q = campaign.spec.quality
    correct, done = uow.peer_reviews.gold_record(reviewer, campaign.id)
    # final: a reviewer is not offered more gold reviews to decide by, so the share decides
    if check_qualified(campaign, correct, done, "reviews", q.reviewer_tasks, final=True):
        return True
    check_reputation(uow, campaign, reviewer, review_skill(campaign), q.reviewer_reputation)
    return False


def _next_item(
    uow: UnitOfWork,
    campaign: Campaign,
    reviewer: str,
    gold_only: bool,
    now: datetime,
    rand: Random,
) -> ReviewItem:
    if gold_only or rand.random() < campaign.spec.gold_share:
        task_id = uow.peer_reviews.next_gold(campaign.id, reviewer, rand.random())
        if task_id is not None and _escrow_covers_gold(uow, campaign):
            task = _task(uow, task_id)
            return _lease(
                uow, campaign, task, None, dict(task.gold or {}).get("answer"), reviewer, now, rand
            )
        if gold_only:
            raise NoWorkAvailable("no control review is available to qualify you right now")
    found = uow.peer_reviews.next_answer(campaign.id, reviewer)
    if found is None:
        raise NoWorkAvailable("no answer is waiting for review right now")
    assignment_id, task_id, answer = found
    return _lease(uow, campaign, _task(uow, task_id), assignment_id, answer, reviewer, now, rand)


def _escrow_covers_gold(uow: UnitOfWork, campaign: Campaign) -> bool:
    """A gold review is paid from escrow on top of every unit the campaign may still owe."""
    return escrow.covers_one_more(
        uow.ledger.balance(ledger.campaign_escrow(campaign.id)),
        uow.assignments.outstanding(campaign.id),
        campaign.unit_cost,
    )


def _lease(
    uow: UnitOfWork,
    campaign: Campaign,
    task: Task,
    assignment_id: str | None,
    answer: Any,
    reviewer: str,
    now: datetime,
    rand: Random,
) -> ReviewItem:
    review = PeerReview(
        new_id("rev", rand),
        campaign.id,
        task.id,
        assignment_id,
        reviewer,
        "leased",
        now,
        now + timedelta(seconds=campaign.spec.lease_seconds),
    )
    uow.peer_reviews.add(review)
    uow.parties.ensure(reviewer, "person", now)
    return ReviewItem(review, campaign, task.data, answer)


def _task(uow: UnitOfWork, task_id: int) -> Task:
    task = uow.tasks.get(task_id)
    if task is None:
        raise NotFound("the task under review is gone")
    return task


def submit_review(
    cmd: SubmitReview, *, store: Store, crypto: Crypto, clock: Clock, rand: Random
) -> PeerReview:
    """Accept, or reject with a reason, the answer under review; the review is paid."""
    who, review_id, accept, reason = cmd.who, cmd.review_id, cmd.accept, cmd.reason
    who.require("work")
    reason = reason.strip()[:4000]
    if not accept and len(reason) < 10:
        raise InvalidInput("a rejection needs a reason the worker can act on (10+ characters)")
    now = clock.now()
    with store.uow() as uow:
        review = _live_review(uow, review_id, who.address, now)
        campaign = _peer_campaign(uow, review.campaign_id)
        task = _task(uow, review.task_id)
        if review.is_gold:
            correct: bool | None = accept is bool(dict(task.gold or {}).get("accept"))
            _record_gold_review(uow, campaign, review, bool(correct), now, rand)
        else:
            correct = None
            _decide_answer(uow, campaign, review, accept, reason, crypto, now, rand)
        reward = campaign.spec.quality.review_reward if correct is not False else 0
        if not uow.peer_reviews.finish(review.id, accept, reason, correct, reward, now):
            raise Conflict("this review changed meanwhile")
        _pay_review(uow, campaign, review, accept, reason, reward, crypto, now, rand)
        uow.commit()
        done = uow.peer_reviews.get(review.id)
    if done is None:
        raise NotFound(f"no review {review_id!r}")
    return done


def _live_review(uow: UnitOfWork, review_id: str, reviewer: str, now: datetime) -> PeerReview:
    review = uow.peer_reviews.get(review_id, lock=True)
    if review is None or review.reviewer != reviewer:
        raise NotFound(f"no review {review_id!r}")
    if review.status == "done":
        raise Conflict("this review was already submitted")
    if review.status == "expired" or now >= review.expires_at:
        raise LeaseExpired("the lease on this review expired; claim another review")
    return review


def _record_gold_review(
    uow: UnitOfWork,
    campaign: Campaign,
    review: PeerReview,
    correct: bool,
    now: datetime,
    rand: Random,
) -> None:
    why = (
        "your verdict matched the known verdict of a control review"
        if correct
        else "this was a control review with a known verdict, and your verdict did not match it"
    )
    skill = review_skill(campaign)
    kind = EvidenceKind.GOLD
    record_evidence(
        uow, campaign, review.id, review.reviewer, kind, correct, why, now, rand, skill=skill
    )


def _decide_answer(
    uow: UnitOfWork,
    campaign: Campaign,
    review: PeerReview,
    accept: bool,
    reason: str,
    crypto: Crypto,
    now: datetime,
    rand: Random,
) -> None:
    """Carry the reviewer's verdict onto the held answer, unless it was decided meanwhile.

    An answer accepted automatically at the end of its review window while the lease ran
    stays accepted; the reviewer, who worked on a valid lease, is still paid.
    """
    a = uow.assignments.get(review.assignment_id or "", lock=True)
    if a is None or a.status is not AssignmentStatus.SUBMITTED:
        return
    text = reason or "accepted by a peer reviewer"
    if not accept:
        text = f"rejected by a peer reviewer: {reason}"
    evidence = dict(a.evidence or {}) | {"reviewed_by": "peer", "review": review.id}
    verdict = Verdict(a.id, Decision.ACCEPT if accept else Decision.REJECT, text, evidence)
    decide_held(uow, campaign, a, verdict, crypto, now, rand)
    kind = EvidenceKind.REVIEW
    record_evidence(uow, campaign, a.id, a.worker, kind, accept, text, now, rand)
    after_peer_decision(uow, campaign, a.task_id, accept, now)


def _pay_review(
    uow: UnitOfWork,
    campaign: Campaign,
    review: PeerReview,
    accept: bool,
    reason: str,
    reward: int,
    crypto: Crypto,
    now: datetime,
    rand: Random,
) -> None:
    """The review's own signed receipt, and its payout when it earned one."""
    verdict = {"accept": accept, "reason": reason}
    sub = Submission(review.id, review.reviewer, verdict, AssignmentStatus.SUBMITTED, now)
    why = "paid review" if reward else "control review failed: not paid"
    decision = "accept" if reward else "reject"
    cap = campaign.spec.quality.review_reward
    record_verdict(
        uow, campaign, review.task_id, sub, decision, why, reward, crypto, now, rand, cap=cap
    )


def my_reviews(who: Principal, *, store: Store, limit: int = 100) -> list[PeerReview]:
    """The reviews I claimed, newest first, with their verdicts and pay."""
    with store.uow(readonly=True) as uow:
        return uow.peer_reviews.of_reviewer(who.address, limit)


__all__ = ["ReviewItem", "claim_review", "my_reviews", "submit_review"]
