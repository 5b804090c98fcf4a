"""Agreement between workers: Krippendorff's alpha for nominal answers.

Alpha = 1 - D_o / D_e: the disagreement observed among the answers to the same task over
the disagreement expected if the same answers were given at random. 1 is perfect
agreement, 0 no better than chance, below 0 systematic disagreement. It takes any number
of workers per task and missing answers (a task with fewer than two answers tells nothing
and is left out), which is how crowd answers arrive. Written here, in a few lines of
coincidence counting (Krippendorff, "Computing Krippendorff's Alpha-Reliability", 2011,
section C), because the answers are canonical JSON of any shape, not the numeric
reliability matrix the `krippendorff` package takes, and the market needs no numpy for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from earnest.domain.verification import canonical_json


def krippendorff_alpha(units: Iterable[Sequence[Hashable]]) -> float | None:
    """Nominal alpha over units, each the values its coders gave; None when nothing can be
    compared (no task with two answers) or every answer is the same value."""
    coincidences: dict[tuple[Hashable, Hashable], float] = {}
    for values in units:
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                pairs = n_c * (n_k - 1) if c == k else n_c * n_k
                coincidences[(c, k)] = coincidences.get((c, k), 0.0) + pairs / (m - 1)
    totals: dict[Hashable, float] = {}
    for (c, _), o in coincidences.items():
        totals[c] = totals.get(c, 0.0) + o
    n = sum(totals.values())
    observed = sum(o for (c, k), o in coincidences.items() if c != k)
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    if n <= 1 or expected == 0:
        return None
    return 1.0 - (n - 1) * observed / expected


def answers_alpha(tasks: Iterable[Sequence[Any]]) -> float | None:
    """Alpha over tasks' answers (JSON values), each answer compared as its canonical JSON."""
    return krippendorff_alpha([canonical_json(a) for a in answers] for answers in tasks)
