"""Which answer widget a task page shows, chosen from the campaign's output schema.

A campaign names its widget with `"x-earnest-widget"` in its output schema, or by its
`type` (a campaign of type "local_report" gets the local report widget); otherwise the
schema's shape decides: `box` → bounding box, `start`/`end` → text span, `choice` a|b →
pairwise, `rating` → rating, `labels` array → multi-label, a categorical answer →
classification, one string property → free text, anything else → a JSON editor. New
campaign kinds plug in by naming a widget; docs/web.md lists each widget's answer shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from earnest.domain.work import CampaignSpec
from earnest.quality.dawid_skene import classes_of

KINDS = (
    "classification",
    "multi_label",
    "text_span",
    "bounding_box",
    "pairwise",
    "rating",
    "free_text",
    "local_report",
    "bug_report",
    "form",
    "json",
)
MAX_SHORTCUTS = 9  # keys 1-9 pick an option
_IMAGE = re.compile(r"^(https?://|/)\S+\.(png|jpe?g|gif|webp|svg)(\?\S*)?$|^data:image/", re.I)


@dataclass(frozen=True)
class Widget:
    """How a worker answers: the widget kind and what it needs from the schema."""

    kind: str
    field: str | None = None  # the answer's property; None when the answer is the bare value
    options: tuple[Any, ...] = ()  # classification (whole answers), multi-label (labels)
    low: int = 1  # rating scale
    high: int = 5

    @property
    def choices(self) -> list[tuple[int, str]]:
        """(index, text shown) for each option, in order."""
        return [(i, _option_text(o, self.field)) for i, o in enumerate(self.options)]

    @property
    def scale(self) -> list[int]:
        """The values of a rating scale, lowest first."""
        return list(range(self.low, self.high + 1))

    @property
    def shortcuts(self) -> bool:
        """Whether number keys pick an answer."""
        count = len(self.options) if self.options else len(self.scale)
        if self.kind == "pairwise":
            return True
        return self.kind in ("classification", "multi_label", "rating") and count <= MAX_SHORTCUTS


def _option_text(option: Any, field: str | None) -> str:
    value = option.get(field) if field and isinstance(option, dict) else option
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def is_image(value: Any) -> bool:
    """Whether a task value is a picture to show (an image URL or a data: URL)."""
    return isinstance(value, str) and bool(_IMAGE.match(value.strip()))


def is_external(value: Any) -> bool:
    """Whether an image lives on another site: shown as a link, never fetched by the page.

    A requester's external image would load in every worker's browser, telling its host the
    worker's address and when each task was opened (the CSP's img-src refuses it too). Only
    this site's paths and data: URLs load; `//host` and `/\\host` are other sites.
    """
    if not isinstance(value, str):
        return False
    src = value.strip()
    if src[:11].lower() == "data:image/":
        return False
    return not (src.startswith("/") and src[1:2] not in ("/", "\\"))


def widget_for(spec: CampaignSpec) -> Widget:
    """The widget for a campaign: named in the schema or by the type, else by shape."""
    schema = spec.output_schema
    named = schema.get("x-earnest-widget")
    kind = named if named in KINDS else spec.type if spec.type in KINDS else None
    shaped = _by_shape(schema)
    if kind is None or kind == shaped.kind:
        return shaped
    return Widget(kind, shaped.field, shaped.options, shaped.low, shaped.high)


def _by_shape(schema: dict[str, Any]) -> Widget:
    found = schema.get("properties")
    props: dict[str, Any] = found if isinstance(found, dict) else {}
    if "box" in props:
        return Widget("bounding_box", "box")
    if {"start", "end"} <= set(props) or "span" in props:
        return Widget("text_span", "span" if "span" in props else None)
    if set(_enum(props.get("choice"))) == {"a", "b"}:
        return Widget("pairwise", "choice", ("a", "b"))
    if "rating" in props:
        rating = props["rating"]
        return Widget(
            "rating", "rating", (), int(rating.get("minimum", 1)), int(rating.get("maximum", 5))
        )
    if {"lat", "lon"} <= set(props) and ("photo" in props or "photo_sha256" in props):
        return Widget("local_report", "value", tuple(_enum(props.get("value"))))
    if "test_path" in props or "test_file" in props:
        return Widget("bug_report")
    labels = props.get("labels")
    if isinstance(labels, dict) and labels.get("type") == "array":
        return Widget("multi_label", "labels", tuple(_enum(labels.get("items"))))
    classes = classes_of(schema)
    if classes:
        field = None if "enum" in schema else next(iter(props))
        return Widget("classification", field, classes)
    strings = [
        name for name, p in props.items() if isinstance(p, dict) and p.get("type") == "string"
    ]
    if schema.get("type") == "string":
        return Widget("free_text")
    if len(props) == 1 and strings:
        return Widget("free_text", strings[0])
    from earnest.web.schema_form import form_of  # it reads labels from present, which needs us

    return Widget("form") if form_of(schema) else Widget("json")


def _enum(prop: Any) -> list[Any]:
    return list(prop.get("enum", [])) if isinstance(prop, dict) else []
