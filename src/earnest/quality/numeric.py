"""Numeric answers `{"value": number}`: a weighted-median consensus within a tolerance.

The median, not the mean: one worker typing 1e9 for 10 must not move the result, and the
median has the highest possible breakdown point (half the answers may be wild). An answer
agrees when it lies within max(abs_tol, rel_tol × |reference|) of the reference, like
`math.isclose` but measured relative to the consensus, not to the worker's own value.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from earnest.domain.verification import Outcome, VerificationInput
from earnest.quality._verdicts import (
    Consensus,
    Judgement,
    check_field,
    check_n_iter,
    decide,
    field_of,
    finite_number,
    fmt,
    reweighted,
    weighted_median,
    weighted_share,
)


class NumericAnswer(NamedTuple):
    """One worker's number for one task."""

    task: Hashable
    worker: str
    value: float


@dataclass(frozen=True)
class Tolerance:
    """How far from a reference a value may be and still agree with it."""

    abs_tol: float = 0.0
    rel_tol: float = 0.01

    def __post_init__(self) -> None:
        for name, tol in (("abs_tol", self.abs_tol), ("rel_tol", self.rel_tol)):
            if isinstance(tol, bool) or not isinstance(tol, int | float):
                raise ValueError(f"{name} must be a number, not {tol!r}")
            if not math.isfinite(tol) or tol < 0:
                raise ValueError(f"{name} must be finite and non-negative, not {tol!r}")
        # Both zero would demand float equality, which rejects 0.1 + 0.2 against 0.3.
        if self.abs_tol == 0 and self.rel_tol == 0:
            raise ValueError("abs_tol or rel_tol must be positive")

    def around(self, reference: float) -> float:
        """The tolerance around `reference`."""
        return max(self.abs_tol, self.rel_tol * abs(reference))

    def agrees(self, value: float, reference: float) -> bool:
        """Whether `value` is within the tolerance of `reference`."""
        # The slack keeps a value exactly at the tolerance (1.1 vs 1.0 ± 0.1) agreeing
        # despite binary rounding (1.1 - 1.0 = 0.10000000000000009).
        return abs(value - reference) <= self.around(reference) * (1 + 1e-9) + 1e-12


@dataclass(frozen=True)
class MedianResult:
    """A task's weighted median and the weighted share of answers within tolerance of it."""

    value: float
    confidence: float


def median_consensus(
    values: Sequence[float], weights: Sequence[float], tolerance: Tolerance
) -> MedianResult:
    """The weighted median of `values` and how much of the weight agrees with it."""
    median = weighted_median(values, weights)
    within = [tolerance.agrees(v, median) for v in values]
    return MedianResult(median, weighted_share(within, weights))


class RobustMedian:
    """Weighted median per task; workers re-weighted by how often they land within tolerance."""

    labels_: dict[Hashable, float]
    confidences_: dict[Hashable, float]
    skills_: dict[str, float]

    def __init__(self, *, abs_tol: float = 0.0, rel_tol: float = 0.01, n_iter: int = 10) -> None:
        check_n_iter(n_iter)
        self.tolerance = Tolerance(abs_tol, rel_tol)
        self.n_iter = n_iter
        self.labels_, self.confidences_, self.skills_ = {}, {}, {}

    def fit(self, answers: Iterable[NumericAnswer]) -> RobustMedian:
        """Aggregate `answers`; skills are the share of a worker's answers within tolerance."""
        rows = [(a.task, a.worker, finite_number(a.value, "value")) for a in answers]
        tol = self.tolerance
        fitted = reweighted(
            rows,
            lambda values, weights: median_consensus(values, weights, tol),
            lambda value, found: float(tol.agrees(value, found.value)),
            self.n_iter,
        )
        self.labels_ = {task: r.value for task, r in fitted.results.items()}
        self.confidences_ = {task: r.confidence for task, r in fitted.results.items()}
        self.skills_ = fitted.skills
        return self


class NumericVerifier:
    """Gold within tolerance of the known value; other tasks by weighted median."""

    name = "numeric"

    def __init__(
        self, *, field: str = "value", abs_tol: float = 0.0, rel_tol: float = 0.01
    ) -> None:
        check_field(field)
        self.field = field
        self.tolerance = Tolerance(abs_tol, rel_tol)

    def verify(self, given: VerificationInput) -> Outcome:
        """Verdicts on the task's pending answers."""
        return decide(given, self)

    def parse(self, answer: Any) -> float:
        """The number in an answer, or Malformed."""
        return finite_number(field_of(answer, self.field), repr(self.field))

    def compare(self, value: float, reference: float, gold: bool) -> Judgement:
        """Whether `value` is within tolerance of `reference`, and by how much it is off."""
        if self.tolerance.agrees(value, reference):
            return Judgement(True)
        if gold:
            # Distance or absolute tolerance would give the known value away.
            detail = f"your value {fmt(value)} is not within the tolerance of the known answer"
            settings = {"abs_tol": self.tolerance.abs_tol, "rel_tol": self.tolerance.rel_tol}
            return Judgement(False, detail, settings)
        distance, tolerance = abs(value - reference), self.tolerance.around(reference)
        detail = (
            f"your value {fmt(value)} is {fmt(distance)} away from the consensus "
            f"{fmt(reference)}, more than the tolerance {fmt(tolerance)}"
        )
        return Judgement(False, detail, {"distance": distance, "tolerance": tolerance})

    def aggregate(self, values: Sequence[float], weights: Sequence[float]) -> Consensus[float]:
        """The weighted median; confidence is the weighted share within tolerance of it."""
        found = median_consensus(values, weights, self.tolerance)
        return Consensus({self.field: found.value}, found.value, found.confidence)
