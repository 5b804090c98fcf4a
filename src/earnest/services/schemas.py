"""JSON Schema checks for campaign schemas, task inputs and answers (jsonschema, RE2).

Requesters write these schemas, so they are hostile input too. Their regular expressions
(`pattern`, `patternProperties`, `format: regex`) run on RE2, which takes linear time: on
Python's backtracking `re`, `^(a+)+$` against thirty `a`s and a `b` holds the process (the
settler included) for seconds. A pattern RE2 cannot take (a backreference, a lookaround) is
refused when the campaign is created. A schema is at most `MAX_SCHEMA_DEPTH` deep and its
`$ref`s point inside it: jsonschema never fetches an address (that would be an SSRF).

Values from outside (task data, answers) are bounded too: `MAX_JSON_DEPTH` levels, and no
control character in any string or key (`CONTROL`; docs/security.md, "Input limits").
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator
from typing import Any

import re2  # type: ignore[import-untyped]  # google-re2 ships no type hints
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.exceptions import SchemaError
from referencing.exceptions import Unresolvable

from earnest.domain.errors import InvalidInput, SchemaViolation

MAX_JSON_DEPTH = 64  # of a request body, a task or an answer: far above any real one
MAX_SCHEMA_DEPTH = 32  # of an input or output schema, counted in JSON levels
# C0 controls but tab, LF and CR; DEL; and the C1 controls, which no text needs and some
# terminals and spreadsheets obey (U+009B starts an escape sequence). PostgreSQL refuses NUL.
# Lone surrogates too (a JSON "\ud800" parses, but no UTF-8 encoder takes it back out).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is the requester's 422, not our stderr


@functools.lru_cache(maxsize=2048)
def compiled_pattern(pattern: str) -> Any:
    """`pattern` compiled by RE2 (cached: schemas are checked on every submit)."""
    return re2.compile(pattern, _RE2_OPTIONS)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not compiled_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if compiled_pattern(pattern).search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, extra: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """jsonschema's own, with the patternProperties it skips matched on RE2."""
    if not validator.is_type(instance, "object"):
        return
    named = schema.get("properties", {})
    patterns = [compiled_pattern(p) for p in schema.get("patternProperties", {})]
    extras = [k for k in instance if k not in named and not any(p.search(k) for p in patterns)]
    if validator.is_type(extra, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif not extra and extras:
        unexpected = ", ".join(repr(k) for k in sorted(extras))
        yield ValidationError(f"Additional properties are not allowed ({unexpected} unexpected)")


# The keywords that run a regular expression, on RE2. `unevaluatedProperties` would run
# patternProperties on `re` (jsonschema's helper): `_regex_problem` refuses the pair.
Validator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    },
)
_SCHEMA_FORMATS = FormatChecker()
_SCHEMA_FORMATS.checkers["regex"] = (lambda text: bool(compiled_pattern(text)), (re2.error,))


def compile_schema(schema: Any, what: str) -> Any:
    """A validator for `schema`; InvalidInput if the schema itself is not valid or safe."""
    if not isinstance(schema, dict):
        raise InvalidInput(f"{what} must be a JSON Schema object")
    problem = schema_problem(schema)
    if problem is not None:
        raise InvalidInput(f"{what} is refused: {problem}")
    try:
        Validator.check_schema(schema, format_checker=_SCHEMA_FORMATS)
    except SchemaError as exc:
        raise InvalidInput(f"{what} is not a valid JSON Schema: {exc.message}") from exc
    return Validator(schema)


def schema_problem(schema: Any) -> str | None:
    """Why a schema is unsafe to run (too deep, a remote $ref, a pattern RE2 refuses)."""
    stack: list[tuple[Any, str, int]] = [(schema, "", 1)]
    uses_unevaluated = uses_patterns = False
    while stack:
        node, where, depth = stack.pop()
        if depth > MAX_SCHEMA_DEPTH:
            return f"it is nested deeper than {MAX_SCHEMA_DEPTH} levels"
        if isinstance(node, list):
            stack.extend((v, f"{where}/{i}", depth + 1) for i, v in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        problem = _node_problem(node, where or "/")
        if problem is not None:
            return problem
        uses_unevaluated = uses_unevaluated or "unevaluatedProperties" in node
        uses_patterns = uses_patterns or "patternProperties" in node
        stack.extend((v, f"{where}/{k}", depth + 1) for k, v in node.items())
    if uses_unevaluated and uses_patterns:
        return "unevaluatedProperties cannot be combined with patternProperties here"
    return None


def _node_problem(node: dict[str, Any], where: str) -> str | None:
    for keyword in ("$ref", "$dynamicRef"):
        ref = node.get(keyword)
        if isinstance(ref, str) and not ref.startswith("#"):
            return f"{keyword} {ref!r} at {where} points outside the schema (only '#...' refs)"
    patterns = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
    if isinstance(node.get("patternProperties"), dict):
        patterns += list(node["patternProperties"])
    for pattern in patterns:
        try:
            compiled_pattern(pattern)
        except re2.error as exc:
            return (
                f"the pattern {pattern!r} at {where} is not one RE2 takes "
                f"(no backreferences or lookarounds): {_text(exc)}"
            )
    return None


def _text(exc: Exception) -> str:
    reason = exc.args[0] if exc.args else exc
    return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)


_VALIDATORS: dict[str, Any] = {}
_VALIDATORS_MAX = 512


def validator(schema: Any, what: str) -> Any:
    """`compile_schema`, remembered per schema: answers are checked on every submit, and
    checking a schema itself costs a hundred times more than checking an answer."""
    key = json.dumps(schema, sort_keys=True, default=str)
    found = _VALIDATORS.get(key)
    if found is None:
        found = compile_schema(schema, what)
        if len(_VALIDATORS) >= _VALIDATORS_MAX:
            _VALIDATORS.clear()
        _VALIDATORS[key] = found
    return found


def first_error(validator: Any, value: Any) -> str | None:
    """A readable description of the first way `value` breaks the schema, or None."""
    problem = value_problem(value)
    if problem is not None:
        return problem
    try:
        error = next(iter(validator.iter_errors(value)), None)
    except (RecursionError, Unresolvable):
        # a schema that refers to itself without descending, or to a $ref it does not hold
        return "the schema cannot be applied (a $ref loops or points nowhere)"
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"at {where}: {error.message}"


def check(validator: Any, value: Any, what: str) -> None:
    """Raise SchemaViolation if `value` does not match."""
    problem = first_error(validator, value)
    if problem is not None:
        raise SchemaViolation(f"{what} does not match the schema {problem}")


def value_problem(value: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why a value from outside is refused (too deep, a control character), or None."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, str):
            if CONTROL.search(node):
                return control_problem(node, where)
            continue
        if isinstance(node, float) and not math.isfinite(node):
            # Python's json reads NaN and Infinity, which JSON has not: PostgreSQL's jsonb
            # refuses them, and arithmetic on them (a meter reading, say) fails later.
            return f"at {where or '(root)'}: {node} is not a JSON number"
        if not isinstance(node, dict | list):
            continue
        if depth >= max_depth:
            return f"it is nested deeper than {max_depth} levels"
        if isinstance(node, list):
            stack.extend((v, f"{where}/{i}", depth + 1) for i, v in enumerate(node))
            continue
        for key, item in node.items():
            if isinstance(key, str) and CONTROL.search(key):
                return control_problem(key, f"{where or '(root)'}, in a key")
            stack.append((item, f"{where}/{key}", depth + 1))
    return None


def control_problem(text: str, where: str) -> str:
    """What to say of a string holding a control character."""
    found = CONTROL.search(text)
    code = ord(found.group()) if found else 0
    return (
        f"at {where or '(root)'}: a control character or lone surrogate (U+{code:04X}) is "
        "not allowed (only tab, LF and CR)"
    )


def check_value(value: Any, what: str) -> None:
    """InvalidInput if a value from outside is too deep or holds a control character."""
    problem = value_problem(value)
    if problem is not None:
        raise InvalidInput(f"{what} is refused {problem}", limit=MAX_JSON_DEPTH)


def loads(text: str | bytes, what: str) -> Any:
    """Parse JSON from outside, bounded: ValueError says why it is not JSON or is refused."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels") from None
    problem = value_problem(value)
    if problem is not None:
        raise ValueError(f"{what} is refused {problem}")
    return value
