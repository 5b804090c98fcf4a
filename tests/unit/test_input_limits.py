"""The JSON byte scanner: depth and control characters, whatever the chunking."""

from __future__ import annotations

import json

import pytest

from earnest.api.json_limits import JsonScan, check_form_body, check_json_body
from earnest.domain.errors import InvalidInput
from earnest.services.schemas import loads, value_problem

REFUSED = [
    b"[" * 65 + b"]" * 65,
    b'{"a": "\\u0000"}',
    b'{"a\\u001b": 1}',
    b'{"a": "\\b"}',
    b'{"a": "\\u009B"}',
    b'{"a": "\x7f"}',
    '{"a": "\u0085"}'.encode(),
]
ACCEPTED = [
    b"[" * 64 + b"]" * 64,
    b'{"a": "\\\\u0000 [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}',
    b'{"a": "tab\\t lf\\n cr\\r \\u00e9 \\"quoted\\" caf\xc3\xa9 \xc2\xa0"}\n',
]


def _chunked(body: bytes, size: int) -> None:
    scan = JsonScan()
    for start in range(0, len(body), size):
        scan.feed(body[start : start + size], final=start + size >= len(body))


@pytest.mark.parametrize("body", REFUSED)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 1 << 20])
def test_refused_in_any_chunking(body: bytes, size: int) -> None:
    with pytest.raises(InvalidInput):
        _chunked(body, size)
    with pytest.raises(InvalidInput):
        check_json_body(body)


@pytest.mark.parametrize("body", ACCEPTED)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 1 << 20])
def test_accepted_in_any_chunking(body: bytes, size: int) -> None:
    _chunked(body, size)
    check_json_body(body)


@pytest.mark.parametrize("size", [1, 3, 1 << 20])
def test_a_raw_newline_in_a_string_is_refused_by_the_stream_scan(size: int) -> None:
    """Not JSON, and in JSON Lines the parser would start afresh on the next line while the
    scan still counted it as a string: the bracket count would miss a deep line."""
    with pytest.raises(InvalidInput):
        _chunked(b'{"a": "x\n' + b"[" * 100 + b"}", size)


def test_a_form_with_an_encoded_control_character_is_refused() -> None:
    check_form_body(b"title=Even+or+odd%3F&notes=a%0D%0Ab%09c")
    for bad in (b"title=a%00", b"title=a%1B", b"title=a%7f", b"title=a%C2%9B"):
        with pytest.raises(InvalidInput):
            check_form_body(bad)


def test_parsed_values_are_bounded_too() -> None:
    assert value_problem({"a": [[[]]]}) is None
    assert "deeper than 64" in str(value_problem(json.loads("[" * 70 + "]" * 70)))
    assert "U+0000" in str(value_problem({"k\x00": 1}))
    for word in ("NaN", "Infinity", "-Infinity"):
        found = value_problem(json.loads('{"a": [1, ' + word + "]}"))
        assert found is not None and found.startswith("at /a/1: ") and "not a JSON number" in found
    assert value_problem(json.loads('{"a": 1.5e308, "b": -0.0}')) is None
    with pytest.raises(ValueError, match="deeper than 64"):
        loads("[" * 5000 + "]" * 5000, "the line")
