"""Multi-label answers `{"labels": ["x", "y"]}`: a weighted vote per label.

Each label is an independent yes/no question, so the result keeps a label when at least
half the weight chose it (ties keep it: leaving out a label half the crowd saw loses more
than listing one too many). Answers are compared with the Jaccard index |A ∩ B| / |A ∪ B|,
the usual set-overlap measure for multi-label agreement; two empty sets agree fully. The
confidence averages, over every label anyone chose, how one-sided its vote was.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from earnest.domain.verification import Outcome, VerificationInput
from earnest.quality._verdicts import (
    SHARE_EPS,
    Consensus,
    Judgement,
    Malformed,
    Reweighted,
    check_field,
    check_n_iter,
    check_threshold,
    decide,
    field_of,
    reweighted,
)

Labels = frozenset[str]


class MultiLabelAnswer(NamedTuple):
    """One worker's set of labels for one task."""

    task: Hashable
    worker: str
    labels: Collection[str]


def parse_labels(raw: Any) -> Labels:
    """`raw` as a set of labels if it is a list of strings (duplicates are ignored)."""
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Collection):
        raise Malformed(f"labels must be a list of strings, not {raw!r}")
    if not all(isinstance(label, str) for label in raw):
        raise Malformed(f"every label must be a string, not {list(raw)!r}")
    return frozenset(raw)


def jaccard(a: Labels, b: Labels) -> float:
    """|a ∩ b| / |a ∪ b|, and 1 for two empty sets."""
    union = a | b
    return len(a & b) / len(union) if union else 1.0


@dataclass(frozen=True)
class LabelVote:
    """A task's chosen labels, each label's weighted share, and the vote's confidence."""

    labels: Labels
    shares: dict[str, float]
    confidence: float


def label_vote(answers: Sequence[Labels], weights: Sequence[float]) -> LabelVote:
    """Keep every label with a weighted share of at least one half."""
    total = math.fsum(weights)
    seen = sorted(set().union(*answers))
    shares = {
        label: min(
            1.0, math.fsum(w for a, w in zip(answers, weights, strict=True) if label in a) / total
        )
        for label in seen
    }
    chosen = frozenset(label for label, share in shares.items() if share >= 0.5 - SHARE_EPS)
    sides = [max(share, 1.0 - share) for share in shares.values()]
    confidence = math.fsum(sides) / len(sides) if sides else 1.0
    return LabelVote(chosen, shares, confidence)


class MultiLabelVote:
    """Per-label weighted vote; workers re-weighted by their mean Jaccard with the result."""

    labels_: dict[Hashable, list[str]]
    probas_: dict[Hashable, dict[str, float]]
    confidences_: dict[Hashable, float]
    skills_: dict[str, float]

    def __init__(self, *, n_iter: int = 10) -> None:
        check_n_iter(n_iter)
        self.n_iter = n_iter
        self.labels_, self.probas_, self.confidences_, self.skills_ = {}, {}, {}, {}

    def fit(self, answers: Iterable[MultiLabelAnswer]) -> MultiLabelVote:
        """Aggregate `answers`: labels_ sorted lists, probas_ each seen label's share."""
        rows = [(a.task, a.worker, parse_labels(a.labels)) for a in answers]
        fitted = reweighted_votes(rows, self.n_iter)
        self.labels_ = {task: sorted(r.labels) for task, r in fitted.results.items()}
        self.probas_ = {task: r.shares for task, r in fitted.results.items()}
        self.confidences_ = {task: r.confidence for task, r in fitted.results.items()}
        self.skills_ = fitted.skills
        return self


def reweighted_votes(
    rows: list[tuple[Hashable, str, Labels]], n_iter: int
) -> Reweighted[LabelVote]:
    """Label votes per task, with workers weighted by mean Jaccard with the results."""
    return reweighted(rows, label_vote, lambda labels, found: jaccard(labels, found.labels), n_iter)


class MultiLabelVerifier:
    """Gold by Jaccard with the known labels; other tasks by per-label weighted vote."""

    name = "multilabel"

    def __init__(self, *, field: str = "labels", threshold: float = 0.5) -> None:
        check_field(field)
        check_threshold(threshold)
        self.field = field
        self.threshold = threshold

    def verify(self, given: VerificationInput) -> Outcome:
        """Verdicts on the task's pending answers."""
        return decide(given, self)

    def parse(self, answer: Any) -> Labels:
        """The set of labels in an answer, or Malformed."""
        return parse_labels(field_of(answer, self.field))

    def compare(self, value: Labels, reference: Labels, gold: bool) -> Judgement:
        """Whether the Jaccard index of the two label sets reaches the threshold."""
        overlap = jaccard(value, reference)
        if overlap >= self.threshold - SHARE_EPS:
            return Judgement(True)
        below = f"Jaccard {overlap:.3f}, below the threshold {self.threshold}"
        evidence = {"jaccard": round(overlap, 6), "threshold": self.threshold}
        if gold:
            return Judgement(False, f"your labels match the known labels with {below}", evidence)
        missing, extra = sorted(reference - value), sorted(value - reference)
        detail = (
            f"your labels match the consensus {sorted(reference)} with {below} "
            f"(missing {missing}, extra {extra})"
        )
        return Judgement(False, detail, {**evidence, "missing": missing, "extra": extra})

    def aggregate(self, values: Sequence[Labels], weights: Sequence[float]) -> Consensus[Labels]:
        """The labels with at least half the weight; confidence as in the module docstring."""
        vote = label_vote(values, weights)
        return Consensus({self.field: sorted(vote.labels)}, vote.labels, vote.confidence)
