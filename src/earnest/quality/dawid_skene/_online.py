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
import operator
import threading
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import NamedTuple, Self, TypeVar

import numpy as np
import numpy.typing as npt

from earnest.quality.dawid_skene._model import (
    Counts,
    Floats,
    Prior,
    normalise,
    pooled_prior,
    softmax,
)

Ints = npt.NDArray[np.int64]
_G = TypeVar("_G", bound=np.generic)


class Answer(NamedTuple):
    task: Hashable
    worker: Hashable
    label: int


@dataclass(frozen=True)
class _Snapshot:
    """Stored answers as parallel arrays (grouped by task, in arrival order) and the gold."""

    tasks: Ints
    rows: Ints  # worker * K + label
    answered: Ints  # answers per task
    n_workers: int
    n_classes: int
    gold: dict[int, int]


POOLED_ROUNDS = 2  # fit the pooled prior, re-run EM under it; this many times


def _batch_em(
    snap: _Snapshot, prior: Prior, alpha: Floats, n_iter: int, tol: float, pooled: bool
) -> tuple[Floats, Floats, Floats]:
    """Posteriors, counts and the prior's pseudo-counts by full EM from a soft majority
    vote, gold clamped. With `pooled`, EM first runs under the fixed prior (an anchor: a
    prior re-fitted at every step can follow EM into a degenerate answer, e.g. nearly all
    tasks of one class), then the pseudo-counts are fitted to the crowd's counts
    (empirical Bayes, `pooled_prior`, from `alpha`) and EM resumes under them."""
    n, k = snap.answered.size, snap.n_classes
    votes = np.bincount(snap.tasks * k + snap.rows % k, minlength=n * k).reshape(n, k)
    posts = _clamp(normalise(votes + 1e-9), snap.gold)
    fixed = prior.matrix(k)
    posts, counts = _em(snap, prior.classes, fixed if pooled else alpha, posts, n_iter, tol)
    for _ in range(POOLED_ROUNDS if pooled else 0):
        alpha = pooled_prior(_by_worker(counts, k), alpha)
        posts, counts = _em(snap, prior.classes, alpha, posts, n_iter, tol)
    return posts, counts, alpha


def _em(
    snap: _Snapshot, classes: float, alpha: Floats, posts: Floats, n_iter: int, tol: float
) -> tuple[Floats, Floats]:
    """EM under fixed pseudo-counts `alpha`, from the posteriors `posts`."""
    n, k = snap.answered.size, snap.n_classes
    labels = np.arange(k)
    m_keys = (snap.rows[:, None] * k + labels).ravel()
    e_keys = (snap.tasks[:, None] * k + labels).ravel()
    pseudo, pseudo_rows = np.tile(alpha.T, (snap.n_workers, 1)), alpha.sum(axis=1)
    counts = _m_step(m_keys, posts[snap.tasks], snap.n_workers * k)
    for _ in range(n_iter):
        rowsums = counts.reshape(-1, k, k).sum(axis=1)  # worker × true class
        log_conf = np.log(counts + pseudo) - np.log(rowsums + pseudo_rows).repeat(k, axis=0)
        loglik = np.bincount(e_keys, weights=log_conf[snap.rows].ravel(), minlength=n * k)
        log_prior = np.log(posts.sum(axis=0) + classes)
        new = _clamp(softmax(loglik.reshape(n, k) + log_prior), snap.gold)
        change = float(np.abs(new - posts).max(initial=0.0))
        # The counts always come from the final posteriors: incremental updates take a
        # task's posterior back out of them, which only works if it is exactly what went in.
        posts, counts = new, _m_step(m_keys, new[snap.tasks], snap.n_workers * k)
        if change < tol:
            break
    return posts, counts


def _by_worker(counts: Floats, k: int) -> Floats:
    """Counts (row worker * K + given, column truth) as workers × true × given."""
    return np.asarray(counts.reshape(-1, k, k).transpose(0, 2, 1), np.float64)


def _m_step(keys: Ints, weights: Floats, n_rows: int) -> Floats:
    """Soft counts: row = worker * K + given label, column = true class."""
    k = weights.shape[1]
    flat = np.bincount(keys, weights=weights.ravel(), minlength=n_rows * k)
    return np.asarray(flat.reshape(n_rows, k), np.float64)


def _clamp(posts: Floats, gold: dict[int, int]) -> Floats:
    if gold:
        rows = np.fromiter(gold.keys(), np.int64, len(gold))
        posts[rows] = 0.0
        posts[rows, np.fromiter(gold.values(), np.int64, len(gold))] = 1.0
    return posts


def _with_rows(array: npt.NDArray[_G], rows: int) -> npt.NDArray[_G]:
    """`array` with room for `rows` rows; capacity doubles so that appends stay O(1)."""
    if rows <= array.shape[0]:
        return array
    bigger = np.zeros((max(rows, 2 * array.shape[0]), *array.shape[1:]), array.dtype)
    bigger[: array.shape[0]] = array
    return bigger


class OnlineDawidSkene:
    """Dawid-Skene that learns as answers arrive; `fit()` gives the batch estimate.

    `smoothing` is the Dirichlet pseudo-count of each off-diagonal confusion cell and
    `diagonal` that of the diagonal (together: `prior`, the one the live verifier uses): a
    new worker starts somewhat better than random (4/7 accurate with the defaults and 4
    classes) until its own answers say otherwise.
    With `pooled` (the default) every batch EM re-fits those pseudo-counts to the crowd
    (empirical Bayes: the Dirichlet that best explains all workers' counts, `alpha_`), so
    the prior is the crowd's average confusion with a strength set by how alike workers
    are; `diagonal`/`smoothing` are only where it starts, and the prior until a refit.
    `refit_every` > 0 re-runs batch EM over all stored answers every that many updates, in
    a daemon thread if `background`. Feed updates from one thread.
    """

    _STATE = (
        "_task_index", "_tasks", "_task_rows", "_worker_index", "_workers", "_gold",
        "_posts", "_counts", "_rowsums", "_prior_counts",
    )  # fmt: skip

    def __init__(
        self,
        n_classes: int,
        *,
        smoothing: float = Prior.smoothing,
        diagonal: float = Prior.diagonal,
        n_iter: int = 100,
        tol: float = 1e-6,
        refit_every: int = 0,
        background: bool = False,
        pooled: bool = True,
    ) -> None:
        if not (n_classes >= 2 and smoothing > 0 and diagonal > 0 and n_iter >= 1):
            raise ValueError("need n_classes ≥ 2, smoothing > 0, diagonal > 0 and n_iter ≥ 1")
        if tol < 0 or refit_every < 0:
            raise ValueError("tol and refit_every must be ≥ 0 (refit_every 0: only on request)")
        self.n_classes, self.smoothing, self.diagonal = n_classes, smoothing, diagonal
        self.n_iter, self.tol = n_iter, tol
        self.refit_every, self.background = refit_every, background
        self.prior, self.pooled = Prior(diagonal, smoothing), pooled
        self._set_alpha(self.prior.matrix(n_classes))
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._pending: list[int] | None = None  # tasks touched while a background refit runs
        self._since_refit = 0
        self._reset()

    def _set_alpha(self, alpha: Floats) -> None:
        # Replaced, never changed in place: a copy() may share them.
        self._alpha = np.array(alpha, np.float64)
        self._alpha_by_label, self._alpha_rows = self._alpha.T.copy(), self._alpha.sum(axis=1)

    @property
    def alpha_(self) -> Floats:
        """The prior's K×K pseudo-counts (row = true class): the pooled fit after a refit."""
        with self._lock:
            return self._alpha.copy()

    def _reset(self) -> None:
        k = self.n_classes
        self._task_index: dict[Hashable, int] = {}
        self._tasks: list[Hashable] = []
        self._task_rows: list[list[int]] = []  # per task: worker * K + label, arrival order
        self._worker_index: dict[Hashable, int] = {}
        self._workers: list[Hashable] = []
        self._gold: dict[int, int] = {}
        self._posts: Floats = np.zeros((64, k))  # a zero row is a task not counted yet
        self._counts: Floats = np.zeros((64 * k, k))  # row worker * K + label, column truth
        self._rowsums: Floats = np.zeros((64, k))  # worker × true class
        self._prior_counts: Floats = np.zeros(k)

    def update(self, answer: Answer) -> Floats:
        """Learn from one answer; returns its task's new posterior."""
        with self._lock:
            t = self._store(answer)
            post = self._refresh(t, len(self._task_rows[t]) - 1)
            self._since_refit += 1
        if self.refit_every and self._since_refit >= self.refit_every:
            self._start_refit()
        return post

    def observe_truth(self, task: Hashable, label: int) -> Floats:
        """Clamp a gold task to its known class, so that its answers teach confusions."""
        label = self._checked(label)
        with self._lock:
            t = self._task(task)
            self._gold[t] = label
            return self._refresh(t, len(self._task_rows[t]))

    def fit(self, answers: Iterable[Answer]) -> Self:
        """Batch Dawid-Skene from scratch on `answers`; forgets all it had learned."""
        self.wait()
        with self._lock:
            self._reset()
            for answer in answers:
                self._store(answer)
        self.refit()
        return self

    def refit(self) -> None:
        """Re-estimate everything now by batch EM over all stored answers."""
        self.wait()
        with self._lock:
            snap, self._since_refit = self._snapshot(), 0
            self._install(snap, *self._batch(snap, self._alpha))

    def wait(self) -> None:
        """Join a running background refit; re-raise what it failed with."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        error, self._error = self._error, None
        if error is not None:
            raise RuntimeError("background refit failed") from error

    def copy(self) -> OnlineDawidSkene:
        """An independent deep copy: settings and learned state."""
        self.wait()
        twin = copy.copy(self)  # shares settings and the prior arrays, which never change
        twin._lock, twin._thread, twin._error, twin._pending = threading.Lock(), None, None, None
        with self._lock:
            for name in self._STATE:
                setattr(twin, name, copy.deepcopy(getattr(self, name)))
        return twin

    def _checked(self, label: int) -> int:
        value = operator.index(label)
        if not 0 <= value < self.n_classes:
            raise ValueError(f"label {value} is outside 0..{self.n_classes - 1}")
        return value

    def _task(self, key: Hashable) -> int:
        t = self._task_index.setdefault(key, len(self._tasks))
        if t == len(self._tasks):
            self._tasks.append(key)
            self._task_rows.append([])
            self._posts = _with_rows(self._posts, t + 1)
        if self._pending is not None:
            self._pending.append(t)
        return t

    def _worker(self, key: Hashable) -> int:
        w = self._worker_index.setdefault(key, len(self._workers))
        if w == len(self._workers):
            self._workers.append(key)
            self._counts = _with_rows(self._counts, (w + 1) * self.n_classes)
            self._rowsums = _with_rows(self._rowsums, w + 1)
        return w

    def _store(self, answer: Answer) -> int:
        label = self._checked(answer.label)
        t, w, k = self._task(answer.task), self._worker(answer.worker), self.n_classes
        if any(row // k == w for row in self._task_rows[t]):
            raise ValueError(f"worker {answer.worker!r} already answered task {answer.task!r}")
        self._task_rows[t].append(w * k + label)
        return t

    def _refresh(self, t: int, n_old: int) -> Floats:
        """Move task t's posterior out of the counts of its first `n_old` answers (those it
        was counted for), recompute it, and move it into the counts of all its answers."""
        rows = np.array(self._task_rows[t], np.int64)
        workers = rows // self.n_classes
        old = self._posts[t].copy()
        np.subtract.at(self._counts, rows[:n_old], old)
        np.subtract.at(self._rowsums, workers[:n_old], old)
        self._prior_counts -= old
        new = self._infer(t, rows, workers)
        np.add.at(self._counts, rows, new)
        np.add.at(self._rowsums, workers, new)
        self._prior_counts += new
        self._posts[t] = new
        return new.copy()

    def _infer(self, t: int, rows: Ints, workers: Ints) -> Floats:
        # Runs with t's own share taken out: a newcomer's one answer must not vouch for
        # itself through the counts it put there.
        gold = self._gold.get(t)
        if gold is not None:
            return np.asarray(np.eye(self.n_classes)[gold], np.float64)
        hits = self._counts[rows] + self._alpha_by_label[rows % self.n_classes]
        tries = self._rowsums[workers] + self._alpha_rows
        log_p = np.log(self._prior_counts + self.prior.classes) + np.log(hits / tries).sum(axis=0)
        return softmax(log_p)

    def _snapshot(self) -> _Snapshot:
        answered = np.fromiter(map(len, self._task_rows), np.int64, len(self._tasks))
        flat = itertools.chain.from_iterable(self._task_rows)
        rows = np.fromiter(flat, np.int64, int(answered.sum()))
        tasks = np.repeat(np.arange(answered.size), answered)
        return _Snapshot(
            tasks, rows, answered, len(self._workers), self.n_classes, dict(self._gold)
        )

    def _start_refit(self) -> None:
        if not self.background:
            self.refit()
            return
        if self._thread is not None and self._thread.is_alive():
            return  # one at a time; a later update starts the next
        self.wait()
        with self._lock:
            snap, self._pending, self._since_refit = self._snapshot(), [], 0
        self._thread = threading.Thread(target=self._refit_in_background, args=(snap,))
        self._thread.daemon = True
        self._thread.start()

    def _refit_in_background(self, snap: _Snapshot) -> None:
        try:
            found = self._batch(snap, self._alpha)
            with self._lock:
                self._install(snap, *found)
        except BaseException as error:  # kept for wait(): a thread has nobody to raise to
            self._error = error
            with self._lock:
                self._pending = None

    def _batch(self, snap: _Snapshot, alpha: Floats) -> tuple[Floats, Floats, Floats]:
        return _batch_em(snap, self.prior, alpha, self.n_iter, self.tol, self.pooled)

    def _install(self, snap: _Snapshot, posts: Floats, counts: Floats, alpha: Floats) -> None:
        """Swap in a batch estimate, then redo the tasks touched since its snapshot."""
        n, k = posts.shape[0], self.n_classes
        self._set_alpha(alpha)
        self._posts[:n], self._posts[n:] = posts, 0.0  # newer tasks are not in `counts`
        self._counts[: counts.shape[0]], self._counts[counts.shape[0] :] = counts, 0.0
        self._rowsums = self._counts.reshape(-1, k, k).sum(axis=1)
        self._prior_counts = posts.sum(axis=0)
        pending, self._pending = self._pending or [], None
        for t in dict.fromkeys(pending):
            self._refresh(t, int(snap.answered[t]) if t < n else 0)

    def posterior(self, task: Hashable) -> Floats:
        """P(true class) of one task."""
        with self._lock:
            return np.array(self._posts[self._task_index[task]], np.float64)

    @property
    def labels_(self) -> dict[Hashable, int]:
        """Most probable class per task (ties go to the lowest class)."""
        with self._lock:
            best = self._posts[: len(self._tasks)].argmax(axis=1).tolist()
            return dict(zip(self._tasks, best, strict=True))

    @property
    def probas_(self) -> dict[Hashable, Floats]:
        """Posterior over the classes per task."""
        with self._lock:
            return {task: self._posts[t].copy() for t, task in enumerate(self._tasks)}

    @property
    def priors_(self) -> Floats:
        """Class frequencies: the sum of the posteriors, smoothed."""
        with self._lock:
            return normalise(self._prior_counts + self.prior.classes)

    @property
    def counts_(self) -> dict[Hashable, Counts]:
        """Per worker, the soft confusion counts (row = true class), without the prior:
        what the store keeps and the live verifier smooths with the same prior."""
        k = self.n_classes
        with self._lock:
            m = len(self._workers)
            counts = self._counts[: m * k].reshape(m, k, k).transpose(0, 2, 1)
            return dict(zip(self._workers, counts.tolist(), strict=True))

    @property
    def class_counts_(self) -> list[float]:
        """The soft number of tasks of each class: the sum of the posteriors."""
        with self._lock:
            return [float(x) for x in self._prior_counts]

    @property
    def confusions_(self) -> dict[Hashable, Floats]:
        """Per worker, P(answer | true class): row = true class, rows sum to 1."""
        k = self.n_classes
        with self._lock:
            m = len(self._workers)
            counts = self._counts[: m * k].reshape(m, k, k).transpose(0, 2, 1) + self._alpha
            conf = counts / (self._rowsums[:m] + self._alpha_rows)[..., None]
            return dict(zip(self._workers, conf, strict=True))

    @property
    def skills_(self) -> dict[Hashable, float]:
        """Per worker, expected accuracy: Σ_k prior_k · confusion[k, k]."""
        priors = self.priors_
        return {w: float(priors @ np.diagonal(c)) for w, c in self.confusions_.items()}
