"""Campaigns, tasks and assignments: the entities of work and their state machines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar

from earnest.domain.bounds import Bound
from earnest.domain.criteria import LANGUAGE, MAX_CODES, REGION, codes
from earnest.domain.errors import AlreadyDone, Conflict, InvalidInput, LeaseExpired
from earnest.domain.money import AMOUNT, POSITIVE_AMOUNT, unit_cost
from earnest.domain.transfer_fee import NO_FEE, TransferFee

MAX_OVERLAP = 15
MAX_LEASE_SECONDS = 7 * 24 * 3600
# Live task leases one party may hold at once over all campaigns, and so the largest task
# suite (one claim, one answer request). Each campaign sets its own cap below this
# (`CampaignSpec.max_leases`): enough to work ahead, too few to hoard its work away from
# everyone else. Microtasks that take seconds each (a label, a rating) go in suites of up
# to 100; work that takes minutes keeps the default.
MAX_LEASES_PER_WORKER = 100
DEFAULT_MAX_LEASES = 20
MAX_REVIEW_LEASES = 20  # live peer-review leases one party may hold at once
MAX_TITLE = 200
MAX_INSTRUCTIONS = 20_000
MAX_NAME = 40  # a campaign's type, its verifier, a reputation skill
# A campaign's peer reviews build the reviewers' reputation in "review:<skill>", so a
# reputation skill may be this much longer than a campaign's (reputation_events.skill).
REVIEW_SKILL_PREFIX = "review:"
MAX_REPUTATION_SKILL = len(REVIEW_SKILL_PREFIX) + MAX_NAME
DAY = 24 * 3600
# Verifiers that only suggest: a qualified peer decides (free text, real-world evidence).
PEER_VERIFIERS = frozenset({"peer_review", "field_evidence"})
BANDWIDTH = "bandwidth"  # the verifier (and template type) of fetch jobs: domain/bandwidth.py


class CampaignStatus(StrEnum):
    DRAFT = "draft"  # created, tasks may be added, not yet offered
    ACTIVE = "active"  # funded at least once: workers can claim
    PAUSED = "paused"  # funded, claims stopped for now; live leases may still be answered
    CLOSED = "closed"  # no more claims; remaining escrow refunded


class TaskStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class AssignmentStatus(StrEnum):
    LEASED = "leased"
    SUBMITTED = "submitted"  # waiting for more answers
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"


# The transitions an assignment may take; anything else is a bug or an attack.
ASSIGNMENT_TRANSITIONS: dict[AssignmentStatus, frozenset[AssignmentStatus]] = {
    AssignmentStatus.LEASED: frozenset({AssignmentStatus.SUBMITTED, AssignmentStatus.EXPIRED}),
    AssignmentStatus.SUBMITTED: frozenset({AssignmentStatus.ACCEPTED, AssignmentStatus.REJECTED}),
    AssignmentStatus.ACCEPTED: frozenset(),
    # Only an appeal that overturns the rejection takes this edge.
    AssignmentStatus.REJECTED: frozenset({AssignmentStatus.ACCEPTED}),
    AssignmentStatus.EXPIRED: frozenset(),
}

# Statuses that hold one of a task's `overlap` slots.
SLOT_HOLDING = (
    AssignmentStatus.LEASED,
    AssignmentStatus.SUBMITTED,
    AssignmentStatus.ACCEPTED,
    AssignmentStatus.REJECTED,
)


# The moves a campaign may make: funding opens a draft, the requester pauses and resumes,
# closing ends any campaign that is not closed yet.
CAMPAIGN_TRANSITIONS: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.DRAFT: frozenset({CampaignStatus.ACTIVE, CampaignStatus.CLOSED}),
    CampaignStatus.ACTIVE: frozenset({CampaignStatus.PAUSED, CampaignStatus.CLOSED}),
    CampaignStatus.PAUSED: frozenset({CampaignStatus.ACTIVE, CampaignStatus.CLOSED}),
    CampaignStatus.CLOSED: frozenset(),
}
_CAMPAIGN_WHY = {
    (CampaignStatus.DRAFT, CampaignStatus.PAUSED): "a draft is not offered yet; fund it first",
    (CampaignStatus.ACTIVE, CampaignStatus.ACTIVE): "the campaign is not paused",
    (CampaignStatus.DRAFT, CampaignStatus.DRAFT): "the campaign is not paused",
    (CampaignStatus.PAUSED, CampaignStatus.PAUSED): "the campaign is already paused",
}


def check_campaign_transition(current: CampaignStatus, new: CampaignStatus) -> None:
    """Raise Conflict, saying why, unless a campaign may move from `current` to `new`."""
    if new in CAMPAIGN_TRANSITIONS[current]:
        return
    why = _CAMPAIGN_WHY.get((current, new), f"the campaign is {current.value}")
    raise Conflict(f"{why}; it cannot become {new.value}")


def check_transition(current: AssignmentStatus, new: AssignmentStatus) -> None:
    """Raise Conflict unless an assignment may move from `current` to `new`."""
    if new not in ASSIGNMENT_TRANSITIONS[current]:
        raise Conflict(f"assignment is {current.value}; it cannot become {new.value}")


class ReviewMode(StrEnum):
    AUTO = "auto"  # the verifier decides at once
    REQUESTER = "requester"  # the requester reviews; silence past the window means accept
    PEER = "peer"  # a qualified, paid reviewer accepts or rejects (free text); same window


class AppealMode(StrEnum):
    REQUESTER = "requester"  # the requester decides appeals
    PANEL = "panel"  # three qualified reviewers drawn at random decide by majority


class Routing(StrEnum):
    IN_ORDER = "in_order"  # tasks in upload order
    UNCERTAIN_FIRST = "uncertain_first"  # the tasks the model and the crowd are least sure of


@dataclass(frozen=True)
class QualityPolicy:
    """How a campaign judges answers and protects workers (all optional, safe defaults).

    `confidence` > 0 turns on dynamic overlap: a task stops being offered once its result
    reaches that confidence with at least `min_overlap` answers (the spec's `overlap` is
    then the maximum). Gates: `min_reputation` (the worker's conservative score in `skill`)
    and `qualification_tasks` control tasks answered with `qualification_accuracy` first.
    Rules (`min_seconds`, `max_gold_failure`, `max_disagreement`) limit a worker for
    `limit_seconds` when they fire. Peer review (`review: "peer"`) pays each review
    `review_reward`; a reviewer first passes `reviewer_tasks` gold reviews with
    `qualification_accuracy`, then needs `reviewer_reputation` in `review:<skill>`.
    """

    confidence: float = 0.0
    min_overlap: int = 1
    skill: str = ""
    min_reputation: float = 0.0
    qualification_tasks: int = 0
    qualification_accuracy: float = 0.8
    review: ReviewMode = ReviewMode.AUTO
    review_seconds: int = 3 * 24 * 3600
    review_reward: int = 0
    reviewer_tasks: int = 3
    reviewer_reputation: float = 0.0
    appeals: AppealMode = AppealMode.REQUESTER
    allow_agents: bool = True
    routing: Routing = Routing.IN_ORDER
    min_seconds: float = 0.0
    max_gold_failure: float = 0.5
    max_disagreement: float = 0.6
    limit_seconds: int = 3600
    predictor: str = ""  # a model that pre-answers each uploaded task (quality.predictors)
    predictor_options: dict[str, Any] = field(default_factory=dict)
    # Control tasks a worker answers first for practice: they count for nothing.
    practice_tasks: int = 0
    # Who may work: any of these languages (ISO 639-1, as the worker declares them), from
    # one of these regions (ISO 3166-1 alpha-2). Empty = anyone.
    languages: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    # Only the workers on the requester's allow list (a blocked worker is never given any).
    allowlist_only: bool = False

    BOUNDS: ClassVar[Mapping[str, Bound]] = MappingProxyType(
        {
            "confidence": Bound(0.0, 0.9999),
            "min_overlap": Bound(1, MAX_OVERLAP),
            "skill": Bound(max_length=MAX_NAME),
            "min_reputation": Bound(0.0, 1.0),
            "qualification_tasks": Bound(0, 100),
            "qualification_accuracy": Bound(0.0, 1.0),
            "review_seconds": Bound(60, 90 * DAY),
            "review_reward": AMOUNT,
            "reviewer_tasks": Bound(1, 100),
            "reviewer_reputation": Bound(0.0, 1.0),
            "min_seconds": Bound(0.0, 3600.0),
            "max_gold_failure": Bound(0.0, 1.0),
            "max_disagreement": Bound(0.0, 1.0),
            "limit_seconds": Bound(60, 30 * DAY),
            "predictor": Bound(max_length=60),
            "practice_tasks": Bound(0, 50),
            "languages": Bound(max_length=MAX_CODES),
            "regions": Bound(max_length=MAX_CODES),
        }
    )

    def __post_init__(self) -> None:
        check_bounds(self, self.BOUNDS)
        object.__setattr__(self, "languages", codes(self.languages, "languages", LANGUAGE))
        object.__setattr__(self, "regions", codes(self.regions, "regions", REGION))
        if not isinstance(self.predictor_options, dict):
            raise InvalidInput("predictor_options must be an object")
        for name, kind in (("review", ReviewMode), ("appeals", AppealMode), ("routing", Routing)):
            value = getattr(self, name)
            if value not in set(kind):
                known = ", ".join(k.value for k in kind)
                raise InvalidInput(f"{name} must be one of: {known}")
            object.__setattr__(self, name, kind(value))

    def as_dict(self) -> dict[str, Any]:
        """The policy as plain JSON values (for storage and the API)."""
        return {k: _plain(v) for k, v in self.__dict__.items()}

    def refusal_for(self, languages: Sequence[str], region: str) -> str | None:
        """Why a worker who declared `languages` and `region` may not work here, or None."""
        if self.languages and not set(self.languages) & set(languages):
            return "this campaign asks for a worker who speaks " + " or ".join(self.languages)
        if self.regions and region not in self.regions:
            return "this campaign asks for a worker in " + ", ".join(self.regions)
        return None


def _plain(value: object) -> object:
    if isinstance(value, StrEnum):
        return value.value
    return list(value) if isinstance(value, tuple) else value


def check_bounds(entity: object, bounds: Mapping[str, Bound]) -> None:
    """Check each bounded field of a dataclass against its Bound, in the table's order."""
    for name, bound in bounds.items():
        bound.check(name, getattr(entity, name))


@dataclass(frozen=True)
class CampaignSpec:
    """What a requester asks for when creating a campaign (validated here)."""

    type: str
    title: str
    instructions: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    reward: int
    overlap: int = 3
    gold_share: float = 0.1
    lease_seconds: int = 600
    deadline: datetime | None = None
    verifier: str = "majority"
    # The most of this campaign's tasks one worker may hold at once: the largest suite.
    max_leases: int = DEFAULT_MAX_LEASES
    quality: QualityPolicy = field(default_factory=QualityPolicy)
    # What a kind of labor needs beyond the common fields (bandwidth: price per KB,
    # allowlist, bytes per fetch), as plain JSON; checked by that kind's service.
    terms: dict[str, Any] = field(default_factory=dict)

    BOUNDS: ClassVar[Mapping[str, Bound]] = MappingProxyType(
        {
            "type": Bound(min_length=1, max_length=MAX_NAME),
            "title": Bound(min_length=1, max_length=MAX_TITLE),
            "instructions": Bound(max_length=MAX_INSTRUCTIONS),
            "reward": POSITIVE_AMOUNT,
            "overlap": Bound(1, MAX_OVERLAP),
            "gold_share": Bound(0.0, 1.0),
            "lease_seconds": Bound(10, MAX_LEASE_SECONDS),
            "verifier": Bound(max_length=MAX_NAME),
            "max_leases": Bound(1, MAX_LEASES_PER_WORKER),
        }
    )

    @property
    def skill(self) -> str:
        """The reputation skill this campaign's work builds: declared, else its type."""
        return self.quality.skill or self.type

    def __post_init__(self) -> None:
        check_bounds(self, self.BOUNDS)
        if not self.title.strip():
            raise InvalidInput("title must not be empty")
        if self.quality.min_overlap > self.overlap:
            raise InvalidInput("quality.min_overlap must not exceed overlap")
        if self.peer_reviewed:
            self._check_peer_review()
        elif self.verifier in PEER_VERIFIERS:
            raise InvalidInput(f'the {self.verifier} verifier needs quality.review = "peer"')

    @property
    def peer_reviewed(self) -> bool:
        return self.quality.review is ReviewMode.PEER

    @property
    def is_bandwidth(self) -> bool:
        """Fetch jobs for bandwidth nodes, returned as a body with a signed metering record."""
        return self.verifier == BANDWIDTH

    def _check_peer_review(self) -> None:
        if self.quality.review_reward <= 0:
            raise InvalidInput("peer review pays its reviewers: set quality.review_reward > 0")
        if self.quality.qualification_tasks or self.quality.confidence:
            # Gold tasks of a peer-reviewed campaign are gold *reviews* (see peer_review).
            raise InvalidInput(
                "a peer-reviewed campaign qualifies its reviewers on gold reviews; "
                "quality.qualification_tasks and quality.confidence must be 0"
            )


@dataclass(frozen=True)
class Campaign:
    id: str
    requester: str
    spec: CampaignSpec
    fee_bps: int
    status: CampaignStatus
    created_at: datetime
    # The mint's transfer fee as the campaign was created (the higher of its current and
    # scheduled ones): each accepted unit's escrow pays what sending its reward whole costs.
    transfer_fee: TransferFee = NO_FEE

    @property
    def unit_cost(self) -> int:
        """What escrow reserves per answer: its reward, and its review when peer-reviewed."""
        cost = unit_cost(self.spec.reward, self.fee_bps, self.transfer_fee)
        if self.spec.peer_reviewed:
            cost += unit_cost(self.spec.quality.review_reward, self.fee_bps, self.transfer_fee)
        return cost

    def is_open_for_work(self, now: datetime) -> bool:
        """Whether workers may claim from this campaign at `now`."""
        if self.status is not CampaignStatus.ACTIVE:
            return False
        return self.spec.deadline is None or now < self.spec.deadline


@dataclass(frozen=True)
class Prediction:
    """A model's answer to a task and how sure the model says it is."""

    answer: Any
    confidence: float
    model: str = "model"


@dataclass(frozen=True)
class Task:
    id: int
    campaign_id: str
    external_id: str | None
    data: dict[str, Any]
    gold: Any | None  # the hidden control answer; never shown to a worker
    status: TaskStatus
    result: Any | None = None
    confidence: float | None = None
    prediction: Prediction | None = None  # a model's answer, one more voter

    @property
    def is_gold(self) -> bool:
        return self.gold is not None


@dataclass(frozen=True)
class Assignment:
    id: str
    task_id: int
    campaign_id: str
    worker: str
    status: AssignmentStatus
    leased_at: datetime
    expires_at: datetime
    answer: Any | None = None
    submitted_at: datetime | None = None
    reason: str | None = None
    reward: int = 0
    evidence: dict[str, Any] | None = None
    review_due: datetime | None = None  # requester review: accepted automatically after this

    def check_can_submit(self, now: datetime) -> None:
        """Raise unless this lease may take an answer at `now`."""
        if self.status is not AssignmentStatus.LEASED:
            if self.status is AssignmentStatus.EXPIRED:
                raise LeaseExpired("the lease on this task expired; claim another task")
            raise AlreadyDone(f"this assignment was already {self.status.value}")
        if now >= self.expires_at:
            raise LeaseExpired(
                f"the lease expired at {self.expires_at.isoformat()}; claim another task"
            )
