"""quality.controls: a control task's verdicts are timed and worded as an ordinary task's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from earnest.domain.verification import Decision, Outcome, Submission, VerificationInput
from earnest.domain.work import AssignmentStatus, Task, TaskStatus
from earnest.quality import verifier_for
from earnest.quality.controls import ACCEPTED, REJECTED, disguised

AT = datetime(2025, 1, 1, tzinfo=UTC)
CAT, DOG = {"label": "cat"}, {"label": "dog"}


def _given(gold: Any, answers: list[Any], overlap: int = 3, **more: Any) -> VerificationInput:
    task = Task(1, "cmp_1", "t1", {"text": "x"}, gold, TaskStatus.OPEN)
    subs = tuple(
        Submission(f"a{n}", f"W{n}", a, AssignmentStatus.SUBMITTED, AT)
        for n, a in enumerate(answers)
    )
    return VerificationInput(task, overlap, subs, {}, **more)


def _seen(outcome: Outcome) -> dict[str, tuple[Decision, str, dict[str, Any]]]:
    return {v.assignment_id: (v.decision, v.reason, dict(v.evidence)) for v in outcome.verdicts}


def test_a_control_waits_while_an_ordinary_task_would() -> None:
    majority = verifier_for("majority")
    control = disguised(majority, _given(CAT, [CAT, DOG]))
    assert _seen(control) == _seen(majority.verify(_given(None, [CAT, DOG])))
    assert not control.resolved and {v.decision for v in control.verdicts} == {Decision.WAIT}


def test_a_decided_control_reads_word_for_word_like_an_ordinary_task() -> None:
    # Dawid-Skene without learned confusions is unsure of a 2-1 split (accepted in good
    # faith), where the known answer rejects: that case is the neutral words' (below).
    for name, answers in (("majority", [CAT, CAT, DOG]), ("dawid_skene", [CAT, CAT, CAT])):
        verifier = verifier_for(name)
        more = {"classes": (CAT, DOG)} if name == "dawid_skene" else {}
        control = disguised(verifier, _given(CAT, answers, **more))
        plain = verifier.verify(_given(None, answers, **more))
        assert _seen(control) == _seen(plain)
        assert control.resolved and control.result == CAT and control.confidence == 1.0


def test_where_the_known_answer_overrules_the_crowd_the_words_are_neutral() -> None:
    control = disguised(verifier_for("majority"), _given(CAT, [DOG, DOG, CAT]))
    seen = _seen(control)
    assert seen["a0"] == (Decision.REJECT, REJECTED, {}) == seen["a1"]
    assert seen["a2"] == (Decision.ACCEPT, ACCEPTED, {})  # the crowd would have rejected it
    for _, reason, evidence in seen.values():
        assert "control" not in reason and "known" not in reason and "cat" not in str(evidence)


def test_a_worker_in_qualification_is_decided_at_once() -> None:
    control = disguised(verifier_for("majority"), _given(CAT, [CAT, DOG]), qualifying={"W1"})
    seen = _seen(control)
    assert seen["a0"][0] is Decision.WAIT
    assert seen["a1"] == (Decision.REJECT, REJECTED, {})
    assert not control.resolved


def test_an_ordinary_task_is_left_as_the_verifier_decided() -> None:
    majority = verifier_for("majority")
    given = _given(None, [CAT, CAT, DOG])
    assert disguised(majority, given, qualifying={"W0"}) == majority.verify(given)
