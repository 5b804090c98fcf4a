"""Reputation and rule limits: what the market records about a worker, and what it shows them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from earnest.domain.errors import Forbidden
from earnest.domain.verification import Decision, Verdict
from earnest.domain.work import Assignment, AssignmentStatus, Campaign
from earnest.quality.qualification import Standing, standing, wilson_upper
from earnest.quality.reputation import (
    DEFAULT_POLICY,
    EvidenceKind,
    Reputation,
    ReputationEvent,
    explain,
)
from earnest.quality.rules import QualityRules, RecentWork, Rule, evaluate
from earnest.services.common import new_id
from earnest.services.identity import Principal
from earnest.services.ports import LimitRecord, Random, ReputationRow, Store, UnitOfWork

RECENT_WINDOW = 20


def scores(uow: UnitOfWork, workers: Iterable[str], skill: str) -> dict[str, Reputation]:
    """Each worker's reputation in `skill` (the prior for a worker with no history)."""
    policy = DEFAULT_POLICY
    tallies = uow.reputations.tallies(workers, skill)
    out: dict[str, Reputation] = {}
    for worker in set(workers):
        good, events = 0.0, 0
        bad_by_requester: dict[str, float] = defaultdict(float)
        for kind, requester, is_good, n in tallies.get(worker, []):
            events += n
            if is_good:
                good += policy.weight(kind) * n
            else:
                bad_by_requester[requester] += policy.weight(kind) * n
        # The same cap as quality.reputation: one requester's bad weight counts up to a bound.
        bad = sum(min(b, policy.max_bad_per_requester) for b in bad_by_requester.values())
        out[worker] = Reputation(policy.prior_good + good, policy.prior_bad + bad, events)
    return out


def record_evidence(
    uow: UnitOfWork,
    campaign: Campaign,
    assignment_id: str,
    worker: str,
    kind: EvidenceKind,
    good: bool,
    reason: str,
    now: datetime,
    rand: Random,
    *,
    skill: str | None = None,
) -> None:
    """Store one piece of reputation evidence from a decision (in `skill`, else the campaign's)."""
    uow.reputations.add(
        ReputationRow(
            new_id("rep", rand),
            worker,
            skill or campaign.spec.skill,
            kind.value,
            good,
            campaign.requester,
            campaign.id,
            assignment_id,
            reason[:2000],
            now,
        )
    )


def evidence_of(verdict: Verdict, gold: bool) -> tuple[EvidenceKind, bool] | None:
    """What a verdict says about the worker; None when it says nothing.

    An acceptance with evidence was given in good faith (the worker disagreed with an
    unclear result) or late (the task had resolved): neither shows the worker was right.
    """
    if gold:
        return EvidenceKind.GOLD, verdict.decision is Decision.ACCEPT
    if verdict.decision is Decision.REJECT:
        return EvidenceKind.CONSENSUS, False
    if verdict.evidence:
        return None
    return EvidenceKind.CONSENSUS, True


def rules_of(campaign: Campaign) -> QualityRules:
    q = campaign.spec.quality
    return QualityRules(
        min_seconds=q.min_seconds,
        max_gold_failure=q.max_gold_failure,
        max_disagreement=q.max_disagreement,
        limit_seconds=q.limit_seconds,
    )


def apply_rules(
    uow: UnitOfWork, campaign: Campaign, worker: str, now: datetime, rand: Random
) -> list[LimitRecord]:
    """Evaluate the campaign's rules on a worker's recent answers; store new limits.

    Answers given before a rule last paused the worker no longer count for that rule:
    otherwise the same evidence would pause them again at their first answer afterwards.
    While a worker's qualification is undecided, the gold-failure rule waits: four control
    answers are no firmer evidence under that rule than three under the qualification.
    """
    recent = uow.assignments.recent(worker, campaign.id, RECENT_WINDOW)
    last: dict[str, LimitRecord] = {}  # rule → its latest limit in this campaign
    for limit in uow.limits.of_worker(worker):  # newest first
        if limit.campaign_id == campaign.id:
            last.setdefault(limit.rule, limit)
    added = []
    for rule in Rule:
        previous = last.get(rule.value)
        if previous is not None and previous.until > now:
            continue  # still paused by this rule
        if rule is Rule.GOLD_FAILURE and _qualifying(uow, campaign, worker):
            continue  # the qualification, with its confidence bound, decides these answers
        fresh = [
            (a, gold)
            for a, gold in recent
            if previous is None or (a.submitted_at or a.leased_at) > previous.created_at
        ]
        found = next(
            (f for f in evaluate(_work(fresh), rules_of(campaign), now) if f.rule is rule), None
        )
        if found is None:
            continue
        record = LimitRecord(
            new_id("lim", rand),
            worker,
            campaign.id,
            found.rule.value,
            found.reason,
            found.evidence,
            now,
            found.until,
        )
        uow.limits.add(record)
        added.append(record)
    return added


def _qualifying(uow: UnitOfWork, campaign: Campaign, worker: str) -> bool:
    """True while the worker's practice or qualification in the campaign is not over."""
    return qualification_of(uow, campaign, worker)[0] is Standing.QUALIFYING


def qualification_of(
    uow: UnitOfWork, campaign: Campaign, worker: str, *, final: bool = False
) -> tuple[Standing, int, int]:
    """Where the worker stands in the campaign's practice and qualification, with the
    (correct, answered) test answers it was decided on. The first `practice_tasks`
    control answers count for nothing; `final`: no control is left to offer."""
    q = campaign.spec.quality
    practice, test = q.practice_tasks, q.qualification_tasks
    if practice + test == 0:
        return Standing.PASSED, 0, 0
    correct, answered = uow.assignments.gold_record(worker, campaign.id)
    if answered < practice:
        return Standing.QUALIFYING, 0, 0
    if test == 0:
        return Standing.PASSED, 0, 0
    if practice:
        correct, answered = uow.assignments.gold_record(worker, campaign.id, skip=practice)
    accuracy = q.qualification_accuracy
    return standing(correct, answered, test, accuracy, final=final), correct, answered


def _work(recent: list[tuple[Assignment, bool]]) -> RecentWork:
    return RecentWork(
        durations=[_seconds(a) for a, _ in recent if a.submitted_at is not None],
        gold=[a.status is AssignmentStatus.ACCEPTED for a, gold in recent if gold and _decided(a)],
        consensus=[agreed_with_result(a) for a, gold in recent if not gold and _decided(a)],
        assignment_ids=[a.id for a, _ in recent],
    )


def _seconds(a: Assignment) -> float:
    done = a.submitted_at or a.leased_at
    return max((done - a.leased_at).total_seconds(), 0.0)


def _decided(a: Assignment) -> bool:
    return a.status in (AssignmentStatus.ACCEPTED, AssignmentStatus.REJECTED)


def agreed_with_result(a: Assignment) -> bool:
    """An answer agreed unless it was rejected or accepted only in good faith."""
    return a.status is AssignmentStatus.ACCEPTED and "your_answer" not in (a.evidence or {})


def my_quality(who: Principal, *, store: Store, now: datetime) -> dict[str, Any]:
    """A worker's reputation per skill with the history behind it, and their limits."""
    with store.uow(readonly=True) as uow:
        rows = uow.reputations.of_worker(who.address)
        limits = uow.limits.of_worker(who.address)
        score = {s: scores(uow, [who.address], s)[who.address] for s in {r.skill for r in rows}}
    by_skill: dict[str, list[ReputationEvent]] = defaultdict(list)
    for r in rows:
        by_skill[r.skill].append(
            ReputationEvent(
                r.id,
                EvidenceKind(r.kind),
                r.good,
                r.requester,
                r.campaign_id,
                r.at,
                r.reason,
                r.reversed,
            )
        )
    skills = {}
    for skill, events in sorted(by_skill.items()):
        skills[skill] = score[skill].as_dict() | {"history": explain(events)}
    return {
        "address": who.address,
        "skills": skills,
        "limits": [limit_view(limit, now) for limit in limits],
    }


def limit_view(limit: LimitRecord, now: datetime) -> dict[str, Any]:
    """A limit as a worker sees it: which rule fired, on what evidence, until when."""
    return {
        "id": limit.id,
        "campaign_id": limit.campaign_id,
        "rule": limit.rule,
        "reason": limit.reason,
        "evidence": limit.evidence,
        "since": limit.created_at.isoformat(),
        "until": limit.until.isoformat(),
        "active": limit.until > now,
    }


def check_not_paused(uow: UnitOfWork, campaign: Campaign, worker: str, now: datetime) -> None:
    """Raise Forbidden, with the rule and its evidence, while a limit holds the worker."""
    limits = uow.limits.active(worker, campaign.id, now)
    if limits:
        view = limit_view(limits[0], now)
        raise Forbidden(
            f"you are paused in this campaign until {view['until']}: {view['reason']}",
            campaign_id=campaign.id,
            limit=view,
        )


def check_may_work(
    uow: UnitOfWork, campaign: Campaign, worker: str, agent: bool, now: datetime
) -> None:
    """Raise Forbidden for an AI agent where agents are refused, or a paused worker."""
    if agent and not campaign.spec.quality.allow_agents:
        raise Forbidden("this campaign does not accept AI agents", campaign_id=campaign.id)
    check_not_paused(uow, campaign, worker, now)


def check_reputation(
    uow: UnitOfWork, campaign: Campaign, worker: str, skill: str, minimum: float
) -> None:
    """Raise Forbidden, with the score, when the worker's conservative score is too low."""
    if minimum <= 0:
        return
    score = scores(uow, [worker], skill)[worker]
    if score.lower_bound < minimum:
        raise Forbidden(
            f"this campaign asks for a reputation of {minimum} in {skill!r}; yours is "
            f"{score.lower_bound:.3f} (conservative score)",
            campaign_id=campaign.id,
            reputation=score.as_dict(),
        )


def check_qualified(
    campaign: Campaign, correct: int, answered: int, what: str, needed: int, *, final: bool = False
) -> bool:
    """True while the worker still owes control `what` (fewer than `needed`, or below the
    accuracy without the evidence to say so, quality.qualification); raise Forbidden once
    the evidence says they fall below the campaign's qualification accuracy (the counts
    and the bound go with the refusal); False once they passed. `final`: no control is left
    to offer, so the share decides an undecided worker."""
    accuracy = campaign.spec.quality.qualification_accuracy
    found = standing(correct, answered, needed, accuracy, final=final)
    if found is Standing.FAILED:
        upper = wilson_upper(correct, answered)
        raise Forbidden(
            f"you got {correct} of {answered} control {what} right; this campaign asks "
            f"for {accuracy:.0%} (your accuracy is at most {upper:.0%} with 95% confidence)",
            campaign_id=campaign.id,
            qualification={"correct": correct, "answered": answered, "upper_bound": upper},
        )
    return found is Standing.QUALIFYING
