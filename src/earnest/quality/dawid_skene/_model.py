"""The Dawid-Skene model's shared parts: classes, counts, the prior and Bayes' rule.

One representation of what the market learns about a voter: its confusion **counts**, a
K×K list of floats, row = true class, column = given class, each cell the (soft) number of
answers of that kind. The estimator produces them, the store keeps them as they are (JSON),
and the live verifier turns them into probabilities with the same `Prior` the estimator
uses, so the live posterior and the batch one cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from earnest.domain.verification import canonical_json

Floats = npt.NDArray[np.float64]
Counts = list[list[float]]  # row = true class, column = given class
CountsIn = Sequence[Sequence[float]]

MAX_CLASSES = 64
CLASS_COUNTS = "*"  # the voter name under which a campaign's class counts are stored
# A zero probability counts as this one: far below any real likelihood, yet its log is
# finite, so a posterior stays a distribution when a confusion says "never".
_TINY = 1e-300


@dataclass(frozen=True)
class ClassMap:
    """The answer classes of a categorical campaign, and which class an answer gives."""

    classes: tuple[Any, ...]

    @classmethod
    def of_schema(cls, schema: dict[str, Any]) -> ClassMap:
        """The possible answers when the schema allows a fixed set, else no classes.

        Two shapes are categorical: an `enum` at the top, or an object whose one property
        is a required `enum` or boolean (e.g. {"label": "cat"}).
        """
        return cls(_classes(schema))

    def __len__(self) -> int:
        return len(self.classes)

    def __bool__(self) -> bool:
        return bool(self.classes)

    def label_of(self, answer: Any) -> int | None:
        """The index of the class an answer gives, or None if it gives none.

        Object classes ({"label": "cat"}) are read by their one property, so extra
        properties the output schema allows (a comment, say) do not make an answer unknown.
        """
        if self._field is not None and isinstance(answer, dict):
            answer = {self._field: answer.get(self._field)}
        return self._index.get(canonical_json(answer))

    @cached_property
    def _field(self) -> str | None:
        """The one property every object class is keyed by ({"label": ...}), if any."""
        names = {tuple(c) if isinstance(c, dict) else None for c in self.classes}
        if len(names) != 1:
            return None
        (name,) = names
        return name[0] if name is not None and len(name) == 1 else None

    @cached_property
    def _index(self) -> dict[str, int]:
        """Each class's canonical JSON → its index (the first, should two be equal)."""
        index: dict[str, int] = {}
        for i, c in enumerate(self.classes):
            index.setdefault(canonical_json(c), i)
        return index


def classes_of(schema: dict[str, Any]) -> tuple[Any, ...]:
    """The classes of `ClassMap.of_schema(schema)`: () when the schema is not categorical."""
    return ClassMap.of_schema(schema).classes


def _classes(schema: dict[str, Any]) -> tuple[Any, ...]:
    if isinstance(schema.get("enum"), list):
        return _bounded(tuple(schema["enum"]))
    props = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(props, dict) or len(props) != 1:
        return ()
    ((name, prop),) = props.items()
    if not isinstance(prop, dict) or name not in schema.get("required", []):
        return ()
    if isinstance(prop.get("enum"), list):
        return _bounded(tuple({name: v} for v in prop["enum"]))
    if prop.get("type") == "boolean":
        return ({name: False}, {name: True})
    return ()


def _bounded(classes: tuple[Any, ...]) -> tuple[Any, ...]:
    return classes if 2 <= len(classes) <= MAX_CLASSES else ()


@dataclass(frozen=True)
class Prior:
    """Dirichlet pseudo-counts added to every count before it becomes a probability.

    Each confusion row starts with `diagonal` answers on its true class and `smoothing` on
    each other class (a new worker is 4/7 accurate with the defaults and 4 classes); the
    class counts start with `classes` per class.
    """

    diagonal: float = 4.0
    smoothing: float = 1.0
    classes: float = 1.0

    def __post_init__(self) -> None:
        if not (self.diagonal > 0 and self.smoothing > 0 and self.classes > 0):
            raise ValueError("the prior's pseudo-counts must all be > 0")

    def matrix(self, k: int) -> Floats:
        """The K×K pseudo-counts (row = true class)."""
        alpha = np.full((k, k), self.smoothing)
        np.fill_diagonal(alpha, self.diagonal)
        return alpha

    def stated(self, k: int, accuracy: float) -> Floats:
        """Pseudo-counts of a voter that states its own accuracy (a model's confidence):
        as many pseudo-answers per row as the prior's, spread to that accuracy."""
        total = self.diagonal + (k - 1) * self.smoothing
        off = (1.0 - accuracy) / (k - 1)
        alpha = np.full((k, k), off * total)
        np.fill_diagonal(alpha, accuracy * total)
        return alpha


# The pooled prior's strength (pseudo-answers per confusion row) stays within these: below,
# one answer would decide a newcomer's matrix; above, a worker's own evidence could not
# move it for long (the bench measured the cap: docs/quality-bench.md).
POOLED_STRENGTH = (1.0, 20.0)
_POOLED_FLOOR = 0.01  # no pseudo-count falls to zero: its log must stay finite


def pooled_prior(counts: Floats, start: Floats, n_iter: int = 200, tol: float = 1e-6) -> Floats:
    """The Dirichlet pseudo-counts that best explain the crowd's confusion counts
    (empirical Bayes), as one accuracy and one strength for every row.

    `counts` is workers × K × K (row = true class, soft counts allowed). Per true class,
    the maximum-likelihood Dirichlet-multinomial over every worker's row (Minka's fixed
    point, 2000, from `start`) gives the crowd's accuracy on that class (the diagonal's
    share) and how alike workers are there (the strength: a crowd of alike workers shrinks
    a newcomer toward the average, a mixed one, spammers next to experts, lets a few
    answers speak). The prior keeps their evidence-weighted means: one accuracy, errors
    spread evenly, one strength within POOLED_STRENGTH. Per-class rows were measured to
    feed EM's worst answer back into it (nearly all tasks in the commonest class, whose
    accuracy then looks low, which makes its share grow: docs/quality-bench.md), and which
    mistakes a worker makes belongs in their own counts, not in every newcomer's prior.
    Without two workers' evidence in any row, `start` is returned.
    """
    counts = np.asarray(counts, np.float64)
    k = start.shape[0]
    alpha = np.array(start, np.float64)
    totals = counts.sum(axis=2)  # workers × true class
    seen = (totals > 1e-9).sum(axis=0) >= 2
    if not seen.any():
        return alpha
    low, high = POOLED_STRENGTH
    for _ in range(n_iter):
        a = alpha[seen]
        rows = counts[:, seen, :]
        num = (digamma(rows + a) - digamma(a)).sum(axis=0)
        den = (digamma(totals[:, seen] + a.sum(axis=1)) - digamma(a.sum(axis=1))).sum(axis=0)
        new = np.maximum(a * num / np.maximum(den, 1e-300)[:, None], _POOLED_FLOOR)
        sums = new.sum(axis=1, keepdims=True)
        new *= np.clip(sums, low, high) / sums
        change = float(np.abs(new - a).max())
        alpha[seen] = new
        if change < tol:
            break
    weight = totals.sum(axis=0)[seen]
    weight = weight / weight.sum()
    sums = alpha[seen].sum(axis=1)
    accuracy = float(weight @ (np.diagonal(alpha)[seen] / sums))
    strength = float(np.exp(weight @ np.log(sums)))
    out = np.full((k, k), max(strength * (1 - accuracy) / (k - 1), _POOLED_FLOOR))
    np.fill_diagonal(out, max(strength * accuracy, _POOLED_FLOOR))
    return out


def digamma(x: Floats | float) -> Floats:
    """ψ(x) for x > 0, elementwise: ψ(x) = ψ(x + 6) − Σ_{i<6} 1/(x + i), then the
    asymptotic series at x + 6 (error below 1e-10)."""
    x = np.asarray(x, np.float64)
    out = -sum(1.0 / (x + i) for i in range(6))
    y = x + 6.0
    inv = 1.0 / (y * y)
    series = inv * (1 / 12 - inv * (1 / 120 - inv * (1 / 252 - inv * (1 / 240 - inv / 132))))
    return np.asarray(out + np.log(y) - 0.5 / y - series, np.float64)


def class_row(class_counts: Sequence[float], alpha: Floats | None) -> Counts:
    """The stored row of CLASS_COUNTS: the class counts, then the pooled prior's K rows."""
    return [list(map(float, class_counts)), *(alpha.tolist() if alpha is not None else [])]


def read_class_row(stored: CountsIn | None, k: int) -> tuple[list[float], Floats | None]:
    """(class counts, pooled prior or None) from the stored CLASS_COUNTS row; a row stored
    before the pooled prior (class counts alone) or one that does not fit K gives None."""
    if not stored:
        return [], None
    counts = [float(x) for x in stored[0]]
    alpha = np.asarray(stored[1:], np.float64) if len(stored) == k + 1 else None
    if alpha is None or alpha.shape != (k, k) or not (alpha > 0).all():
        return counts, None
    return counts, alpha


def row_distance(counts: CountsIn | None, alpha: Floats) -> float:
    """How much a voter's answer depends on the truth: the mean total-variation distance
    between the rows of its smoothed confusion matrix, 1 for a voter who is always right
    and 0 for one whose answer ignores the truth (a uniform or constant labeller has
    identical rows). 1 − this is a spam score."""
    conf = confusion(counts, alpha)
    k = conf.shape[0]
    gaps = np.abs(conf[:, None, :] - conf[None, :, :]).sum(axis=2) / 2.0
    return float(gaps.sum() / (k * (k - 1)))


def zero_counts(k: int) -> Counts:
    return [[0.0] * k for _ in range(k)]


def counted(counts: CountsIn | None, k: int, true: int, given: int) -> Counts:
    """`counts` with one more answer `given` for a task of class `true` (hard EM)."""
    out = [list(row) for row in counts] if counts else zero_counts(k)
    out[true][given] += 1.0
    return out


def confusion(counts: CountsIn | None, alpha: Floats) -> Floats:
    """P(given | true): the counts smoothed by the pseudo-counts `alpha`, rows sum to 1."""
    total = alpha + (np.asarray(counts, np.float64) if counts else 0.0)
    return np.asarray(total / total.sum(axis=1, keepdims=True), np.float64)


def class_priors(class_counts: Sequence[float] | None, k: int, prior: Prior) -> Floats:
    """The class frequencies from the class counts, smoothed."""
    counts = np.asarray(class_counts, np.float64) if class_counts else np.zeros(k)
    return softmax(np.log(counts + prior.classes))


def posterior(priors: Floats, confusions: Sequence[Floats], labels: Sequence[int]) -> Floats:
    """P(true class | answers) of one task; `confusions[i]` is answer i's K×K matrix."""
    k = priors.shape[0]
    if k < 2 or len(confusions) != len(labels):
        raise ValueError("need ≥ 2 classes and one confusion matrix per label")
    log_p = np.log(np.maximum(priors, _TINY))
    for matrix, label in zip(confusions, labels, strict=True):
        if not 0 <= label < k or matrix.shape != (k, k):
            raise ValueError(f"label {label} or its confusion matrix does not fit {k} classes")
        log_p = log_p + np.log(np.maximum(matrix[:, label], _TINY))
    return softmax(log_p)


def normalise(x: npt.NDArray[np.floating[Any]]) -> Floats:
    return np.asarray(x / x.sum(axis=-1, keepdims=True), np.float64)


def softmax(log_p: Floats) -> Floats:
    return normalise(np.exp(log_p - log_p.max(axis=-1, keepdims=True)))
