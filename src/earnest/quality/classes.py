"""The answer classes of a categorical campaign, read from its output schema."""

from __future__ import annotations

from typing import Any

MAX_CLASSES = 64


def classes_of(schema: dict[str, Any]) -> tuple[Any, ...]:
    """The possible answers when the schema allows a fixed set, else ().

    Two shapes are categorical: an `enum` at the top, or an object whose one required
    property is an `enum` or a boolean (e.g. {"label": "cat"}), with no other properties.
    """
    if isinstance(schema.get("enum"), list):
        return _bounded(tuple(schema["enum"]))
    props = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(props, dict) or len(props) != 1:
        return ()
    ((name, prop),) = props.items()
    if not isinstance(prop, dict) or name not in schema.get("required", []):
        return ()
    if isinstance(prop.get("enum"), list):
        return _bounded(tuple({name: v} for v in prop["enum"]))
    if prop.get("type") == "boolean":
        return ({name: False}, {name: True})
    return ()


def _bounded(classes: tuple[Any, ...]) -> tuple[Any, ...]:
    return classes if 2 <= len(classes) <= MAX_CLASSES else ()
