"""Pluggable predictors: the built-in keywords model, and one installed as a package.

A campaign's predictor pre-answers every uploaded task that brings no prediction of its
own; its answers are checked like uploaded ones and route human effort (uncertain first).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from earnest.client import ApiError
from earnest.domain.errors import InvalidInput
from earnest.domain.work import Prediction
from earnest.quality.predictors import load_predictor, predictor_names
from tests.e2e.helpers import campaign_spec
from tests.integration.quality_helpers import QualityMarket, problem, task_row, truth


def _rule(n: int, confidence: float, answer: Any = None) -> dict[str, Any]:
    return {"contains": [f"item {n}"], "answer": answer or truth(n), "confidence": confidence}


def test_keyword_predictions_vote_and_route_uncertain_tasks_first(qm: QualityMarket) -> None:
    quality = {
        "routing": "uncertain_first",
        "predictor": "keywords",
        "predictor_options": {"rules": [_rule(1, 0.95), _rule(3, 0.6)]},
    }
    own = {"answer": truth(4), "confidence": 0.7, "model": "vendor"}
    rows = [task_row(n) for n in range(4)] + [task_row(4) | {"prediction": own}]
    requester, cid = qm.campaign(rows, quality=quality)
    worker = qm.sign_in()
    leases = [worker.claim(cid) for _ in range(5)]
    assert [lease["task"]["n"] for lease in leases] == [0, 2, 3, 4, 1]  # none, then rising
    with qm.market.store.uow(readonly=True) as uow:
        tasks = [uow.tasks.get(lease["assignment"]["task_id"]) for lease in leases]
    predictions = {t.data["n"]: t.prediction for t in tasks if t is not None}
    assert (predictions[0], predictions[2]) == (None, None)
    assert predictions[1] == Prediction(truth(1), 0.95, "keywords")
    assert predictions[4] == Prediction(truth(4), 0.7, "vendor")  # an uploaded one is kept

    bad = {"rules": [_rule(9, 0.9, answer={"label": "maybe"})]}
    spec = campaign_spec(quality={"predictor": "keywords", "predictor_options": bad})
    other = requester.create_campaign(**spec)["id"]
    with pytest.raises(ApiError) as info:
        requester.upload_tasks(other, [task_row(8), task_row(9)])
    (error,) = problem(info, 422, "schema_violation")["errors"]
    assert error["row"] == 2
    assert error["error"].startswith("predictor keywords gave a bad prediction.answer ")


def test_predictor_settings_are_checked_when_the_campaign_is_created(qm: QualityMarket) -> None:
    requester = qm.sign_in()
    spec = {
        "title": "t",
        "input_schema": {"type": "object"},
        "output_schema": {"type": "object"},
        "reward": 10,
        "overlap": 1,
    }
    cases = [
        ({"predictor": "oracle"}, "unknown predictor 'oracle'; known: keywords"),
        ({"predictor": "keywords"}, 'keywords options: {"field": "text", "rules": [...]}'),
        (
            {"predictor": "keywords", "predictor_options": {"rules": [{"contains": []}]}},
            "keywords rule 0: contains must be a word or a list of words",
        ),
    ]
    for quality, detail in cases:
        with pytest.raises(ApiError) as info:
            requester.create_campaign(**spec, quality=quality)
        assert problem(info, 422, "invalid_input")["detail"] == detail


PLUGIN = """
class Constant:
    name = "constant"

    def __init__(self, options):
        self.answer = options["answer"]

    def predict(self, data):
        return {"answer": self.answer, "confidence": 0.5, "model": self.name}
"""


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A real installed distribution (dist-info on sys.path) declaring a predictor."""
    (tmp_path / "earnest_constant_predictor.py").write_text(PLUGIN)
    info = tmp_path / "earnest_constant_predictor-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: earnest-constant-predictor\n")
    (info / "entry_points.txt").write_text(
        "[earnest.predictors]\nconstant = earnest_constant_predictor:Constant\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("earnest_constant_predictor", None)


@pytest.mark.usefixtures("installed_plugin")
def test_an_installed_package_adds_a_predictor() -> None:
    assert predictor_names() == ["constant", "keywords"]
    model = load_predictor("constant", {"answer": truth(0)})
    assert model.predict({"text": "anything"}) == {
        "answer": truth(0),
        "confidence": 0.5,
        "model": "constant",
    }
    with pytest.raises(InvalidInput, match="unknown predictor 'oracle'; known: constant, keywords"):
        load_predictor("oracle", {})
