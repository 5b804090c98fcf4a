"""Verification of categorical answers by Dawid-Skene posteriors, with dynamic overlap.

Each voter (a worker, or a model whose predictions ride on the task) has a confusion
matrix the market has learned for this campaign; the task's posterior over the classes
is Bayes' rule over those matrices (see dawid_skene.task_posterior). The task resolves
once it has `min_overlap` human answers and its posterior reaches the campaign's
`confidence` target, or when `overlap` answers are in. Answers that disagree with the
result are rejected only when the result is clear (posterior ≥ REJECT_AT); otherwise
everyone is paid in good faith, since an ambiguous task is not the workers' fault.
"""

from __future__ import annotations

from typing import Any

from earnest.domain.verification import (
    Decision,
    Outcome,
    Submission,
    Verdict,
    VerificationInput,
    WorkerHistory,
    canonical_json,
    model_voter,
)
from earnest.domain.work import AssignmentStatus, TaskStatus
from earnest.quality.consensus import GoldMajorityVerifier
from earnest.quality.dawid_skene import task_posterior

REJECT_AT = 0.9
_COUNTED = (AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED, AssignmentStatus.REJECTED)


class DawidSkeneVerifier:
    """Gold tasks against their answer; others by the posterior over learned confusions."""

    name = "dawid_skene"

    def verify(self, given: VerificationInput) -> Outcome:
        if not given.classes:
            raise ValueError("dawid_skene needs the campaign's answer classes")
        if given.task.is_gold:
            return GoldMajorityVerifier().verify(given)
        if given.task.status is TaskStatus.RESOLVED:
            return _late(given)
        k = len(given.classes)
        votes = [
            (s, label_of(given.classes, s.answer))
            for s in given.submissions
            if s.status in _COUNTED
        ]
        counted = [s for s, label in votes if label is not None]
        labels = [label for _, label in votes if label is not None]
        confusions = [_confusion(given.history.get(s.worker), k) for s in counted]
        prediction = given.task.prediction
        predicted = label_of(given.classes, prediction.answer) if prediction else None
        if prediction is not None and predicted is not None:
            labels.append(predicted)
            voter = given.history.get(model_voter(prediction.model))
            confusions.append(_model_confusion(voter, prediction.confidence, k))
        priors = list(given.priors) if given.priors else [1.0 / k] * k
        posterior = task_posterior(priors, confusions, labels)
        best = max(range(k), key=lambda i: (posterior[i], -i))
        confidence = round(posterior[best], 6)
        if not _done(given, len(counted), confidence):
            waiting = tuple(
                Verdict(s.assignment_id, Decision.WAIT, "waiting for other workers' answers")
                for s in given.pending()
            )
            return Outcome(waiting, False, None, confidence)
        result = given.classes[best]
        verdicts = tuple(
            _verdict(s, label_of(given.classes, s.answer) == best, result, confidence, len(counted))
            for s in given.pending()
        )
        return Outcome(verdicts, True, result, confidence)


def label_of(classes: tuple[Any, ...], answer: Any) -> int | None:
    """The index of the class an answer gives, or None if it gives none.

    Object classes ({"label": "cat"}) are read by their one property, so extra properties
    the output schema allows (a comment, say) do not make an answer unknown.
    """
    names = {tuple(c) if isinstance(c, dict) else None for c in classes}
    if len(names) == 1 and isinstance(answer, dict):
        (name,) = names
        if name is not None and len(name) == 1:
            answer = {name[0]: answer.get(name[0])}
    wanted = canonical_json(answer)
    return next((i for i, c in enumerate(classes) if canonical_json(c) == wanted), None)


def _done(given: VerificationInput, answers: int, confidence: float) -> bool:
    if answers < max(given.min_overlap, 1):
        return False
    if given.confidence > 0 and confidence >= given.confidence:
        return True
    return answers >= given.overlap


def _confusion(history: WorkerHistory | None, k: int) -> list[list[float]]:
    """The learned matrix; before one is learned, the worker's gold accuracy on the diagonal."""
    if history is not None and history.confusion is not None:
        return [list(row) for row in history.confusion]
    accuracy = (history or WorkerHistory()).gold_accuracy
    return _symmetric(accuracy, k)


def _model_confusion(history: WorkerHistory | None, stated: float, k: int) -> list[list[float]]:
    """A model's learned matrix; before one is learned, its own stated confidence, tempered."""
    if history is not None and history.confusion is not None:
        return [list(row) for row in history.confusion]
    # Models are often over-confident; cap the trust given before any evidence.
    return _symmetric(min(max(stated, 1.0 / k), 0.8), k)


def _symmetric(accuracy: float, k: int) -> list[list[float]]:
    off = (1.0 - accuracy) / (k - 1)
    return [[accuracy if i == j else off for j in range(k)] for i in range(k)]


def _verdict(s: Submission, agrees: bool, result: Any, confidence: float, total: int) -> Verdict:
    if agrees:
        return Verdict(
            s.assignment_id, Decision.ACCEPT, f"agrees with the result ({total} answers)"
        )
    evidence = {
        "your_answer": s.answer,
        "result": result,
        "confidence": confidence,
        "answers": total,
        "reject_at": REJECT_AT,
    }
    if confidence < REJECT_AT:
        reason = f"the result is uncertain ({confidence:.2f}); accepted in good faith"
        return Verdict(s.assignment_id, Decision.ACCEPT, reason, evidence)
    reason = (
        f"your answer {canonical_json(s.answer)} disagreed with the result "
        f"{canonical_json(result)}, which the {total} answers and the workers' track records "
        f"support with confidence {confidence:.2f}"
    )
    return Verdict(s.assignment_id, Decision.REJECT, reason, evidence)


def _late(given: VerificationInput) -> Outcome:
    """The task resolved while this lease was live: the answer is paid, as promised."""
    reason = "the task was resolved before your answer arrived; your lease was valid, so it is paid"
    evidence = {"late": True, "result": given.task.result}
    verdicts = tuple(
        Verdict(s.assignment_id, Decision.ACCEPT, reason, evidence) for s in given.pending()
    )
    return Outcome(verdicts, True, given.task.result, given.task.confidence)
