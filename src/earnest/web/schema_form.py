"""An answer form made from the campaign's output schema, instead of a JSON text box.

An object whose properties are simple (text, whole numbers, numbers, yes/no, one of a list,
a moment) gets one labelled input each, numbers with their unit (`"x-unit"`, or the name's
ending: `wh` is Wh, `_m` is m); a property that is an array of such objects (meter
readings, say) gets rows, one per item, and a button for more. Anything else keeps the JSON
box. Fields are named `f.<property>` and `f.<property>.<row>.<property>`; the form's
moments are typed in the worker's local time and sent in UTC (the page's script gives the
time zone; without it, the label says UTC).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.datastructures import FormData

from earnest.domain.errors import InvalidInput
from earnest.services.schemas import CONTROL, control_problem
from earnest.web.present import label

MAX_ROWS = 2000
_UNITS = {"wh": "Wh", "kwh": "kWh", "kw": "kW", "m": "m", "km": "km", "s": "s", "seconds": "s"}


@dataclass(frozen=True)
class Field:
    """One input: what it asks for and how its text becomes a value."""

    name: str
    label: str
    kind: str  # text | integer | number | boolean | choice | moment
    required: bool = False
    unit: str = ""
    options: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class Part:
    """A property of the answer: one field, or rows of fields (an array of objects)."""

    name: str
    label: str
    required: bool
    field: Field | None = None
    rows: tuple[Field, ...] = ()
    min_items: int = 0
    max_items: int = MAX_ROWS

    @property
    def shown_rows(self) -> int:
        """Rows the page starts with: the least the schema takes, and at least two."""
        return max(self.min_items, 2) if self.rows else 0


def form_of(schema: dict[str, Any]) -> list[Part] | None:
    """The form for an output schema, or None when it is not an object of simple parts."""
    props = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(props, dict) or not props:
        return None
    required = set(schema.get("required", []))
    parts = []
    for name, prop in props.items():
        field = _field(name, prop, name in required)
        if field is not None:
            parts.append(Part(name, field.label, name in required, field=field))
            continue
        rows = _rows(prop)
        if rows is None:
            return None
        parts.append(
            Part(
                name,
                label(name),
                name in required,
                rows=rows,
                min_items=int(prop.get("minItems", 0)),
                max_items=min(int(prop.get("maxItems", MAX_ROWS)), MAX_ROWS),
            )
        )
    return parts


def _field(name: str, prop: Any, required: bool) -> Field | None:
    if not isinstance(prop, dict):
        return None
    shown = label(name)
    if prop.get("enum"):
        return Field(name, shown, "choice", required, options=tuple(prop["enum"]))
    kind = prop.get("type")
    unit = str(prop.get("x-unit") or _unit(name))
    if kind == "string":
        if prop.get("format") == "date-time":
            return Field(name, shown, "moment", required)
        return Field(name, shown, "text", required, max_length=prop.get("maxLength"))
    if kind in ("integer", "number"):
        low, high = prop.get("minimum"), prop.get("maximum")
        return Field(name, shown, str(kind), required, unit, minimum=low, maximum=high)
    if kind == "boolean":
        return Field(name, shown, "boolean", required)
    return None


def _rows(prop: Any) -> tuple[Field, ...] | None:
    if not isinstance(prop, dict) or prop.get("type") != "array":
        return None
    items = prop.get("items")
    if not isinstance(items, dict) or not isinstance(items.get("properties"), dict):
        return None
    required = set(items.get("required", []))
    fields = [_field(n, p, n in required) for n, p in items["properties"].items()]
    return None if any(f is None for f in fields) else tuple(f for f in fields if f)


def _unit(name: str) -> str:
    last = name.lower().rsplit("_", 1)[-1]
    return _UNITS.get(last, "") if "_" in name or last in ("wh", "kwh") else ""


def answer_of(schema: dict[str, Any], form: FormData) -> dict[str, Any]:
    """The answer the form holds, typed as the schema says; InvalidInput names the field."""
    parts = form_of(schema)
    if parts is None:
        raise InvalidInput("this campaign's answers cannot be made from a form")
    offset = _offset(form)
    answer: dict[str, Any] = {}
    for part in parts:
        if part.field is not None:
            value = _value(part.field, form, f"f.{part.name}", offset, part.label)
            if value is not None:
                answer[part.name] = value
            continue
        rows: list[dict[str, Any]] = []
        for index in _row_indexes(form, part.name):
            prefix = f"f.{part.name}.{index}"
            if not any(_text(form, f"{prefix}.{f.name}") for f in part.rows if f.kind != "boolean"):
                continue  # a blank row is not a row
            where = f"{part.label} {len(rows) + 1}"
            row = {}
            for f in part.rows:
                value = _value(f, form, f"{prefix}.{f.name}", offset, f"{where}: {f.label}")
                if value is not None:
                    row[f.name] = value
            rows.append(row)
        if len(rows) < part.min_items:
            raise InvalidInput(f"{part.label}: fill in at least {part.min_items} rows")
        if len(rows) > part.max_items:
            raise InvalidInput(f"{part.label}: at most {part.max_items} rows")
        if rows or part.required:
            answer[part.name] = rows
    return answer


def _row_indexes(form: FormData, name: str) -> list[int]:
    found = {
        int(m.group(1))
        for key in form
        if (m := re.fullmatch(rf"f\.{re.escape(name)}\.(\d{{1,4}})\.\w+", key))
    }
    return sorted(found)[:MAX_ROWS]


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if CONTROL.search(text):  # multipart fields pass the JSON limits middleware unchecked
        raise InvalidInput(control_problem(text, name))
    return text


def _offset(form: FormData) -> timedelta:
    """The worker's time zone as the page's script gave it (minutes behind UTC, as
    JavaScript's getTimezoneOffset says); UTC without it."""
    text = _text(form, "f.tz")
    try:
        minutes = int(text) if text else 0
    except ValueError:
        minutes = 0
    return timedelta(minutes=max(min(minutes, 14 * 60), -14 * 60))


def _value(field: Field, form: FormData, name: str, offset: timedelta, what: str) -> Any:
    text = _text(form, name)
    if field.kind == "boolean":
        return text in ("on", "true", "1")
    if not text:
        if field.required:
            raise InvalidInput(f"{what}: fill this in")
        return None
    if field.kind == "choice":
        if not text.isdigit() or int(text) >= len(field.options):
            raise InvalidInput(f"{what}: pick one of the options")
        return field.options[int(text)]
    if field.kind in ("integer", "number"):
        return _number(field, text, what)
    if field.kind == "moment":
        try:
            local = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"{what}: give a date and a time") from None
        moment = local.replace(tzinfo=UTC) + offset if local.tzinfo is None else local
        return moment.astimezone(UTC).isoformat()
    if field.max_length is not None and len(text) > field.max_length:
        raise InvalidInput(f"{what}: at most {field.max_length} characters")
    return text


def _number(field: Field, text: str, what: str) -> int | float:
    cleaned = text.replace(" ", "").replace("\u00a0", "")
    # A whole number stays whole: a device signs "1200", not "1200.0".
    if re.fullmatch(r"-?\d{1,18}", cleaned):
        value: int | float = int(cleaned)
    elif field.kind == "number" and re.fullmatch(r"-?\d{0,18}[.,]\d{1,18}", cleaned):
        value = float(cleaned.replace(",", "."))
    else:
        whole = "a whole number" if field.kind == "integer" else "a number"
        raise InvalidInput(f"{what}: give {whole}")
    if not math.isfinite(value):
        raise InvalidInput(f"{what}: give a number")
    if field.minimum is not None and value < field.minimum:
        raise InvalidInput(f"{what}: at least {field.minimum:g}")
    if field.maximum is not None and value > field.maximum:
        raise InvalidInput(f"{what}: at most {field.maximum:g}")
    return value
