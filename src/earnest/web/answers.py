"""From a submitted task form to the answer, in the shape the campaign's schema asks for.

Pages with and without scripts send the same form fields (scripts send them with fetch),
so this is the one place that reads them. The answer is then checked against the output
schema by `submit_work`, like an answer sent to the API.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData, UploadFile

from earnest.domain.errors import InvalidInput
from earnest.services.schemas import CONTROL, control_problem, loads
from earnest.web import schema_form
from earnest.web.widgets import Widget

MAX_PHOTO_BYTES = 600 << 10  # the page scales photos down to well under this before sending
MAX_TEST_FILE_BYTES = 256 << 10
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")


def answer_from_form(widget: Widget, form: FormData, schema: dict[str, Any] | None = None) -> Any:
    """The answer a task form holds; InvalidInput says what is missing or wrong. A form
    made from the output schema (`widget.kind == "form"`) is read with that schema."""
    if widget.kind == "form":
        return schema_form.answer_of(schema or {}, form)
    return _BUILDERS[widget.kind](widget, form)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if CONTROL.search(text):  # multipart fields pass the JSON limits middleware unchecked
        raise InvalidInput(control_problem(text, name))
    return text


def _number(form: FormData, name: str, what: str) -> float:
    try:
        value = float(_text(form, name))
    except ValueError:
        raise InvalidInput(f"{what} must be a number") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{what} must be a number")
    return value


def _index(text: str, count: int) -> int:
    if not text.isdigit() or int(text) >= count:
        raise InvalidInput("pick one of the options")
    return int(text)


def _wrap(widget: Widget, value: Any) -> Any:
    return {widget.field: value} if widget.field else value


def _classification(widget: Widget, form: FormData) -> Any:
    return widget.options[_index(_text(form, "choice"), len(widget.options))]


def _multi_label(widget: Widget, form: FormData) -> Any:
    picked = sorted({_index(str(v), len(widget.options)) for v in form.getlist("labels")})
    return _wrap(widget, [widget.options[i] for i in picked])


def _rating(widget: Widget, form: FormData) -> Any:
    text = _text(form, "rating")
    if not text.lstrip("-").isdigit() or int(text) not in widget.scale:
        raise InvalidInput(f"pick a rating from {widget.low} to {widget.high}")
    return _wrap(widget, int(text))


def _pairwise(widget: Widget, form: FormData) -> Any:
    choice = _text(form, "choice")
    if choice not in ("a", "b"):
        raise InvalidInput("pick A or B")
    return _wrap(widget, choice)


def _text_span(widget: Widget, form: FormData) -> Any:
    start, end = _number(form, "start", "start"), _number(form, "end", "end")
    if not (start.is_integer() and end.is_integer() and 0 <= start < end):
        raise InvalidInput("select the span: a start before its end")
    span = {"start": int(start), "end": int(end)}
    return {"span": span} if widget.field == "span" else span


def _bounding_box(widget: Widget, form: FormData) -> Any:
    box = [
        _number(form, name, name.replace("_", " ")) for name in ("x_min", "y_min", "x_max", "y_max")
    ]
    if not (box[0] < box[2] and box[1] < box[3]):
        raise InvalidInput("draw the box: its left edge before its right, its top above its bottom")
    return {"box": [round(c, 1) for c in box]}


def _free_text(widget: Widget, form: FormData) -> Any:
    text = _text(form, "text")
    if not text:
        raise InvalidInput("write your answer")
    return _wrap(widget, text)


def _upload(form: FormData, name: str, limit: int, what: str) -> tuple[bytes, UploadFile]:
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput(f"attach {what}")
    content = upload.file.read(limit + 1)
    if not content or len(content) > limit:
        raise InvalidInput(f"{what} must hold 1 to {limit // 1024} KiB")
    return content, upload


def _local_report(widget: Widget, form: FormData) -> Any:
    """A report: the value (a chosen option, else the note), where and when, and the photo."""
    lat, lon = _number(form, "lat", "latitude"), _number(form, "lon", "longitude")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput("the location is not on Earth")
    content, upload = _upload(form, "photo", MAX_PHOTO_BYTES, "a photo")
    media = upload.content_type or ""
    if media not in PHOTO_TYPES:
        raise InvalidInput("the photo must be a JPEG, PNG or WebP picture")
    note = _text(form, "note")
    value = (
        widget.options[_index(_text(form, "choice"), len(widget.options))]
        if widget.options
        else note
    )
    sha = hashlib.sha256(content).hexdigest()
    return {
        "value": value,
        "lat": round(lat, 6),
        "lon": round(lon, 6),
        "at": datetime.now(UTC).isoformat(),  # when it was sent: the verifier bounds it
        "photo_sha256": sha,
        "note": note,
        "photo": {
            "sha256": sha,
            "media_type": media,
            "bytes": len(content),
            "data": base64.b64encode(content).decode(),
        },
    }


def _bug_report(widget: Widget, form: FormData) -> Any:
    """A new test file for the bounty's sandbox: tests/test_<name>.py, and notes."""
    content, upload = _upload(form, "test_file", MAX_TEST_FILE_BYTES, "the test file")
    try:
        text = content.decode()
    except UnicodeDecodeError:
        raise InvalidInput("the test file must be UTF-8 text") from None
    if CONTROL.search(text):
        raise InvalidInput(control_problem(text, "the test file"))
    stem = re.sub(r"[^A-Za-z0-9_]", "_", (upload.filename or "bug").rsplit(".", 1)[0])[:80]
    name = stem if stem.startswith("test_") else f"test_{stem}"
    return {"test_path": f"tests/{name}.py", "test": text, "notes": _text(form, "notes")}


def _json(widget: Widget, form: FormData) -> Any:
    try:
        return loads(_text(form, "answer"), "the answer")
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"the answer is not valid JSON: {exc.msg}") from None
    except ValueError as exc:  # nested too deep, or a control character: schemas.loads
        raise InvalidInput(str(exc)) from None


_BUILDERS: dict[str, Callable[[Widget, FormData], Any]] = {
    "classification": _classification,
    "multi_label": _multi_label,
    "rating": _rating,
    "pairwise": _pairwise,
    "text_span": _text_span,
    "bounding_box": _bounding_box,
    "free_text": _free_text,
    "local_report": _local_report,
    "bug_report": _bug_report,
    "json": _json,
}
