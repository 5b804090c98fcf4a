"""A seeded synthetic crowd with known truth, in several shapes (docs/quality-bench.md).

Every shape mixes the same kinds of worker; the shapes change their shares, the class
balance and the task difficulty, so a method is not tuned to one crowd:

- honest workers answer right with P = 1/K + (ability − 1/K) · (1 − difficulty), ability
  per worker, difficulty per task (difficulty × ability), else a uniformly random wrong class;
- a class-biased group, honest otherwise, reads the rarest class as the commonest one with
  probability `bias` (it over-predicts class 0 and misses the minority class);
- a colluding clique copies a noisy leader: its members pile onto the same tasks (a share
  of all tasks get 2–3 members) and give the leader's answer for the task, right or wrong;
- spammers give a uniformly random class, or always the same one;
- drifting workers start reliable and lose accuracy linearly over their answers;
- activity is heavy-tailed (lognormal), so a few workers give many answers and most few.

Answers arrive in a random order. Only numpy; no estimator is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

KINDS = ("reliable", "noisy", "biased", "clique", "spammer", "drifting")
HONEST = ("reliable", "noisy", "biased", "drifting")  # judged on wrongful rejections


@dataclass(frozen=True)
class Shape:
    """One crowd: the share of each kind, class skew, difficulty and clique pile-on."""

    shares: tuple[float, float, float, float, float, float]  # in the order of KINDS
    skew: float  # class k has weight skew**k
    difficulty: tuple[float, float]  # Beta(a, b) per task
    clique_tasks: float  # share of tasks that the clique piles onto
    activity_sigma: float  # lognormal sigma of the workers' activity


SHAPES = {
    "mixed": Shape((0.45, 0.22, 0.10, 0.03, 0.10, 0.10), 0.7, (1.5, 6.0), 0.06, 1.0),
    "hard": Shape((0.30, 0.30, 0.12, 0.03, 0.15, 0.10), 0.8, (2.0, 3.0), 0.06, 1.2),
    "skewed": Shape((0.50, 0.20, 0.12, 0.03, 0.08, 0.07), 0.45, (1.5, 6.0), 0.05, 1.0),
    "collusive": Shape((0.45, 0.20, 0.08, 0.07, 0.10, 0.10), 0.7, (1.5, 6.0), 0.15, 0.8),
}


@dataclass(frozen=True)
class Crowd:
    """Workers, tasks with their truth, and the answers in arrival order."""

    n_classes: int
    kind: npt.NDArray[np.str_]  # per worker, one of KINDS
    ability: Floats  # per worker
    truth: Ints  # per task
    difficulty: Floats  # per task
    tasks: Ints  # per answer, arrival order
    workers: Ints
    labels: Ints

    @property
    def n_workers(self) -> int:
        return int(self.kind.size)

    @property
    def n_tasks(self) -> int:
        return int(self.truth.size)

    def is_kind(self, *kinds: str) -> npt.NDArray[np.bool_]:
        """Per worker: True when its kind is one of `kinds`."""
        return np.isin(self.kind, kinds)


def make_crowd(
    seed: int,
    *,
    shape: str = "mixed",
    n_tasks: int = 20_000,
    n_workers: int = 1_500,
    per_task: int = 5,
    n_classes: int = 4,
) -> Crowd:
    """A crowd of the given shape; the same arguments give the same crowd."""
    if shape not in SHAPES:
        raise ValueError(f"unknown crowd shape {shape!r}; one of {', '.join(SHAPES)}")
    if n_classes < 2 or per_task < 2 or n_workers < 4 * per_task or n_tasks < 1:
        raise ValueError("need ≥ 2 classes, ≥ 2 answers per task, ≥ 4 × that many workers")
    s, rng = SHAPES[shape], np.random.default_rng(seed)
    shares = np.asarray(s.shares) / sum(s.shares)
    kind = rng.choice(np.asarray(KINDS), size=n_workers, p=shares)
    kind[0] = "clique"  # the leader (worker 0) and at least 2 members, whatever the draw
    kind[1:3] = "clique"
    ability = np.select(
        [kind == "reliable", kind == "noisy", kind == "biased", kind == "drifting"],
        [
            rng.uniform(0.85, 0.97, n_workers),
            rng.uniform(0.55, 0.75, n_workers),
            rng.uniform(0.8, 0.92, n_workers),
            rng.uniform(0.85, 0.95, n_workers),
        ],
        default=rng.uniform(0.55, 0.7, n_workers),  # the clique's leader is noisy
    )
    weights = s.skew ** np.arange(n_classes)
    truth = rng.choice(n_classes, size=n_tasks, p=weights / weights.sum())
    difficulty = rng.beta(*s.difficulty, size=n_tasks)
    activity = rng.lognormal(0.0, s.activity_sigma, n_workers)
    activity[kind == "clique"] = np.median(activity)  # a clique hides in the middle
    chosen = _draw(rng, activity / activity.sum(), n_tasks, per_task)
    clique = np.flatnonzero(kind == "clique")
    piled = rng.random(n_tasks) < s.clique_tasks
    for t in np.flatnonzero(piled):
        members = rng.choice(clique, size=min(clique.size, int(rng.integers(2, 4))), replace=False)
        row = [w for w in chosen[t] if w not in members][: per_task - members.size]
        chosen[t] = np.concatenate([members, row])
    tasks = np.repeat(np.arange(n_tasks), per_task)
    order = rng.permutation(tasks.size)
    tasks, workers = tasks[order], chosen.ravel()[order]
    labels = _answers(rng, kind, ability, truth, difficulty, tasks, workers, n_classes)
    return Crowd(n_classes, kind, ability, truth, difficulty, tasks, workers, labels)


def _draw(rng: np.random.Generator, p: Floats, n_tasks: int, per_task: int) -> Ints:
    """n_tasks × per_task distinct workers per row, each drawn in proportion to `p`."""
    chosen = np.empty((n_tasks, per_task), np.int64)
    for slot in range(per_task):
        column = rng.choice(p.size, size=n_tasks, p=p)
        clash = (chosen[:, :slot] == column[:, None]).any(axis=1)
        while clash.any():
            column[clash] = rng.choice(p.size, size=int(clash.sum()), p=p)
            clash = (chosen[:, :slot] == column[:, None]).any(axis=1)
        chosen[:, slot] = column
    return chosen


def _answers(
    rng: np.random.Generator,
    kind: npt.NDArray[np.str_],
    ability: Floats,
    truth: Ints,
    difficulty: Floats,
    tasks: Ints,
    workers: Ints,
    k: int,
) -> Ints:
    n = tasks.size
    true = truth[tasks]
    # Drift: a drifting worker's accuracy falls linearly to chance over its answers.
    seen = np.zeros(kind.size, np.int64)
    position = np.empty(n, np.int64)
    for i, w in enumerate(workers.tolist()):
        position[i] = seen[w]
        seen[w] += 1
    progress = position / np.maximum(seen[workers] - 1, 1)
    skill = np.where(
        kind[workers] == "drifting",
        ability[workers] - (ability[workers] - 1.0 / k) * progress,
        ability[workers],
    )
    p_right = 1.0 / k + (skill - 1.0 / k) * (1.0 - difficulty[tasks])
    wrong = (true + rng.integers(1, k, n)) % k
    honest = np.where(rng.random(n) < p_right, true, wrong)
    # The biased group reads the rarest class (k − 1) as the commonest (0), 60% of the time.
    biased = np.where((true == k - 1) & (rng.random(n) < 0.6), 0, honest)
    # The leader's answer to every task, drawn once: the clique copies it on its tasks.
    leader_p = 1.0 / k + (ability[0] - 1.0 / k) * (1.0 - difficulty)
    leader_wrong = (truth + rng.integers(1, k, truth.size)) % k
    leader = np.where(rng.random(truth.size) < leader_p, truth, leader_wrong)
    constant = workers % 2 == 0  # half the spammers always answer class (worker mod K)
    spam = np.where(constant, workers % k, rng.integers(0, k, n))
    out = np.select(
        [kind[workers] == "biased", kind[workers] == "clique", kind[workers] == "spammer"],
        [biased, leader[tasks], spam],
        default=honest,
    )
    return np.asarray(out, np.int64)
