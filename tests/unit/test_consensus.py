"""GoldMajorityVerifier: gold tasks, weighted majority, waiting, determinism."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from earnest.domain.verification import (
    Decision,
    Submission,
    VerificationInput,
    WorkerHistory,
)
from earnest.domain.work import AssignmentStatus, Task, TaskStatus
from earnest.quality import GoldMajorityVerifier, verifier_for, verifier_names

AT = datetime(2025, 1, 1, tzinfo=UTC)
SUBMITTED = AssignmentStatus.SUBMITTED
verifier = GoldMajorityVerifier()


def task(gold: Any = None) -> Task:
    return Task(1, "cmp_1", "t1", {"text": "x"}, gold, TaskStatus.OPEN)


def sub(n: int, answer: Any, status: AssignmentStatus = SUBMITTED) -> Submission:
    return Submission(f"a{n}", f"W{n}", answer, status, AT)


def given(
    t: Task,
    subs: list[Submission],
    overlap: int = 3,
    history: dict[str, WorkerHistory] | None = None,
) -> VerificationInput:
    return VerificationInput(t, overlap, tuple(subs), history or {})


def decisions(outcome: Any) -> dict[str, Decision]:
    return {v.assignment_id: v.decision for v in outcome.verdicts}


def test_registry() -> None:
    assert {"majority", "dawid_skene", "numeric", "boxes"} <= set(verifier_names())
    assert isinstance(verifier_for("majority"), GoldMajorityVerifier)


def test_gold_accepts_matching_and_rejects_other_answers_at_once() -> None:
    t = task(gold={"label": "cat"})
    out = verifier.verify(given(t, [sub(1, {"label": "cat"}), sub(2, {"label": "dog"})]))
    assert decisions(out) == {"a1": Decision.ACCEPT, "a2": Decision.REJECT}
    reject = next(v for v in out.verdicts if v.assignment_id == "a2")
    assert "control task" in reject.reason
    assert not out.resolved  # 2 of 3 answers


def test_gold_compares_canonical_json() -> None:
    t = task(gold={"a": 1, "b": 2})
    out = verifier.verify(given(t, [sub(1, {"b": 2, "a": 1})], overlap=1))
    assert decisions(out) == {"a1": Decision.ACCEPT}
    assert out.resolved and out.result == {"a": 1, "b": 2} and out.confidence == 1.0


def test_majority_waits_until_overlap_answers() -> None:
    out = verifier.verify(given(task(), [sub(1, "cat"), sub(2, "cat")]))
    assert decisions(out) == {"a1": Decision.WAIT, "a2": Decision.WAIT}
    assert not out.resolved and out.result is None


def test_majority_counts_already_decided_and_ignores_leased_or_expired() -> None:
    subs = [
        sub(1, "cat", AssignmentStatus.ACCEPTED),
        sub(2, "cat", AssignmentStatus.EXPIRED),
        sub(3, "cat", AssignmentStatus.LEASED),
        sub(4, "cat"),
    ]
    out = verifier.verify(given(task(), subs))
    assert decisions(out) == {"a4": Decision.WAIT}


def test_strict_majority_accepts_agreeing_and_rejects_others_with_tally() -> None:
    subs = [sub(1, "cat"), sub(2, "dog"), sub(3, "cat")]
    out = verifier.verify(given(task(), subs))
    assert decisions(out) == {"a1": Decision.ACCEPT, "a2": Decision.REJECT, "a3": Decision.ACCEPT}
    assert out.resolved and out.result == "cat"
    reasons = {v.assignment_id: v.reason for v in out.verdicts}
    assert reasons["a1"] == "agrees with 2 of 3"
    assert '"dog"' in reasons["a2"] and '"cat"' in reasons["a2"]
    assert "(2 of 3 workers)" in reasons["a2"]
    assert 0.5 < out.confidence < 1.0


def test_unanimous_gets_full_confidence() -> None:
    out = verifier.verify(given(task(), [sub(i, "cat") for i in range(3)]))
    assert set(decisions(out).values()) == {Decision.ACCEPT}
    assert out.confidence == 1.0


def test_no_strict_majority_accepts_everyone_with_low_confidence() -> None:
    subs = [sub(1, "cat"), sub(2, "dog"), sub(3, "bird")]
    out = verifier.verify(given(task(), subs))
    assert set(decisions(out).values()) == {Decision.ACCEPT}
    assert out.resolved
    assert out.confidence is not None and out.confidence < 0.5
    assert any("no strict majority" in v.reason for v in out.verdicts)


def test_even_split_is_not_a_strict_majority() -> None:
    subs = [sub(1, "cat"), sub(2, "cat"), sub(3, "dog"), sub(4, "dog")]
    out = verifier.verify(given(task(), subs, overlap=4))
    assert set(decisions(out).values()) == {Decision.ACCEPT}
    assert out.confidence == 0.5


def test_weights_from_worker_history_pick_the_winner() -> None:
    subs = [sub(1, "cat"), sub(2, "dog"), sub(3, "bird"), sub(4, "bird")]
    history = {
        "W1": WorkerHistory(gold_correct=100, gold_total=100),
        "W3": WorkerHistory(gold_correct=0, gold_total=100),
        "W4": WorkerHistory(gold_correct=0, gold_total=100),
    }
    out = verifier.verify(given(task(), subs, overlap=4, history=history))
    # bird has 2 votes but little weight; cat's one trusted voter wins the result
    assert out.result == "cat"
    # nobody has a strict majority by count, so nobody is rejected
    assert set(decisions(out).values()) == {Decision.ACCEPT}


def test_weights_break_ties_differently_from_defaults() -> None:
    subs = [sub(1, "cat"), sub(2, "dog")]
    trusted_dog = {"W2": WorkerHistory(gold_correct=50, gold_total=50)}
    trusted_cat = {"W1": WorkerHistory(gold_correct=50, gold_total=50)}
    assert verifier.verify(given(task(), subs, 2, trusted_dog)).result == "dog"
    assert verifier.verify(given(task(), subs, 2, trusted_cat)).result == "cat"


def test_gold_accuracy_prior() -> None:
    assert WorkerHistory().gold_accuracy == 2 / 3
    assert WorkerHistory(gold_correct=10, gold_total=10).gold_accuracy == 12 / 13


def test_only_pending_submissions_get_verdicts() -> None:
    subs = [sub(1, "cat", AssignmentStatus.ACCEPTED), sub(2, "cat", AssignmentStatus.ACCEPTED)]
    out = verifier.verify(given(task(), [*subs, sub(3, "dog")]))
    assert decisions(out) == {"a3": Decision.REJECT}


def test_deterministic() -> None:
    subs = [sub(1, {"l": "a"}), sub(2, {"l": "b"}), sub(3, {"l": "c"})]
    history = {"W2": WorkerHistory(3, 4)}
    first = verifier.verify(given(task(), subs, history=history))
    second = verifier.verify(given(task(), subs, history=dict(history)))
    assert first == second
    reordered = verifier.verify(given(task(), list(reversed(subs)), history=history))
    assert reordered.result == first.result
