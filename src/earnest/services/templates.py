"""Campaign templates a requester starts from: schemas, verifier, and a sample task.

One per kind of labor (bandwidth jobs have their own endpoint, `POST /v1/bandwidth/
campaigns`). Each names the widget its workers see in the web app (`widget`, by default
the template's name; web.widgets.KINDS). The schemas are ordinary JSON Schemas: a campaign
made from a template is a campaign like any other, and the API accepts the same fields
(`GET /v1/templates` lists them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from earnest.domain.errors import InvalidInput

MAX_OPTIONS = 20
NUMBERS = ("lat", "lon", "radius_m")  # task columns that are numbers
INTEGERS = ("reward_per_kwh",)  # task columns that are whole numbers (money: base units)
Schema = dict[str, Any]


@dataclass(frozen=True)
class Template:
    name: str  # the widget kind
    label: str
    summary: str
    type: str  # the campaign type, also the reputation skill
    verifier: str
    instructions: str
    input_fields: tuple[str, ...]  # the task's data fields, in CSV column order
    output: Callable[[list[str]], Schema]
    sample: dict[str, Any]
    options: str = ""  # the default list a requester edits ("" = the template takes none)
    quality: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()  # task data fields its verifier cannot do without
    widget: str = ""  # the web widget, when not the template's own name

    @property
    def widget_kind(self) -> str:
        return self.widget or self.name

    def schemas(self, options_text: str) -> tuple[Schema, Schema]:
        """(input_schema, output_schema) for the options a requester typed."""
        options = parse_options(options_text) if self.options else []
        if self.options and len(options) < 2 and self.name != "rating":
            raise InvalidInput("list at least two options, separated by commas")
        props = {name: {"type": _column_type(name)} for name in self.input_fields}
        input_schema: Schema = {"type": "object", "properties": props, "minProperties": 1}
        if self.required:
            input_schema["required"] = list(self.required)
        return input_schema, self.output(options)


def _column_type(name: str) -> str:
    return "integer" if name in INTEGERS else "number" if name in NUMBERS else "string"


def parse_options(text: str) -> list[str]:
    """Comma- or line-separated options, trimmed, without repeats."""
    seen: list[str] = []
    for part in text.replace("\n", ",").split(","):
        option = part.strip()[:100]
        if option and option not in seen:
            seen.append(option)
    if len(seen) > MAX_OPTIONS:
        raise InvalidInput(f"at most {MAX_OPTIONS} options")
    return seen


def _object(props: Schema, *required: str, widget: str = "") -> Schema:
    schema: Schema = {
        "type": "object",
        "properties": props,
        "required": list(required or props),
        "additionalProperties": False,
    }
    return schema | ({"x-earnest-widget": widget} if widget else {})


def _rating(options: list[str]) -> Schema:
    top = int(options[0]) if options and options[0].isdigit() else 5
    if not 2 <= top <= 10:
        raise InvalidInput("the rating scale must go from 1 up to 2..10")
    return _object({"rating": {"type": "integer", "minimum": 1, "maximum": top}})


_PHOTO = _object(
    {
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "media_type": {"type": "string"},
        "bytes": {"type": "integer", "minimum": 1},
        "data": {"type": "string", "contentEncoding": "base64"},
    }
)


def _evidence(value: Schema, *required: str) -> Schema:
    """What the local-report widget sends: a value, where and when, the photo and its hash."""
    props = {
        "value": value,
        "lat": {"type": "number"},
        "lon": {"type": "number"},
        "at": {"type": "string"},
        "photo_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "note": {"type": "string", "maxLength": 2000},
        "photo": _PHOTO,
    }
    return _object(props, *required, widget="local_report")


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "classification",
            "Classification",
            "Pick one class for a text or an image.",
            "labeling",
            "majority",
            "Pick the topic that best fits the headline.",
            ("text", "image"),
            lambda o: _object({"label": {"enum": o}}),
            {"text": "The striker scored twice in the final"},
            "sports, politics, technology, science",
        ),
        Template(
            "multi_label",
            "Multi-label",
            "Tick every label that applies.",
            "tagging",
            "multilabel",
            "Tick every label that applies to the text.",
            ("text", "image"),
            lambda o: _object(
                {"labels": {"type": "array", "items": {"enum": o}, "uniqueItems": True}}
            ),
            {"text": "A chip maker released a faster processor for phones"},
            "hardware, mobile, business, science",
        ),
        Template(
            "text_span",
            "Text span",
            "Select the part of a text that answers a question.",
            "spans",
            "majority",
            "Select the words that answer the question.",
            ("question", "text"),
            lambda o: _object(
                {
                    "start": {"type": "integer", "minimum": 0},
                    "end": {"type": "integer", "minimum": 1},
                }
            ),
            {
                "question": "Which company is this about?",
                "text": "Shares of Acme Robotics rose 4% after the launch of its warehouse arm.",
            },
        ),
        Template(
            "bounding_box",
            "Bounding box",
            "Draw a box around an object in an image.",
            "boxes",
            "boxes",
            "Draw a tight box around the object named.",
            ("image", "object"),
            lambda o: _object(
                {
                    "box": {
                        "type": "array",
                        "items": {"type": "number"},
                        "minItems": 4,
                        "maxItems": 4,
                    }
                }
            ),
            {"image": "/static/samples/street.svg", "object": "the red car"},
        ),
        Template(
            "pairwise",
            "Pairwise comparison",
            "Choose the better of two answers.",
            "judgment",
            "pairwise",
            "Read both answers and choose the more helpful one.",
            ("prompt", "a", "b"),
            lambda o: _object({"choice": {"enum": ["a", "b"]}}),
            {
                "prompt": "How do I boil an egg?",
                "a": "Put it in boiling water for 7 minutes, then cool it in cold water.",
                "b": "Eggs are a good source of protein.",
            },
        ),
        Template(
            "rating",
            "Rating",
            "Rate a text on a scale.",
            "rating",
            "ratings",
            "Rate how fluent the sentence is, from 1 (broken) to the top of the scale (native).",
            ("prompt", "text"),
            _rating,
            {
                "prompt": "How fluent is this sentence?",
                "text": "The cat sat quietly on the warm windowsill.",
            },
            "5",
        ),
        Template(
            "free_text",
            "Free text",
            "Write a short answer; the requester reviews it.",
            "writing",
            "majority",
            "Write a one-sentence summary of the text.",
            ("prompt", "text"),
            lambda o: _object({"text": {"type": "string", "minLength": 1, "maxLength": 4000}}),
            {
                "prompt": "Summarise in one sentence.",
                "text": "The council approved a new bike lane network covering the old town and the harbour.",
            },
            quality={"review": "requester"},
        ),
        Template(
            "local_report",
            "Local report",
            "Report what you see at a place, with a photo; nearby reporters must agree.",
            "local",
            "local_reports",
            "Go to the place during the window, pick what you see and take a photo.",
            ("question", "lat", "lon", "radius_m", "start", "end"),
            lambda o: _evidence({"enum": o}, "value", "lat", "lon", "at"),
            {
                "question": "Is the bakery on Market Street 12 open?",
                "lat": 52.52,
                "lon": 13.405,
                "radius_m": 300,
                "start": "2026-11-22T08:00:00+00:00",
                "end": "2026-11-22T20:00:00+00:00",
            },
            "open, closed",
            required=("lat", "lon", "radius_m", "start", "end"),
        ),
        Template(
            "bug_report",
            "Bug report",
            "Upload a test that fails on the commit: the sandbox runs it, the first valid one wins.",
            "bugs",
            "bug_reproducer",
            "Write a new test file that fails on the given commit because of the bug described.",
            ("repo", "commit", "fixed_commit", "issue"),
            lambda o: _object(
                {
                    "test_path": {"type": "string", "maxLength": 200},
                    "test": {"type": "string", "maxLength": 100_000},
                    "notes": {"type": "string", "maxLength": 4000},
                },
                "test_path",
                "test",
                widget="bug_report",
            ),
            {
                "repo": "https://example.org/acme/parser.git",
                "commit": "4f2a9c1e",
                "issue": "parse_date('2024-02-30') returns March 1st instead of raising",
            },
            required=("repo", "commit"),
        ),
        Template(
            "field_task",
            "Real-world task",
            "Do something at a place and send a photo; a qualified, paid peer checks it.",
            "field",
            "field_evidence",
            "Go to the place during the window, do the task and photograph the result.",
            ("task", "lat", "lon", "radius_m", "start", "end"),
            lambda o: _evidence(
                {"type": "string", "maxLength": 2000}, "lat", "lon", "at", "photo_sha256"
            ),
            {
                "task": "Photograph the opening hours on the pharmacy's door",
                "lat": 6.5244,
                "lon": 3.3792,
                "radius_m": 150,
                "start": "2026-11-22T08:00:00+00:00",
                "end": "2026-11-29T20:00:00+00:00",
            },
            quality={"review": "peer", "review_reward": 1_000},
            required=("lat", "lon", "radius_m", "start", "end"),
            widget="local_report",
        ),
        Template(
            "energy",
            "Energy reduction",
            "Households cut use in a peak window; their meters sign the readings.",
            "energy",
            "energy",
            "Use less electricity during the window; your registered meter reports the readings.",
            (
                "event",
                "baseline_start",
                "baseline_end",
                "window_start",
                "window_end",
                "reward_per_kwh",
            ),
            lambda o: _object(
                {
                    "device": {"type": "string"},
                    "readings": {
                        "type": "array",
                        "minItems": 2,
                        "maxItems": 2000,
                        # One signed meter reading: the task page asks for each in a row.
                        "items": {
                            "type": "object",
                            "properties": {
                                "at": {"type": "string", "format": "date-time"},
                                "wh": {"type": "number", "minimum": 0, "x-unit": "Wh"},
                                "signature": {"type": "string"},
                            },
                            "required": ["at", "wh", "signature"],
                        },
                    },
                },
                widget="form",
            ),
            {
                "event": "Evening peak",
                "baseline_start": "2026-11-22T14:00:00+00:00",
                "baseline_end": "2026-11-22T18:00:00+00:00",
                "window_start": "2026-11-22T18:00:00+00:00",
                "window_end": "2026-11-22T20:00:00+00:00",
                "reward_per_kwh": 20_000,
            },
            required=(
                "baseline_start",
                "baseline_end",
                "window_start",
                "window_end",
                "reward_per_kwh",
            ),
            widget="form",
        ),
    )
}


def template(name: str) -> Template:
    """The template called `name`."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise InvalidInput(f"unknown template {name!r}") from None


def template_view(t: Template) -> dict[str, Any]:
    """A template as plain JSON: what `GET /v1/templates` returns for it."""
    input_schema, output_schema = t.schemas(t.options)
    return {
        "name": t.name,
        "label": t.label,
        "summary": t.summary,
        "type": t.type,
        "verifier": t.verifier,
        "instructions": t.instructions,
        "input_schema": input_schema,
        "output_schema": output_schema,
        "options": t.options,
        "quality": t.quality,
        "sample": t.sample,
        "widget": t.widget_kind,
    }
