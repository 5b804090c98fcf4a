"""PairwiseVerifier (weighted majority per task) and BradleyTerry (MM across tasks)."""

from __future__ import annotations

import math
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
from earnest.quality.pairwise import BradleyTerry, PairAnswer, PairwiseVerifier
from tests.unit import verifier_cases as cases
from tests.unit.verifier_cases import SUBMITTED, decisions, submission, verdict

verifier = PairwiseVerifier()


def task(gold: Any = None, status: TaskStatus = TaskStatus.OPEN, result: Any = None) -> Task:
    return cases.task(gold, status, result, {"a": "left.png", "b": "right.png"})


def vin(subs: list[Submission], t: Task | None = None, **kw: Any) -> VerificationInput:
    return cases.vin(subs, t or task(), **kw)


def sub(n: int, choice: Any, status: AssignmentStatus = SUBMITTED) -> Submission:
    return submission(n, {"choice": choice}, status)


def test_majority_rejects_the_minority_with_evidence() -> None:
    out = verifier.verify(vin([sub(1, "a"), sub(2, "b"), sub(3, "a")]))
    # equal weights: a has 2/3 of the weight and 2 of 3 votes
    assert out.resolved and out.result == {"choice": "a"}
    assert out.confidence == round(2 / 3, 6)
    assert decisions(out) == {"a1": Decision.ACCEPT, "a2": Decision.REJECT, "a3": Decision.ACCEPT}
    rejected = verdict(out, "a2")
    assert "'b'" in rejected.reason and "'a'" in rejected.reason
    assert rejected.evidence["consensus"] == {"choice": "a"}
    assert rejected.evidence["yours"] == {"choice": "b"}
    assert (rejected.evidence["answers"], rejected.evidence["agreeing"]) == (3, 2)


def test_tie_accepts_everyone_in_good_faith() -> None:
    out = verifier.verify(vin([sub(1, "a"), sub(2, "b")], overlap=2))
    assert out.resolved and out.confidence == 0.5
    assert set(decisions(out).values()) == {Decision.ACCEPT}
    assert "good faith" in verdict(out, "a2").reason


def test_weight_majority_without_count_majority_rejects_nobody() -> None:
    history = {
        "W1": WorkerHistory(reputation=0.9),
        "W2": WorkerHistory(reputation=0.3),
        "W3": WorkerHistory(reputation=0.3),
    }
    out = verifier.verify(vin([sub(1, "a"), sub(2, "b"), sub(3, "b")], history=history))
    # a: 0.9, b: 0.6 → a wins with 0.9 / 1.5 = 0.6, but only 1 of 3 chose it
    assert out.result == {"choice": "a"} and out.confidence == 0.6
    assert set(decisions(out).values()) == {Decision.ACCEPT}


def test_gold_decides_at_once() -> None:
    out = verifier.verify(vin([sub(1, "a"), sub(2, "b")], task(gold={"choice": "b"})))
    assert decisions(out) == {"a1": Decision.REJECT, "a2": Decision.ACCEPT}
    assert "known answer" in verdict(out, "a1").reason
    assert verdict(out, "a1").evidence["control_task"] is True


def test_waiting_and_dynamic_confidence() -> None:
    two = [sub(1, "a"), sub(2, "a")]
    assert set(decisions(verifier.verify(vin(two))).values()) == {Decision.WAIT}
    early = verifier.verify(vin(two, overlap=5, min_overlap=2, confidence=0.8))
    assert early.resolved and early.confidence == 1.0
    assert set(decisions(early).values()) == {Decision.ACCEPT}
    split = verifier.verify(vin([sub(1, "a"), sub(2, "b")], overlap=5, confidence=0.8))
    assert not split.resolved  # confidence 0.5 < 0.8 and 2 < 5 answers


def test_late_answer_is_accepted() -> None:
    t = task(status=TaskStatus.RESOLVED, result={"choice": "a"})
    out = verifier.verify(vin([sub(1, "b")], t))
    assert decisions(out) == {"a1": Decision.ACCEPT}
    assert "already resolved" in verdict(out, "a1").reason


@pytest.mark.parametrize("bad", ["c", "A", None, 1])
def test_unreadable_choice_is_rejected_with_evidence(bad: Any) -> None:
    out = verifier.verify(vin([sub(1, "a"), sub(2, "a"), sub(3, bad)]))
    assert decisions(out) == {"a1": Decision.ACCEPT, "a2": Decision.ACCEPT, "a3": Decision.REJECT}
    assert verdict(out, "a3").evidence["problem"]


def test_two_items_match_the_maximum_likelihood_by_hand() -> None:
    answers = [
        PairAnswer("t1", "W1", "X", "Y", "a"),
        PairAnswer("t2", "W1", "X", "Y", "a"),
        PairAnswer("t3", "W2", "X", "Y", "b"),
    ]
    model = BradleyTerry(prior=1e-6).fit(answers)
    # X won 2 of 3: the MLE has γX / (γX + γY) = 2/3, i.e. scores 2/3 and 1/3
    assert model.scores_["X"] == pytest.approx(2 / 3, abs=1e-4)
    assert model.scores_["Y"] == pytest.approx(1 / 3, abs=1e-4)
    assert model.labels_ == {"t1": "X", "t2": "X", "t3": "X"}
    assert model.probas_["t3"] == pytest.approx(2 / 3, abs=1e-4)
    assert model.skills_ == {"W1": 1.0, "W2": 0.0}


def test_even_record_gives_equal_scores() -> None:
    answers = [PairAnswer("t1", "W1", "X", "Y", "a"), PairAnswer("t2", "W2", "X", "Y", "b")]
    model = BradleyTerry().fit(answers)
    # by symmetry γX = γY = 1 (the phantom's strength): scores 1/2 each
    assert model.scores_ == pytest.approx({"X": 0.5, "Y": 0.5})
    # equal scores: each task's own vote decides; agreement with a tie counts one half
    assert model.labels_ == {"t1": "X", "t2": "Y"}
    assert model.skills_ == {"W1": 0.5, "W2": 0.5}


def test_an_item_that_never_loses_gets_a_finite_top_score() -> None:
    answers = [
        *[PairAnswer("t1", "W1", "A", "B", "a")] * 3,
        *[PairAnswer("t2", "W1", "C", "A", "b")] * 3,
        *[PairAnswer("t3", "W2", "B", "C", "a")] * 3,
        PairAnswer("t3", "W3", "B", "C", "b"),
    ]
    model = BradleyTerry().fit(answers)
    assert all(math.isfinite(s) and s > 0 for s in model.scores_.values())
    assert model.scores_["A"] > model.scores_["B"] > model.scores_["C"]
    assert sum(model.scores_.values()) == pytest.approx(1.0)
    assert model.labels_ == {"t1": "A", "t2": "A", "t3": "B"}
    assert model.skills_ == {"W1": 1.0, "W2": 1.0, "W3": 0.0}


@pytest.mark.parametrize(
    "kwargs", [{"prior": 0}, {"prior": -1}, {"prior": math.inf}, {"tol": 0}, {"n_iter": 0}]
)
def test_bad_settings_raise_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        BradleyTerry(**kwargs)


@pytest.mark.parametrize(
    "answers",
    [
        [PairAnswer("t1", "W1", "X", "Y", "c")],
        [PairAnswer("t1", "W1", "X", "X", "a")],
        [PairAnswer("t1", "W1", "X", "Y", "a"), PairAnswer("t1", "W2", "Y", "X", "a")],
    ],
)
def test_bad_answers_raise_value_error(answers: list[PairAnswer]) -> None:
    with pytest.raises(ValueError):
        BradleyTerry().fit(answers)


def test_verifier_bad_field() -> None:
    with pytest.raises(ValueError):
        PairwiseVerifier(field="")


items = st.sampled_from(["A", "B", "C", "D", "E"])
comparisons = st.lists(
    st.tuples(items, items, st.sampled_from(["a", "b"]), st.sampled_from(["W1", "W2", "W3"])),
    min_size=1,
    max_size=25,
)


@settings(max_examples=25, deadline=None)
@given(comparisons, st.randoms())
def test_bt_scores_finite_and_order_free(drawn: list[Any], rnd: random.Random) -> None:
    answers = [PairAnswer((a, b), w, a, b, c) for a, b, c, w in drawn if a != b]
    model = BradleyTerry().fit(answers)
    assert all(math.isfinite(s) and s > 0 for s in model.scores_.values())
    assert all(0.5 <= p <= 1.0 for p in model.probas_.values())
    assert all(0.0 <= s <= 1.0 for s in model.skills_.values())
    rnd.shuffle(answers)
    again = BradleyTerry().fit(answers)
    assert again.labels_ == model.labels_
    assert again.scores_ == pytest.approx(model.scores_)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b"]), st.floats(0, 1)), min_size=1, max_size=7),
    st.randoms(),
)
def test_verifier_confidence_bounded_and_order_free(
    drawn: list[tuple[str, float]], rnd: random.Random
) -> None:
    subs = [sub(n, c) for n, (c, _) in enumerate(drawn)]
    history = {f"W{n}": WorkerHistory(reputation=r) for n, (_, r) in enumerate(drawn)}
    out = verifier.verify(vin(subs, overlap=len(drawn), history=history))
    assert out.confidence is not None and 0.5 <= out.confidence <= 1.0
    rnd.shuffle(subs)
    again = verifier.verify(vin(subs, overlap=len(drawn), history=history))
    assert (again.result, again.confidence, decisions(again)) == (
        out.result,
        out.confidence,
        decisions(out),
    )
