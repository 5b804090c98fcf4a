"""Verification v1: control (gold) tasks, and majority consensus over `overlap` answers.

A gold task is decided at once against its hidden answer. A regular task waits until
`overlap` answers are in; then the answer with the most weight wins, each voter weighted
by its gold accuracy. Answers that agree with a strict majority (by count) are accepted,
the others rejected with the tally as the reason. Without a strict majority nobody is
rejected: an ambiguous task is not the workers' fault, so all are paid and the result
carries a low confidence.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from earnest.domain.verification import (
    Decision,
    Outcome,
    Submission,
    Verdict,
    VerificationInput,
    WorkerHistory,
    canonical_json,
)
from earnest.domain.work import AssignmentStatus

_COUNTED = (AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED, AssignmentStatus.REJECTED)


class GoldMajorityVerifier:
    """Gold tasks against their known answer; other tasks by weighted majority."""

    name = "majority"

    def verify(self, given: VerificationInput) -> Outcome:
        if given.task.is_gold:
            return self._gold(given)
        return self._majority(given)

    def _gold(self, given: VerificationInput) -> Outcome:
        expected = canonical_json(given.task.gold)
        verdicts = tuple(
            Verdict(s.assignment_id, Decision.ACCEPT, "matches the known answer")
            if canonical_json(s.answer) == expected
            else Verdict(
                s.assignment_id,
                Decision.REJECT,
                "this was a control task with a known answer, and your answer did not match it",
            )
            for s in given.pending()
        )
        answered = sum(1 for s in given.submissions if s.status in _COUNTED)
        return Outcome(verdicts, answered >= given.overlap, given.task.gold, 1.0)

    def _majority(self, given: VerificationInput) -> Outcome:
        counted = [s for s in given.submissions if s.status in _COUNTED]
        if len(counted) < given.overlap:
            waiting = tuple(
                Verdict(s.assignment_id, Decision.WAIT, "waiting for other workers' answers")
                for s in given.pending()
            )
            return Outcome(waiting)
        votes, weights, answers = _tally(counted, given.history)
        winner = max(weights, key=lambda key: (weights[key], votes[key], key))
        strict = votes[winner] * 2 > len(counted)
        confidence = weights[winner] / sum(weights.values())
        verdicts = tuple(
            _majority_verdict(s, winner, strict, votes, len(counted)) for s in given.pending()
        )
        return Outcome(verdicts, True, answers[winner], round(confidence, 6))


def _tally(
    counted: list[Submission], history: Any
) -> tuple[dict[str, int], dict[str, float], dict[str, Any]]:
    votes: dict[str, int] = defaultdict(int)
    weights: dict[str, float] = defaultdict(float)
    answers: dict[str, Any] = {}
    for s in counted:
        key = canonical_json(s.answer)
        votes[key] += 1
        weights[key] += history.get(s.worker, WorkerHistory()).gold_accuracy
        answers[key] = s.answer
    return votes, weights, answers


def _majority_verdict(
    s: Submission, winner: str, strict: bool, votes: dict[str, int], total: int
) -> Verdict:
    key = canonical_json(s.answer)
    if key == winner:
        return Verdict(s.assignment_id, Decision.ACCEPT, f"agrees with {votes[key]} of {total}")
    if not strict:
        reason = f"no strict majority among {total} answers; accepted in good faith"
        return Verdict(s.assignment_id, Decision.ACCEPT, reason)
    reason = (
        f"your answer {key} disagreed with the majority answer {winner} "
        f"({votes[winner]} of {total} workers)"
    )
    return Verdict(s.assignment_id, Decision.REJECT, reason)
