"""What a decided answer teaches the campaign's confusion matrices (Dawid-Skene counts).

A control answer counts with certainty; a resolved task counts its result once in each
voter's matrix (hard EM). The background re-estimation (services.aggregation) replaces
these counts with the soft, full estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from earnest.domain.verification import Submission, model_voter
from earnest.domain.work import Campaign, Task
from earnest.quality.dawid_skene import CLASS_COUNTS, ClassMap, Counts, counted
from earnest.services.ports import UnitOfWork


def learn_gold(
    uow: UnitOfWork, campaign: Campaign, task: Task, sub: Submission, now: datetime
) -> None:
    """A control answer teaches the worker's confusion matrix with certainty."""
    if task.is_gold:
        count_votes(uow, campaign, task.gold, [(sub.worker, sub.answer)], now)


def learn_resolution(
    uow: UnitOfWork,
    campaign: Campaign,
    task: Task,
    subs: list[Submission],
    result: Any,
    now: datetime,
) -> None:
    """Online M-step: the resolved result counts once in each voter's matrix (hard EM).

    The background re-estimation (services.aggregation) replaces these counts with the
    soft, full Dawid-Skene estimate; between two runs this keeps every matrix current.
    """
    if task.is_gold:
        return
    votes = [(s.worker, s.answer) for s in subs]
    if task.prediction is not None:
        votes.append((model_voter(task.prediction.model), task.prediction.answer))
    count_votes(uow, campaign, result, votes, now, class_counts=True)


def count_votes(
    uow: UnitOfWork,
    campaign: Campaign,
    truth: Any,
    votes: list[tuple[str, Any]],
    now: datetime,
    *,
    class_counts: bool = False,
) -> None:
    """Count each vote against `truth` in its voter's matrix (and `truth` in the class counts)."""
    mapping = ClassMap.of_schema(campaign.spec.output_schema)
    if mapping.label_of(truth) is None:
        return
    names = [v for v, _ in votes] + ([CLASS_COUNTS] if class_counts else [])
    counts = uow.confusions.get(campaign.id, names)
    changed = counted_votes(mapping, counts, truth, votes, class_counts=class_counts)
    # The class counts are a running estimate every answer of the campaign updates: under
    # load one transaction's count may be left out rather than queue every answer behind
    # one row (concurrent writers overwrite each other anyway; the background
    # re-estimation, services.aggregation, recounts them all).
    uow.confusions.put(campaign.id, changed, now, if_free=[CLASS_COUNTS])


def counted_votes(
    mapping: ClassMap,
    counts: Mapping[str, Counts],
    truth: Any,
    votes: list[tuple[str, Any]],
    *,
    class_counts: bool = False,
) -> dict[str, Counts]:
    """The stored `counts` each vote changes, with the vote counted against `truth` (hard
    EM); with `class_counts`, the campaign's class counts too. Nothing when `truth` is not
    one of the classes."""
    true = mapping.label_of(truth)
    if true is None:
        return {}
    k = len(mapping)
    changed: dict[str, Counts] = {}
    for voter, answer in votes:
        given = mapping.label_of(answer)
        if given is not None:
            changed[voter] = counted(changed.get(voter) or counts.get(voter), k, true, given)
    if class_counts:
        row = [list(r) for r in counts.get(CLASS_COUNTS) or [[0.0] * k]]
        row[0][true] += 1.0
        changed[CLASS_COUNTS] = row
    return changed
