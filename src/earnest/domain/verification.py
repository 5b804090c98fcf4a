"""The verifier port: a pure function from a task and its answers to verdicts.

Given the same task, submissions and worker history, a verifier gives the same verdicts,
so anyone can re-run it. Every labor kind plugs in behind this one interface.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
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
    """What the market knows of a worker's past quality when a task is verified.

    `confusion` is the worker's learned confusion counts for the campaign's classes (row =
    true class, column = given class, each cell a soft number of answers, before any
    smoothing), or None while the market has learned none; `reputation` is the posterior mean of the worker's reputation in the
    campaign's skill.
    """

    gold_correct: int = 0
    gold_total: int = 0
    confusion: Sequence[Sequence[float]] | None = None
    reputation: float | None = None

    @property
    def gold_accuracy(self) -> float:
        """Posterior mean accuracy under a Beta(2, 1) prior: new workers start trusted-ish."""
        return (self.gold_correct + 2) / (self.gold_total + 3)


@dataclass(frozen=True)
class VerificationInput:
    """Everything a verifier may look at.

    `overlap` is the most answers a task may take. With `confidence` > 0 the overlap is
    dynamic: a task resolves as soon as it has `min_overlap` answers and its result's
    confidence reaches `confidence`, or when `overlap` answers are in. `class_counts` are
    the campaign's learned number of tasks per class and `classes` its possible answers
    (categorical verifiers), both empty when unknown; `pooled_prior` is the K×K Dirichlet
    pseudo-counts the last re-estimation fitted to the crowd (empty: the fixed prior). A task's model prediction votes under the history
    key `model_voter(prediction.model)`. `facts` holds what the market measured about
    a submission outside the verifier (a sandbox run of a bug reproducer), by assignment id:
    re-running the measurement gives the same facts, so the verdict can still be re-checked.
    `terms` are the campaign's kind-specific terms (bandwidth: the price per KB a verifier
    meters the reward with).
    """

    task: Task
    overlap: int
    submissions: tuple[Submission, ...]
    history: Mapping[str, WorkerHistory] = field(default_factory=dict)
    min_overlap: int = 1
    confidence: float = 0.0
    class_counts: Sequence[float] = ()
    classes: tuple[Any, ...] = ()
    pooled_prior: Sequence[Sequence[float]] = ()
    facts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    terms: Mapping[str, Any] = field(default_factory=dict)

    def pending(self) -> tuple[Submission, ...]:
        return tuple(s for s in self.submissions if s.status is AssignmentStatus.SUBMITTED)


@dataclass(frozen=True)
class Verdict:
    """A decision on one submission. A rejection's `evidence` says what it was based on.

    `reward` is what an accepted answer earns when the verifier meters the work (bandwidth:
    per byte); None pays the campaign's reward. The market never pays more than that.
    """

    assignment_id: str
    decision: Decision
    reason: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    reward: int | None = None


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


def model_voter(model: str) -> str:
    """The voter name under which a model's predictions are learned, like a worker's."""
    return f"model:{model}"


def canonical_json(value: Any) -> str:
    """The one text form of a JSON value used for hashing and comparing answers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_digest(value: Any) -> str:
    """sha256 hex of a JSON value's canonical text (an answer, a receipt's body)."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


answer_hash = json_digest
