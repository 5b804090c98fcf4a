"""Worker criteria a campaign may set: the languages a worker speaks and where they live.

Both are what the worker declares on their profile (services/profiles.py); a campaign
lists the codes it accepts and an empty list accepts anyone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from earnest.domain.errors import InvalidInput

MAX_CODES = 60  # languages or regions one campaign may list
LANGUAGE = re.compile(r"[a-z]{2,3}")
REGION = re.compile(r"[A-Z]{2}")


def codes(values: object, name: str, form: re.Pattern[str]) -> tuple[str, ...]:
    """Language or region codes, normalized (case) and checked, in the order given."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise InvalidInput(f"{name} must be a list of codes")
    out: list[str] = []
    for value in values:
        code = value.strip() if isinstance(value, str) else ""
        code = code.upper() if form is REGION else code.lower()
        if not form.fullmatch(code):
            kind = "ISO 3166-1 alpha-2 (DE)" if form is REGION else "ISO 639-1 (en)"
            raise InvalidInput(f"{name}: {value!r} is not an {kind} code")
        if code not in out:
            out.append(code)
    return tuple(out)


@dataclass(frozen=True)
class WorkerProfile:
    """What a worker declares about themself: languages spoken and the region they live in."""

    languages: tuple[str, ...] = ()
    region: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "languages", codes(self.languages, "languages", LANGUAGE))
        if len(self.languages) > MAX_CODES:
            raise InvalidInput(f"languages must have at most {MAX_CODES} entries")
        if self.region:
            object.__setattr__(self, "region", codes([self.region], "region", REGION)[0])
