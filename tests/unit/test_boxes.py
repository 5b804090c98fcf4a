"""BoxVerifier and MedoidBoxes: IoU medoid, coordinate-wise median, gold by IoU."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.domain.verification import (
    Decision,
    Submission,
    VerificationInput,
    WorkerHistory,
)
from earnest.domain.work import AssignmentStatus, Task, TaskStatus
from earnest.quality.boxes import BoxAnswer, BoxVerifier, MedoidBoxes, iou, parse_box
from tests.unit.verifier_cases import SUBMITTED, decisions, submission, task, verdict

verifier = BoxVerifier()  # threshold 0.5

# Hand-worked IoUs (areas A = B = 100, C = 120):
#   A∩B = [1,1,10,10] = 81, union 119 → 0.6807;  A∩C = 100, union 120 → 0.8333;
#   B∩C = [1,1,10,11] = 90, union 130 → 0.6923;  D overlaps nothing.
A, B, C, D = [0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 12], [50, 50, 60, 60]


def sub(n: int, box: Any, status: AssignmentStatus = SUBMITTED) -> Submission:
    return submission(n, {"box": box}, status)


def vin(
    subs: list[Submission],
    t: Task | None = None,
    overlap: int = 4,
    history: dict[str, WorkerHistory] | None = None,
    min_overlap: int = 1,
    confidence: float = 0.0,
) -> VerificationInput:
    return VerificationInput(
        t or task(), overlap, tuple(subs), history or {}, min_overlap, confidence
    )


def test_iou_by_hand() -> None:
    assert iou(parse_box(A), parse_box(B)) == pytest.approx(81 / 119)
    assert iou(parse_box(A), parse_box(C)) == pytest.approx(100 / 120)
    assert iou(parse_box(A), parse_box(D)) == 0.0
    assert iou(parse_box(A), parse_box(A)) == 1.0


def test_medoid_then_coordinate_median_and_rejection_with_evidence() -> None:
    out = verifier.verify(vin([sub(1, A), sub(2, B), sub(3, C), sub(4, D)]))
    # summed IoU: A 1.514, B 1.373, C 1.526 → medoid C; A, B, C overlap it by ≥ 0.5.
    # Medians: x0 of 0,1,0 → 0; y0 → 0; x1 of 10,11,10 → 10; y1 of 10,11,12 → 11.
    assert out.resolved and out.result == {"box": [0.0, 0.0, 10.0, 11.0]}
    # IoU with [0,0,10,11]: A 100/110, B 90/120, C 110/120, D 0 → 3 of 4 agree
    assert decisions(out) == {
        "a1": Decision.ACCEPT,
        "a2": Decision.ACCEPT,
        "a3": Decision.ACCEPT,
        "a4": Decision.REJECT,
    }
    assert out.confidence == 0.75
    rejected = verdict(out, "a4")
    assert "IoU 0.000" in rejected.reason and "[0, 0, 10, 11]" in rejected.reason
    assert rejected.evidence["iou"] == 0.0 and rejected.evidence["threshold"] == 0.5
    assert rejected.evidence["consensus"] == {"box": [0.0, 0.0, 10.0, 11.0]}
    assert (rejected.evidence["answers"], rejected.evidence["agreeing"]) == (4, 3)


def test_gold_by_iou_without_revealing_the_box() -> None:
    out = verifier.verify(vin([sub(1, C), sub(2, [5, 5, 15, 15])], task(gold={"box": A})))
    # C: IoU 0.833 ≥ 0.5; [5,5,15,15]: 25 / 175 = 0.143
    assert decisions(out) == {"a1": Decision.ACCEPT, "a2": Decision.REJECT}
    rejected = verdict(out, "a2")
    assert "known box" in rejected.reason and "[0, 0, 10, 10]" not in rejected.reason
    assert rejected.evidence["iou"] == pytest.approx(25 / 175, abs=1e-6)
    assert rejected.evidence["control_task"] is True
    assert out.result == {"box": A} and not out.resolved


def test_waits_until_overlap() -> None:
    out = verifier.verify(vin([sub(1, A), sub(2, A)]))
    assert set(decisions(out).values()) == {Decision.WAIT} and not out.resolved


def test_dynamic_confidence_resolves_early() -> None:
    out = verifier.verify(vin([sub(1, A), sub(2, C)], min_overlap=2, confidence=0.8))
    # the medoid is A or C (IoU 0.833 each way); both agree with the result: confidence 1
    assert out.resolved and out.confidence == 1.0
    assert set(decisions(out).values()) == {Decision.ACCEPT}


def test_disjoint_boxes_are_no_consensus_and_accepted_in_good_faith() -> None:
    far = [100, 100, 110, 110]
    out = verifier.verify(vin([sub(1, A), sub(2, D), sub(3, far)], overlap=3))
    # every summed IoU is 0: the medoid is the smallest box tuple, A; 1 of 3 agree
    assert out.result == {"box": [0.0, 0.0, 10.0, 10.0]}
    assert out.confidence == round(1 / 3, 6)
    assert set(decisions(out).values()) == {Decision.ACCEPT}
    assert all("good faith" in v.reason for v in out.verdicts if v.assignment_id != "a1")


def test_late_answer_is_accepted() -> None:
    t = task(status=TaskStatus.RESOLVED, result={"box": A})
    out = verifier.verify(vin([sub(1, A, AssignmentStatus.ACCEPTED), sub(2, D)], t))
    assert decisions(out) == {"a2": Decision.ACCEPT}
    assert "already resolved" in verdict(out, "a2").reason


@pytest.mark.parametrize(
    "bad", [[10, 0, 0, 10], [0, 0, 10], [0, 0, 0, 10], "0,0,1,1", [0, 0, "a", 1]]
)
def test_invalid_boxes_are_rejected_with_evidence(bad: Any) -> None:
    out = verifier.verify(vin([sub(1, A), sub(2, A), sub(3, bad)], overlap=3))
    assert decisions(out) == {"a1": Decision.ACCEPT, "a2": Decision.ACCEPT, "a3": Decision.REJECT}
    assert verdict(out, "a3").evidence["problem"]
    with pytest.raises(ValueError):
        parse_box(bad)


@pytest.mark.parametrize("kwargs", [{"threshold": 0}, {"threshold": 1.5}, {"field": ""}])
def test_bad_settings_raise_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        BoxVerifier(**kwargs)
    if "threshold" in kwargs:
        with pytest.raises(ValueError):
            MedoidBoxes(threshold=kwargs["threshold"])


def test_estimator_by_hand() -> None:
    answers = [BoxAnswer("t1", f"W{n}", box) for n, box in enumerate([A, B, C, D], 1)]
    model = MedoidBoxes().fit(answers)
    # round 1 is the verifier's case; round 2 (weights = mean IoU) keeps medoid C and the
    # same medians, so the fit stops there.
    assert model.labels_ == {"t1": (0.0, 0.0, 10.0, 11.0)}
    # the final weights are the round-1 skills (W4 floored at 0.001); A, B, C agree
    agreeing = 100 / 110 + 90 / 120 + 110 / 120
    assert model.confidences_["t1"] == pytest.approx(agreeing / (agreeing + 0.001))
    assert model.skills_ == pytest.approx(
        {"W1": 100 / 110, "W2": 90 / 120, "W3": 110 / 120, "W4": 0.0}
    )


coords = st.integers(min_value=0, max_value=50)
boxes = st.tuples(coords, coords, st.integers(1, 30), st.integers(1, 30)).map(
    lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]]
)


@settings(max_examples=25, deadline=None)
@given(st.lists(boxes, min_size=1, max_size=6), st.randoms())
def test_confidence_bounded_and_order_free(drawn: list[list[int]], rnd: random.Random) -> None:
    subs = [sub(n, box) for n, box in enumerate(drawn)]
    out = verifier.verify(vin(subs, overlap=len(drawn)))
    assert out.confidence is not None and 0.0 <= out.confidence <= 1.0
    assert out.result is not None
    x0, y0, x1, y1 = out.result["box"]
    assert x0 < x1 and y0 < y1
    shuffled = list(subs)
    rnd.shuffle(shuffled)
    again = verifier.verify(vin(shuffled, overlap=len(drawn)))
    assert (again.result, again.confidence) == (out.result, out.confidence)
    assert decisions(again) == decisions(out)
    assert all(v.evidence for v in out.verdicts if v.decision is Decision.REJECT)
