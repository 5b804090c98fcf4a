"""In-memory quality repositories: confusions, reputation, limits, appeals, peer reviews and
facts.

They keep the SQL repositories' rules (an appeal per assignment and a vote per panelist,
decided once; a review lease finished only while leased; a reversed event no longer counts;
a fact per assignment), not their statements or locks. Some read the work area's rows, as
the SQL joins them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from earnest.domain.work import AssignmentStatus
from earnest.services.ports import AppealRecord, LimitRecord, PeerReview, ReputationRow
from tests.fakes.people import _unique
from tests.fakes.work import WorkRows


@dataclass
class QualityRows:
    """Everything the quality area stores (one copy per unit of work, see FakeStore)."""

    confusions: dict[tuple[str, str], list[list[float]]] = field(default_factory=dict)
    reputations: list[ReputationRow] = field(default_factory=list)
    limits: list[LimitRecord] = field(default_factory=list)
    appeals: dict[str, AppealRecord] = field(default_factory=dict)  # votes kept in `panels`
    # appeal → panelist → (overturn, reason), None until they vote
    panels: dict[str, dict[str, tuple[bool | None, str | None]]] = field(default_factory=dict)
    peer_reviews: dict[str, PeerReview] = field(default_factory=dict)
    facts: dict[str, tuple[int, str, dict[str, Any], datetime]] = field(default_factory=dict)


_ANSWERED = (AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED, AssignmentStatus.REJECTED)


class FakeConfusions:
    def __init__(self, rows: QualityRows, work: WorkRows) -> None:
        self.rows, self.work = rows, work

    def get(self, campaign_id: str, voters: Iterable[str]) -> dict[str, list[list[float]]]:
        found = ((v, self.rows.confusions.get((campaign_id, v))) for v in set(voters) | {"*"})
        return {v: [list(r) for r in counts] for v, counts in found if counts is not None}

    def put(
        self,
        campaign_id: str,
        counts: dict[str, list[list[float]]],
        now: datetime,
        *,
        if_free: Iterable[str] = (),
    ) -> None:
        """One thread at a time: a row is never held by another transaction."""
        for voter, matrix in counts.items():
            self.rows.confusions[(campaign_id, voter)] = [list(r) for r in matrix]

    def training_data(
        self, campaign_id: str
    ) -> Iterator[tuple[int, str, Any, Any | None, Any | None]]:
        answered = [
            a
            for a in self.work.assignments.values()
            if a.campaign_id == campaign_id and a.status in _ANSWERED
        ]
        for a in sorted(answered, key=lambda a: (a.task_id, a.id)):
            task = self.work.tasks[a.task_id].task
            p = task.prediction
            stored = (
                {"answer": p.answer, "confidence": p.confidence, "model": p.model} if p else None
            )
            yield a.task_id, a.worker, a.answer, task.gold, stored


class FakeReputations:
    def __init__(self, rows: QualityRows) -> None:
        self.rows = rows

    def add(self, row: ReputationRow) -> None:
        _unique({r.id: r for r in self.rows.reputations}, row.id)
        self.rows.reputations.append(row)

    def of_worker(
        self, worker: str, skill: str | None = None, limit: int = 500
    ) -> list[ReputationRow]:
        mine = [
            r
            for r in self.rows.reputations
            if r.worker == worker and (skill is None or r.skill == skill)
        ]
        return sorted(mine, key=lambda r: r.at, reverse=True)[:limit]

    def tallies(
        self, workers: Iterable[str], skill: str
    ) -> dict[str, list[tuple[str, str, bool, int]]]:
        wanted = set(workers)
        counted: dict[str, dict[tuple[str, str, bool], int]] = {}
        for r in self._counting(skill):
            if r.worker in wanted:
                per = counted.setdefault(r.worker, {})
                key = (r.kind, r.requester, r.good)
                per[key] = per.get(key, 0) + 1
        return {w: [(*k, n) for k, n in per.items()] for w, per in sorted(counted.items())}

    def experienced(self, skill: str, min_events: int, limit: int) -> list[str]:
        events: dict[str, int] = {}
        for r in self._counting(skill):
            events[r.worker] = events.get(r.worker, 0) + 1
        return sorted(w for w, n in events.items() if n >= min_events)[:limit]

    def reverse(self, assignment_id: str) -> int:
        """Stop counting the bad events of an assignment; how many rows matched."""
        done = 0
        for i, r in enumerate(self.rows.reputations):
            if r.assignment_id == assignment_id and not r.good:
                self.rows.reputations[i] = replace(r, reversed=True)
                done += 1
        return done

    def _counting(self, skill: str) -> Iterator[ReputationRow]:
        return (r for r in self.rows.reputations if r.skill == skill and not r.reversed)


class FakeLimits:
    def __init__(self, rows: QualityRows) -> None:
        self.rows = rows

    def add(self, record: LimitRecord) -> None:
        _unique({r.id: r for r in self.rows.limits}, record.id)
        self.rows.limits.append(record)

    def active(self, worker: str, campaign_id: str | None, now: datetime) -> list[LimitRecord]:
        held = [
            r
            for r in self.rows.limits
            if r.worker == worker
            and r.until > now
            and (campaign_id is None or r.campaign_id == campaign_id)
        ]
        return sorted(held, key=lambda r: r.until, reverse=True)

    def of_worker(self, worker: str, limit: int = 100) -> list[LimitRecord]:
        mine = [r for r in self.rows.limits if r.worker == worker]
        return sorted(mine, key=lambda r: r.created_at, reverse=True)[:limit]

    def of_campaign(self, campaign_id: str) -> list[LimitRecord]:
        return sorted(
            (r for r in self.rows.limits if r.campaign_id == campaign_id),
            key=lambda r: r.created_at,
        )


class FakeAppeals:
    def __init__(self, rows: QualityRows) -> None:
        self.rows = rows

    def add(self, record: AppealRecord, panel: list[str]) -> None:
        _unique(self.rows.appeals, record.id)
        by_assignment = {a.assignment_id: a for a in self.rows.appeals.values()}
        _unique(by_assignment, record.assignment_id)  # a unique column
        self.rows.appeals[record.id] = replace(record, votes=())
        self.rows.panels[record.id] = {r: (None, None) for r in panel}

    def get(self, appeal_id: str, *, lock: bool = False) -> AppealRecord | None:
        found = self.rows.appeals.get(appeal_id)
        return self._with_votes(found) if found else None

    def by_assignment(self, assignment_id: str) -> AppealRecord | None:
        found = [a for a in self.rows.appeals.values() if a.assignment_id == assignment_id]
        return self._with_votes(found[0]) if found else None

    def listed(
        self,
        *,
        worker: str | None = None,
        requester: str | None = None,
        panelist: str | None = None,
    ) -> list[AppealRecord]:
        found = [
            a
            for a in self.rows.appeals.values()
            if (worker is None or a.worker == worker)
            and (requester is None or a.requester == requester)
            and (panelist is None or panelist in self.rows.panels[a.id])
        ]
        latest = sorted(found, key=lambda a: a.created_at, reverse=True)[:200]
        return [self._with_votes(a) for a in latest]

    def vote(
        self, appeal_id: str, reviewer: str, overturn: bool, reason: str, now: datetime
    ) -> bool:
        panel = self.rows.panels.get(appeal_id, {})
        if reviewer not in panel or panel[reviewer][0] is not None:
            return False
        panel[reviewer] = (overturn, reason)
        return True

    def decide(
        self, appeal_id: str, status: str, reason: str, decided_by: str, now: datetime
    ) -> bool:
        found = self.rows.appeals.get(appeal_id)
        if found is None or found.status != "open":
            return False
        self.rows.appeals[appeal_id] = replace(
            found, status=status, decision_reason=reason, decided_by=decided_by, decided_at=now
        )
        return True

    def open_in(self, campaign_id: str) -> int:
        """Open appeals of a campaign (the escrow reserves a unit for each)."""
        return sum(
            a.campaign_id == campaign_id and a.status == "open" for a in self.rows.appeals.values()
        )

    def _with_votes(self, a: AppealRecord) -> AppealRecord:
        panel = self.rows.panels.get(a.id, {})
        return replace(a, votes=tuple((r, *panel[r]) for r in sorted(panel)))


class FakePeerReviews:
    def __init__(self, rows: QualityRows, work: WorkRows) -> None:
        self.rows, self.work = rows, work

    def add(self, review: PeerReview) -> None:
        _unique(self.rows.peer_reviews, review.id)
        if review.assignment_id is not None:  # NULLs are distinct in a unique constraint
            _unique({_key(r): r for r in self.rows.peer_reviews.values()}, _key(review))
        self.rows.peer_reviews[review.id] = review

    def get(self, review_id: str, *, lock: bool = False) -> PeerReview | None:
        return self.rows.peer_reviews.get(review_id)

    def expire_due(self, campaign_id: str, now: datetime) -> int:
        due = [
            r
            for r in self.rows.peer_reviews.values()
            if r.campaign_id == campaign_id and r.status == "leased" and r.expires_at <= now
        ]
        for r in due:
            self.rows.peer_reviews[r.id] = replace(r, status="expired")
        return len(due)

    def live_count(self, reviewer: str, now: datetime) -> int:
        return sum(
            r.reviewer == reviewer and r.status == "leased" and r.expires_at > now
            for r in self.rows.peer_reviews.values()
        )

    def next_answer(self, campaign_id: str, reviewer: str) -> tuple[str, int, Any] | None:
        reviews = list(self.rows.peer_reviews.values())
        taken = {r.assignment_id for r in reviews if r.status in ("leased", "done")}
        seen = {r.assignment_id for r in reviews if r.reviewer == reviewer}
        answered = {a.task_id for a in self.work.assignments.values() if a.worker == reviewer}
        held = [
            a
            for a in self.work.assignments.values()
            if a.campaign_id == campaign_id
            and a.status is AssignmentStatus.SUBMITTED
            and a.review_due is not None
            and a.worker != reviewer
            and a.id not in taken | seen
            and a.task_id not in answered
        ]
        if not held:
            return None
        first = min(held, key=lambda a: (a.review_due or a.leased_at, a.id))
        return first.id, first.task_id, first.answer

    def next_gold(self, campaign_id: str, reviewer: str, at: float) -> int | None:
        seen = {r.task_id for r in self.rows.peer_reviews.values() if r.reviewer == reviewer}
        unseen = sorted(
            task_id
            for task_id, t in self.work.tasks.items()
            if t.task.campaign_id == campaign_id and t.is_gold and task_id not in seen
        )
        if not unseen:
            return None
        return unseen[min(int(at * len(unseen)), len(unseen) - 1)]

    def gold_record(self, reviewer: str, campaign_id: str) -> tuple[int, int]:
        done = [
            r
            for r in self.rows.peer_reviews.values()
            if r.reviewer == reviewer
            and r.campaign_id == campaign_id
            and r.is_gold
            and r.status == "done"
        ]
        return sum(bool(r.correct) for r in done), len(done)

    def paid_count(self, campaign_id: str) -> int:
        return sum(
            r.campaign_id == campaign_id and r.status == "done" and r.reward > 0
            for r in self.rows.peer_reviews.values()
        )

    def finish(
        self,
        review_id: str,
        accept: bool,
        reason: str,
        correct: bool | None,
        reward: int,
        now: datetime,
    ) -> bool:
        found = self.rows.peer_reviews.get(review_id)
        if found is None or found.status != "leased":
            return False
        self.rows.peer_reviews[review_id] = replace(
            found,
            status="done",
            accept=accept,
            reason=reason,
            correct=correct,
            reward=reward,
            decided_at=now,
        )
        return True

    def of_reviewer(self, reviewer: str, limit: int = 100) -> list[PeerReview]:
        mine = [r for r in self.rows.peer_reviews.values() if r.reviewer == reviewer]
        mine.sort(key=lambda r: r.id)
        return sorted(mine, key=lambda r: r.leased_at, reverse=True)[:limit]

    def gold_under_way(self, campaign_id: str) -> int:
        """Gold reviews leased in a campaign (the escrow reserves a unit for each)."""
        return sum(
            r.campaign_id == campaign_id and r.status == "leased" and r.is_gold
            for r in self.rows.peer_reviews.values()
        )


def _key(r: PeerReview) -> str:
    """uq_peer_review: one review of an answer per reviewer."""
    return f"{r.task_id}:{r.reviewer}:{r.assignment_id}"


class FakeFacts:
    def __init__(self, rows: QualityRows, work: WorkRows) -> None:
        self.rows, self.work = rows, work

    def add(
        self,
        assignment_id: str,
        task_id: int,
        campaign_id: str,
        body: dict[str, Any],
        now: datetime,
    ) -> None:
        _unique(self.rows.facts, assignment_id)
        self.rows.facts[assignment_id] = (task_id, campaign_id, dict(body), now)

    def of_task(self, task_id: int) -> dict[str, dict[str, Any]]:
        return {a: f[2] for a, f in self.rows.facts.items() if f[0] == task_id}

    def unmeasured(self, verifiers: Iterable[str], limit: int) -> list[tuple[str, int, str]]:
        kinds = set(verifiers)
        waiting = [
            a
            for a in self.work.assignments.values()
            if a.status is AssignmentStatus.SUBMITTED
            and a.id not in self.rows.facts
            and self.work.campaigns[a.campaign_id].spec.verifier in kinds
        ]
        waiting.sort(key=lambda a: (a.submitted_at or a.leased_at, a.id))
        return [(a.id, a.task_id, a.campaign_id) for a in waiting[:limit]]
