"""The quality ports: confusions, reputation, limits, appeals, peer reviews, facts and the
sandbox that measures them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from earnest.services.ports.base import Unit


@dataclass(frozen=True)
class ReputationRow:
    """One stored piece of reputation evidence (see quality.reputation)."""

    id: str
    worker: str
    skill: str
    kind: str  # gold | consensus | review | appeal
    good: bool
    requester: str
    campaign_id: str
    assignment_id: str | None
    reason: str
    at: datetime
    reversed: bool = False


@dataclass(frozen=True)
class LimitRecord:
    """A rule fired: the worker may not claim in the campaign until `until`."""

    id: str
    worker: str
    campaign_id: str
    rule: str
    reason: str
    evidence: dict[str, Any]
    created_at: datetime
    until: datetime


@dataclass(frozen=True)
class AppealRecord:
    id: str
    assignment_id: str
    worker: str
    campaign_id: str
    requester: str
    mode: str  # requester | panel
    reason: str
    status: str  # open | upheld | overturned
    decision_reason: str | None
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None
    votes: tuple[tuple[str, bool | None, str | None], ...] = ()  # (panelist, overturn, reason)


@dataclass(frozen=True)
class PeerReview:
    """A reviewer's lease on one answer (or on a gold review, `assignment_id` None)."""

    id: str
    campaign_id: str
    task_id: int
    assignment_id: str | None
    reviewer: str
    status: str  # leased | done | expired
    leased_at: datetime
    expires_at: datetime
    accept: bool | None = None
    reason: str | None = None
    correct: bool | None = None
    reward: int = 0
    decided_at: datetime | None = None

    @property
    def is_gold(self) -> bool:
        return self.assignment_id is None


class ConfusionsRepo(Protocol):
    def get(self, campaign_id: str, voters: Iterable[str]) -> dict[str, list[list[float]]]: ...
    def put(
        self,
        campaign_id: str,
        counts: dict[str, list[list[float]]],
        now: datetime,
        *,
        if_free: Iterable[str] = (),
    ) -> None: ...
    def training_data(
        self, campaign_id: str
    ) -> Iterator[tuple[int, str, Any, Any | None, Any | None]]: ...


class ReputationsRepo(Protocol):
    def add(self, row: ReputationRow) -> None: ...
    def of_worker(
        self, worker: str, skill: str | None = None, limit: int = 500
    ) -> list[ReputationRow]: ...
    def tallies(
        self, workers: Iterable[str], skill: str
    ) -> dict[str, list[tuple[str, str, bool, int]]]: ...
    def experienced(self, skill: str, min_events: int, limit: int) -> list[str]: ...
    def reverse(self, assignment_id: str) -> int: ...


class LimitsRepo(Protocol):
    def add(self, record: LimitRecord) -> None: ...
    def active(self, worker: str, campaign_id: str | None, now: datetime) -> list[LimitRecord]: ...
    def of_worker(self, worker: str, limit: int = 100) -> list[LimitRecord]: ...
    def of_campaign(self, campaign_id: str) -> list[LimitRecord]: ...


class AppealsRepo(Protocol):
    def add(self, record: AppealRecord, panel: list[str]) -> None: ...
    def get(self, appeal_id: str, *, lock: bool = False) -> AppealRecord | None: ...
    def by_assignment(self, assignment_id: str) -> AppealRecord | None: ...
    def listed(
        self,
        *,
        worker: str | None = None,
        requester: str | None = None,
        panelist: str | None = None,
    ) -> list[AppealRecord]: ...
    def vote(
        self, appeal_id: str, reviewer: str, overturn: bool, reason: str, now: datetime
    ) -> bool: ...
    def decide(
        self, appeal_id: str, status: str, reason: str, decided_by: str, now: datetime
    ) -> bool: ...


class PeerReviewsRepo(Protocol):
    def add(self, review: PeerReview) -> None: ...
    def get(self, review_id: str, *, lock: bool = False) -> PeerReview | None: ...
    def expire_due(self, campaign_id: str, now: datetime) -> int: ...
    def live_count(self, reviewer: str, now: datetime) -> int: ...
    def next_answer(self, campaign_id: str, reviewer: str) -> tuple[str, int, Any] | None: ...
    def next_gold(self, campaign_id: str, reviewer: str, at: float) -> int | None: ...
    def gold_record(self, reviewer: str, campaign_id: str) -> tuple[int, int]: ...
    def paid_count(self, campaign_id: str) -> int: ...
    def finish(
        self,
        review_id: str,
        accept: bool,
        reason: str,
        correct: bool | None,
        reward: int,
        now: datetime,
    ) -> bool: ...
    def of_reviewer(self, reviewer: str, limit: int = 100) -> list[PeerReview]: ...


class FactsRepo(Protocol):
    def add(
        self,
        assignment_id: str,
        task_id: int,
        campaign_id: str,
        body: dict[str, Any],
        now: datetime,
    ) -> None: ...
    def of_task(self, task_id: int) -> dict[str, dict[str, Any]]: ...
    def unmeasured(self, verifiers: Iterable[str], limit: int) -> list[tuple[str, int, str]]: ...


@dataclass(frozen=True)
class SandboxJob:
    """A bug bounty answer to run: the test file (and a fix's patch) at a repository commit."""

    repo: str
    commit: str
    test_path: str
    test: str
    patch: str | None = None
    fixed_commit: str | None = None  # a commit known to fix the bug: the test must pass there


class Sandbox(Protocol):
    """Runs untrusted tests confined (namespaces, nobody, limits); returns the facts."""

    def available(self) -> str | None: ...
    def repo_problem(self, repo: str) -> str | None: ...
    def measure(self, job: SandboxJob) -> dict[str, Any]: ...


class QualityUnit(Unit, Protocol):
    @property
    def confusions(self) -> ConfusionsRepo: ...
    @property
    def reputations(self) -> ReputationsRepo: ...
    @property
    def limits(self) -> LimitsRepo: ...
    @property
    def appeals(self) -> AppealsRepo: ...
    @property
    def peer_reviews(self) -> PeerReviewsRepo: ...
    @property
    def facts(self) -> FactsRepo: ...
