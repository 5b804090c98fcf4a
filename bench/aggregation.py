"""Benchmark: Earnest's online Dawid-Skene against crowd-kit on a synthetic crowd.

Same process, same data, known truth. Progress goes to stderr, a table to stdout, and the
last stdout line is one JSON object with the figures (see docs/quality-bench.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from crowdkit.aggregation import DawidSkene, MajorityVote

from earnest.quality.dawid_skene import Answer, OnlineDawidSkene

Ints = npt.NDArray[np.int64]

# The crowd mix: (kind, share of workers). Kinds are given to workers independently of
# how active they are. Documented in docs/quality-bench.md; not tuned to favour anyone.
MIX = (("reliable", 0.45), ("noisy", 0.25), ("biased", 0.12), ("spammer", 0.10), ("colluder", 0.08))
RINGS = 4  # colluders form this many rings; a ring agrees on one answer per task


@dataclass(frozen=True)
class Crowd:
    kind: npt.NDArray[np.str_]
    accuracy: npt.NDArray[np.float64]  # P(correct) when answering honestly
    favourite: Ints  # class-biased workers' favourite class
    bias: npt.NDArray[np.float64]  # how often they give it regardless of the task
    ring: Ints
    activity: npt.NDArray[np.float64]  # share of all answers, lognormal across workers
    n_classes: int


def make_crowd(rng: np.random.Generator, n_workers: int, n_classes: int) -> Crowd:
    shares = np.array([share for _, share in MIX])
    kind = rng.choice([name for name, _ in MIX], size=n_workers, p=shares / shares.sum())
    accuracy = np.select(
        [kind == "reliable", kind == "noisy", kind == "biased"],
        [rng.uniform(0.85, 0.95, n_workers), rng.uniform(0.5, 0.7, n_workers), 0.8],
        default=1.0 / n_classes,
    )
    activity = rng.lognormal(0.0, 1.0, n_workers)
    return Crowd(
        kind=kind,
        accuracy=accuracy,
        favourite=rng.integers(0, n_classes, n_workers),
        bias=rng.uniform(0.3, 0.6, n_workers),
        ring=rng.integers(0, RINGS, n_workers),
        activity=activity / activity.sum(),
        n_classes=n_classes,
    )


def class_prior(n_classes: int) -> npt.NDArray[np.float64]:
    """Skewed true-class frequencies (0.39, 0.28, 0.19, 0.14 for 4 classes)."""
    weights = 0.7 ** np.arange(n_classes)
    return np.asarray(weights / weights.sum())


def draw_workers(rng: np.random.Generator, crowd: Crowd, n_tasks: int, per_task: int) -> Ints:
    """n_tasks × per_task distinct workers per row, each drawn in proportion to activity."""
    chosen = np.empty((n_tasks, per_task), np.int64)
    n_workers = crowd.activity.size
    for slot in range(per_task):
        column = rng.choice(n_workers, size=n_tasks, p=crowd.activity)
        clash = (chosen[:, :slot] == column[:, None]).any(axis=1)
        while clash.any():
            column[clash] = rng.choice(n_workers, size=int(clash.sum()), p=crowd.activity)
            clash = (chosen[:, :slot] == column[:, None]).any(axis=1)
        chosen[:, slot] = column
    return chosen


def answer(rng: np.random.Generator, crowd: Crowd, tasks: Ints, truth: Ints, workers: Ints) -> Ints:
    """The label each worker gives each task, by worker kind."""
    k, kind = crowd.n_classes, crowd.kind[workers]
    wrong = (truth + rng.integers(1, k, truth.size)) % k
    honest = np.where(rng.random(truth.size) < crowd.accuracy[workers], truth, wrong)
    biased = np.where(
        rng.random(truth.size) < crowd.bias[workers], crowd.favourite[workers], honest
    )
    # A ring's shared answer: a hash of (ring, task), so it ignores the truth but agrees.
    mixed = tasks.astype(np.uint64) * np.uint64(2654435761) + crowd.ring[workers].astype(np.uint64)
    ring_answer = ((mixed * np.uint64(40503)) >> np.uint64(16)) % np.uint64(k)
    return np.select(
        [kind == "biased", kind == "spammer", kind == "colluder"],
        [biased, rng.integers(0, k, truth.size), ring_answer.astype(np.int64)],
        default=honest,
    )


@dataclass(frozen=True)
class Batch:
    truth: Ints  # per task
    tasks: Ints  # per answer, in arrival order
    workers: Ints
    labels: Ints


def make_batch(
    rng: np.random.Generator, crowd: Crowd, first_task: int, n_tasks: int, n_answers: int
) -> Batch:
    truth = rng.choice(crowd.n_classes, size=n_tasks, p=class_prior(crowd.n_classes))
    per_task = -(-n_answers // n_tasks)
    workers = draw_workers(rng, crowd, n_tasks, per_task)
    tasks = np.repeat(np.arange(n_tasks), per_task)
    keep = rng.permutation(tasks.size)[:n_answers]  # random arrival order, ~equal overlap
    flat_workers = workers.ravel()[keep]
    labels = answer(rng, crowd, tasks[keep] + first_task, truth[tasks[keep]], flat_workers)
    return Batch(truth, tasks[keep] + first_task, flat_workers, labels)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def accuracy(labels: dict[Any, int], truth: Ints) -> float:
    """Share of tasks 0..n-1 whose label is the truth (a task without a label is wrong)."""
    hits = sum(labels.get(t) == int(label) for t, label in enumerate(truth))
    return hits / truth.size


def run_earnest(batch: Batch, k: int, refit_every: int) -> tuple[OnlineDawidSkene, dict[str, Any]]:
    """Stream every answer through update(); the last refit is waited for and timed."""
    estimator = OnlineDawidSkene(k, refit_every=refit_every, background=True)
    rows = zip(batch.tasks.tolist(), batch.workers.tolist(), batch.labels.tolist(), strict=True)
    timings: list[int] = []
    start = time.perf_counter()
    for task, worker, label in rows:
        before = time.perf_counter_ns()
        estimator.update(Answer(task, worker, label))
        timings.append(time.perf_counter_ns() - before)
    live = estimator.labels_  # before the refit still running (if any) lands
    estimator.wait()
    seconds = time.perf_counter() - start
    return estimator, {
        "accuracy_earnest": accuracy(estimator.labels_, batch.truth),
        "accuracy_earnest_live": accuracy(live, batch.truth),
        "update_ms_median": statistics.median(timings) / 1e6,
        "update_ms_p99": float(np.percentile(timings, 99)) / 1e6,
        "seconds_earnest": seconds,
    }


def run_earnest_batch(batch: Batch, k: int) -> dict[str, Any]:
    """Earnest's batch estimate (fit) on the same answers: like for like with crowd-kit."""
    answers = map(Answer, batch.tasks.tolist(), batch.workers.tolist(), batch.labels.tolist())
    start = time.perf_counter()
    labels = OnlineDawidSkene(k).fit(answers).labels_
    seconds = time.perf_counter() - start
    log(f"earnest batch fit: {seconds:.1f} s")
    return {
        "accuracy_earnest_batch": accuracy(labels, batch.truth),
        "seconds_earnest_batch": seconds,
    }


def run_crowdkit(batch: Batch) -> dict[str, Any]:
    frame = pd.DataFrame({"task": batch.tasks, "worker": batch.workers, "label": batch.labels})
    start = time.perf_counter()
    majority = MajorityVote().fit_predict(frame)
    seconds_mv = time.perf_counter() - start
    log(f"crowd-kit MajorityVote: {seconds_mv:.1f} s")
    start = time.perf_counter()
    dawid_skene = DawidSkene(n_iter=100).fit_predict(frame)
    seconds_ds = time.perf_counter() - start
    return {
        "accuracy_mv": accuracy(majority.to_dict(), batch.truth),
        "accuracy_ds": accuracy(dawid_skene.to_dict(), batch.truth),
        "seconds_mv": seconds_mv,
        "seconds_ds": seconds_ds,
    }


Policy = Callable[[int, float], bool]  # (answers so far, max posterior) → stop?


def run_overlap(
    warm: OnlineDawidSkene, truth: Ints, draws: Ints, labels: Ints, first: int, stop: Policy
) -> tuple[int, float]:
    """Answers used and accuracy when each task takes answers in draw order until `stop`."""
    used = correct = 0
    for t in range(truth.size):
        for j in range(draws.shape[1]):
            post = warm.update(Answer(first + t, int(draws[t, j]), int(labels[t, j])))
            if stop(j + 1, float(post.max())):
                break
        used += j + 1
        correct += int(post.argmax()) == truth[t]
    return used, correct / truth.size


@dataclass(frozen=True)
class Fresh:
    """New tasks for the overlap experiment: the same draws serve every policy (paired)."""

    first: int
    truth: Ints
    draws: Ints  # task × max overlap, workers in the order they would answer
    labels: Ints


def make_fresh(rng: np.random.Generator, crowd: Crowd, args: argparse.Namespace) -> Fresh:
    first, n, most = args.tasks, args.dynamic_tasks, max(args.max_overlap, args.fixed_overlap)
    truth = rng.choice(crowd.n_classes, size=n, p=class_prior(crowd.n_classes))
    draws = draw_workers(rng, crowd, n, most)
    task_ids = np.repeat(np.arange(first, first + n), most)
    labels = answer(rng, crowd, task_ids, np.repeat(truth, most), draws.ravel())
    return Fresh(first, truth, draws, labels.reshape(n, most))


def run_policy(known: OnlineDawidSkene, fresh: Fresh, stop: Policy) -> tuple[int, float]:
    warm = known.copy()
    warm.refit_every = 0  # each task is decided when its last answer arrives
    start = time.perf_counter()
    result = run_overlap(warm, fresh.truth, fresh.draws, fresh.labels, fresh.first, stop)
    log(f"  {fresh.truth.size} fresh tasks in {time.perf_counter() - start:.1f} s")
    return result


def run_dynamic(known: OnlineDawidSkene, fresh: Fresh, args: argparse.Namespace) -> dict[str, Any]:
    """Fixed overlap against dynamic overlap at `--confidence` (and at each `--sweep` value)."""
    most, least, fixed = args.max_overlap, args.min_overlap, args.fixed_overlap

    def dynamic(confidence: float) -> Policy:
        return lambda used, top: used >= most or (used >= least and top >= confidence)

    results: dict[str, Any] = {}
    used, acc = run_policy(known, fresh, lambda used, _top: used >= fixed)
    results["labels_fixed5"], results["accuracy_fixed5"] = used, acc
    log(f"overlap fixed {fixed}: {used} answers, accuracy {acc:.4f}")
    for confidence in [args.confidence, *args.sweep]:
        used, acc = run_policy(known, fresh, dynamic(confidence))
        log(f"overlap dynamic at {confidence}: {used} answers, accuracy {acc:.4f}")
        suffix = "" if confidence == args.confidence else f"_at_{confidence}"
        results[f"labels_dynamic{suffix}"], results[f"accuracy_dynamic{suffix}"] = used, acc
    results["labels_saved_ratio"] = 1 - results["labels_dynamic"] / results["labels_fixed5"]
    return results


def true_confusions(crowd: Crowd) -> npt.NDArray[np.float64]:
    """Each worker's real confusion matrix (a ring's answers look uniform, worker by worker)."""
    k, n = crowd.n_classes, crowd.kind.size
    honest = (1 - crowd.accuracy)[:, None, None] / (k - 1) * (1 - np.eye(k))
    honest += crowd.accuracy[:, None, None] * np.eye(k)
    favourite = np.eye(k)[crowd.favourite][:, None, :].repeat(k, axis=1)
    bias = np.where(crowd.kind == "biased", crowd.bias, 0.0)[:, None, None]
    honest_kinds = np.isin(crowd.kind, ["reliable", "noisy", "biased"])[:, None, None]
    return np.where(honest_kinds, (1 - bias) * honest + bias * favourite, np.full((n, k, k), 1 / k))


def run_oracle(crowd: Crowd, fresh: Fresh, args: argparse.Namespace) -> dict[str, Any]:
    """The same overlap experiment with the true confusions and prior instead of estimates:
    what the trade-off is when nothing has to be learned."""
    log_p = np.log(true_confusions(crowd))[fresh.draws, :, fresh.labels]  # task × answer × K
    log_p = np.cumsum(log_p, axis=1) + np.log(class_prior(crowd.n_classes))
    posts = np.exp(log_p - log_p.max(axis=2, keepdims=True))
    posts /= posts.sum(axis=2, keepdims=True)
    n, most = fresh.truth.size, args.max_overlap
    posts = posts[:, :most]
    confident = (posts.max(axis=2) >= args.confidence) & (np.arange(most) + 1 >= args.min_overlap)
    stop = np.where(confident.any(axis=1), confident.argmax(axis=1), most - 1)
    right = posts.argmax(axis=2) == fresh.truth[:, None]
    fixed = (np.exp(log_p[:, args.fixed_overlap - 1]).argmax(axis=1) == fresh.truth).mean()
    return {
        "oracle_accuracy_fixed5": float(fixed),
        "oracle_labels_dynamic": int((stop + 1).sum()),
        "oracle_accuracy_dynamic": float(right[np.arange(n), stop].mean()),
    }


def targets(r: dict[str, Any]) -> dict[str, bool]:
    """The targets the online estimator is held to, met or not."""
    as_good = r["accuracy_earnest"] >= r["accuracy_ds"] - 0.005
    cheaper = r["labels_dynamic"] <= 0.7 * r["labels_fixed5"]
    return {
        "accuracy_earnest >= accuracy_ds - 0.005": as_good,
        "update_ms_median <= 1": r["update_ms_median"] <= 1.0,
        "labels_dynamic <= 0.7 * labels_fixed5": cheaper,
        "accuracy_dynamic >= accuracy_fixed5": r["accuracy_dynamic"] >= r["accuracy_fixed5"],
    }


def report(r: dict[str, Any]) -> None:
    print(f"{'figure':<28}{'value':>12}")
    for key, value in r.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"{key:<28}{shown:>12}")
    print()
    for target, met in targets(r).items():
        print(f"{'MET    ' if met else 'NOT MET'}  {target}")
    print(json.dumps({key: round(v, 6) if isinstance(v, float) else v for key, v in r.items()}))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--workers", type=int, default=2000)
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--answers", type=int, default=200_000)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--refit-every", type=int, default=25_000)
    parser.add_argument("--dynamic-tasks", type=int, default=10_000)
    parser.add_argument("--min-overlap", type=int, default=2)
    parser.add_argument(
        "--max-overlap",
        type=int,
        default=7,
        help="dynamic overlap's most answers per task: labels saved on easy tasks go to hard ones",
    )
    parser.add_argument("--fixed-overlap", type=int, default=5, help="the fixed policy compared")
    parser.add_argument("--confidence", type=float, default=0.9)
    parser.add_argument(
        "--sweep",
        type=lambda text: [float(v) for v in text.split(",") if v],
        default=[0.95, 0.97, 0.99],
        help="more confidence targets to try (comma-separated), for the trade-off curve",
    )
    return parser.parse_args()


def main() -> None:
    args = parse()
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    crowd = make_crowd(rng, args.workers, args.classes)
    batch = make_batch(rng, crowd, 0, args.tasks, args.answers)
    log(
        f"crowd: {args.workers} workers, {args.tasks} tasks, {batch.labels.size} answers "
        f"({time.perf_counter() - start:.1f} s)"
    )
    results: dict[str, Any] = {}
    estimator, earnest = run_earnest(batch, args.classes, args.refit_every)
    results |= earnest
    log(f"earnest online: {earnest['seconds_earnest']:.1f} s")
    results |= run_earnest_batch(batch, args.classes)
    results |= run_crowdkit(batch)
    log(f"crowd-kit DawidSkene: {results['seconds_ds']:.1f} s")
    fresh = make_fresh(rng, crowd, args)
    results |= run_dynamic(estimator, fresh, args)
    results |= run_oracle(crowd, fresh, args)
    report(results)


if __name__ == "__main__":
    main()
