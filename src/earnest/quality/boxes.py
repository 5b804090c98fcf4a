"""Bounding boxes `{"box": [x_min, y_min, x_max, y_max]}`: an IoU-based consensus.

First the medoid: the box with the largest weighted sum of IoU (intersection over union) to
the others, i.e. the answer most workers' boxes overlap. Then the boxes that overlap the
medoid by at least `threshold` are merged coordinate by coordinate with a weighted median,
so a sloppy corner moves the result less than a mean would. An answer agrees when its IoU
with the result reaches `threshold`; 0.5 is the PASCAL VOC convention (Everingham et al.
2010) for "the same object".
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from earnest.domain.verification import Outcome, VerificationInput
from earnest.quality._verdicts import (
    SHARE_EPS,
    Consensus,
    Judgement,
    Malformed,
    check_field,
    check_n_iter,
    check_threshold,
    decide,
    field_of,
    finite_number,
    fmt,
    reweighted,
    weighted_median,
    weighted_share,
)

Box = tuple[float, float, float, float]


class BoxAnswer(NamedTuple):
    """One worker's box for one task."""

    task: Hashable
    worker: str
    box: Sequence[float]


def parse_box(raw: Any) -> Box:
    """`raw` as a box if it is four finite numbers with x_min < x_max and y_min < y_max."""
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence) or len(raw) != 4:
        raise Malformed(f"a box must be [x_min, y_min, x_max, y_max], not {raw!r}")
    x0, y0, x1, y1 = (finite_number(c, "a box coordinate") for c in raw)
    if not (x0 < x1 and y0 < y1):
        raise Malformed(f"a box needs x_min < x_max and y_min < y_max, not {list(raw)!r}")
    return (x0, y0, x1, y1)


def iou_matrix(boxes: Sequence[Box], others: Sequence[Box]) -> np.ndarray[Any, Any]:
    """IoU of every box in `boxes` (rows) with every box in `others` (columns)."""
    a = np.asarray(boxes, dtype=float).reshape(-1, 4)[:, None, :]
    b = np.asarray(others, dtype=float).reshape(-1, 4)[None, :, :]
    wide = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    high = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = wide * high
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return np.asarray(np.clip(inter / (area_a + area_b - inter), 0.0, 1.0))


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes, in [0, 1]."""
    return float(iou_matrix([a], [b])[0, 0])


@dataclass(frozen=True)
class BoxResult:
    """A task's merged box and the weighted share of answers overlapping it enough."""

    box: Box
    confidence: float


def box_consensus(boxes: Sequence[Box], weights: Sequence[float], threshold: float) -> BoxResult:
    """The weighted median of the boxes close to the medoid, and the weight agreeing with it."""
    overlaps = iou_matrix(boxes, boxes)
    n = len(boxes)
    # math.fsum makes each score independent of the order the answers came in.
    scores = [math.fsum(weights[j] * overlaps[i, j] for j in range(n) if j != i) for i in range(n)]
    medoid = min(range(n), key=lambda i: (-scores[i], boxes[i]))
    members = [j for j in range(n) if overlaps[medoid, j] >= threshold - SHARE_EPS]
    merged = tuple(
        weighted_median([boxes[j][c] for j in members], [weights[j] for j in members])
        for c in range(4)
    )
    # A coordinate-wise median of valid boxes is valid; the check guards against rounding.
    box: Box = (
        (merged[0], merged[1], merged[2], merged[3])
        if merged[0] < merged[2] and merged[1] < merged[3]
        else boxes[medoid]
    )
    near = iou_matrix(boxes, [box])[:, 0] >= threshold - SHARE_EPS
    return BoxResult(box, weighted_share([bool(x) for x in near], weights))


class MedoidBoxes:
    """IoU-medoid consensus per task; workers re-weighted by their mean IoU with the result."""

    labels_: dict[Hashable, Box]
    confidences_: dict[Hashable, float]
    skills_: dict[str, float]

    def __init__(self, *, threshold: float = 0.5, n_iter: int = 10) -> None:
        check_threshold(threshold)
        check_n_iter(n_iter)
        self.threshold = threshold
        self.n_iter = n_iter
        self.labels_, self.confidences_, self.skills_ = {}, {}, {}

    def fit(self, answers: Iterable[BoxAnswer]) -> MedoidBoxes:
        """Aggregate `answers`; a worker's skill is its mean IoU with the tasks' results."""
        rows = [(a.task, a.worker, parse_box(a.box)) for a in answers]
        threshold = self.threshold
        fitted = reweighted(
            rows,
            lambda boxes, weights: box_consensus(boxes, weights, threshold),
            lambda box, found: iou(box, found.box),
            self.n_iter,
        )
        self.labels_ = {task: r.box for task, r in fitted.results.items()}
        self.confidences_ = {task: r.confidence for task, r in fitted.results.items()}
        self.skills_ = fitted.skills
        return self


class BoxVerifier:
    """Gold by IoU with the known box; other tasks by the IoU-medoid consensus."""

    name = "boxes"

    def __init__(self, *, field: str = "box", threshold: float = 0.5) -> None:
        check_field(field)
        check_threshold(threshold)
        self.field = field
        self.threshold = threshold

    def verify(self, given: VerificationInput) -> Outcome:
        """Verdicts on the task's pending answers."""
        return decide(given, self)

    def parse(self, answer: Any) -> Box:
        """The box in an answer, or Malformed."""
        return parse_box(field_of(answer, self.field))

    def compare(self, value: Box, reference: Box, gold: bool) -> Judgement:
        """Whether `value` overlaps `reference` by at least the IoU threshold."""
        overlap = iou(value, reference)
        if overlap >= self.threshold - SHARE_EPS:
            return Judgement(True)
        what = "the known box" if gold else f"the consensus box [{', '.join(map(fmt, reference))}]"
        detail = (
            f"your box overlaps {what} with IoU {overlap:.3f}, below the threshold {self.threshold}"
        )
        return Judgement(False, detail, {"iou": round(overlap, 6), "threshold": self.threshold})

    def aggregate(self, values: Sequence[Box], weights: Sequence[float]) -> Consensus[Box]:
        """The merged box; confidence is the weighted share of boxes overlapping it enough."""
        found = box_consensus(values, weights, self.threshold)
        return Consensus({self.field: list(found.box)}, found.box, found.confidence)
