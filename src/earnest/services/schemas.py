"""JSON Schema checks for campaign schemas, task inputs and answers (jsonschema)."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from earnest.domain.errors import InvalidInput, SchemaViolation


def compile_schema(schema: Any, what: str) -> Draft202012Validator:
    """A validator for `schema`; InvalidInput if the schema itself is not valid."""
    if not isinstance(schema, dict):
        raise InvalidInput(f"{what} must be a JSON Schema object")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise InvalidInput(f"{what} is not a valid JSON Schema: {exc.message}") from exc
    return Draft202012Validator(schema)


_VALIDATORS: dict[str, Draft202012Validator] = {}
_VALIDATORS_MAX = 512


def validator(schema: Any, what: str) -> Draft202012Validator:
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


def first_error(validator: Draft202012Validator, value: Any) -> str | None:
    """A readable description of the first way `value` breaks the schema, or None."""
    error = next(iter(validator.iter_errors(value)), None)
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"at {where}: {error.message}"


def check(validator: Draft202012Validator, value: Any, what: str) -> None:
    """Raise SchemaViolation if `value` does not match."""
    problem = first_error(validator, value)
    if problem is not None:
        raise SchemaViolation(f"{what} does not match the schema {problem}")
