"""Dawid-Skene aggregation, online: every answer updates its task and its workers at once.

The model (Dawid & Skene, 1979): a task's true class is drawn from `priors_`; a worker who
answers a task of true class k gives class l with probability `confusions_[worker][k, l]`.
Incremental EM (Neal & Hinton, 1998) keeps the sufficient statistics (soft confusion counts
per worker, class counts) equal to the sum of every task's current posterior, so an answer
costs O(answers on its task × K): take the task's old posterior out, recompute it, put the
new one back. A periodic batch EM over all stored answers revisits the tasks that were
answered before their workers were known; it may run in a background thread.
"""

from __future__ import annotations

import copy
import itertools
import math
import operator
import threading
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Self, TypeVar

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
_G = TypeVar("_G", bound=np.generic)

# Log of a zero probability: far below any real likelihood, yet finite, so a posterior
# stays a distribution when a stored confusion says "never".
_LOG_FLOOR = math.log(1e-300)
# Laplace pseudo-count per class for the class prior: thousands of tasks outweigh it.
_PRIOR_PSEUDO = 1.0


class Answer(NamedTuple):
    task: Hashable
    worker: Hashable
    label: int


def task_posterior(
    priors: Sequence[float], confusions: Sequence[Sequence[Sequence[float]]], labels: Sequence[int]
) -> list[float]:
    """P(true class | answers) of one task; `confusions[i]` is the K×K matrix of answer i."""
    k = len(priors)
    if k < 2 or len(confusions) != len(labels):
        raise ValueError("need ≥ 2 priors and one confusion matrix per label")
    log_p = [_log(p) for p in priors]
    for matrix, label in zip(confusions, labels, strict=True):
        if not 0 <= label < k or len(matrix) != k or any(len(row) != k for row in matrix):
            raise ValueError(f"label {label} or its confusion matrix does not fit {k} classes")
        log_p = [acc + _log(matrix[c][label]) for c, acc in enumerate(log_p)]
    top = max(log_p)
    weights = [math.exp(v - top) for v in log_p]
    total = math.fsum(weights)
    return [w / total for w in weights]


def _log(p: float) -> float:
    return math.log(p) if p > 0 else _LOG_FLOOR


@dataclass(frozen=True)
class _Snapshot:
    """Stored answers as parallel arrays (grouped by task, in arrival order) and the gold."""

    tasks: Ints
    rows: Ints  # worker * K + label
    answered: Ints  # answers per task
    n_workers: int
    gold: dict[int, int]


def _batch_em(snap: _Snapshot, alpha: Floats, n_iter: int, tol: float) -> tuple[Floats, Floats]:
    """Posteriors and counts by full EM from a soft majority vote, gold clamped."""
    n, k = snap.answered.size, alpha.shape[0]
    classes = np.arange(k)
    e_keys = (snap.tasks[:, None] * k + classes).ravel()
    votes = np.bincount(snap.tasks * k + snap.rows % k, minlength=n * k).reshape(n, k)
    posts = _clamp(_normalise(votes + 1e-9), snap.gold)
    counts = _m_step(snap, posts, k)
    for _ in range(n_iter):
        rowsums = counts.reshape(-1, k, k).sum(axis=1)  # worker × true class
        log_conf = np.log(counts + alpha.T[snap_labels := np.arange(counts.shape[0]) % k])
        log_conf -= np.log(rowsums + alpha.sum(axis=1)).repeat(k, axis=0)
        del snap_labels
        loglik = np.bincount(e_keys, weights=log_conf[snap.rows].ravel(), minlength=n * k)
        log_prior = np.log(posts.sum(axis=0) + _PRIOR_PSEUDO)
        new = _clamp(_softmax(loglik.reshape(n, k) + log_prior), snap.gold)
        change = float(np.abs(new - posts).max(initial=0.0))
        # The counts always come from the final posteriors: incremental updates take a
        # task's posterior back out of them, which only works if it is exactly what went in.
        posts, counts = new, _m_step(snap, new, k)
        if change < tol:
            break
    return posts, counts


def _m_step(snap: _Snapshot, posts: Floats, k: int) -> Floats:
    """Soft counts by (worker, given label) row and true-class column."""
    keys = (snap.rows[:, None] * k + np.arange(k)).ravel()
    flat = np.bincount(keys, weights=posts[snap.tasks].ravel(), minlength=snap.n_workers * k * k)
    return np.asarray(flat.reshape(-1, k), np.float64)


def _clamp(posts: Floats, gold: dict[int, int]) -> Floats:
    if gold:
        rows = np.fromiter(gold.keys(), np.int64, len(gold))
        posts[rows] = 0.0
        posts[rows, np.fromiter(gold.values(), np.int64, len(gold))] = 1.0
    return posts


def _normalise(x: npt.NDArray[np.floating[Any]]) -> Floats:
    return np.asarray(x / x.sum(axis=-1, keepdims=True), np.float64)


def _softmax(log_p: Floats) -> Floats:
    return _normalise(np.exp(log_p - log_p.max(axis=-1, keepdims=True)))


def _with_rows(array: npt.NDArray[_G], rows: int) -> npt.NDArray[_G]:
    """`array` with room for `rows` rows; capacity doubles so that appends stay O(1)."""
    if rows <= array.shape[0]:
        return array
    bigger = np.zeros((max(rows, 2 * array.shape[0]), *array.shape[1:]), array.dtype)
    bigger[: array.shape[0]] = array
    return bigger
