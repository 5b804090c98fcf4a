"""Replay a crowd through the market's own quality path, answer by answer.

What the market records, not what a batch fit would say: each answer goes through the
verifier the market runs (`DawidSkeneVerifier.verify`: the posterior over the stored
confusion counts, the resolution rule and the rejection rule), a resolved task's result is
counted into the voters' matrices by `services.learning.counted_votes` (the market's online
M-step), and every `refit_every` answers the stored counts are replaced by
`services.aggregation.estimate_counts` (what the quality loop stores). Only the database is
left out: the counts live in a dict, as the store keeps them (JSON). See docs/quality-bench.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from crowd import HONEST, SHAPES, Crowd, make_crowd

from earnest.domain.verification import (
    Decision,
    Submission,
    VerificationInput,
    WorkerHistory,
)
from earnest.domain.work import AssignmentStatus, Task, TaskStatus
from earnest.quality.categorical import DawidSkeneVerifier
from earnest.quality.dawid_skene import (
    CLASS_COUNTS,
    Answer,
    ClassMap,
    Counts,
    OnlineDawidSkene,
    read_class_row,
    row_distance,
)
from earnest.services.aggregation import TrainingRow, estimate_counts
from earnest.services.learning import counted_votes

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
_NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Campaign:
    """The quality settings of the replayed campaign (the spec's overlap and quality)."""

    overlap: int = 5
    min_overlap: int = 3
    confidence: float = 0.95
    refit_every: int = 5_000  # answers between two quality-loop refits
    pooled: bool = True  # the quality loop's prior: pooled from the crowd, or the fixed one


@dataclass
class Replayed:
    """What the market recorded: results, confidences, decisions, the counts it learned."""

    result: Ints  # per task, -1 while unresolved
    confidence: Floats  # per task, at resolution
    decision: npt.NDArray[np.int8]  # per answer: 1 accepted, 0 rejected, -1 never issued
    counts: dict[str, Counts]
    verify_ns: list[int] = field(default_factory=list)  # per issued answer
    refit_seconds: list[float] = field(default_factory=list)

    @property
    def issued(self) -> npt.NDArray[np.bool_]:
        """Per answer: whether the market asked for it (a resolved task takes no more)."""
        return self.decision >= 0


def replay(
    crowd: Crowd, campaign: Campaign, verifier: DawidSkeneVerifier | None = None
) -> Replayed:
    """Every answer of `crowd`, in arrival order, through the market's quality path."""
    verifier = verifier or DawidSkeneVerifier()
    k = crowd.n_classes
    classes = tuple(range(k))
    mapping = ClassMap(classes)
    result = np.full(crowd.n_tasks, -1, np.int64)
    confidence = np.zeros(crowd.n_tasks)
    decision = np.full(crowd.tasks.size, -1, np.int8)
    subs: dict[int, list[tuple[int, Submission]]] = {}
    counts: dict[str, Counts] = {}
    rows: list[TrainingRow] = []
    out = Replayed(result, confidence, decision, counts)
    tasks, workers, labels = crowd.tasks.tolist(), crowd.workers.tolist(), crowd.labels.tolist()
    for i, (t, w, label) in enumerate(zip(tasks, workers, labels, strict=True)):
        if result[t] >= 0:
            continue
        decision[i] = 1  # issued; undecided answers are counted as accepted until decided
        mine = subs.setdefault(t, [])
        mine.append((i, Submission(f"a{i}", str(w), label, AssignmentStatus.SUBMITTED, _NOW)))
        rows.append((t, str(w), label, None, None))
        start = time.perf_counter_ns()
        class_counts, pooled = read_class_row(counts.get(CLASS_COUNTS), k)
        given = VerificationInput(
            Task(t, "bench", None, {}, None, TaskStatus.OPEN),
            campaign.overlap,
            tuple(s for _, s in mine),
            {s.worker: WorkerHistory(confusion=counts.get(s.worker)) for _, s in mine},
            min_overlap=campaign.min_overlap,
            confidence=campaign.confidence,
            class_counts=class_counts,
            classes=classes,
            pooled_prior=pooled.tolist() if pooled is not None else (),
        )
        outcome = verifier.verify(given)
        if outcome.resolved:
            votes = [(s.worker, s.answer) for _, s in mine]
            counts.update(counted_votes(mapping, counts, outcome.result, votes, class_counts=True))
            result[t], confidence[t] = int(outcome.result), float(outcome.confidence or 0.0)
            index = {s.assignment_id: j for j, s in mine}
            for verdict in outcome.verdicts:
                if verdict.decision is not Decision.WAIT:
                    decision[index[verdict.assignment_id]] = verdict.decision is Decision.ACCEPT
        out.verify_ns.append(time.perf_counter_ns() - start)
        if campaign.refit_every and len(rows) % campaign.refit_every == 0:
            start = time.perf_counter_ns()
            counts.clear()
            counts.update(estimate_counts(rows, mapping, pooled=campaign.pooled)[0])
            out.refit_seconds.append((time.perf_counter_ns() - start) / 1e9)
    return out


# -- figures ---------------------------------------------------------------------------


def accuracy(labels: Ints, truth: Ints) -> float:
    return float(np.mean(labels == truth))


def per_class(labels: Ints, truth: Ints, k: int) -> list[float]:
    """Per true class, the share of its tasks labelled right (recall)."""
    return [
        float(np.mean(labels[truth == c] == c)) if (truth == c).any() else 1.0 for c in range(k)
    ]


def auc(scores: Floats, positive: npt.NDArray[np.bool_]) -> float:
    """P(a random positive scores above a random negative), ties counted half."""
    _, inverse, tally = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(tally)
    ranks = (ends - (tally - 1) / 2.0)[inverse]  # average rank, 1-based
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def calibration(confidence: Floats, right: npt.NDArray[np.bool_], bins: int = 10) -> dict[str, Any]:
    """Expected calibration error and the reliability table (bins of the stated confidence)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges) - 1, 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        if not inside.any():
            continue
        stated, observed = float(confidence[inside].mean()), float(right[inside].mean())
        ece += inside.mean() * abs(stated - observed)
        table.append((float(edges[b]), float(edges[b + 1]), int(inside.sum()), stated, observed))
    return {"ece": float(ece), "table": table}


def reliability_diagram(table: list[tuple[float, float, int, float, float]]) -> str:
    """The reliability table as text: one row per bin, a bar of the observed accuracy."""
    lines = ["  bin          tasks   stated  observed"]
    for low, high, n, stated, observed in table:
        bar = "#" * round(observed * 40)
        lines.append(f"  {low:.1f}–{high:.1f}  {n:7d}   {stated:.3f}   {observed:.3f}  {bar}")
    return "\n".join(lines)


def stored_prior(
    counts: dict[str, Counts], verifier: DawidSkeneVerifier, k: int
) -> tuple[Floats, Floats]:
    """(class frequencies, K×K pseudo-counts) the verifier uses with the stored counts."""
    class_counts, pooled = read_class_row(counts.get(CLASS_COUNTS), k)
    alpha = pooled if pooled is not None else verifier.prior.matrix(k)
    freq = np.asarray(class_counts or [0.0] * k) + verifier.prior.classes
    return freq / freq.sum(), alpha


def skills(
    counts: dict[str, Counts], verifier: DawidSkeneVerifier, k: int, n_workers: int
) -> Floats:
    """Per worker, the expected accuracy the stored counts give under the verifier's prior."""
    priors, alpha = stored_prior(counts, verifier, k)
    out = np.zeros(n_workers)
    for w in range(n_workers):
        total = alpha + np.asarray(counts.get(str(w)) or np.zeros((k, k)))
        out[w] = float(priors @ np.diagonal(total / total.sum(axis=1, keepdims=True)))
    return out


def spam_scores(
    counts: dict[str, Counts], verifier: DawidSkeneVerifier, k: int, n_workers: int
) -> Floats:
    """Per worker, 1 − `row_distance` of the stored counts: near 1 when the answer ignores
    the truth (a uniform or constant labeller), near 0 for a worker who is always right."""
    _, alpha = stored_prior(counts, verifier, k)
    return np.array([1.0 - row_distance(counts.get(str(w)), alpha) for w in range(n_workers)])


def production_figures(crowd: Crowd, run: Replayed) -> dict[str, Any]:
    """What the market recorded, scored against the truth."""
    k, truth = crowd.n_classes, crowd.truth
    classes = per_class(run.result, truth, k)
    issued = run.issued
    answer_right = crowd.labels == truth[crowd.tasks]
    honest = crowd.is_kind(*HONEST)[crowd.workers]
    clique = crowd.is_kind("clique")[crowd.workers]
    honest_right = issued & honest & answer_right
    clique_wrong = issued & clique & ~answer_right
    timings = np.asarray(run.verify_ns) / 1e6
    cal = calibration(run.confidence, run.result == truth)
    return {
        "accuracy": accuracy(run.result, truth),
        "per_class": classes,
        "minority": classes[-1],
        "class0_share": float(np.mean(run.result == 0)),
        "class0_true": float(np.mean(truth == 0)),
        "answers_issued": int(issued.sum()),
        "wrongful_rejections": float(np.mean(run.decision[honest_right] == 0)),
        "clique_wrong_passed": float(np.mean(run.decision[clique_wrong] == 1))
        if clique_wrong.any()
        else float("nan"),
        "ece": cal["ece"],
        "reliability": cal["table"],
        "update_ms_median": float(np.median(timings)),
        "update_ms_p99": float(np.percentile(timings, 99)),
        "update_ms_max": float(timings.max()),
        "refit_s_max": max(run.refit_seconds, default=0.0),
    }


def fit_labels(
    crowd: Crowd, issued: npt.NDArray[np.bool_], pooled: bool = True
) -> tuple[Ints, OnlineDawidSkene]:
    """`OnlineDawidSkene.fit()` on the answers the market collected."""
    answers = map(
        Answer,
        crowd.tasks[issued].tolist(),
        crowd.workers[issued].tolist(),
        crowd.labels[issued].tolist(),
    )
    estimator = OnlineDawidSkene(crowd.n_classes, pooled=pooled).fit(answers)
    found = estimator.labels_
    return np.array([found.get(t, -1) for t in range(crowd.n_tasks)], np.int64), estimator


def online_latency(
    crowd: Crowd, issued: npt.NDArray[np.bool_], refit_every: int
) -> dict[str, float]:
    """`OnlineDawidSkene.update` on the collected answers, with background refits running:
    per-update latency (median, p99, max) while batch EM runs in a thread."""
    estimator = OnlineDawidSkene(crowd.n_classes, refit_every=refit_every, background=True)
    rows = zip(
        crowd.tasks[issued].tolist(),
        crowd.workers[issued].tolist(),
        crowd.labels[issued].tolist(),
        strict=True,
    )
    timings = []
    for t, w, label in rows:
        start = time.perf_counter_ns()
        estimator.update(Answer(t, w, label))
        timings.append(time.perf_counter_ns() - start)
    estimator.wait()
    ms = np.asarray(timings) / 1e6
    return {
        "online_ms_median": float(np.median(ms)),
        "online_ms_p99": float(np.percentile(ms, 99)),
        "online_ms_max": float(ms.max()),
    }


PEERS = ("mv", "onecoin_ds", "ds", "mace", "glad", "wawa")


def crowdkit_labels(
    crowd: Crowd, issued: npt.NDArray[np.bool_], peers: tuple[str, ...]
) -> dict[str, Ints]:
    """crowd-kit's estimators on the answers the market collected (each one's labels)."""
    import pandas as pd
    from crowdkit.aggregation import (
        GLAD,
        MACE,
        DawidSkene,
        MajorityVote,
        OneCoinDawidSkene,
        Wawa,
    )

    frame = pd.DataFrame(
        {
            "task": crowd.tasks[issued],
            "worker": crowd.workers[issued],
            "label": crowd.labels[issued],
        }
    )
    makers: dict[str, Any] = {
        "mv": MajorityVote,
        "onecoin_ds": lambda: OneCoinDawidSkene(n_iter=100),
        "ds": lambda: DawidSkene(n_iter=100),
        "mace": lambda: MACE(random_state=0),
        "glad": GLAD,
        "wawa": Wawa,
    }
    methods = {name: makers[name]() for name in peers}
    if "wawa" in methods:
        try:
            Wawa().fit_predict(frame.head(10))
        except AttributeError as error:  # crowd-kit 1.4.2 predates scikit-learn's tags
            log(f"crowd-kit Wawa skipped: {str(error)[:90]}")
            del methods["wawa"]
    out = {}
    for name, method in methods.items():
        start = time.perf_counter()
        found = method.fit_predict(frame).to_dict()
        out[name] = np.array([found.get(t, -1) for t in range(crowd.n_tasks)], np.int64)
        log(f"crowd-kit {name}: {time.perf_counter() - start:.1f} s")
    return out


def log(message: str) -> None:
    print(f"[replay] {message}", file=sys.stderr, flush=True)


def run_seed(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """Every figure for one seed: the market's path, fit(), and (unless --fast) crowd-kit."""
    crowd = make_crowd(
        seed, shape=args.shape, n_tasks=args.tasks, n_workers=args.workers, n_classes=args.classes
    )
    campaign = Campaign(
        args.overlap, args.min_overlap, args.confidence, args.refit_every, not args.fixed_prior
    )
    verifier = DawidSkeneVerifier()
    start = time.perf_counter()
    run = replay(crowd, campaign, verifier)
    log(f"seed {seed}: production replay {time.perf_counter() - start:.1f} s")
    figures = {"seed": seed, "shape": args.shape} | production_figures(crowd, run)
    active = np.bincount(crowd.workers[run.issued], minlength=crowd.n_workers) > 0
    spammer = crowd.is_kind("spammer")[active]
    skill = skills(run.counts, verifier, crowd.n_classes, crowd.n_workers)
    figures["spammer_auc_skill"] = auc(1.0 - skill[active], spammer)
    spam = spam_scores(run.counts, verifier, crowd.n_classes, crowd.n_workers)
    figures["spammer_auc_rows"] = auc(spam[active], spammer)
    labels, _ = fit_labels(crowd, run.issued, not args.fixed_prior)
    figures["accuracy_fit"] = accuracy(labels, crowd.truth)
    figures["minority_fit"] = per_class(labels, crowd.truth, crowd.n_classes)[-1]
    figures |= online_latency(crowd, run.issued, max(args.refit_every, 1))
    if not args.fast:
        for name, found in crowdkit_labels(crowd, run.issued, tuple(args.peers)).items():
            figures[f"accuracy_{name}"] = accuracy(found, crowd.truth)
            figures[f"minority_{name}"] = per_class(found, crowd.truth, crowd.n_classes)[-1]
    return figures


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="mixed")
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=1_500)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--overlap", type=int, default=5)
    parser.add_argument("--min-overlap", type=int, default=3)
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--refit-every", type=int, default=5_000)
    parser.add_argument(
        "--fixed-prior", action="store_true", help="the fixed 4/1 prior (the market before)"
    )
    parser.add_argument(
        "--peers",
        nargs="*",
        choices=PEERS,
        default=["mv", "onecoin_ds", "ds", "mace", "wawa"],
        help="crowd-kit methods to compare (glad takes ~6 min a seed, mace minutes)",
    )
    parser.add_argument("--fast", action="store_true", help="small crowd, no crowd-kit (seconds)")
    args = parser.parse_args(argv)
    if args.fast:
        args.tasks, args.workers, args.refit_every = (
            min(args.tasks, 1_500),
            min(args.workers, 150),
            1_000,
        )
    return args


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse(argv)
    results = [run_seed(args, seed) for seed in args.seeds]
    for r in results:
        peers = [k for k in r if k.startswith("accuracy_") and k != "accuracy_fit"]
        line = "  ".join(f"{k.removeprefix('accuracy_')} {r[k]:.4f}" for k in peers)
        print(
            f"seed {r['seed']} {r['shape']}: production {r['accuracy']:.4f} (minority "
            f"{r['minority']:.3f})  fit {r['accuracy_fit']:.4f} (minority {r['minority_fit']:.3f})"
            f"  {line}"
        )
        print(
            f"  wrongful rejections {r['wrongful_rejections']:.2%}  clique wrong passed "
            f"{r['clique_wrong_passed']:.0%}  spammer AUC (skill) {r['spammer_auc_skill']:.3f} "
            f"(rows) {r['spammer_auc_rows']:.3f}  ECE {r['ece']:.4f}  class 0 "
            f"{r['class0_share']:.3f} of labels, {r['class0_true']:.3f} true"
        )
        print(
            f"  verify+learn ms median {r['update_ms_median']:.3f} p99 {r['update_ms_p99']:.3f} "
            f"max {r['update_ms_max']:.1f}; online update ms median {r['online_ms_median']:.3f} "
            f"p99 {r['online_ms_p99']:.3f} max {r['online_ms_max']:.1f} (refits in a thread)"
        )
        print(reliability_diagram(r["reliability"]))
    print(json.dumps([{k: v for k, v in r.items() if k != "reliability"} for r in results]))
    return results


if __name__ == "__main__":
    main()
