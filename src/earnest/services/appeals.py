"""Worker protections: requester review with automatic acceptance, and appeals.

A rejected worker may appeal once, within APPEAL_WINDOW. The campaign says who decides:
the requester, or a panel of three qualified reviewers drawn at random (the majority of
three decides). An overturned rejection is paid from the campaign's escrow (the unit
stays reserved while the appeal is open) and its reputation evidence stops counting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from earnest.domain import escrow, ledger
from earnest.domain.errors import Conflict, Forbidden, InsufficientFunds, InvalidInput, NotFound
from earnest.domain.money import unit_cost
from earnest.domain.verification import Decision, Submission, Verdict
from earnest.domain.work import AppealMode, Assignment, AssignmentStatus, Campaign, ReviewMode
from earnest.quality.reputation import EvidenceKind
from earnest.services.accept import record_verdict
from earnest.services.chain_port import Crypto
from earnest.services.common import new_id
from earnest.services.decisions import after_peer_decision, decide_held
from earnest.services.identity import Principal
from earnest.services.ports import AppealRecord, Clock, Random, Store, UnitOfWork
from earnest.services.reputation import record_evidence, scores

APPEAL_WINDOW = timedelta(days=30)
PANEL_SIZE = 3
PANEL_MIN_EVENTS = 5  # a reviewer needs this much history in the skill to sit on a panel
PANEL_MIN_SCORE = 0.6  # ... and this conservative reputation
PANEL_CANDIDATES = 500
AUTO_ACCEPT_BATCH = 200


@dataclass(frozen=True)
class ReviewSubmission:
    """The requester accepts, or rejects with a reason, an answer held for their review."""

    who: Principal
    assignment_id: str
    accept: bool
    reason: str


@dataclass(frozen=True)
class FileAppeal:
    """The worker appeals the rejection of their answer `assignment_id`."""

    who: Principal
    assignment_id: str
    reason: str


@dataclass(frozen=True)
class DecideAppeal:
    """The requester overturns (pays) or upholds an appealed rejection."""

    who: Principal
    appeal_id: str
    overturn: bool
    reason: str


@dataclass(frozen=True)
class VoteAppeal:
    """A panelist's vote on an appeal decided by a panel."""

    who: Principal
    appeal_id: str
    overturn: bool
    reason: str


def review_submission(
    cmd: ReviewSubmission, *, store: Store, crypto: Crypto, clock: Clock, rand: Random
) -> Assignment:
    """The requester accepts or rejects (with a reason) an answer held for review."""
    who, assignment_id, accept, reason = cmd.who, cmd.assignment_id, cmd.accept, cmd.reason
    who.require("campaigns:write")
    reason = reason.strip()
    if not accept and len(reason) < 10:
        raise InvalidInput("a rejection needs a reason the worker can act on (10+ characters)")
    now = clock.now()
    with store.uow() as uow:
        assignment, campaign = _held(uow, assignment_id, who.address)
        verdict = Verdict(
            assignment_id,
            Decision.ACCEPT if accept else Decision.REJECT,
            reason or "accepted by the requester",
            {"reviewed_by": "requester"} | dict(assignment.evidence or {}),
        )
        decide_held(uow, campaign, assignment, verdict, crypto, now, rand)
        record_evidence(
            uow,
            campaign,
            assignment_id,
            assignment.worker,
            EvidenceKind.REVIEW,
            accept,
            verdict.reason,
            now,
            rand,
        )
        uow.commit()
    return _reloaded(store, assignment_id)


def _held(uow: UnitOfWork, assignment_id: str, requester: str) -> tuple[Assignment, Campaign]:
    assignment = uow.assignments.get(assignment_id, lock=True)
    campaign = uow.campaigns.get(assignment.campaign_id) if assignment else None
    if assignment is None or campaign is None or campaign.requester != requester:
        raise NotFound(f"no assignment {assignment_id!r}")
    if campaign.spec.quality.review is not ReviewMode.REQUESTER:
        raise Conflict("this campaign's answers are decided by its verifier, not reviewed")
    if assignment.status is not AssignmentStatus.SUBMITTED or assignment.review_due is None:
        raise Conflict(f"this assignment is {assignment.status.value}, not awaiting review")
    return assignment, campaign


def auto_accept_due(*, store: Store, crypto: Crypto, clock: Clock, rand: Random) -> int:
    """Accept answers whose review window closed unreviewed; returns how many."""
    now = clock.now()
    accepted = 0
    with store.uow() as uow:
        due = uow.assignments.awaiting_review(None, AUTO_ACCEPT_BATCH, due_before=now)
        for listed in due:
            a = uow.assignments.get(listed.id, lock=True)  # a review may be deciding it now
            campaign = uow.campaigns.get(listed.campaign_id)
            if a is None or a.status is not AssignmentStatus.SUBMITTED or campaign is None:
                continue
            who = (
                "no peer reviewer reviewed"
                if campaign.spec.peer_reviewed
                else "the requester did not review"
            )
            reason = (
                f"accepted automatically: {who} it within the "
                f"campaign's review window ({campaign.spec.quality.review_seconds} s)"
            )
            verdict = Verdict(a.id, Decision.ACCEPT, reason, {"review_due": _iso(a.review_due)})
            decide_held(uow, campaign, a, verdict, crypto, now, rand)
            if campaign.spec.peer_reviewed:
                after_peer_decision(uow, campaign, a.task_id, True, now)
            accepted += 1
        uow.commit()
    return accepted


def awaiting_review(who: Principal, campaign_id: str, *, store: Store) -> list[Assignment]:
    """Answers of the requester's campaign held for review, oldest first."""
    who.require("campaigns:read")
    with store.uow(readonly=True) as uow:
        campaign = uow.campaigns.get(campaign_id)
        if campaign is None or campaign.requester != who.address:
            raise NotFound(f"no campaign {campaign_id!r}")
        return uow.assignments.awaiting_review(campaign_id, 500)


def file_appeal(cmd: FileAppeal, *, store: Store, clock: Clock, rand: Random) -> AppealRecord:
    """Appeal a rejection; a panel is drawn at once when the campaign uses one."""
    who, assignment_id, reason = cmd.who, cmd.assignment_id, cmd.reason
    who.require("work")
    reason = reason.strip()
    if len(reason) < 10:
        raise InvalidInput("say why the rejection is wrong (10+ characters)")
    now = clock.now()
    with store.uow() as uow:
        a = uow.assignments.get(assignment_id, lock=True)
        campaign = uow.campaigns.get(a.campaign_id) if a else None
        if a is None or campaign is None or a.worker != who.address:
            raise NotFound(f"no assignment {assignment_id!r}")
        if a.status is not AssignmentStatus.REJECTED:
            raise Conflict(f"only a rejection can be appealed; this one is {a.status.value}")
        if uow.appeals.by_assignment(assignment_id) is not None:
            raise Conflict("this rejection was already appealed")
        if a.submitted_at is not None and now - a.submitted_at > APPEAL_WINDOW:
            raise Conflict(f"appeals close {APPEAL_WINDOW.days} days after the answer")
        mode, panel = _appeal_route(uow, campaign, a, rand)
        record = AppealRecord(
            new_id("apl", rand),
            a.id,
            a.worker,
            campaign.id,
            campaign.requester,
            mode.value,
            reason[:4000],
            "open",
            None,
            None,
            now,
            None,
        )
        uow.appeals.add(record, panel)
        uow.commit()
    return _appeal(store, record.id)


def _appeal_route(
    uow: UnitOfWork, campaign: Campaign, a: Assignment, rand: Random
) -> tuple[AppealMode, list[str]]:
    """The panel, drawn at random among qualified reviewers; the requester if too few."""
    if campaign.spec.quality.appeals is not AppealMode.PANEL:
        return AppealMode.REQUESTER, []
    skill = campaign.spec.skill
    pool = [
        w
        for w in uow.reputations.experienced(skill, PANEL_MIN_EVENTS, PANEL_CANDIDATES)
        if w not in (a.worker, campaign.requester)
    ]
    rep = scores(uow, pool, skill)
    qualified = [w for w in pool if rep[w].lower_bound >= PANEL_MIN_SCORE]
    if len(qualified) < PANEL_SIZE:
        return AppealMode.REQUESTER, []  # documented fallback: too few qualified reviewers
    # Draw without replacement: exactly PANEL_SIZE draws, whatever the random source gives
    # (redrawing on a repeat never ends when it keeps giving the same value).
    panel: list[str] = []
    while len(panel) < PANEL_SIZE:
        panel.append(qualified.pop(min(int(rand.random() * len(qualified)), len(qualified) - 1)))
    return AppealMode.PANEL, sorted(panel)


def decide_appeal(
    cmd: DecideAppeal, *, store: Store, crypto: Crypto, clock: Clock, rand: Random
) -> AppealRecord:
    """The requester decides an appeal addressed to them."""
    who, appeal_id, overturn, reason = cmd.who, cmd.appeal_id, cmd.overturn, cmd.reason
    who.require("campaigns:write")
    now = clock.now()
    with store.uow() as uow:
        appeal = uow.appeals.get(appeal_id, lock=True)
        if appeal is None or appeal.requester != who.address:
            raise NotFound(f"no appeal {appeal_id!r}")
        if appeal.mode != AppealMode.REQUESTER.value:
            raise Forbidden("this appeal is decided by a panel of reviewers")
        _settle(uow, appeal, overturn, _decision_reason(reason), "requester", crypto, now, rand)
        uow.commit()
    return _appeal(store, appeal_id)


def vote_appeal(
    cmd: VoteAppeal, *, store: Store, crypto: Crypto, clock: Clock, rand: Random
) -> AppealRecord:
    """A panelist votes; the second matching vote decides (majority of three)."""
    who, appeal_id, overturn, reason = cmd.who, cmd.appeal_id, cmd.overturn, cmd.reason
    who.require("work")
    now = clock.now()
    reason = _decision_reason(reason)
    with store.uow() as uow:
        appeal = uow.appeals.get(appeal_id, lock=True)
        if appeal is None or who.address not in {v[0] for v in appeal.votes}:
            raise NotFound(f"no appeal {appeal_id!r}")
        if appeal.status != "open":
            raise Conflict(f"this appeal was already decided: {appeal.status}")
        if not uow.appeals.vote(appeal_id, who.address, overturn, reason, now):
            raise Conflict("you already voted on this appeal")
        now_votes = uow.appeals.get(appeal_id)
        votes = [v[1] for v in (now_votes.votes if now_votes else ()) if v[1] is not None]
        for side in (True, False):
            if votes.count(side) * 2 > PANEL_SIZE:
                why = f"{votes.count(side)} of {PANEL_SIZE} panelists voted to " + (
                    "overturn" if side else "uphold"
                )
                _settle(uow, appeal, side, why, "panel", crypto, now, rand)
        uow.commit()
    return _appeal(store, appeal_id)


def _decision_reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) < 10:
        raise InvalidInput("give the worker a reason for the decision (10+ characters)")
    return reason[:4000]


def _settle(
    uow: UnitOfWork,
    appeal: AppealRecord,
    overturn: bool,
    reason: str,
    decided_by: str,
    crypto: Crypto,
    now: datetime,
    rand: Random,
) -> None:
    status = "overturned" if overturn else "upheld"
    if not uow.appeals.decide(appeal.id, status, reason, decided_by, now):
        raise Conflict("this appeal was already decided")
    if overturn:
        _overturn(uow, appeal, reason, crypto, now, rand)


def _overturn(
    uow: UnitOfWork, appeal: AppealRecord, reason: str, crypto: Crypto, now: datetime, rand: Random
) -> None:
    """Pay the unit from escrow, re-sign the verdict, and stop counting the bad evidence."""
    a = uow.assignments.get(appeal.assignment_id, lock=True)
    campaign = uow.campaigns.get(appeal.campaign_id)
    if a is None or campaign is None:
        raise NotFound("the appealed assignment is gone")
    text = f"rejection overturned on appeal: {reason}"
    evidence = dict(a.evidence or {}) | {"appeal": appeal.id, "rejected_for": a.reason}
    # Metered work (bandwidth) is paid what it would have earned, never above the cap.
    metered = evidence.get("metered_reward")
    reward = escrow.capped_reward(None if metered is None else int(metered), campaign.spec.reward)
    if not uow.assignments.decide(
        a.id,
        AssignmentStatus.ACCEPTED,
        text,
        reward,
        now,
        evidence,
        was=AssignmentStatus.REJECTED,
    ):
        raise Conflict("the appealed assignment changed meanwhile")
    uow.reputations.reverse(a.id)
    _cover_from_requester(uow, campaign, appeal, now)
    sub = Submission(a.id, a.worker, a.answer, AssignmentStatus.ACCEPTED, a.submitted_at or now)
    record_verdict(
        uow, campaign, a.task_id, sub, "accept", text, reward, crypto, now, rand, slot="appeal"
    )


def _cover_from_requester(
    uow: UnitOfWork, campaign: Campaign, appeal: AppealRecord, now: datetime
) -> None:
    """Top the escrow up from the requester's balance when it cannot pay this unit and every
    unit it still owes (live leases, answers, other appeals).

    Filing an appeal reserves nothing: the escrow may already be promised to leases granted
    since the rejection, or refunded when the campaign closed. The requester who rejected
    wrongly pays the difference from their balance, or the overturn fails
    (InsufficientFunds) and the appeal stays open until they deposit; a worker's live lease
    never becomes unpayable because of someone else's appeal.
    """
    account = ledger.campaign_escrow(campaign.id)
    short = escrow.shortfall(
        uow.ledger.balance(account),
        uow.assignments.outstanding(campaign.id),  # this one excluded: it was rejected
        campaign.unit_cost,
        unit_cost(campaign.spec.reward, campaign.fee_bps, campaign.transfer_fee),
    )
    if short <= 0:
        return
    source = ledger.requester_available(campaign.requester)
    if uow.ledger.balance(source) < short:
        raise InsufficientFunds(
            f"the campaign's escrow cannot pay this overturned rejection; the requester must "
            f"deposit {short} base units first",
            short=short,
        )
    uow.ledger.post(
        ledger.transfer(f"appeal-cover:{appeal.id}", "fund", source, account, short), now
    )


def my_appeals(who: Principal, role: str, *, store: Store) -> list[AppealRecord]:
    """Appeals I filed (worker), that I decide (requester), or that I sit on (panel)."""
    with store.uow(readonly=True) as uow:
        if role == "worker":
            return uow.appeals.listed(worker=who.address)
        if role == "requester":
            return uow.appeals.listed(requester=who.address)
        if role == "panel":
            return uow.appeals.listed(panelist=who.address)
    raise InvalidInput("role must be one of: worker, requester, panel")


def appeal_case(who: Principal, appeal_id: str, *, store: Store) -> tuple[AppealRecord, Assignment]:
    """An appeal with the work it is about, for the parties to it only."""
    with store.uow(readonly=True) as uow:
        appeal = uow.appeals.get(appeal_id)
        parties = (
            {appeal.worker, appeal.requester} | {v[0] for v in appeal.votes} if appeal else set()
        )
        if appeal is None or who.address not in parties:
            raise NotFound(f"no appeal {appeal_id!r}")
        a = uow.assignments.get(appeal.assignment_id)
    if a is None:
        raise NotFound("the appealed assignment is gone")
    return appeal, a


def _appeal(store: Store, appeal_id: str) -> AppealRecord:
    with store.uow(readonly=True) as uow:
        found = uow.appeals.get(appeal_id)
    if found is None:
        raise NotFound(f"no appeal {appeal_id!r}")
    return found


def _reloaded(store: Store, assignment_id: str) -> Assignment:
    with store.uow(readonly=True) as uow:
        found = uow.assignments.get(assignment_id)
    if found is None:
        raise NotFound(f"no assignment {assignment_id!r}")
    return found


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


__all__ = [
    "auto_accept_due",
    "awaiting_review",
    "decide_appeal",
    "file_appeal",
    "my_appeals",
    "review_submission",
    "vote_appeal",
]
