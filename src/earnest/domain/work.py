"""Campaigns, tasks and assignments: the entities of work and their state machines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from earnest.domain.errors import AlreadyDone, Conflict, InvalidInput, LeaseExpired
from earnest.domain.money import parse_amount, unit_cost

MAX_OVERLAP = 15
MAX_LEASE_SECONDS = 7 * 24 * 3600


class CampaignStatus(StrEnum):
    DRAFT = "draft"  # created, tasks may be added, not yet offered
    ACTIVE = "active"  # funded at least once: workers can claim
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
    AssignmentStatus.REJECTED: frozenset(),
    AssignmentStatus.EXPIRED: frozenset(),
}

# Statuses that hold one of a task's `overlap` slots.
SLOT_HOLDING = (
    AssignmentStatus.LEASED,
    AssignmentStatus.SUBMITTED,
    AssignmentStatus.ACCEPTED,
    AssignmentStatus.REJECTED,
)


def check_transition(current: AssignmentStatus, new: AssignmentStatus) -> None:
    """Raise Conflict unless an assignment may move from `current` to `new`."""
    if new not in ASSIGNMENT_TRANSITIONS[current]:
        raise Conflict(f"assignment is {current.value}; it cannot become {new.value}")


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

    def __post_init__(self) -> None:
        parse_amount(self.reward, "reward")
        if self.reward <= 0:
            raise InvalidInput("reward must be positive")
        if not self.title.strip():
            raise InvalidInput("title must not be empty")
        if not 1 <= self.overlap <= MAX_OVERLAP:
            raise InvalidInput(f"overlap must be between 1 and {MAX_OVERLAP}")
        if not 0.0 <= self.gold_share <= 1.0:
            raise InvalidInput("gold_share must be between 0 and 1")
        if not 10 <= self.lease_seconds <= MAX_LEASE_SECONDS:
            raise InvalidInput(f"lease_seconds must be between 10 and {MAX_LEASE_SECONDS}")


@dataclass(frozen=True)
class Campaign:
    id: str
    requester: str
    spec: CampaignSpec
    fee_bps: int
    status: CampaignStatus
    created_at: datetime

    @property
    def unit_cost(self) -> int:
        return unit_cost(self.spec.reward, self.fee_bps)

    def is_open_for_work(self, now: datetime) -> bool:
        """Whether workers may claim from this campaign at `now`."""
        if self.status is not CampaignStatus.ACTIVE:
            return False
        return self.spec.deadline is None or now < self.spec.deadline


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
