"""A synthetic labeling job with known truth, and a crowd of simulated workers of varied skill."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

TOPICS = ["sports", "politics", "technology", "science"]
_SUBJECTS = {
    "sports": [
        "The striker",
        "The home team",
        "A veteran goalkeeper",
        "The marathon winner",
        "The coach",
    ],
    "politics": [
        "The senate",
        "The prime minister",
        "A city council",
        "The opposition leader",
        "Voters",
    ],
    "technology": [
        "A chip maker",
        "The new phone",
        "An open-source project",
        "The cloud provider",
        "A startup",
    ],
    "science": [
        "Astronomers",
        "A lab in Geneva",
        "Marine biologists",
        "The telescope team",
        "Geologists",
    ],
}
_ACTIONS = {
    "sports": [
        "scored twice in the final",
        "won the league title",
        "broke the course record",
        "signed a new contract",
    ],
    "politics": [
        "passed the budget bill",
        "called an early election",
        "debated the new tax plan",
        "formed a coalition",
    ],
    "technology": [
        "released a faster processor",
        "shipped a major update",
        "patched a security flaw",
        "launched an app",
    ],
    "science": [
        "discovered a new exoplanet",
        "mapped a deep-sea vent",
        "measured a rare decay",
        "published the genome",
    ],
}

INPUT_SCHEMA = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
OUTPUT_SCHEMA = {
    "type": "object",
    "required": ["label"],
    "additionalProperties": False,
    "properties": {"label": {"enum": TOPICS}},
}


def make_tasks(
    n: int, gold_share: float, rng: random.Random
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """`n` headline-classification tasks (a share of them gold) and the hidden truth by id."""
    tasks, truth = [], {}
    n_gold = round(n * gold_share)
    for i in range(n):
        topic = rng.choice(TOPICS)
        text = f"{rng.choice(_SUBJECTS[topic])} {rng.choice(_ACTIONS[topic])} (#{i})."
        task: dict[str, Any] = {"id": f"h{i}", "data": {"text": text}}
        if i < n_gold:
            task["gold"] = {"label": topic}
        tasks.append(task)
        truth[f"h{i}"] = topic
    return tasks, truth


def topic_of(text: str) -> str:
    """What a perfect worker would answer (the truth is in the words)."""
    for topic in TOPICS:
        if any(text.startswith(s) for s in _SUBJECTS[topic]):
            return topic
    raise ValueError(text)


@dataclass
class SimWorker:
    """A simulated person: answers right with probability `skill`; spammers answer at random."""

    kind: str  # reliable | noisy | spammer | biased
    skill: float
    rng: random.Random

    def answer(self, text: str) -> dict[str, str]:
        truth = topic_of(text)
        if self.kind == "spammer":
            return {"label": self.rng.choice(TOPICS)}
        if self.kind == "biased" and self.rng.random() > self.skill:
            return {"label": "politics"}
        if self.rng.random() < self.skill:
            return {"label": truth}
        return {"label": self.rng.choice([t for t in TOPICS if t != truth])}


def make_crowd(n: int, rng: random.Random) -> list[SimWorker]:
    """A crowd: mostly reliable, some noisy, some biased, about 8% spammers."""
    crowd = []
    for i in range(n):
        roll = i % 25
        if roll < 2:
            crowd.append(SimWorker("spammer", 0.0, random.Random(rng.random())))
        elif roll < 4:
            crowd.append(SimWorker("biased", 0.7, random.Random(rng.random())))
        elif roll < 9:
            crowd.append(SimWorker("noisy", rng.uniform(0.55, 0.75), random.Random(rng.random())))
        else:
            crowd.append(
                SimWorker("reliable", rng.uniform(0.85, 0.98), random.Random(rng.random()))
            )
    return crowd
