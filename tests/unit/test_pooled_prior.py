"""The empirical-Bayes prior: pooled from the crowd's confusion counts, stored beside the
class counts, and used by the live verifier and the estimator alike."""

from __future__ import annotations

import math

import numpy as np
import pytest

from earnest.domain.verification import VerificationInput
from earnest.quality.categorical import DawidSkeneVerifier
from earnest.quality.dawid_skene import (
    CLASS_COUNTS,
    Answer,
    ClassMap,
    OnlineDawidSkene,
    Prior,
    class_row,
    confusion,
    pooled_prior,
    read_class_row,
    row_distance,
)
from earnest.quality.dawid_skene._model import POOLED_STRENGTH, digamma
from earnest.services.aggregation import estimate_counts
from earnest.services.learning import counted_votes
from tests.unit.verifier_cases import submission, task

K = 3


def crowd_counts(rng: np.random.Generator, accuracies: list[float], per_row: int) -> np.ndarray:
    """Hard confusion counts of workers with these accuracies (errors uniform)."""
    out = np.zeros((len(accuracies), K, K))
    for w, acc in enumerate(accuracies):
        for true in range(K):
            p = np.full(K, (1 - acc) / (K - 1))
            p[true] = acc
            out[w, true] = rng.multinomial(per_row, p)
    return out


def test_digamma_on_known_values() -> None:
    euler = 0.5772156649015329
    assert float(digamma(1.0)) == pytest.approx(-euler, abs=1e-10)
    assert float(digamma(0.5)) == pytest.approx(-euler - 2 * math.log(2), abs=1e-10)
    assert float(digamma(10.0)) == pytest.approx(2.251752589066721, abs=1e-10)


def test_the_pooled_prior_takes_the_crowds_average_confusion() -> None:
    rng = np.random.default_rng(1)
    counts = crowd_counts(rng, [0.9] * 200, per_row=10)
    alpha = pooled_prior(counts, Prior().matrix(K))
    shape = alpha / alpha.sum(axis=1, keepdims=True)
    assert np.diagonal(shape) == pytest.approx([0.9] * K, abs=0.02)
    # a crowd of alike workers gives the strongest prior allowed: they are all the same
    assert alpha.sum(axis=1) == pytest.approx([POOLED_STRENGTH[1]] * K, rel=1e-6)


def test_a_mixed_crowd_gives_a_weaker_prior_than_an_alike_one() -> None:
    rng = np.random.default_rng(2)
    alike = pooled_prior(crowd_counts(rng, [0.7] * 200, 10), Prior().matrix(K))
    mixed = pooled_prior(crowd_counts(rng, [0.98, 1 / K] * 100, 10), Prior().matrix(K))
    assert (mixed.sum(axis=1) < alike.sum(axis=1) / 2).all()
    assert (mixed.sum(axis=1) >= POOLED_STRENGTH[0]).all()


def test_the_pooled_prior_shrinks_a_newcomer_toward_the_crowd() -> None:
    rng = np.random.default_rng(3)
    alpha = pooled_prior(crowd_counts(rng, [0.95] * 200, 10), Prior().matrix(K))
    one_answer = [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    pooled, fixed = confusion(one_answer, alpha), confusion(one_answer, Prior().matrix(K))
    # under the fixed prior a newcomer is 4/6 accurate on class 1; the crowd says ~0.95
    assert pooled[1, 1] == pytest.approx(0.95, abs=0.02)
    assert fixed[1, 1] == pytest.approx(4 / 6)


def test_a_worker_with_many_answers_is_dominated_by_their_evidence() -> None:
    rng = np.random.default_rng(4)
    alpha = pooled_prior(crowd_counts(rng, [0.95] * 200, 10), Prior().matrix(K))
    busy = crowd_counts(rng, [0.6], per_row=1_000)[0]
    assert np.diagonal(confusion(busy.tolist(), alpha)) == pytest.approx([0.6] * K, abs=0.03)


def test_without_evidence_the_start_is_kept_and_one_rows_evidence_sets_every_row() -> None:
    start = Prior().matrix(K)
    assert (pooled_prior(np.zeros((5, K, K)), start) == start).all()
    counts = np.zeros((5, K, K))
    counts[:, 0, 0], counts[:, 0, 1] = 8.0, 2.0  # only class 0 seen, 80% right
    alpha = pooled_prior(counts, start)
    shares = np.diagonal(alpha) / alpha.sum(axis=1)
    assert shares == pytest.approx([0.8] * K, abs=0.03)  # one accuracy for every class
    assert alpha[0, 1] == pytest.approx(alpha[0, 2])  # errors spread evenly


def test_the_stored_class_row_carries_the_prior_and_old_rows_still_read() -> None:
    alpha = Prior().matrix(K) * 2
    stored = class_row([5.0, 3.0, 2.0], alpha)
    counts, pooled = read_class_row(stored, K)
    assert counts == [5.0, 3.0, 2.0] and pooled is not None and (pooled == alpha).all()
    assert read_class_row([[5.0, 3.0, 2.0]], K) == ([5.0, 3.0, 2.0], None)  # before pooling
    assert read_class_row(None, K) == ([], None)
    assert read_class_row(stored, 4)[1] is None  # does not fit the classes
    # the online M-step adds a resolution to the class counts and keeps the prior rows
    changed = counted_votes(
        ClassMap(("a", "b", "c")), {CLASS_COUNTS: stored}, "b", [], class_counts=True
    )
    assert read_class_row(changed[CLASS_COUNTS], K)[0] == [5.0, 4.0, 2.0]
    assert (read_class_row(changed[CLASS_COUNTS], K)[1] == alpha).all()


def test_the_refit_stores_the_pooled_prior_and_the_live_verifier_uses_it() -> None:
    rng = np.random.default_rng(5)
    truth = rng.integers(0, K, 300)
    rows = []
    for t, c in enumerate(truth.tolist()):
        for w in rng.choice(40, 4, replace=False).tolist():
            label = c if rng.random() < 0.9 else int((c + rng.integers(1, K)) % K)
            rows.append((t, f"w{w}", "abc"[label], None, None))
    counts, used = estimate_counts(rows, ClassMap(("a", "b", "c")))
    assert used == len(rows)
    class_counts, alpha = read_class_row(counts[CLASS_COUNTS], K)
    assert alpha is not None and sum(class_counts) == pytest.approx(300)
    fixed = estimate_counts(rows, ClassMap(("a", "b", "c")), pooled=False)[0]
    assert read_class_row(fixed[CLASS_COUNTS], K)[1] is None
    # a newcomer's lone answer: the pooled prior knows the crowd is ~90% accurate
    given = VerificationInput(
        task(), 5, (submission(1, "a"),), {}, classes=("a", "b", "c"),
        class_counts=class_counts, pooled_prior=alpha.tolist(),
    )  # fmt: skip
    plain = VerificationInput(
        task(), 5, (submission(1, "a"),), {}, classes=("a", "b", "c"), class_counts=class_counts
    )
    verifier = DawidSkeneVerifier()
    pooled_confidence = verifier.verify(given).confidence
    fixed_confidence = verifier.verify(plain).confidence
    assert pooled_confidence is not None and fixed_confidence is not None
    assert pooled_confidence > fixed_confidence + 0.1


def test_the_estimator_fits_the_prior_at_each_refit_and_not_without_pooling() -> None:
    rng = np.random.default_rng(6)
    answers = []
    for t in range(200):
        c = int(rng.integers(0, K))
        for w in rng.choice(30, 4, replace=False).tolist():
            answers.append(Answer(t, w, c if rng.random() < 0.85 else int((c + 1) % K)))
    pooled = OnlineDawidSkene(K).fit(answers)
    fixed = OnlineDawidSkene(K, pooled=False).fit(answers)
    assert (fixed.alpha_ == Prior().matrix(K)).all()
    shape = pooled.alpha_ / pooled.alpha_.sum(axis=1, keepdims=True)
    assert np.diagonal(shape) == pytest.approx([0.85] * K, abs=0.05)
    # the confusions the estimator reports are smoothed by the prior it fitted
    w = answers[0].worker
    assert pooled.confusions_[w] == pytest.approx(confusion(pooled.counts_[w], pooled.alpha_))


def test_row_distance_tells_a_spammer_from_an_expert() -> None:
    alpha = np.full((K, K), 1e-6)
    expert = np.eye(K) * 100
    uniform = np.full((K, K), 30.0)
    constant = np.zeros((K, K))
    constant[:, 1] = 50.0
    assert row_distance(expert.tolist(), alpha) == pytest.approx(1.0, abs=1e-6)
    assert row_distance(uniform.tolist(), alpha) == pytest.approx(0.0, abs=1e-6)
    assert row_distance(constant.tolist(), alpha) == pytest.approx(0.0, abs=1e-6)
