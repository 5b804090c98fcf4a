"""RatingVerifier and BiasCorrectedMedian: ordinal scale, tolerance in steps, rater offsets."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.domain.verification import (
    Decision,
    Submission,
    WorkerHistory,
)
from earnest.domain.work import AssignmentStatus, TaskStatus
from earnest.quality.ratings import BiasCorrectedMedian, RatingAnswer, RatingVerifier
from tests.unit.verifier_cases import SUBMITTED, decisions, submission, task, verdict, vin

verifier = RatingVerifier()  # scale 1..5, tolerance 1


def sub(n: int, rating: Any, status: AssignmentStatus = SUBMITTED) -> Submission:
    return submission(n, {"rating": rating}, status)


def test_far_rating_is_rejected_with_evidence() -> None:
    out = verifier.verify(vin([sub(1, 4), sub(2, 4), sub(3, 1)]))
    # median 4; 1 is 3 steps off (> 1): 2 of 3 agree, confidence 2/3
    assert out.resolved and out.result == {"rating": 4}
    assert out.confidence == round(2 / 3, 6)
    assert decisions(out) == {"a1": Decision.ACCEPT, "a2": Decision.ACCEPT, "a3": Decision.REJECT}
    rejected = verdict(out, "a3")
    assert "3 steps" in rejected.reason
    assert rejected.evidence["distance"] == 3.0 and rejected.evidence["tolerance"] == 1
    assert rejected.evidence["consensus"] == {"rating": 4}
    assert (rejected.evidence["answers"], rejected.evidence["agreeing"]) == (3, 2)


def test_within_one_step_agrees() -> None:
    out = verifier.verify(vin([sub(1, 3), sub(2, 4), sub(3, 5)]))
    # median 4; 3 and 5 are one step off
    assert out.result == {"rating": 4} and out.confidence == 1.0
    assert set(decisions(out).values()) == {Decision.ACCEPT}


def test_even_split_takes_the_midpoint_and_rounds_half_to_even() -> None:
    close = verifier.verify(vin([sub(1, 3), sub(2, 4)], overlap=2))
    # midpoint 3.5: both are 0.5 away; the result rounds 3.5 to 4
    assert close.result == {"rating": 4} and close.confidence == 1.0
    low = verifier.verify(vin([sub(1, 2), sub(2, 3)], overlap=2))
    assert low.result == {"rating": 2}  # 2.5 rounds to the even point 2
    far = verifier.verify(vin([sub(1, 2), sub(2, 5)], overlap=2))
    # midpoint 3.5: both 1.5 away, nobody agrees → good faith
    assert far.confidence == 0.0
    assert set(decisions(far).values()) == {Decision.ACCEPT}
    assert "good faith" in verdict(far, "a1").reason


def test_gold_within_tolerance() -> None:
    out = verifier.verify(vin([sub(1, 5), sub(2, 1)], task(gold={"rating": 4})))
    assert decisions(out) == {"a1": Decision.ACCEPT, "a2": Decision.REJECT}
    rejected = verdict(out, "a2")
    assert "known one" in rejected.reason and "4" not in rejected.reason
    assert rejected.evidence == {"yours": {"rating": 1}, "control_task": True, "tolerance": 1}


def test_waiting_and_dynamic_confidence() -> None:
    two = [sub(1, 4), sub(2, 5)]
    assert set(decisions(verifier.verify(vin(two))).values()) == {Decision.WAIT}
    early = verifier.verify(vin(two, overlap=5, min_overlap=2, confidence=0.9))
    assert early.resolved and early.confidence == 1.0  # 4.5 ± 1 holds both
    not_yet = verifier.verify(vin([sub(1, 1), sub(2, 5)], overlap=5, confidence=0.9))
    assert not not_yet.resolved


def test_late_answer_is_accepted() -> None:
    t = task(status=TaskStatus.RESOLVED, result={"rating": 4})
    out = verifier.verify(vin([sub(1, 1)], t))
    assert decisions(out) == {"a1": Decision.ACCEPT}
    assert "already resolved" in verdict(out, "a1").reason


@pytest.mark.parametrize("bad", [0, 6, 3.5, "4", True, None])
def test_off_scale_ratings_are_rejected_with_evidence(bad: Any) -> None:
    out = verifier.verify(vin([sub(1, 4), sub(2, 4), sub(3, bad)]))
    assert decisions(out)["a3"] is Decision.REJECT
    assert verdict(out, "a3").evidence["problem"]


def test_whole_float_ratings_are_read() -> None:
    out = verifier.verify(vin([sub(1, 4.0), sub(2, 4), sub(3, 4)]))
    assert out.result == {"rating": 4} and set(decisions(out).values()) == {Decision.ACCEPT}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scale_min": 5, "scale_max": 5},
        {"scale_min": 1.0},
        {"tolerance": -1},
        {"tolerance": float("inf")},
        {"field": ""},
    ],
)
def test_bad_settings_raise_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RatingVerifier(**kwargs)


@pytest.mark.parametrize("kwargs", [{"shrinkage": -1}, {"n_iter": 0}, {"scale_max": 0}])
def test_estimator_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        BiasCorrectedMedian(**kwargs)


def test_estimator_learns_a_harsh_rater_by_hand() -> None:
    ratings = {"A": (4, 3, 5), "B": (4, 3, 5), "C": (2, 1, 3)}
    answers = [
        RatingAnswer(t, w, r) for w, rs in ratings.items() for t, r in zip("123", rs, strict=True)
    ]
    model = BiasCorrectedMedian(shrinkage=1).fit(answers)
    # round 1: medians 4, 3, 5; C is 2 below each time: offset -6 / (3 + 1) = -1.5;
    #   C's raw ratings are 2 off, so its skill is 0 and its weight the floor 0.001.
    # round 2: C corrected = 3.5, 2.5, 4.5, all within 1 of the unchanged medians:
    #   skills 1, weights 1 — and round 3 finds the same offsets and weights.
    assert model.labels_ == {"1": 4, "2": 3, "3": 5}
    assert model.scores_ == {"1": 4.0, "2": 3.0, "3": 5.0}
    assert model.biases_ == {"A": 0.0, "B": 0.0, "C": -1.5}
    assert model.skills_ == {"A": 1.0, "B": 1.0, "C": 1.0}
    assert model.confidences_ == {"1": 1.0, "2": 1.0, "3": 1.0}


def test_estimator_shrinks_a_worker_seen_once() -> None:
    answers = [RatingAnswer("1", "A", 4), RatingAnswer("1", "B", 4), RatingAnswer("1", "C", 1)]
    model = BiasCorrectedMedian().fit(answers)
    # median 4; C's residual -3 shrunk with 2 pseudo-ratings: -3 / (1 + 2) = -1
    assert model.biases_["C"] == -1.0
    assert model.labels_ == {"1": 4}
    assert BiasCorrectedMedian().fit([]).labels_ == {}
    with pytest.raises(ValueError):
        BiasCorrectedMedian().fit([RatingAnswer("1", "A", 9)])


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 5), st.floats(0, 1)), min_size=1, max_size=7),
    st.randoms(),
)
def test_confidence_bounded_and_order_free(
    drawn: list[tuple[int, float]], rnd: random.Random
) -> None:
    subs = [sub(n, r) for n, (r, _) in enumerate(drawn)]
    history = {f"W{n}": WorkerHistory(reputation=w) for n, (_, w) in enumerate(drawn)}
    out = verifier.verify(vin(subs, overlap=len(drawn), history=history))
    assert out.confidence is not None and 0.0 <= out.confidence <= 1.0
    assert out.result is not None and 1 <= out.result["rating"] <= 5
    rnd.shuffle(subs)
    again = verifier.verify(vin(subs, overlap=len(drawn), history=history))
    assert (again.result, again.confidence) == (out.result, out.confidence)
    assert decisions(again) == decisions(out)
    assert all(v.evidence for v in out.verdicts if v.decision is Decision.REJECT)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("tuv"), st.sampled_from("ABCD"), st.integers(1, 5)),
        min_size=1,
        max_size=12,
        unique_by=lambda row: (row[0], row[1]),
    ),
    st.randoms(),
)
def test_estimator_bounded_and_order_free(drawn: list[Any], rnd: random.Random) -> None:
    answers = [RatingAnswer(*row) for row in drawn]
    model = BiasCorrectedMedian().fit(answers)
    assert all(1 <= label <= 5 for label in model.labels_.values())
    assert all(0.0 <= c <= 1.0 for c in model.confidences_.values())
    assert all(0.0 <= s <= 1.0 for s in model.skills_.values())
    rnd.shuffle(answers)
    again = BiasCorrectedMedian().fit(answers)
    assert again.labels_ == model.labels_
    assert again.biases_ == pytest.approx(model.biases_)
