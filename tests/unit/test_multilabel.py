"""MultiLabelVerifier and MultiLabelVote: per-label weighted vote, Jaccard agreement."""

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
from earnest.quality.multilabel import (
    MultiLabelAnswer,
    MultiLabelVerifier,
    MultiLabelVote,
    jaccard,
)
from tests.unit.verifier_cases import SUBMITTED, decisions, submission, task, verdict, vin

verifier = MultiLabelVerifier()  # threshold 0.5


def sub(n: int, labels: Any, status: AssignmentStatus = SUBMITTED) -> Submission:
    return submission(n, {"labels": labels}, status)


def test_jaccard_by_hand() -> None:
    assert jaccard(frozenset("xy"), frozenset("x")) == 0.5
    assert jaccard(frozenset("xy"), frozenset("xyz")) == pytest.approx(2 / 3)
    assert jaccard(frozenset(), frozenset()) == 1.0
    assert jaccard(frozenset("a"), frozenset()) == 0.0


def test_per_label_vote_and_everyone_close_enough_is_accepted() -> None:
    out = verifier.verify(vin([sub(1, ["x", "y"]), sub(2, ["x"]), sub(3, ["x", "y", "z"])]))
    # shares: x 3/3, y 2/3, z 1/3 → {x, y}; confidence = mean(1, 2/3, 2/3) = 7/9
    assert out.resolved and out.result == {"labels": ["x", "y"]}
    assert out.confidence == round(7 / 9, 6)
    # Jaccard with {x, y}: 1, 1/2, 2/3 — all ≥ 0.5
    assert set(decisions(out).values()) == {Decision.ACCEPT}


def test_far_answer_is_rejected_with_missing_and_extra_labels() -> None:
    out = verifier.verify(vin([sub(1, ["x", "y"]), sub(2, ["y", "x"]), sub(3, ["z"])]))
    # shares x 2/3, y 2/3, z 1/3 → {x, y}; confidence mean(2/3, 2/3, 2/3) = 2/3
    assert out.result == {"labels": ["x", "y"]} and out.confidence == round(2 / 3, 6)
    assert decisions(out) == {"a1": Decision.ACCEPT, "a2": Decision.ACCEPT, "a3": Decision.REJECT}
    rejected = verdict(out, "a3")
    assert "Jaccard 0.000" in rejected.reason
    assert rejected.evidence["missing"] == ["x", "y"] and rejected.evidence["extra"] == ["z"]
    assert rejected.evidence["jaccard"] == 0.0 and rejected.evidence["threshold"] == 0.5
    assert (rejected.evidence["answers"], rejected.evidence["agreeing"]) == (3, 2)


def test_scattered_labels_are_no_consensus() -> None:
    out = verifier.verify(vin([sub(1, ["a"]), sub(2, ["b"]), sub(3, ["c"])]))
    # each label has 1/3 < 1/2: the result is empty and nobody's Jaccard with it reaches 0.5
    assert out.result == {"labels": []} and out.confidence == round(2 / 3, 6)
    assert set(decisions(out).values()) == {Decision.ACCEPT}
    assert all("good faith" in v.reason for v in out.verdicts)


def test_half_the_weight_keeps_a_label() -> None:
    out = verifier.verify(vin([sub(1, ["x"]), sub(2, [])], overlap=2))
    assert out.result == {"labels": ["x"]} and out.confidence == 0.5
    assert set(decisions(out).values()) == {Decision.ACCEPT}  # 1 of 2 is no majority


def test_gold_by_jaccard_without_revealing_labels() -> None:
    out = verifier.verify(vin([sub(1, ["x"]), sub(2, ["z"])], task(gold={"labels": ["x", "y"]})))
    assert decisions(out) == {"a1": Decision.ACCEPT, "a2": Decision.REJECT}
    rejected = verdict(out, "a2")
    assert "known labels" in rejected.reason and "'x'" not in rejected.reason
    assert "missing" not in rejected.evidence and rejected.evidence["control_task"] is True


def test_waiting_and_dynamic_confidence() -> None:
    two = [sub(1, ["x"]), sub(2, ["x"])]
    assert set(decisions(verifier.verify(vin(two))).values()) == {Decision.WAIT}
    early = verifier.verify(vin(two, overlap=5, min_overlap=2, confidence=0.95))
    assert early.resolved and early.confidence == 1.0
    split = verifier.verify(vin([sub(1, ["x"]), sub(2, ["y"])], overlap=5, confidence=0.95))
    assert not split.resolved  # confidence 0.5


def test_late_answer_is_accepted() -> None:
    t = task(status=TaskStatus.RESOLVED, result={"labels": ["x"]})
    out = verifier.verify(vin([sub(1, ["q"])], t))
    assert decisions(out) == {"a1": Decision.ACCEPT}
    assert "already resolved" in verdict(out, "a1").reason


@pytest.mark.parametrize("bad", ["x", ["x", 1], {"x": True}, None])
def test_unreadable_labels_are_rejected_with_evidence(bad: Any) -> None:
    out = verifier.verify(vin([sub(1, ["x"]), sub(2, ["x"]), sub(3, bad)]))
    assert decisions(out)["a3"] is Decision.REJECT
    assert verdict(out, "a3").evidence["problem"]


@pytest.mark.parametrize("kwargs", [{"threshold": 0.0}, {"threshold": 2}, {"field": ""}])
def test_bad_settings_raise_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        MultiLabelVerifier(**kwargs)


def test_estimator_by_hand() -> None:
    answers = [
        MultiLabelAnswer("t1", "W1", ["x", "y"]),
        MultiLabelAnswer("t1", "W2", ["x"]),
        MultiLabelAnswer("t1", "W3", ["z"]),
    ]
    once = MultiLabelVote(n_iter=1).fit(answers)
    # equal weights: x 2/3 (kept), y 1/3, z 1/3 → ["x"]
    assert once.labels_ == {"t1": ["x"]}
    assert once.probas_ == {"t1": pytest.approx({"x": 2 / 3, "y": 1 / 3, "z": 1 / 3})}
    # Jaccard with {x}: W1 1/2, W2 1, W3 0
    assert once.skills_ == {"W1": 0.5, "W2": 1.0, "W3": 0.0}
    model = MultiLabelVote().fit(answers)
    # round 2 weighs 0.5, 1, 0.001: x (1.5 / 1.501) stays alone, so the skills are fixed
    assert model.labels_ == {"t1": ["x"]} and model.skills_ == once.skills_
    assert model.probas_["t1"]["x"] == pytest.approx(1.5 / 1.501)
    with pytest.raises(ValueError):
        MultiLabelVote(n_iter=0)
    with pytest.raises(ValueError):
        MultiLabelVote().fit([MultiLabelAnswer("t1", "W1", "xy")])


label_sets = st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=4)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(label_sets, st.floats(0, 1)), min_size=1, max_size=7),
    st.randoms(),
)
def test_confidence_bounded_and_order_free(
    drawn: list[tuple[list[str], float]], rnd: random.Random
) -> None:
    subs = [sub(n, labels) for n, (labels, _) in enumerate(drawn)]
    history = {f"W{n}": WorkerHistory(reputation=r) for n, (_, r) in enumerate(drawn)}
    out = verifier.verify(vin(subs, overlap=len(drawn), history=history))
    assert out.confidence is not None and 0.5 <= out.confidence <= 1.0
    rnd.shuffle(subs)
    again = verifier.verify(vin(subs, overlap=len(drawn), history=history))
    assert (again.result, again.confidence) == (out.result, out.confidence)
    assert decisions(again) == decisions(out)
    assert all(v.evidence for v in out.verdicts if v.decision is Decision.REJECT)
