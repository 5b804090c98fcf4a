"""Dawid-Skene: the one owner of the categorical model the market learns.

`ClassMap` says which class an answer gives; `Prior` is the one smoothing; confusion
`Counts` (row = true class) are the one representation of what is learned about a voter,
kept as they are by the store; `OnlineDawidSkene` is the estimator (settings in the
constructor, `fit()` returns self, `labels_` / `probas_` / `skills_` / `counts_`); the live
verifier (quality.categorical) turns stored counts into a posterior with `confusion`,
`class_priors` and `posterior`, and the background refit (services.aggregation) stores
the estimator's `counts_`.
"""

from earnest.quality.dawid_skene._model import (
    CLASS_COUNTS,
    MAX_CLASSES,
    ClassMap,
    Counts,
    CountsIn,
    Floats,
    Prior,
    class_priors,
    class_row,
    classes_of,
    confusion,
    counted,
    pooled_prior,
    posterior,
    read_class_row,
    row_distance,
)
from earnest.quality.dawid_skene._online import Answer, OnlineDawidSkene

__all__ = [
    "CLASS_COUNTS",
    "MAX_CLASSES",
    "Answer",
    "ClassMap",
    "Counts",
    "CountsIn",
    "Floats",
    "OnlineDawidSkene",
    "Prior",
    "class_priors",
    "class_row",
    "classes_of",
    "confusion",
    "counted",
    "pooled_prior",
    "posterior",
    "read_class_row",
    "row_distance",
]
