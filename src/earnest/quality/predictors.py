"""Pluggable predictors: a model's answer to a task, which then votes like a worker.

A predictor has one method, `predict(data)`, returning {"answer", "confidence", "model"}
or None when it has nothing to say. A campaign names one (`quality.predictor`, with
`quality.predictor_options`); each uploaded task without a prediction of its own gets the
predictor's, and the aggregator learns the model's confusion matrix like a worker's.

Built in: `keywords`. Any installed package can add one through the entry-point group
`earnest.predictors`: the entry point is a callable taking the options dict and returning
a Predictor (for example a wrapper around the requester's own classifier).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any, Protocol

from earnest.domain.errors import InvalidInput

ENTRY_POINT_GROUP = "earnest.predictors"
MAX_RULES = 200


class Predictor(Protocol):
    """Answers a task from its input data, with the confidence it has in that answer."""

    name: str

    def predict(self, data: Mapping[str, Any]) -> dict[str, Any] | None: ...


class KeywordPredictor:
    """The first rule whose words appear in `field` of the task's data gives the answer.

    Options: {"field": "text", "rules": [{"contains": ["meow", "purr"], "answer": ...,
    "confidence": 0.8}, ...]}. Matching ignores case. Deterministic and cheap: a way to
    pre-label obvious tasks so human effort goes to the rest (`routing: uncertain_first`).
    """

    name = "keywords"

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.field = options.get("field", "text")
        rules = options.get("rules")
        if not isinstance(self.field, str) or not isinstance(rules, list):
            raise InvalidInput('keywords options: {"field": "text", "rules": [...]}')
        if not 1 <= len(rules) <= MAX_RULES:
            raise InvalidInput(f"keywords needs 1 to {MAX_RULES} rules")
        self.rules = [_rule(i, rule) for i, rule in enumerate(rules)]

    def predict(self, data: Mapping[str, Any]) -> dict[str, Any] | None:
        text = data.get(self.field)
        if not isinstance(text, str):
            return None
        text = text.lower()
        for words, answer, confidence in self.rules:
            if any(w in text for w in words):
                return {"answer": answer, "confidence": confidence, "model": self.name}
        return None


def _rule(i: int, rule: Any) -> tuple[list[str], Any, float]:
    where = f"keywords rule {i}"
    if not isinstance(rule, dict) or set(rule) - {"contains", "answer", "confidence"}:
        raise InvalidInput(f'{where}: {{"contains": [...], "answer": ..., "confidence": 0..1}}')
    words = rule.get("contains")
    if isinstance(words, str):
        words = [words]
    if not isinstance(words, list) or not words or not all(isinstance(w, str) and w for w in words):
        raise InvalidInput(f"{where}: contains must be a word or a list of words")
    confidence = rule.get("confidence", 0.7)
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise InvalidInput(f"{where}: confidence must be a number between 0 and 1")
    if not 0.0 <= confidence <= 1.0 or "answer" not in rule:
        raise InvalidInput(f"{where}: needs an answer and a confidence between 0 and 1")
    return [w.lower() for w in words], rule["answer"], float(confidence)


_BUILT_IN: dict[str, Callable[[Mapping[str, Any]], Predictor]] = {"keywords": KeywordPredictor}


def _installed() -> dict[str, Callable[[Mapping[str, Any]], Predictor]]:
    found: dict[str, Callable[[Mapping[str, Any]], Predictor]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep.load()
    return found


def predictor_names() -> list[str]:
    """Every predictor a campaign may name: built in, then installed."""
    return sorted(set(_BUILT_IN) | set(_installed()))


def load_predictor(name: str, options: Mapping[str, Any]) -> Predictor:
    """The predictor called `name`, set up with `options` (InvalidInput if either is wrong)."""
    factory = _BUILT_IN.get(name) or _installed().get(name)
    if factory is None:
        known = ", ".join(predictor_names())
        raise InvalidInput(f"unknown predictor {name!r}; known: {known}")
    return factory(options)
