"""Pydantic fields built from the domain's bounds, so a request model repeats no number."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_core import PydanticUndefined

from earnest.domain.bounds import Bound


def bounded(bound: Bound, default: Any = PydanticUndefined, **extra: Any) -> Any:
    """A `Field` that admits what `bound` admits: ge/le, min/max_length, and `strict` for
    amounts (an amount is an integer of base units; pydantic's lax mode would take 1.0)."""
    limits: dict[str, Any] = {}
    if bound.low is not None:
        limits["ge"] = bound.low
    if bound.high is not None:
        limits["le"] = bound.high
    if bound.min_length is not None:
        limits["min_length"] = bound.min_length
    if bound.max_length is not None:
        limits["max_length"] = bound.max_length
    if bound.base_units:
        limits["strict"] = True
    return Field(default, **limits, **extra)
