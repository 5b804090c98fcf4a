"""Background quality work: full Dawid-Skene re-estimation, and automatic acceptance.

Between runs, each resolution adds its result to the voters' confusion counts (hard EM, in
services.learning). A run here re-estimates a campaign's counts from all its answers with
the estimator of quality.dawid_skene (full soft EM, the same class mapping and prior as
the live verifier) and stores its `counts_` as they are. Counts written by resolutions
during a run are overwritten; the next run includes those answers, so nothing is lost for
long. Only categorical campaigns verified by `dawid_skene` are re-estimated.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from earnest.domain.verification import model_voter
from earnest.quality.dawid_skene import (
    CLASS_COUNTS,
    Answer,
    ClassMap,
    Counts,
    OnlineDawidSkene,
    class_row,
)
from earnest.services.appeals import auto_accept_due
from earnest.services.chain_port import Crypto
from earnest.services.loop import Every
from earnest.services.ports import Clock, Random, Store

log = logging.getLogger("earnest.quality")


def refit_campaign(campaign_id: str, *, store: Store, clock: Clock) -> int:
    """Re-estimate a campaign's confusion counts from all its answers; returns answers used."""
    with store.uow(readonly=True) as uow:
        campaign = uow.campaigns.get(campaign_id)
        if campaign is None or campaign.spec.verifier != "dawid_skene":
            return 0
        classes = ClassMap.of_schema(campaign.spec.output_schema)
        rows = list(uow.confusions.training_data(campaign_id))
    counts, used = estimate_counts(rows, classes)
    if not used:
        return 0
    with store.uow() as uow:
        uow.confusions.put(campaign_id, counts, clock.now())
        uow.commit()
    return used


TrainingRow = tuple[int, str, object, object, object]  # (task, worker, answer, gold, prediction)


def estimate_counts(
    rows: Iterable[TrainingRow], classes: ClassMap, *, pooled: bool = True
) -> tuple[dict[str, Counts], int]:
    """Every voter's confusion counts and the class counts (under CLASS_COUNTS) by batch
    Dawid-Skene over a campaign's answers, gold clamped, with the prior pooled from the
    crowd (stored after the class counts in the CLASS_COUNTS row), and how many answers were used
    (model votes included); nothing when no answer is one of the classes. `pooled` False
    keeps the fixed prior (what the market did before; the bench compares the two)."""
    answers, gold = _answers(list(rows), classes)
    if not answers:
        return {}, 0
    estimator = OnlineDawidSkene(len(classes), pooled=pooled).fit(answers)
    for task, label in gold.items():
        estimator.observe_truth(task, label)
    if gold:
        estimator.refit()
    counts = {str(voter): matrix for voter, matrix in estimator.counts_.items()}
    counts[CLASS_COUNTS] = class_row(estimator.class_counts_, estimator.alpha_ if pooled else None)
    return counts, len(answers)


def _answers(rows: list[TrainingRow], classes: ClassMap) -> tuple[list[Answer], dict[int, int]]:
    answers: list[Answer] = []
    gold: dict[int, int] = {}
    predicted: set[int] = set()
    for task, worker, answer, known, prediction in rows:
        label = classes.label_of(answer)
        if label is None:
            continue
        answers.append(Answer(task, worker, label))
        truth = classes.label_of(known) if known is not None else None
        if truth is not None:
            gold[task] = truth
        if isinstance(prediction, dict) and task not in predicted:
            predicted.add(task)
            voted = classes.label_of(prediction.get("answer"))
            if voted is not None:
                answers.append(Answer(task, model_voter(prediction.get("model", "model")), voted))
    return answers, gold


@dataclass
class QualityLoop:
    """Runs automatic acceptance and re-estimation every `interval` seconds, until stopped."""

    store: Store
    crypto: Crypto
    clock: Clock
    rand: Random
    interval: float
    _fitted: dict[str, int] = field(default_factory=dict)
    _loop: Every = field(init=False)

    def __post_init__(self) -> None:
        self._loop = Every("earnest-quality", self.interval, self.round, log)

    def round(self) -> dict[str, int]:
        """One pass: accept overdue reviews, refit campaigns that got new answers."""
        accepted = auto_accept_due(
            store=self.store, crypto=self.crypto, clock=self.clock, rand=self.rand
        )
        refitted = 0
        with self.store.uow(readonly=True) as uow:
            active = [c for c in uow.campaigns.active() if c.spec.verifier == "dawid_skene"]
            sizes = {c.id: sum(uow.assignments.counts(c.id).values()) for c in active}
        for campaign_id, size in sizes.items():
            if size != self._fitted.get(campaign_id):
                refit_campaign(campaign_id, store=self.store, clock=self.clock)
                self._fitted[campaign_id] = size
                refitted += 1
        return {"auto_accepted": accepted, "refitted": refitted}

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
