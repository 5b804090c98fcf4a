"""The verifier port: a pure function from a task and its answers to verdicts.

Given the same task, submissions and worker history, a verifier gives the same verdicts,
so anyone can re-run it. Every labor kind plugs in behind this one interface.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from earnest.domain.work import AssignmentStatus, Task


class Decision(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    WAIT = "wait"


@dataclass(frozen=True)
class Submission:
    assignment_id: str
    worker: str
    answer: Any
    status: AssignmentStatus  # SUBMITTED = still to decide; ACCEPTED/REJECTED = decided
    submitted_at: datetime


@dataclass(frozen=True)
class WorkerHistory:
    """What the market knows of a worker's past quality (grows with the quality engine)."""

    gold_correct: int = 0
    gold_total: int = 0

    @property
    def gold_accuracy(self) -> float:
        """Posterior mean accuracy under a Beta(2, 1) prior: new workers start trusted-ish."""
        return (self.gold_correct + 2) / (self.gold_total + 3)


@dataclass(frozen=True)
class VerificationInput:
    task: Task
    overlap: int
    submissions: tuple[Submission, ...]
    history: Mapping[str, WorkerHistory] = field(default_factory=dict)

    def pending(self) -> tuple[Submission, ...]:
        return tuple(s for s in self.submissions if s.status is AssignmentStatus.SUBMITTED)


@dataclass(frozen=True)
class Verdict:
    assignment_id: str
    decision: Decision
    reason: str


@dataclass(frozen=True)
class Outcome:
    """Per-submission verdicts, and the task's result once it is resolved."""

    verdicts: tuple[Verdict, ...]
    resolved: bool = False
    result: Any | None = None
    confidence: float | None = None


class Verifier(Protocol):
    """Decides on the pending submissions of one task."""

    name: str

    def verify(self, given: VerificationInput) -> Outcome: ...


def canonical_json(value: Any) -> str:
    """The one text form of a JSON value used for hashing and comparing answers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def answer_hash(value: Any) -> str:
    """sha256 hex of an answer's canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()
