"""Verification of categorical answers by Dawid-Skene posteriors, with dynamic overlap.

Each voter (a worker, or a model whose predictions ride on the task) has confusion counts
the market has learned for this campaign; smoothed by the estimator's own prior
(quality.dawid_skene), they give the matrices, and the task's posterior over the classes
is Bayes' rule over them. The task resolves
once it has `min_overlap` human answers and its posterior reaches the campaign's
`confidence` target, or when `overlap` answers are in. Answers that disagree with the
result are rejected only when the result is clear (posterior ≥ REJECT_AT); otherwise
everyone is paid in good faith, since an ambiguous task is not the workers' fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

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
from earnest.quality.dawid_skene import (
    ClassMap,
    CountsIn,
    Floats,
    Prior,
    class_priors,
    confusion,
    posterior,
)

REJECT_AT = 0.9
_COUNTED = (AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED, AssignmentStatus.REJECTED)


class DawidSkeneVerifier:
    """Gold tasks against their answer; others by the posterior over learned confusions."""

    name = "dawid_skene"

    def __init__(self, prior: Prior | None = None) -> None:
        self.prior = prior or Prior()

    def verify(self, given: VerificationInput) -> Outcome:
        if not given.classes:
            raise ValueError("dawid_skene needs the campaign's answer classes")
        if given.task.is_gold:
            return GoldMajorityVerifier().verify(given)
        if given.task.status is TaskStatus.RESOLVED:
            return _late(given)
        classes = ClassMap(given.classes)
        k = len(classes)
        alpha = _pooled(given.pooled_prior, k)
        if alpha is None:
            alpha = self.prior.matrix(k)
        votes = [(s, classes.label_of(s.answer)) for s in given.submissions if s.status in _COUNTED]
        counted = [s for s, label in votes if label is not None]
        labels = [label for _, label in votes if label is not None]
        confusions = [confusion(_counts(given.history.get(s.worker)), alpha) for s in counted]
        prediction = given.task.prediction
        predicted = classes.label_of(prediction.answer) if prediction else None
        if prediction is not None and predicted is not None:
            labels.append(predicted)
            # Models are often over-confident; cap the trust given before any evidence.
            stated = self.prior.stated(k, min(max(prediction.confidence, 1.0 / k), 0.8))
            voter = given.history.get(model_voter(prediction.model))
            confusions.append(confusion(_counts(voter), stated))
        priors = class_priors(given.class_counts, k, self.prior)
        post = posterior(priors, confusions, labels).tolist()
        best = max(range(k), key=lambda i: (post[i], -i))
        confidence = round(post[best], 6)
        if not _done(given, len(counted), confidence):
            waiting = tuple(
                Verdict(s.assignment_id, Decision.WAIT, "waiting for other workers' answers")
                for s in given.pending()
            )
            return Outcome(waiting, False, None, confidence)
        result = given.classes[best]
        verdicts = tuple(
            _verdict(s, classes.label_of(s.answer) == best, result, confidence, len(counted))
            for s in given.pending()
        )
        return Outcome(verdicts, True, result, confidence)


def _pooled(rows: Sequence[Sequence[float]], k: int) -> Floats | None:
    """The crowd's pooled prior when one was fitted for these K classes, else None."""
    if len(rows) != k:
        return None
    alpha = np.asarray(rows, np.float64)
    return alpha if alpha.shape == (k, k) and bool((alpha > 0).all()) else None


def _done(given: VerificationInput, answers: int, confidence: float) -> bool:
    if answers < max(given.min_overlap, 1):
        return False
    if given.confidence > 0 and confidence >= given.confidence:
        return True
    return answers >= given.overlap


def _counts(history: WorkerHistory | None) -> CountsIn | None:
    return history.confusion if history is not None else None


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
