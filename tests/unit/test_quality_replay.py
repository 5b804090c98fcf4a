"""The quality bench's fast mode: the market's own path on a small seeded crowd."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from crowd import Crowd, make_crowd
from replay import Campaign, Replayed, auc, calibration, production_figures, replay, skills

from earnest.quality.categorical import DawidSkeneVerifier


@pytest.fixture(scope="module")
def replayed() -> tuple[Crowd, Replayed]:
    crowd = make_crowd(7, n_tasks=800, n_workers=100)
    return crowd, replay(crowd, Campaign(refit_every=1_000))


def test_the_same_seed_gives_the_same_crowd_and_an_unknown_shape_is_refused() -> None:
    a, b = make_crowd(3, n_tasks=50, n_workers=40), make_crowd(3, n_tasks=50, n_workers=40)
    assert (a.labels == b.labels).all() and (a.kind == b.kind).all()
    with pytest.raises(ValueError, match="unknown crowd shape"):
        make_crowd(3, shape="nope")


def test_the_replay_resolves_every_task_and_beats_chance_by_far(
    replayed: tuple[Crowd, Replayed],
) -> None:
    crowd, run = replayed
    figures = production_figures(crowd, run)
    assert (run.result >= 0).all()
    assert figures["accuracy"] > 0.8
    # dynamic overlap: confident tasks stop before 5 answers
    assert figures["answers_issued"] < crowd.tasks.size
    assert 0.0 <= figures["wrongful_rejections"] < 0.05


def test_spammers_rank_below_honest_workers_by_the_learned_skill(
    replayed: tuple[Crowd, Replayed],
) -> None:
    crowd, run = replayed
    skill = skills(run.counts, DawidSkeneVerifier(), crowd.n_classes, crowd.n_workers)
    active = np.bincount(crowd.workers[run.issued], minlength=crowd.n_workers) >= 5
    assert auc(1.0 - skill[active], crowd.is_kind("spammer")[active]) > 0.85


def test_auc_and_calibration_on_known_cases() -> None:
    positive = np.array([True, True, False, False])
    assert auc(np.array([0.9, 0.8, 0.1, 0.2]), positive) == 1.0
    assert auc(np.array([0.5, 0.5, 0.5, 0.5]), positive) == 0.5
    cal = calibration(np.array([0.95, 0.95, 0.55, 0.55]), np.array([True, True, True, False]))
    assert cal["ece"] == pytest.approx(0.5 * 0.05 + 0.5 * 0.05)
