"""Run a campaign's verifier on a task's answers, with what the market knows of the voters.

The verdicts are carried out by services.decisions; what an answer teaches the confusion
matrices is services.learning; an acceptance's money and receipt is services.accept.
"""

from __future__ import annotations

from earnest.domain.verification import (
    Outcome,
    Submission,
    VerificationInput,
    WorkerHistory,
    model_voter,
)
from earnest.domain.work import Campaign, Task
from earnest.quality import MEASURED, verifier_for
from earnest.quality.controls import disguised
from earnest.quality.dawid_skene import CLASS_COUNTS, ClassMap, read_class_row
from earnest.quality.qualification import Standing
from earnest.services.ports import UnitOfWork
from earnest.services.reputation import qualification_of, scores


def verify_task(
    uow: UnitOfWork, campaign: Campaign, task: Task, submissions: tuple[Submission, ...]
) -> Outcome:
    """Run the campaign's verifier on everything the task has received."""
    workers = [s.worker for s in submissions]
    classes = ClassMap.of_schema(campaign.spec.output_schema)
    voters = workers + ([model_voter(task.prediction.model)] if task.prediction else [])
    learned = uow.confusions.get(campaign.id, voters) if classes else {}
    stats = uow.workers.history(workers)
    reputation = scores(uow, workers, campaign.spec.skill)
    history = {
        v: WorkerHistory(
            stats[v].gold_correct if v in stats else 0,
            stats[v].gold_total if v in stats else 0,
            learned.get(v),
            reputation[v].mean if v in reputation else None,
        )
        for v in voters
    }
    q = campaign.spec.quality
    class_counts, pooled = read_class_row(learned.get(CLASS_COUNTS), len(classes))
    given = VerificationInput(
        task,
        campaign.spec.overlap,
        submissions,
        history,
        min_overlap=q.min_overlap,
        confidence=q.confidence,
        class_counts=class_counts,
        classes=classes.classes,
        pooled_prior=pooled.tolist() if pooled is not None else (),
        facts=uow.facts.of_task(task.id) if campaign.spec.verifier in MEASURED else {},
        terms=campaign.spec.terms,
    )
    # A control task's verdict reads and waits like an ordinary one (quality/controls.py).
    return disguised(verifier_for(campaign.spec.verifier), given, _qualifying(uow, campaign, given))


def _qualifying(uow: UnitOfWork, campaign: Campaign, given: VerificationInput) -> set[str]:
    """Workers still in the campaign's qualification: their tasks are controls by the rules."""
    q = campaign.spec.quality
    if not given.task.is_gold or q.qualification_tasks + q.practice_tasks == 0:
        return set()
    workers = {s.worker for s in given.pending()}
    return {w for w in workers if qualification_of(uow, campaign, w)[0] is Standing.QUALIFYING}
