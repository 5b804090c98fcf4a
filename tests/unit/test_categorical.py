"""The live Dawid-Skene verifier and the estimator share one class mapping and one prior."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from earnest.domain.verification import VerificationInput, WorkerHistory
from earnest.quality.categorical import DawidSkeneVerifier
from earnest.quality.dawid_skene import Answer, ClassMap, OnlineDawidSkene, classes_of
from tests.unit.test_dawid_skene import reliable_crowd
from tests.unit.verifier_cases import submission, task

CLASSES = ({"label": "a"}, {"label": "b"}, {"label": "c"})


def test_an_answer_with_extra_properties_gives_its_class() -> None:
    classes = ClassMap(CLASSES)
    assert classes.label_of({"label": "b", "comment": "blurry"}) == 1
    assert classes.label_of({"label": "d"}) is None
    assert classes.label_of("b") is None
    assert ClassMap(("x", "y")).label_of("y") == 1


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"enum": ["x", "y"]}, ("x", "y")),
        (
            {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]},
            ({"ok": False}, {"ok": True}),
        ),
        ({"type": "object", "properties": {"ok": {"type": "boolean"}}}, ()),  # not required
        ({"enum": ["only"]}, ()),
        ({"type": "string"}, ()),
    ],
)
def test_classes_of_a_schema(schema: dict[str, Any], expected: tuple[Any, ...]) -> None:
    assert classes_of(schema) == expected


def test_the_live_posterior_is_the_estimators_from_the_same_counts() -> None:
    estimator = OnlineDawidSkene(3).fit(reliable_crowd(seed=4, n_tasks=80))
    counts, class_counts = estimator.counts_, estimator.class_counts_
    answers = [(0, 2), (1, 2), (2, 0)]
    subs = [
        submission(n, CLASSES[label] | {"comment": "x"}) for n, (_, label) in enumerate(answers)
    ]
    history = {f"W{n}": WorkerHistory(confusion=counts[w]) for n, (w, _) in enumerate(answers)}
    given = VerificationInput(
        task(),
        5,
        tuple(subs),
        history,
        class_counts=class_counts,
        classes=CLASSES,
        pooled_prior=estimator.alpha_.tolist(),  # what the refit stores beside the class counts
    )
    outcome = DawidSkeneVerifier(estimator.prior).verify(given)
    for worker, label in answers:
        expected = estimator.update(Answer("new", worker, label))
    assert outcome.confidence == pytest.approx(float(np.max(expected)), abs=1e-6)


def test_a_voter_with_no_counts_is_judged_by_the_prior_alone() -> None:
    # Two classes, the default prior (4 on the diagonal, 1 off): a newcomer is 4/5 accurate.
    given = VerificationInput(
        task(), 5, (submission(1, "x"),), {}, confidence=0.99, classes=("x", "y")
    )
    assert DawidSkeneVerifier().verify(given).confidence == pytest.approx(0.8)
