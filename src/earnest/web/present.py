"""A task's data as a person reads it, not as a machine stores it.

Task data is whatever the requester's input schema allows, so what a value means is read
from its name and shape: an ISO time is a moment (shown in the reader's own time zone, with
how long ago or ahead), `lat` and `lon` (with `radius_m`) are a place (drawn as a map
without tiles, with the distance and direction to it once the worker's location is known),
a name ending in a unit (`_m`, `_kwh`, `_seconds`) is a number with that unit, a name with
`reward` (or `price`) is an amount of the market's token. Anything else is text, and
nested data is written out as JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from earnest.web.widgets import is_image

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
# Name endings that state a unit, and the unit shown after the number.
_UNITS = (
    ("_km", "km"),
    ("_m", "m"),
    ("_kwh", "kWh"),
    ("_wh", "Wh"),
    ("_kw", "kW"),
    ("_seconds", "s"),
    ("_s", "s"),
    ("_minutes", "min"),
    ("_pct", "%"),
)
# "per <unit>" in a money field's name: reward_per_kwh is tokens per kWh.
_PER = {"kwh": "kWh", "wh": "Wh", "km": "km", "m": "m", "hour": "h", "item": "item"}


@dataclass(frozen=True)
class Row:
    """One line of a task's data: its label, how to show it, the value, and a unit."""

    key: str
    label: str
    kind: str  # text | moment | period | number | money | place | image | json
    value: Any
    unit: str = ""


def label(key: str) -> str:
    """A field name as a heading: "reward_per_kwh" is "Reward per kWh", "radius_m" "Radius"."""
    words = key
    for ending, _ in _UNITS:
        if words.endswith(ending) and len(words) > len(ending):
            words = words[: -len(ending)]
            break
    text = words.replace("_", " ").strip()
    text = re.sub(r"\bkwh\b", "kWh", text)
    return text[:1].upper() + text[1:]


def moment_of(value: Any) -> datetime | None:
    """The moment an ISO 8601 text names (with its zone), or None."""
    if not isinstance(value, str) or not _ISO.match(value.strip()):
        return None
    try:
        found = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _unit(key: str) -> str:
    for ending, unit in _UNITS:
        if key.endswith(ending):
            return unit
    return ""


def rows(data: dict[str, Any], skip: tuple[str, ...] = ()) -> list[Row]:
    """The rows to show for a task's data, in its order; a place takes its lat/lon row."""
    shown: list[Row] = []
    place = _number(data.get("lat")) and _number(data.get("lon"))
    for key, value in data.items():
        if key in skip or (place and key in ("lat", "lon", "radius_m")):
            if place and key == "lat":
                shown.append(
                    Row(
                        "place",
                        "Place",
                        "place",
                        {"lat": data["lat"], "lon": data["lon"], "radius_m": data.get("radius_m")},
                    )
                )
            continue
        shown.append(row(key, value))
    return shown


def row(key: str, value: Any) -> Row:
    """How one field is shown."""
    lowered = key.lower()
    if is_image(value):
        return Row(key, label(key), "image", value)
    moment = moment_of(value)
    if moment is not None:
        return Row(key, label(key), "moment", moment)
    if isinstance(value, dict) and _number(value.get("lat")) and _number(value.get("lon")):
        return Row(key, label(key), "place", value)
    if isinstance(value, dict) and set(value) == {"start", "end"}:
        start, end = moment_of(value["start"]), moment_of(value["end"])
        if start is not None and end is not None:
            return Row(key, label(key), "period", {"start": start, "end": end})
    if _number(value) and ("reward" in lowered or "price" in lowered):
        per = lowered.rsplit("_per_", 1)[1] if "_per_" in lowered else ""
        return Row(key, label(key), "money", int(value), _PER.get(per, per))
    if _number(value):
        return Row(key, label(key), "number", value, _unit(lowered))
    if isinstance(value, dict | list):
        return Row(key, label(key), "json", value)
    return Row(key, label(key), "text", "" if value is None else str(value))
