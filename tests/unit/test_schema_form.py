"""Answer forms made from the output schema: which schemas get one, and what a filled-in
form turns into (typed values, rows, local times in UTC, refusals that name the field)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import FormData

from earnest.domain.errors import InvalidInput
from earnest.services.templates import TEMPLATES
from earnest.web.schema_form import answer_of, form_of

ENERGY = TEMPLATES["energy"].output([])
SIMPLE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "count": {"type": "integer", "minimum": 0},
        "distance_m": {"type": "number"},
        "ok": {"type": "boolean"},
        "colour": {"enum": ["red", "green"]},
        "seen_at": {"type": "string", "format": "date-time"},
        "note": {"type": "string", "maxLength": 5},
    },
    "required": ["count", "colour"],
}


def test_which_schemas_get_a_form() -> None:
    parts = form_of(ENERGY)
    assert parts is not None
    readings = next(p for p in parts if p.name == "readings")
    assert [f.name for f in readings.rows] == ["at", "wh", "signature"]
    assert readings.rows[1].unit == "Wh" and readings.min_items == 2 and readings.shown_rows == 2
    simple = {p.name: p.field for p in form_of(SIMPLE) or []}
    assert simple["distance_m"] and simple["distance_m"].unit == "m"
    assert form_of({"type": "object", "properties": {"x": {"type": "object"}}}) is None
    assert form_of({"type": "object", "properties": {"r": {"type": "array"}}}) is None
    assert form_of({"enum": ["a"]}) is None


def test_a_filled_in_form_is_the_answer_the_schema_asks_for() -> None:
    form = FormData(
        [
            ("f.tz", "-180"),  # JavaScript's offset east of UTC: UTC+3, Nairobi
            ("f.device", "Dev1ce"),
            ("f.readings.0.at", "2026-11-22T21:00:00"),
            ("f.readings.0.wh", "1200"),
            ("f.readings.0.signature", "sig0"),
            ("f.readings.1.at", "2026-11-22T23:00"),
            ("f.readings.1.wh", "1500,5"),
            ("f.readings.1.signature", "sig1"),
            ("f.readings.2.at", ""),  # a blank row is not a row
            ("f.readings.2.wh", ""),
            ("f.readings.2.signature", ""),
        ]
    )
    answer = answer_of(ENERGY, form)
    assert answer == {
        "device": "Dev1ce",
        "readings": [
            {"at": "2026-11-22T18:00:00+00:00", "wh": 1200, "signature": "sig0"},
            {"at": "2026-11-22T20:00:00+00:00", "wh": 1500.5, "signature": "sig1"},
        ],
    }
    assert isinstance(answer["readings"][0]["wh"], int)  # a device signed "1200", not 1200.0


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ([("f.count", "")], "Count: fill this in"),
        ([("f.count", "2.5")], "Count: give a whole number"),
        ([("f.count", "-1")], "Count: at least 0"),
        ([("f.count", "1"), ("f.colour", "7")], "Colour: pick one of the options"),
        ([("f.count", "1"), ("f.colour", "0"), ("f.distance_m", "far")], "Distance: give a number"),
        ([("f.count", "1"), ("f.colour", "0"), ("f.seen_at", "soon")], "give a date and a time"),
        ([("f.count", "1"), ("f.colour", "0"), ("f.note", "toolong")], "at most 5 characters"),
        ([("f.count", "1\x00"), ("f.colour", "0")], "control character"),
    ],
)
def test_refusals_name_the_field(fields: list[tuple[str, str]], words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        answer_of(SIMPLE, FormData(fields))


def test_rows_below_the_schema_minimum_are_refused() -> None:
    one = [("f.device", "d"), ("f.readings.0.at", "2026-11-22T21:00"), ("f.readings.0.wh", "1")]
    with pytest.raises(InvalidInput, match="at least 2 rows"):
        answer_of(ENERGY, FormData([*one, ("f.readings.0.signature", "s")]))


def test_simple_values_are_typed() -> None:
    answer = answer_of(
        SIMPLE,
        FormData(
            [
                ("f.count", "3"),
                ("f.colour", "1"),
                ("f.ok", "on"),
                ("f.distance_m", "12.5"),
                ("f.seen_at", "2026-01-02T03:04"),
            ]
        ),
    )
    assert answer == {
        "count": 3,
        "colour": "green",
        "ok": True,
        "distance_m": 12.5,
        "seen_at": "2026-01-02T03:04:00+00:00",
    }
