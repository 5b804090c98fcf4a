"""What the tolerance-based verifiers share: who votes, when a task resolves, how verdicts read.

Each kind (numeric, boxes, pairwise, multi-label, ratings) supplies three pure functions —
read an answer, compare it with a reference, aggregate weighted answers — and `decide` turns
them into verdicts with the market's common rules:

* a gold task is decided at once against its known answer, with the kind's own tolerance;
  the reason and evidence never state the known answer (workers see reasons, and a leaked
  control answer is a worthless control), only how far off the worker was;
* a task that already resolved accepts late answers (the lease was valid, the work was done);
* otherwise the task waits for `min_overlap` answers, resolves early once the consensus is
  confident enough (dynamic overlap) or at `overlap` answers, and then rejects only answers
  that disagree with a clear consensus (a strict majority by count and by weight). Without
  one nobody is rejected: an ambiguous task is not the workers' fault.

An answer the kind cannot read (say a box with x_min > x_max) is rejected whenever it is
seen, and it never votes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from earnest.domain.verification import (
    Decision,
    Outcome,
    Submission,
    Verdict,
    VerificationInput,
    WorkerHistory,
)
from earnest.domain.work import AssignmentStatus, TaskStatus

T = TypeVar("T")
R = TypeVar("R")

COUNTED = (AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED, AssignmentStatus.REJECTED)

# A floor on voter weights, so that a worker with zero reputation still counts a little and
# a task whose voters all have zero weight still has a defined consensus.
MIN_WEIGHT = 1e-3

# Shares are ratios of float sums; a share meant to be exactly 1/2 may come out 1e-16 off.
SHARE_EPS = 1e-12


# A ValueError, so that an estimator fed a bad value raises what callers expect.
class Malformed(ValueError):
    """An answer the verifier cannot read; the message says what is wrong with it."""


@dataclass(frozen=True)
class Judgement:
    """How one answer compares with a reference (the consensus or the known answer)."""

    agrees: bool
    detail: str = ""  # for a rejection: what differs, e.g. "your value 12 is 2 away from …"
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Consensus(Generic[T]):
    """The aggregate of a task's answers: its JSON result, its parsed form, its confidence."""

    result: Any
    reference: T
    confidence: float


class Kind(Protocol[T]):
    """The three pure functions a kind of answer supplies to `decide`."""

    def parse(self, answer: Any) -> T: ...

    def compare(self, value: T, reference: T, gold: bool) -> Judgement: ...

    def aggregate(self, values: Sequence[T], weights: Sequence[float]) -> Consensus[T]: ...


def voter_weight(history: Mapping[str, WorkerHistory], worker: str) -> float:
    """A worker's vote weight: its reputation if the market has one, else its gold accuracy."""
    known = history.get(worker, WorkerHistory())
    weight = known.reputation if known.reputation is not None else known.gold_accuracy
    return max(weight, MIN_WEIGHT) if math.isfinite(weight) else MIN_WEIGHT


def weighted_share(flags: Sequence[bool], weights: Sequence[float]) -> float:
    """The share of the total weight carried by the flagged entries (math.fsum: order-free)."""
    total = math.fsum(weights)
    if total <= 0:
        return 0.0
    return min(1.0, math.fsum(w for f, w in zip(flags, weights, strict=True) if f) / total)


def weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """The weighted median; the midpoint of the middle pair when the weight splits evenly."""
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    if v.size == 0 or v.shape != w.shape:
        raise ValueError("weighted_median needs as many weights as values, at least one")
    # Sorting by (value, weight) fixes the summation order, so the result does not depend
    # on the order the answers came in.
    order = np.lexsort((w, v))
    v, cum = v[order], np.cumsum(w[order])
    half, tol = cum[-1] / 2, cum[-1] * 1e-9
    lower = int(np.argmax(cum >= half - tol))
    if abs(cum[lower] - half) <= tol and lower + 1 < v.size:
        return float((v[lower] + v[lower + 1]) / 2)
    return float(v[lower])


def decide(given: VerificationInput, kind: Kind[T]) -> Outcome:
    """Verdicts on a task's pending answers under the market's common rules (module docstring)."""
    if given.task.gold is not None:
        return _gold(given, kind)
    if given.task.status is TaskStatus.RESOLVED:
        return _late(given, kind)
    return _consensus(given, kind)


def _read(kind: Kind[T], answer: Any) -> T | Malformed:
    try:
        return kind.parse(answer)
    except Malformed as problem:
        return problem


def _malformed(s: Submission, problem: Malformed) -> Verdict:
    reason = f"your answer could not be read: {problem}"
    return Verdict(
        s.assignment_id, Decision.REJECT, reason, {"yours": s.answer, "problem": str(problem)}
    )


def _gold(given: VerificationInput, kind: Kind[T]) -> Outcome:
    gold = _read(kind, given.task.gold)
    if isinstance(gold, Malformed):
        raise ValueError(f"the known answer of task {given.task.id} is malformed: {gold}")
    verdicts = []
    for s in given.pending():
        value = _read(kind, s.answer)
        if isinstance(value, Malformed):
            verdicts.append(_malformed(s, value))
            continue
        judged = kind.compare(value, gold, True)
        if judged.agrees:
            verdicts.append(Verdict(s.assignment_id, Decision.ACCEPT, "matches the known answer"))
        else:
            reason = f"this was a control task with a known answer, and {judged.detail}"
            evidence = {"yours": s.answer, "control_task": True, **judged.evidence}
            verdicts.append(Verdict(s.assignment_id, Decision.REJECT, reason, evidence))
    answered = sum(1 for s in given.submissions if s.status in COUNTED)
    return Outcome(tuple(verdicts), answered >= given.overlap, given.task.gold, 1.0)


def _late(given: VerificationInput, kind: Kind[T]) -> Outcome:
    reason = "the task had already resolved when this answer arrived; accepted and paid"
    verdicts = []
    for s in given.pending():
        value = _read(kind, s.answer)
        if isinstance(value, Malformed):
            verdicts.append(_malformed(s, value))
        else:
            evidence = {"late": True, "result": given.task.result}
            verdicts.append(Verdict(s.assignment_id, Decision.ACCEPT, reason, evidence))
    return Outcome(tuple(verdicts), True, given.task.result, given.task.confidence)


def _consensus(given: VerificationInput, kind: Kind[T]) -> Outcome:
    counted = [s for s in given.submissions if s.status in COUNTED]
    voters, rejected = _voters(counted, kind)
    full = len(counted) >= given.overlap
    if not voters:
        return Outcome(tuple(rejected), full, None, 0.0 if full else None)
    values = [v for _, v in voters]
    weights = [voter_weight(given.history, s.worker) for s, _ in voters]
    agreed = kind.aggregate(values, weights)
    early = (
        given.confidence > 0
        and len(voters) >= given.min_overlap
        and agreed.confidence >= given.confidence
    )
    if not (full or early):
        waiting = "waiting for other workers' answers"
        pending = [s for s, _ in voters if _is_pending(s)]
        return Outcome(
            (*rejected, *(Verdict(s.assignment_id, Decision.WAIT, waiting) for s in pending))
        )
    judged = [kind.compare(v, agreed.reference, False) for v in values]
    flags = [j.agrees for j in judged]
    tally = _Tally(len(voters), sum(flags), weighted_share(flags, weights))
    verdicts = [
        _verdict(s, j, agreed, tally)
        for (s, _), j in zip(voters, judged, strict=True)
        if _is_pending(s)
    ]
    return Outcome((*rejected, *verdicts), True, agreed.result, round(agreed.confidence, 6))


def _voters(
    counted: list[Submission], kind: Kind[T]
) -> tuple[list[tuple[Submission, T]], list[Verdict]]:
    """The answers that can be read, and rejections for the pending ones that cannot."""
    voters: list[tuple[Submission, T]] = []
    rejected: list[Verdict] = []
    for s in counted:
        value = _read(kind, s.answer)
        if not isinstance(value, Malformed):
            voters.append((s, value))
        elif _is_pending(s):
            rejected.append(_malformed(s, value))
    return voters, rejected


def _is_pending(s: Submission) -> bool:
    return s.status is AssignmentStatus.SUBMITTED


@dataclass(frozen=True)
class _Tally:
    answers: int
    agreeing: int
    share: float

    @property
    def clear(self) -> bool:
        """A strict majority by count and by weight: one trusted voter cannot outvote many."""
        return 2 * self.agreeing > self.answers and self.share > 0.5 + SHARE_EPS


def _verdict(s: Submission, judged: Judgement, agreed: Consensus[T], tally: _Tally) -> Verdict:
    of = f"{tally.agreeing} of {tally.answers} answers"
    if judged.agrees:
        return Verdict(s.assignment_id, Decision.ACCEPT, f"agrees with the consensus ({of} agree)")
    if not tally.clear:
        reason = f"no clear consensus ({of} agree with the result); accepted in good faith"
        return Verdict(s.assignment_id, Decision.ACCEPT, reason)
    evidence = {
        "yours": s.answer,
        "consensus": agreed.result,
        **judged.evidence,
        "answers": tally.answers,
        "agreeing": tally.agreeing,
        "agreeing_share": round(tally.share, 6),
    }
    reason = f"{judged.detail} ({of} agree with the consensus)"
    return Verdict(s.assignment_id, Decision.REJECT, reason, evidence)


@dataclass(frozen=True)
class Reweighted(Generic[R]):
    """What `reweighted` found: per-task aggregates, worker skills, and the weights used."""

    results: dict[Hashable, R]
    skills: dict[str, float]
    weights: dict[str, float]


def reweighted(
    rows: Iterable[tuple[Hashable, str, T]],
    aggregate: Callable[[Sequence[T], Sequence[float]], R],
    agreement: Callable[[T, R], float],
    n_iter: int,
) -> Reweighted[R]:
    """Aggregate per task, score workers by agreement, re-weight by skill, repeat.

    This is Wawa (worker agreement with aggregate, as in crowd-kit) run to a fixed point:
    the first round weighs everyone equally, each next round weighs a worker by the mean
    agreement of its answers with the previous round's results.
    """
    groups: dict[Hashable, list[tuple[str, T]]] = defaultdict(list)
    for task, worker, value in rows:
        groups[task].append((worker, value))
    weights = {worker: 1.0 for answers in groups.values() for worker, _ in answers}
    results: dict[Hashable, R] = {}
    skills: dict[str, float] = {}
    for _ in range(n_iter):
        results = {
            task: aggregate([v for _, v in answers], [weights[w] for w, _ in answers])
            for task, answers in groups.items()
        }
        scores: dict[str, list[float]] = defaultdict(list)
        for task, answers in groups.items():
            for worker, value in answers:
                scores[worker].append(agreement(value, results[task]))
        skills = {w: min(1.0, max(0.0, math.fsum(s) / len(s))) for w, s in scores.items()}
        following = {w: max(skill, MIN_WEIGHT) for w, skill in skills.items()}
        if following == weights:
            break
        weights = following
    return Reweighted(results, skills, weights)


def check_n_iter(n_iter: int) -> None:
    """Raise ValueError unless `n_iter` is a positive int."""
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive integer, not {n_iter!r}")


def check_threshold(threshold: float) -> None:
    """Raise ValueError unless 0 < threshold <= 1."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ValueError(f"threshold must be a number, not {threshold!r}")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], not {threshold!r}")


def check_field(name: str) -> None:
    """Raise ValueError unless `name` is a usable answer field name."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"the answer field must be a non-empty string, not {name!r}")


def field_of(answer: Any, name: str) -> Any:
    """The `name` field of a JSON answer object, or Malformed."""
    if not isinstance(answer, Mapping) or name not in answer:
        raise Malformed(f"expected an object with a {name!r} field")
    return answer[name]


def finite_number(raw: Any, what: str) -> float:
    """`raw` as a float if it is a finite JSON number (not a bool), else Malformed."""
    try:
        value = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    except OverflowError:  # an int beyond the float range, e.g. 10**400
        value = None
    if value is None or not math.isfinite(value):
        raise Malformed(f"{what} must be a finite number, not {raw!r}")
    return value


def fmt(x: float) -> str:
    """A number as a person would write it in a reason."""
    return f"{x:.6g}"
