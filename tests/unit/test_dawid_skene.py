"""OnlineDawidSkene and the posterior: hand-worked cases, invariants, batch agreement."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Hashable, Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.quality.dawid_skene import Answer, OnlineDawidSkene, _online, posterior


def task_posterior(
    priors: list[float], confusions: list[list[list[float]]], labels: list[int]
) -> list[float]:
    matrices = [np.asarray(m, np.float64) for m in confusions]
    result: list[float] = posterior(np.asarray(priors, np.float64), matrices, labels).tolist()
    return result


def stream(draw: st.DrawFn, k: int) -> list[Answer]:
    """Random answers, at most one per (task, worker), in random arrival order."""
    pairs = draw(
        st.lists(st.tuples(st.integers(0, 12), st.integers(0, 8)), min_size=1, max_size=60)
    )
    labels = draw(st.lists(st.integers(0, k - 1), min_size=len(pairs), max_size=len(pairs)))
    unique = dict(zip(pairs, labels, strict=True))
    return [Answer(f"t{t}", f"w{w}", label) for (t, w), label in unique.items()]


@st.composite
def answer_streams(draw: st.DrawFn) -> tuple[int, list[Answer]]:
    k = draw(st.integers(2, 4))
    return k, stream(draw, k)


def reliable_crowd(seed: int, n_tasks: int = 300, per_task: int = 4) -> Iterator[Answer]:
    """Workers 80-95% accurate, errors uniform; answers arrive in random order."""
    rng = np.random.default_rng(seed)
    k, n_workers = 3, 30
    accuracy = rng.uniform(0.8, 0.95, n_workers)
    truth = rng.integers(0, k, n_tasks)
    answers = []
    for t in range(n_tasks):
        for w in rng.choice(n_workers, per_task, replace=False).tolist():
            right = rng.random() < accuracy[w]
            label = truth[t] if right else (truth[t] + rng.integers(1, k)) % k
            answers.append(Answer(t, w, int(label)))
    return iter([answers[i] for i in rng.permutation(len(answers))])


def expected_confusions(
    estimator: OnlineDawidSkene, answers: list[Answer]
) -> dict[Hashable, np.ndarray]:
    """Confusions rebuilt from the posteriors: what the incremental counts must add up to."""
    k, probas = estimator.n_classes, estimator.probas_
    counts: dict[Hashable, np.ndarray] = defaultdict(lambda: np.zeros((k, k)))
    for a in answers:
        counts[a.worker][:, a.label] += probas[a.task]
    prior = estimator.alpha_
    return {w: (c + prior) / (c + prior).sum(axis=1, keepdims=True) for w, c in counts.items()}


# -- task_posterior -----------------------------------------------------------------------


def test_task_posterior_is_the_bayes_formula() -> None:
    a = [[0.8, 0.2], [0.3, 0.7]]
    b = [[0.9, 0.1], [0.4, 0.6]]
    # A says 0, B says 1: P(0) ∝ 0.6·0.8·0.1 = 0.048, P(1) ∝ 0.4·0.3·0.6 = 0.072.
    assert task_posterior([0.6, 0.4], [a, b], [0, 1]) == pytest.approx([0.4, 0.6], abs=1e-12)


def test_task_posterior_without_answers_is_the_prior_normalised() -> None:
    assert task_posterior([3.0, 1.0], [], []) == pytest.approx([0.75, 0.25])


def test_task_posterior_survives_impossible_answers() -> None:
    never = [[1.0, 0.0], [0.0, 1.0]]
    posterior = task_posterior([0.5, 0.5], [never, never], [0, 1])
    assert sum(posterior) == pytest.approx(1.0) and min(posterior) >= 0


@pytest.mark.parametrize(
    ("priors", "confusions", "labels"),
    [
        ([0.5, 0.5], [[[0.9, 0.1], [0.1, 0.9]]], [2]),
        ([0.5, 0.5], [[[0.9, 0.1], [0.1, 0.9]]], [-1]),
        ([0.5, 0.5], [[[0.9, 0.1], [0.1, 0.9]]], []),
        ([0.5, 0.5], [[[0.9, 0.1, 0.0], [0.1, 0.9, 0.0]]], [0]),
        ([1.0], [], []),
    ],
)
def test_task_posterior_refuses_what_does_not_fit(
    priors: list[float], confusions: list[list[list[float]]], labels: list[int]
) -> None:
    with pytest.raises(ValueError):
        task_posterior(priors, confusions, labels)


# -- hand-worked updates ------------------------------------------------------------------


def test_a_first_answer_is_judged_by_the_diagonal_prior() -> None:
    estimator = OnlineDawidSkene(2, smoothing=1.0, diagonal=4.0)
    # Uniform class prior; a new worker answers 0 with P 4/5 if the truth is 0, 1/5 if 1.
    assert estimator.update(Answer("t", "a", 0)) == pytest.approx([0.8, 0.2])


def test_two_new_workers_who_disagree_tie_and_the_tie_goes_to_the_lowest_class() -> None:
    estimator = OnlineDawidSkene(2, smoothing=1.0, diagonal=4.0)
    estimator.update(Answer("t", "a", 1))
    # The task's first share is taken back out: both workers are new again, 4/25 each way.
    assert estimator.update(Answer("t", "b", 0)) == pytest.approx([0.5, 0.5])
    assert estimator.labels_ == {"t": 0}


def test_an_update_is_the_bayes_posterior_under_the_rest_of_the_data() -> None:
    estimator = OnlineDawidSkene(3).fit(reliable_crowd(seed=1, n_tasks=60))
    priors, confusions = estimator.priors_, estimator.confusions_
    votes = [Answer("new", 0, 2), Answer("new", 1, 2), Answer("new", 2, 0)]
    for vote in votes:
        posterior = estimator.update(vote)
    matrices = [confusions[v.worker].tolist() for v in votes]
    expected = task_posterior(priors.tolist(), matrices, [v.label for v in votes])
    assert posterior == pytest.approx(expected, abs=1e-12)


def test_a_worker_who_always_disagrees_with_three_reliable_ones_gets_a_low_skill() -> None:
    truths = np.random.default_rng(3).integers(0, 3, 40).tolist()
    answers = []
    for t, truth in enumerate(truths):
        answers += [Answer(t, w, truth) for w in ("r1", "r2", "r3")]
        answers.append(Answer(t, "contrarian", (truth + 1) % 3))
    skills = OnlineDawidSkene(3, smoothing=1.0, diagonal=4.0, pooled=False).fit(answers).skills_
    # The reliable three win every task, so with n_k tasks of class k the contrarian's
    # diagonal is its prior pseudo-count alone: 4 / (4 + 1 + 1 + n_k); theirs (4 + n_k) / (6 + n_k).
    n = np.bincount(truths, minlength=3)
    prior = (n + 1) / (n + 1).sum()
    assert skills["contrarian"] == pytest.approx(prior @ (4 / (6 + n)), abs=0.01)
    assert skills["contrarian"] < 1 / 3 < 0.8 < skills["r1"]
    assert skills["r1"] == pytest.approx(prior @ ((4 + n) / (6 + n)), abs=0.01)


def test_gold_clamps_the_task_and_teaches_the_workers_who_answered_it() -> None:
    estimator = OnlineDawidSkene(2)
    for t in range(20):  # "liar" answers the opposite of the known truth, all alone
        estimator.update(Answer(t, "liar", 1))
        assert estimator.observe_truth(t, 0) == pytest.approx([1.0, 0.0])
    estimator.refit()
    assert estimator.posterior(5) == pytest.approx([1.0, 0.0])
    assert estimator.skills_["liar"] < 0.2
    # The liar's next answer on an unknown task now counts against what it says.
    assert estimator.update(Answer("open", "liar", 1))[0] > 0.8


@pytest.mark.parametrize(
    "settings_",
    [{"n_classes": 1}, {"smoothing": 0.0}, {"diagonal": -1.0}, {"n_iter": 0}, {"refit_every": -1}],
)
def test_bad_settings_are_refused(settings_: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        OnlineDawidSkene(**{"n_classes": 3, **settings_})  # type: ignore[arg-type]


def test_labels_out_of_range_and_repeated_answers_are_refused() -> None:
    estimator = OnlineDawidSkene(3)
    for bad in (3, -1):
        with pytest.raises(ValueError, match="outside"):
            estimator.update(Answer("t", "w", bad))
        with pytest.raises(ValueError, match="outside"):
            estimator.observe_truth("t", bad)
    estimator.update(Answer("t", "w", 1))
    with pytest.raises(ValueError, match="already answered"):
        estimator.update(Answer("t", "w", 2))


def test_a_copy_is_independent() -> None:
    estimator = OnlineDawidSkene(3).fit(reliable_crowd(seed=2, n_tasks=30))
    twin = estimator.copy()
    twin.update(Answer("only in the twin", 0, 1))
    assert "only in the twin" not in estimator.labels_
    assert twin.labels_.items() >= estimator.labels_.items()


# -- background refits ----------------------------------------------------------------------


def test_answers_that_arrive_during_a_background_refit_are_reapplied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release, real = threading.Event(), _online._batch_em

    def slow_em(*args: object) -> object:
        release.wait(5)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(_online, "_batch_em", slow_em)
    answers = list(reliable_crowd(seed=4, n_tasks=100))
    estimator = OnlineDawidSkene(3, refit_every=200, background=True)
    for answer in answers[:250]:  # the refit starts at 200 and waits for the other 50
        estimator.update(answer)
    estimator.observe_truth(answers[0].task, 1)
    estimator.update(Answer("brand new task", "brand new worker", 2))
    release.set()
    estimator.wait()
    seen = [*answers[:250], Answer("brand new task", "brand new worker", 2)]
    expected = expected_confusions(estimator, seen)
    for worker, confusion in estimator.confusions_.items():
        np.testing.assert_allclose(confusion, expected[worker], atol=1e-9)
    assert estimator.posterior(answers[0].task) == pytest.approx([0.0, 1.0, 0.0])


def test_a_failed_background_refit_is_raised_by_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> object:
        raise FloatingPointError("boom")

    monkeypatch.setattr(_online, "_batch_em", broken)
    estimator = OnlineDawidSkene(2, refit_every=1, background=True)
    estimator.update(Answer("t", "w", 0))
    with pytest.raises(RuntimeError, match="background refit failed"):
        estimator.wait()
    assert estimator.update(Answer("t", "v", 0)).sum() == pytest.approx(1.0)
    with pytest.raises(RuntimeError):  # the second refit failed as well
        estimator.wait()
    estimator.wait()  # each failure is reported once
    assert estimator.labels_ == {"t": 0}


# -- properties -----------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(answer_streams())
def test_posteriors_are_distributions_and_counts_add_up(case: tuple[int, list[Answer]]) -> None:
    k, answers = case
    estimator = OnlineDawidSkene(k, smoothing=0.5, diagonal=2.0)
    for answer in answers:
        posterior = estimator.update(answer)
        assert posterior.min() >= 0 and abs(posterior.sum() - 1) < 1e-9
    for probas in estimator.probas_.values():
        assert probas.min() >= 0 and abs(probas.sum() - 1) < 1e-9
    assert abs(estimator.priors_.sum() - 1) < 1e-9
    expected = expected_confusions(estimator, answers)
    for worker, confusion in estimator.confusions_.items():
        np.testing.assert_allclose(confusion, expected[worker], atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(answer_streams())
def test_after_refit_the_online_estimate_is_the_batch_estimate(
    case: tuple[int, list[Answer]],
) -> None:
    k, answers = case
    online = OnlineDawidSkene(k)
    for answer in answers:
        online.update(answer)
    online.refit()
    batch = OnlineDawidSkene(k).fit(answers)
    assert online.labels_ == batch.labels_
    for task, probas in batch.probas_.items():
        np.testing.assert_allclose(online.posterior(task), probas, atol=1e-9)


@settings(max_examples=3, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_without_refits_the_online_labels_converge_to_the_batch_labels(seed: int) -> None:
    answers = list(reliable_crowd(seed, per_task=5))  # odd overlap: few exact ties
    online = OnlineDawidSkene(3)
    for answer in answers:
        online.update(answer)
    batch = OnlineDawidSkene(3).fit(answers).labels_
    agree = sum(online.labels_[task] == label for task, label in batch.items())
    assert agree >= 0.98 * len(batch)
