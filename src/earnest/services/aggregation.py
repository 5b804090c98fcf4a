"""Background quality work: full Dawid-Skene re-estimation, and automatic acceptance.

Between runs, each resolution adds its result to the voters' confusion counts (hard EM, in
services.verify). A run here re-estimates a campaign's matrices from all its answers with
full soft EM (quality.dawid_skene) and replaces the counts. Counts written by resolutions
during a run are overwritten; the next run includes those answers, so nothing is lost for
long. Only categorical campaigns verified by `dawid_skene` are re-estimated.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from earnest.domain.verification import canonical_json, model_voter
from earnest.quality.classes import classes_of
from earnest.quality.dawid_skene import Answer, OnlineDawidSkene
from earnest.services.appeals import auto_accept_due
from earnest.services.chain_port import Crypto
from earnest.services.loop import Every
from earnest.services.ports import Clock, Random, Store
from earnest.services.verify import PRIORS

log = logging.getLogger("earnest.quality")


def refit_campaign(campaign_id: str, *, store: Store, clock: Clock) -> int:
    """Re-estimate a campaign's confusion matrices from all its answers; returns answers used."""
    with store.uow(readonly=True) as uow:
        campaign = uow.campaigns.get(campaign_id)
        if campaign is None or campaign.spec.verifier != "dawid_skene":
            return 0
        classes = classes_of(campaign.spec.output_schema)
        rows = list(uow.confusions.training_data(campaign_id))
    index = {canonical_json(c): i for i, c in enumerate(classes)}
    answers, gold = _answers(rows, index)
    if not answers:
        return 0
    estimator = OnlineDawidSkene(len(classes)).fit(answers)
    for task, label in gold.items():
        estimator.observe_truth(task, label)
    if gold:
        estimator.refit()
    counts = _soft_counts(estimator, answers, len(classes))
    with store.uow() as uow:
        uow.confusions.put(campaign_id, counts, clock.now())
        uow.commit()
    return len(answers)


def _answers(
    rows: list[tuple[int, str, object, object, object]], index: dict[str, int]
) -> tuple[list[Answer], dict[int, int]]:
    answers: list[Answer] = []
    gold: dict[int, int] = {}
    predicted: set[int] = set()
    for task, worker, answer, known, prediction in rows:
        label = index.get(canonical_json(answer))
        if label is None:
            continue
        answers.append(Answer(task, worker, label))
        if known is not None and canonical_json(known) in index:
            gold[task] = index[canonical_json(known)]
        if isinstance(prediction, dict) and task not in predicted:
            predicted.add(task)
            voted = index.get(canonical_json(prediction.get("answer")))
            if voted is not None:
                answers.append(Answer(task, model_voter(prediction.get("model", "model")), voted))
    return answers, gold


def _soft_counts(
    estimator: OnlineDawidSkene, answers: list[Answer], k: int
) -> dict[str, list[list[float]]]:
    """Expected counts: each answer adds its task's posterior to row = true class."""
    probas = estimator.probas_
    counts: dict[str, list[list[float]]] = defaultdict(lambda: [[0.0] * k for _ in range(k)])
    priors = [0.0] * k
    seen: set[object] = set()
    for a in answers:
        post = probas[a.task]
        matrix = counts[str(a.worker)]
        for true in range(k):
            matrix[true][a.label] += float(post[true])
        if a.task not in seen:
            seen.add(a.task)
            for true in range(k):
                priors[true] += float(post[true])
    return {v: [[round(x, 6) for x in row] for row in m] for v, m in counts.items()} | {
        PRIORS: [[round(x, 6) for x in priors]]
    }


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
