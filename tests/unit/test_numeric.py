"""NumericVerifier and RobustMedian: weighted median, tolerance, gold, waiting, good faith."""

from __future__ import annotations

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
from earnest.quality._verdicts import weighted_median
from earnest.quality.numeric import NumericAnswer, NumericVerifier, RobustMedian
from tests.unit.verifier_cases import AT, SUBMITTED, decisions, submission, task, verdict, vin

verifier = NumericVerifier()  # rel_tol 0.01, abs_tol 0


def sub(n: int, value: Any, status: AssignmentStatus = SUBMITTED) -> Submission:
    answer = value if isinstance(value, dict) else {"value": value}
    return submission(n, answer, status)


def test_weighted_median_by_hand() -> None:
    # weights 1,1,1: cumulative 1,2,3 reaches half (1.5) at the second value
    assert weighted_median([3, 1, 2], [1, 1, 1]) == 2
    # cumulative hits exactly half after the first value: the midpoint of 1 and 3
    assert weighted_median([1, 3], [1, 1]) == 2
    # 0.1, 0.2 then 1.1: half (0.55) is first reached by the heavy value 100
    assert weighted_median([1, 2, 100], [0.1, 0.1, 0.9]) == 100
    with pytest.raises(ValueError):
        weighted_median([], [])


def test_gold_is_decided_at_once_within_tolerance_without_revealing_it() -> None:
    out = verifier.verify(vin([sub(1, 7.05), sub(2, 9)], task(gold={"value": 7})))
    # |7.05 - 7| = 0.05 <= 0.01 * 7 = 0.07; |9 - 7| = 2 > 0.07
    assert decisions(out) == {"a1": Decision.ACCEPT, "a2": Decision.REJECT}
    rejected = verdict(out, "a2")
    assert "control task" in rejected.reason and "7" not in rejected.reason
    assert rejected.evidence["control_task"] is True
    assert 7 not in rejected.evidence.values() and "distance" not in rejected.evidence
    assert not out.resolved  # 2 of 3 answers
    assert out.result == {"value": 7} and out.confidence == 1.0


def test_malformed_gold_is_a_setting_error() -> None:
    with pytest.raises(ValueError, match="known answer"):
        verifier.verify(vin([sub(1, 7)], task(gold={"v": 7})))


def test_waits_for_overlap_and_ignores_leased_or_expired() -> None:
    subs = [
        sub(1, 10, AssignmentStatus.LEASED),
        sub(2, 10, AssignmentStatus.EXPIRED),
        sub(3, 10),
        sub(4, 10),
    ]
    out = verifier.verify(vin(subs))
    assert decisions(out) == {"a3": Decision.WAIT, "a4": Decision.WAIT}
    assert not out.resolved and out.result is None


def test_median_consensus_rejects_the_outlier_with_evidence() -> None:
    out = verifier.verify(vin([sub(1, 10), sub(2, 10.05), sub(3, 12)]))
    # equal weights: the median of 10, 10.05, 12 is 10.05, tolerance 0.01 * 10.05 = 0.1005
    assert out.resolved and out.result == {"value": 10.05}
    assert decisions(out) == {"a1": Decision.ACCEPT, "a2": Decision.ACCEPT, "a3": Decision.REJECT}
    assert out.confidence == round(2 / 3, 6)
    rejected = verdict(out, "a3")
    assert "12" in rejected.reason and "10.05" in rejected.reason
    assert rejected.evidence["consensus"] == {"value": 10.05}
    assert rejected.evidence["yours"] == {"value": 12}
    assert rejected.evidence["distance"] == pytest.approx(1.95)
    assert rejected.evidence["tolerance"] == pytest.approx(0.1005)
    assert (rejected.evidence["answers"], rejected.evidence["agreeing"]) == (3, 2)


def test_counts_already_decided_answers_but_only_judges_pending() -> None:
    subs = [sub(1, 10, AssignmentStatus.ACCEPTED), sub(2, 10, AssignmentStatus.ACCEPTED)]
    out = verifier.verify(vin([*subs, sub(3, 50)]))
    assert decisions(out) == {"a3": Decision.REJECT}


def test_dynamic_confidence_resolves_early_after_min_overlap() -> None:
    subs = [sub(1, 10), sub(2, 10)]
    early = verifier.verify(vin(subs, overlap=5, min_overlap=2, confidence=0.9))
    # both at 10: share within tolerance 1.0 >= 0.9
    assert early.resolved and set(decisions(early).values()) == {Decision.ACCEPT}
    assert early.confidence == 1.0
    too_few = verifier.verify(vin(subs, overlap=5, min_overlap=3, confidence=0.9))
    assert set(decisions(too_few).values()) == {Decision.WAIT}
    # 10 and 12: the median is the midpoint 11, tolerance 0.11, nobody agrees: confidence 0
    split = verifier.verify(vin([sub(1, 10), sub(2, 12)], overlap=5, confidence=0.5))
    assert not split.resolved and set(decisions(split).values()) == {Decision.WAIT}


def test_no_clear_consensus_accepts_everyone_in_good_faith() -> None:
    out = verifier.verify(vin([sub(1, 1), sub(2, 5), sub(3, 9)]))
    # median 5; only 5 is within 0.05 of it: 1 of 3 agree
    assert out.resolved and out.result == {"value": 5}
    assert set(decisions(out).values()) == {Decision.ACCEPT}
    assert out.confidence == round(1 / 3, 6)
    assert "good faith" in verdict(out, "a1").reason


def test_one_trusted_voter_sets_the_result_but_cannot_reject_many() -> None:
    history = {
        "W1": WorkerHistory(gold_correct=0, gold_total=100, reputation=0.9),
        "W2": WorkerHistory(reputation=0.1),
        "W3": WorkerHistory(reputation=0.1),
    }
    out = verifier.verify(vin([sub(1, 100), sub(2, 1), sub(3, 2)], history=history))
    # reputation beats gold accuracy: weights 0.9, 0.1, 0.1; cumulative 0.1, 0.2, 1.1 >= 0.55
    assert out.result == {"value": 100}
    assert out.confidence == round(0.9 / 1.1, 6)
    assert set(decisions(out).values()) == {Decision.ACCEPT}  # 1 of 3 is no majority


def test_late_answer_after_resolution_is_accepted_and_paid() -> None:
    t = task(status=TaskStatus.RESOLVED, result={"value": 10})
    subs = [sub(1, 10, AssignmentStatus.ACCEPTED), sub(2, 10, AssignmentStatus.ACCEPTED)]
    out = verifier.verify(vin([*subs, sub(3, 500)], t))
    assert decisions(out) == {"a3": Decision.ACCEPT}
    assert "already resolved" in verdict(out, "a3").reason
    assert out.resolved and out.result == {"value": 10} and out.confidence == 0.9


@pytest.mark.parametrize(
    "bad", [{"value": "ten"}, {"value": True}, {"value": float("nan")}, {"value": 10**400}, 3]
)
def test_unreadable_answers_are_rejected_with_evidence_and_do_not_vote(bad: Any) -> None:
    subs = [sub(1, 10), sub(2, 10), Submission("a3", "W3", bad, SUBMITTED, AT)]
    out = verifier.verify(vin(subs))
    assert decisions(out) == {"a1": Decision.ACCEPT, "a2": Decision.ACCEPT, "a3": Decision.REJECT}
    assert out.result == {"value": 10} and out.confidence == 1.0
    assert verdict(out, "a3").evidence["problem"]


def test_all_unreadable_at_overlap_resolves_without_a_result() -> None:
    subs = [Submission(f"a{n}", f"W{n}", {"value": "x"}, SUBMITTED, AT) for n in range(3)]
    out = verifier.verify(vin(subs))
    assert out.resolved and out.result is None and out.confidence == 0.0
    assert set(decisions(out).values()) == {Decision.REJECT}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"abs_tol": -1.0},
        {"rel_tol": float("nan")},
        {"abs_tol": 0.0, "rel_tol": 0.0},
        {"rel_tol": "0.1"},
        {"field": ""},
    ],
)
def test_bad_settings_raise_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        NumericVerifier(**kwargs)


def test_estimator_bad_settings_and_bad_values() -> None:
    with pytest.raises(ValueError):
        RobustMedian(n_iter=0)
    with pytest.raises(ValueError):
        RobustMedian().fit([NumericAnswer("t", "w", float("inf"))])


def test_robust_median_by_hand() -> None:
    answers = [
        NumericAnswer("t1", "W1", 10),
        NumericAnswer("t1", "W2", 10.05),
        NumericAnswer("t1", "W3", 20),
        NumericAnswer("t2", "W1", 5),
        NumericAnswer("t2", "W2", 5),
        NumericAnswer("t2", "W3", 9),
    ]
    model = RobustMedian(abs_tol=0.1, rel_tol=0.0).fit(answers)
    # round 1, equal weights: medians 10.05 and 5; W1, W2 always within 0.1, W3 never.
    # round 2, weights 1, 1, 0.001: the same medians, so the skills are a fixed point.
    assert model.labels_ == {"t1": 10.05, "t2": 5}
    assert model.skills_ == {"W1": 1.0, "W2": 1.0, "W3": 0.0}
    # confidence: weight within tolerance / all weight = 2 / 2.001
    assert model.confidences_["t1"] == pytest.approx(2 / 2.001)
    assert RobustMedian().fit([]).labels_ == {}


values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
reputations = st.floats(min_value=0.0, max_value=1.0)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(values, reputations), min_size=1, max_size=7), st.randoms())
def test_confidence_bounded_and_order_free(rows: list[tuple[float, float]], rnd: Any) -> None:
    subs = [sub(n, v) for n, (v, _) in enumerate(rows)]
    history = {f"W{n}": WorkerHistory(reputation=r) for n, (_, r) in enumerate(rows)}
    out = verifier.verify(vin(subs, overlap=len(rows), history=history))
    assert out.resolved and out.confidence is not None and 0.0 <= out.confidence <= 1.0
    shuffled = list(subs)
    rnd.shuffle(shuffled)
    again = verifier.verify(vin(shuffled, overlap=len(rows), history=history))
    assert (again.result, again.confidence) == (out.result, out.confidence)
    assert decisions(again) == decisions(out)
    assert all(v.evidence for v in out.verdicts if v.decision is Decision.REJECT)
