"""Pairwise preferences: a task shows items A and B, a worker answers `{"choice": "a"|"b"}`.

The verifier judges each task on its own by weighted majority. The estimator pools all
tasks into one Bradley–Terry model, P(i beats j) = γ_i / (γ_i + γ_j), fitted with the MM
algorithm of Hunter (2004, "MM algorithms for generalized Bradley–Terry models", Ann.
Statist. 32(1)): each step γ_i ← W_i / Σ_j n_ij / (γ_i + γ_j) raises the likelihood. The
maximum likelihood does not exist when an item never loses (Ford 1957's condition fails);
a small prior — `prior` virtual wins and as many losses against a phantom item of strength
1 — keeps every γ finite and pins the scale.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from earnest.domain.verification import Outcome, VerificationInput
from earnest.quality._verdicts import (
    Consensus,
    Judgement,
    Malformed,
    check_field,
    check_n_iter,
    decide,
    field_of,
)

CHOICES = ("a", "b")


class PairAnswer(NamedTuple):
    """One worker's preference between items `a` and `b` of a task: `choice` is "a" or "b"."""

    task: Hashable
    worker: str
    a: Hashable
    b: Hashable
    choice: str


def _item_key(item: Hashable) -> tuple[str, str]:
    # Items need not be mutually comparable (ints and strs); a canonical order keeps the
    # fit independent of the order answers came in.
    return (type(item).__name__, repr(item))


class BradleyTerry:
    """Item scores from pairwise comparisons across tasks (MM algorithm, Hunter 2004)."""

    scores_: dict[Hashable, float]
    labels_: dict[Hashable, Hashable]
    probas_: dict[Hashable, float]
    skills_: dict[str, float]

    # prior 0.5 is one phantom game per item, half won: light shrinkage, and MM (which
    # crawls when the data are nearly separable) converges in hundreds of steps, not 10^4.
    def __init__(self, *, prior: float = 0.5, n_iter: int = 2000, tol: float = 1e-9) -> None:
        for name, value in (("prior", prior), ("tol", tol)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number, not {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and positive, not {value!r}")
        check_n_iter(n_iter)
        self.prior, self.n_iter, self.tol = float(prior), n_iter, float(tol)
        self.scores_, self.labels_, self.probas_, self.skills_ = {}, {}, {}, {}

    def fit(self, answers: Iterable[PairAnswer]) -> BradleyTerry:
        """Fit scores (summing to 1); label each task with its higher-scored item."""
        rows = _checked(answers)
        items = sorted({x for r in rows for x in (r.a, r.b)}, key=_item_key)
        index = {item: i for i, item in enumerate(items)}
        wins = np.zeros((len(items), len(items)))
        for r in rows:
            winner, loser = (r.a, r.b) if r.choice == "a" else (r.b, r.a)
            wins[index[winner], index[loser]] += 1.0
        strength = self._mm(wins)
        total = float(strength.sum()) if items else 1.0
        self.scores_ = {item: float(strength[index[item]]) / total for item in items}
        self._label_tasks(rows)
        self._score_workers(rows)
        return self

    def _mm(self, wins: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Hunter's MM iteration with the phantom item's prior in each numerator and sum."""
        games = wins + wins.T
        won = wins.sum(axis=1) + self.prior
        gamma = np.ones(wins.shape[0])
        for _ in range(self.n_iter):
            pair_sums = gamma[:, None] + gamma[None, :]
            denominator = (games / pair_sums).sum(axis=1) + 2 * self.prior / (gamma + 1.0)
            following = won / denominator
            step = np.max(np.abs(np.log(following) - np.log(gamma))) if gamma.size else 0.0
            gamma = following
            if step < self.tol:
                break
        return gamma

    def _label_tasks(self, rows: list[PairAnswer]) -> None:
        votes: dict[Hashable, list[int]] = defaultdict(lambda: [0, 0])
        pairs: dict[Hashable, tuple[Hashable, Hashable]] = {}
        for r in rows:
            pairs[r.task] = (r.a, r.b)
            votes[r.task][CHOICES.index(r.choice)] += 1
        self.labels_, self.probas_ = {}, {}
        for task, (a, b) in pairs.items():
            sa, sb = self.scores_[a], self.scores_[b]
            # Equal scores: the task's own majority decides, then item a.
            a_wins = (sa, votes[task][0]) >= (sb, votes[task][1])
            self.labels_[task] = a if a_wins else b
            self.probas_[task] = max(sa, sb) / (sa + sb)

    def _score_workers(self, rows: list[PairAnswer]) -> None:
        agreement: dict[str, list[float]] = defaultdict(list)
        for r in rows:
            winner, loser = (r.a, r.b) if r.choice == "a" else (r.b, r.a)
            sw, sl = self.scores_[winner], self.scores_[loser]
            agreement[r.worker].append(1.0 if sw > sl else 0.5 if sw == sl else 0.0)
        self.skills_ = {w: math.fsum(s) / len(s) for w, s in agreement.items()}


def _checked(answers: Iterable[PairAnswer]) -> list[PairAnswer]:
    """The answers, after checking choices and that every task keeps one (a, b) pair."""
    rows = list(answers)
    pairs: dict[Hashable, tuple[Hashable, Hashable]] = {}
    for r in rows:
        if r.choice not in CHOICES:
            raise ValueError(f"choice must be 'a' or 'b', not {r.choice!r}")
        if r.a == r.b:
            raise ValueError(f"task {r.task!r} compares item {r.a!r} with itself")
        if pairs.setdefault(r.task, (r.a, r.b)) != (r.a, r.b):
            raise ValueError(f"task {r.task!r} names two different pairs of items")
    return rows


class PairwiseVerifier:
    """Gold by the known choice; other tasks by weighted majority of "a" and "b"."""

    name = "pairwise"

    def __init__(self, *, field: str = "choice") -> None:
        check_field(field)
        self.field = field

    def verify(self, given: VerificationInput) -> Outcome:
        """Verdicts on the task's pending answers."""
        return decide(given, self)

    def parse(self, answer: Any) -> str:
        """The choice in an answer, or Malformed."""
        choice = field_of(answer, self.field)
        if choice not in CHOICES:
            raise Malformed(f"{self.field!r} must be 'a' or 'b', not {choice!r}")
        return str(choice)

    def compare(self, value: str, reference: str, gold: bool) -> Judgement:
        """Whether two choices are the same."""
        if value == reference:
            return Judgement(True)
        if gold:
            return Judgement(False, f"your choice {value!r} is not the known answer")
        return Judgement(False, f"you preferred {value!r} but the consensus prefers {reference!r}")

    def aggregate(self, values: Sequence[str], weights: Sequence[float]) -> Consensus[str]:
        """The heavier choice (on a tie: more votes, then "a"); confidence is its weight share."""
        weight = {
            c: math.fsum(w for v, w in zip(values, weights, strict=True) if v == c) for c in CHOICES
        }
        count = {c: sum(1 for v in values if v == c) for c in CHOICES}
        winner = max(CHOICES, key=lambda c: (weight[c], count[c], c == "a"))
        total = weight["a"] + weight["b"]
        confidence = weight[winner] / total if total > 0 else 0.5
        return Consensus({self.field: winner}, winner, confidence)
