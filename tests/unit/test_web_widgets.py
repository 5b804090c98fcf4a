"""Answer widgets: chosen from the output schema, and turned from form fields into answers."""

from __future__ import annotations

import io
from typing import Any

import pytest
from starlette.datastructures import FormData, Headers, UploadFile

from earnest.domain.errors import InvalidInput
from earnest.domain.work import CampaignSpec
from earnest.services.schemas import check, compile_schema
from earnest.services.templates import TEMPLATES, parse_options, template
from earnest.web.answers import answer_from_form
from earnest.web.widgets import Widget, is_image, widget_for

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _spec(output: dict[str, Any], type_: str = "labeling") -> CampaignSpec:
    return CampaignSpec(type_, "t", "", {"type": "object"}, output, 1000)


def _from_template(name: str) -> CampaignSpec:
    chosen = template(name)
    input_schema, output_schema = chosen.schemas(chosen.options)
    return CampaignSpec(chosen.type, chosen.label, "", input_schema, output_schema, 1000)


def _upload(name: str, content: bytes, media: str) -> UploadFile:
    return UploadFile(io.BytesIO(content), filename=name, headers=Headers({"content-type": media}))


# A filled form per template, as a worker would send it.
FORMS: dict[str, list[tuple[str, Any]]] = {
    "classification": [("choice", "1")],
    "multi_label": [("labels", "0"), ("labels", "2")],
    "text_span": [("start", "10"), ("end", "24")],
    "bounding_box": [("x_min", "230"), ("y_min", "230"), ("x_max", "400"), ("y_max", "330")],
    "pairwise": [("choice", "a")],
    "rating": [("rating", "4")],
    "free_text": [("text", "A new bike lane network was approved.")],
    "local_report": [("choice", "0"), ("lat", "52.52"), ("lon", "13.405"), ("note", "3.20")],
    "bug_report": [("notes", "pytest test_dates.py")],
    "field_task": [("lat", "6.5244"), ("lon", "3.3792"), ("note", "hours: 8-20")],
    "energy": [
        ("f.device", "meter"),
        ("f.readings.0.at", "2026-11-22T18:00"),
        ("f.readings.0.wh", "0"),
        ("f.readings.0.signature", "s0"),
        ("f.readings.1.at", "2026-11-22T19:00"),
        ("f.readings.1.wh", "5"),
        ("f.readings.1.signature", "s1"),
    ],
}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_gets_its_own_widget(name: str) -> None:
    assert widget_for(_from_template(name)).kind == TEMPLATES[name].widget_kind


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_a_filled_form_is_a_valid_answer_for_its_template(name: str) -> None:
    spec = _from_template(name)
    fields = list(FORMS[name])
    if name in ("local_report", "field_task"):
        fields.append(("photo", _upload("shop.png", PNG, "image/png")))
    if name == "bug_report":
        fields.append(
            ("test_file", _upload("test_dates.py", b"def test(): assert 0\n", "text/x-python"))
        )
    answer = answer_from_form(widget_for(spec), FormData(fields), spec.output_schema)
    check(compile_schema(spec.output_schema, "output_schema"), answer, "the answer")


def test_classification_answers_with_the_whole_class() -> None:
    widget = widget_for(_from_template("classification"))
    assert answer_from_form(widget, FormData([("choice", "2")])) == {"label": "technology"}


@pytest.mark.parametrize(
    ("output", "kind", "field"),
    [
        ({"enum": ["cat", "dog"]}, "classification", None),
        (
            {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]},
            "classification",
            "ok",
        ),
        ({"type": "string"}, "free_text", None),
        ({"type": "object", "properties": {"value": {"type": "number"}}}, "form", None),
        ({"type": "object", "properties": {"value": {"type": "object"}}}, "json", None),
        ({"type": "object", "properties": {"r": {"type": "array"}}}, "json", None),
        ({"type": "object", "properties": {"span": {"type": "object"}}}, "text_span", "span"),
    ],
)
def test_widget_follows_the_schema_shape(
    output: dict[str, Any], kind: str, field: str | None
) -> None:
    widget = widget_for(_spec(output))
    assert (widget.kind, widget.field) == (kind, field)


def test_a_schema_or_a_campaign_type_can_name_its_widget() -> None:
    named = {"type": "object", "properties": {"x": {}}, "x-earnest-widget": "bug_report"}
    assert widget_for(_spec(named)).kind == "bug_report"
    assert widget_for(_spec({"type": "object"}, "local_report")).kind == "local_report"
    assert widget_for(_spec({"type": "object", "x-earnest-widget": "nonsense"})).kind == "json"


def test_boolean_classes_read_as_yes_and_no() -> None:
    widget = widget_for(
        _spec({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]})
    )
    assert [text for _, text in widget.choices] == ["No", "Yes"]


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("classification", [("choice", "9")]),
        ("classification", [("choice", "-1")]),
        ("rating", [("rating", "6")]),
        ("pairwise", [("choice", "c")]),
        ("text_span", [("start", "5"), ("end", "5")]),
        ("bounding_box", [("x_min", "10"), ("y_min", "0"), ("x_max", "5"), ("y_max", "9")]),
        ("bounding_box", [("x_min", "nan"), ("y_min", "0"), ("x_max", "5"), ("y_max", "9")]),
        ("free_text", [("text", "   ")]),
        ("local_report", [("lat", "95"), ("lon", "0")]),
        ("local_report", [("lat", "1"), ("lon", "1")]),
        ("bug_report", []),
        ("json", [("answer", "{nope")]),
    ],
)
def test_a_wrong_form_says_what_is_wrong(kind: str, fields: list[tuple[str, Any]]) -> None:
    widget = Widget(kind, "label" if kind == "classification" else None, ("a", "b"))
    with pytest.raises(InvalidInput):
        answer_from_form(widget, FormData(fields))


def test_a_photo_must_be_a_picture() -> None:
    widget = Widget("local_report")
    form = FormData(
        [("lat", "1"), ("lon", "1"), ("photo", _upload("x.txt", b"hello", "text/plain"))]
    )
    with pytest.raises(InvalidInput, match="JPEG, PNG or WebP"):
        answer_from_form(widget, form)


def test_options_are_trimmed_and_deduplicated() -> None:
    assert parse_options(" cat, dog,\ncat ,, bird ") == ["cat", "dog", "bird"]
    with pytest.raises(InvalidInput):
        template("classification").schemas("only-one")
    with pytest.raises(InvalidInput):
        template("rating").schemas("42")


@pytest.mark.parametrize(
    ("value", "image"),
    [
        ("/static/samples/street.svg", True),
        ("https://example.org/a.JPG?size=2", True),
        ("data:image/png;base64,AAAA", True),
        ("the red car", False),
        ("https://example.org/page.html", False),
        (42, False),
    ],
)
def test_image_values_are_recognised(value: Any, image: bool) -> None:
    assert is_image(value) is image
