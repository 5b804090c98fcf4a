"""Ratings on an ordinal scale `{"rating": int}`: a weighted median within a tolerance.

Some raters are harsh and some generous; across many tasks that shows as a steady offset
from the consensus (rater severity, the one rater parameter of Linacre's many-facet Rasch
model). The estimator learns each worker's offset as its mean residual from the consensus,
shrunk toward 0 as if the worker had also given `shrinkage` ratings right on it (the
posterior mean under a zero-centred prior), so a worker seen twice is not "corrected" by
noise; then it takes the weighted median of the corrected ratings. The per-task verifier
cannot see offsets (they need other tasks), so it uses the raw weighted median; an answer
agrees when it is within `tolerance` steps of it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from earnest.domain.verification import Outcome, VerificationInput
from earnest.quality._verdicts import (
    MIN_WEIGHT,
    Consensus,
    Judgement,
    Malformed,
    check_field,
    check_n_iter,
    decide,
    field_of,
    fmt,
    weighted_median,
    weighted_share,
)


class RatingAnswer(NamedTuple):
    """One worker's rating of one task."""

    task: Hashable
    worker: str
    rating: int


@dataclass(frozen=True)
class Scale:
    """An ordinal scale from `low` to `high` and how many steps off still agree."""

    low: int = 1
    high: int = 5
    tolerance: float = 1

    def __post_init__(self) -> None:
        for name, end in (("scale_min", self.low), ("scale_max", self.high)):
            if isinstance(end, bool) or not isinstance(end, int):
                raise ValueError(f"{name} must be an integer, not {end!r}")
        if self.low >= self.high:
            raise ValueError(f"scale_min ({self.low}) must be below scale_max ({self.high})")
        tol = self.tolerance
        if isinstance(tol, bool) or not isinstance(tol, int | float) or not 0 <= tol < math.inf:
            raise ValueError(f"tolerance must be a finite non-negative number, not {tol!r}")

    def read(self, raw: Any, what: str = "rating") -> float:
        """`raw` as a rating if it is a whole number on the scale, else Malformed."""
        whole = isinstance(raw, int) or (isinstance(raw, float) and raw.is_integer())
        if isinstance(raw, bool) or not whole or not self.low <= raw <= self.high:
            raise Malformed(
                f"{what} must be a whole number from {self.low} to {self.high}, not {raw!r}"
            )
        return float(raw)

    def agrees(self, value: float, reference: float) -> bool:
        """Whether `value` is within `tolerance` steps of `reference`."""
        return abs(value - reference) <= self.tolerance + 1e-9

    def snap(self, value: float) -> int:
        """The scale point nearest `value`; halves go to the even point so they do not drift."""
        return min(self.high, max(self.low, round(value)))


class BiasCorrectedMedian:
    """Per-worker offsets, shrunk toward 0, then a weighted median of corrected ratings."""

    labels_: dict[Hashable, int]
    scores_: dict[Hashable, float]
    confidences_: dict[Hashable, float]
    skills_: dict[str, float]
    biases_: dict[str, float]

    def __init__(
        self,
        *,
        scale_min: int = 1,
        scale_max: int = 5,
        tolerance: float = 1,
        shrinkage: float = 2.0,
        n_iter: int = 20,
    ) -> None:
        self.scale = Scale(scale_min, scale_max, tolerance)
        if isinstance(shrinkage, bool) or not isinstance(shrinkage, int | float):
            raise ValueError(f"shrinkage must be a number, not {shrinkage!r}")
        if not 0 <= shrinkage < math.inf:
            raise ValueError(f"shrinkage must be finite and non-negative, not {shrinkage!r}")
        check_n_iter(n_iter)
        self.shrinkage, self.n_iter = float(shrinkage), n_iter
        self.labels_, self.scores_, self.confidences_ = {}, {}, {}
        self.skills_, self.biases_ = {}, {}

    def fit(self, answers: Iterable[RatingAnswer]) -> BiasCorrectedMedian:
        """Aggregate `answers`: labels_ on the scale, scores_ the unrounded consensus."""
        rows = [(a.task, a.worker, self.scale.read(a.rating)) for a in answers]
        workers = {w for _, w, _ in rows}
        bias = dict.fromkeys(workers, 0.0)
        weights = dict.fromkeys(workers, 1.0)
        for _ in range(self.n_iter):
            medians = self._medians(rows, bias, weights)
            following, skills = self._offsets(rows, medians, bias)
            settled = all(abs(following[w] - bias[w]) < 1e-12 for w in workers)
            new_weights = {w: max(s, MIN_WEIGHT) for w, s in skills.items()}
            if settled and new_weights == weights:
                break
            bias, weights = following, new_weights
        else:
            medians = self._medians(rows, bias, weights)
            _, skills = self._offsets(rows, medians, bias)
        self._keep(rows, medians, bias, weights, skills)
        return self

    def _medians(
        self,
        rows: list[tuple[Hashable, str, float]],
        bias: dict[str, float],
        weights: dict[str, float],
    ) -> dict[Hashable, float]:
        corrected: dict[Hashable, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
        for task, worker, rating in rows:
            corrected[task][0].append(rating - bias[worker])
            corrected[task][1].append(weights[worker])
        return {task: weighted_median(v, w) for task, (v, w) in corrected.items()}

    def _offsets(
        self,
        rows: list[tuple[Hashable, str, float]],
        medians: dict[Hashable, float],
        bias: dict[str, float],
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Each worker's shrunk mean residual, and its share of corrected ratings in tolerance."""
        residuals: dict[str, list[float]] = defaultdict(list)
        hits: dict[str, list[float]] = defaultdict(list)
        for task, worker, rating in rows:
            residuals[worker].append(rating - medians[task])
            hits[worker].append(float(self.scale.agrees(rating - bias[worker], medians[task])))
        offsets = {w: math.fsum(r) / (len(r) + self.shrinkage) for w, r in residuals.items()}
        skills = {w: math.fsum(h) / len(h) for w, h in hits.items()}
        return offsets, skills

    def _keep(
        self,
        rows: list[tuple[Hashable, str, float]],
        medians: dict[Hashable, float],
        bias: dict[str, float],
        weights: dict[str, float],
        skills: dict[str, float],
    ) -> None:
        flags: dict[Hashable, tuple[list[bool], list[float]]] = defaultdict(lambda: ([], []))
        for task, worker, rating in rows:
            flags[task][0].append(self.scale.agrees(rating - bias[worker], medians[task]))
            flags[task][1].append(weights[worker])
        self.scores_ = medians
        self.labels_ = {task: self.scale.snap(m) for task, m in medians.items()}
        self.confidences_ = {task: weighted_share(f, w) for task, (f, w) in flags.items()}
        self.skills_, self.biases_ = skills, bias


class RatingVerifier:
    """Gold within tolerance of the known rating; other tasks by weighted median."""

    name = "ratings"

    def __init__(
        self, *, field: str = "rating", scale_min: int = 1, scale_max: int = 5, tolerance: float = 1
    ) -> None:
        check_field(field)
        self.field = field
        self.scale = Scale(scale_min, scale_max, tolerance)

    def verify(self, given: VerificationInput) -> Outcome:
        """Verdicts on the task's pending answers."""
        return decide(given, self)

    def parse(self, answer: Any) -> float:
        """The rating in an answer, or Malformed."""
        return self.scale.read(field_of(answer, self.field), repr(self.field))

    def compare(self, value: float, reference: float, gold: bool) -> Judgement:
        """Whether `value` is within `tolerance` steps of `reference`."""
        if self.scale.agrees(value, reference):
            return Judgement(True)
        tolerance = self.scale.tolerance
        if gold:
            detail = f"your rating {fmt(value)} is over {fmt(tolerance)} steps off the known one"
            return Judgement(False, detail, {"tolerance": tolerance})
        distance = abs(value - reference)
        detail = (
            f"your rating {fmt(value)} is {fmt(distance)} steps from the consensus "
            f"{fmt(reference)}, more than the tolerance {fmt(tolerance)}"
        )
        return Judgement(False, detail, {"distance": distance, "tolerance": tolerance})

    def aggregate(self, values: Sequence[float], weights: Sequence[float]) -> Consensus[float]:
        """The weighted median (a scale point in the result); confidence is the share near it."""
        median = weighted_median(values, weights)
        within = [self.scale.agrees(v, median) for v in values]
        result = {self.field: self.scale.snap(median)}
        return Consensus(result, median, weighted_share(within, weights))
