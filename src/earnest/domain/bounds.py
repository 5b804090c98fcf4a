"""The bounds of the values a requester sets: one `Bound` per field, kept next to the field.

`CampaignSpec.BOUNDS`, `QualityPolicy.BOUNDS` and `BandwidthTerms.BOUNDS` are the one source
of these numbers. The domain checks values against them; the API's request models
(api/schemas/bounded.py) and the web forms' maxlength/min/max (web/render.py) are built
from the same objects, and tests/unit/test_field_bounds.py fails when a field or a bound is
added in one place only.
"""

from __future__ import annotations

from collections.abc import Sized
from dataclasses import dataclass

from earnest.domain.errors import InvalidInput


@dataclass(frozen=True)
class Bound:
    """What one field may hold: a number in [low, high], or text (or a list) of a length.

    `base_units` marks an amount of money: an `int`, never a float or a bool.
    """

    low: int | float | None = None
    high: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None
    base_units: bool = False

    @property
    def is_length(self) -> bool:
        return self.min_length is not None or self.max_length is not None

    def check(self, name: str, value: object) -> None:
        """Raise InvalidInput, naming the field, unless `value` lies within this bound."""
        if self.is_length:
            self._check_length(name, value)
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            kind = "an integer number of base units" if self.base_units else "a number"
            raise InvalidInput(f"{name} must be {kind}")
        if self.base_units and not isinstance(value, int):
            raise InvalidInput(f"{name} must be an integer number of base units")
        low = -float("inf") if self.low is None else self.low
        high = float("inf") if self.high is None else self.high
        if self.base_units and self.low == 1 and value < 1:
            raise InvalidInput(f"{name} must be positive")
        if not low <= value <= high:  # NaN fails both comparisons
            raise InvalidInput(f"{name} must be between {self.low} and {self.high}")

    def _check_length(self, name: str, value: object) -> None:
        if not isinstance(value, Sized):
            raise InvalidInput(f"{name} must be text")
        low, high = self.min_length or 0, self.max_length
        if len(value) < low or (high is not None and len(value) > high):
            unit = "characters" if isinstance(value, str) else "entries"
            shown = f"at most {high}" if not low else f"{low} to {high}"
            raise InvalidInput(f"{name} must have {shown} {unit}")
