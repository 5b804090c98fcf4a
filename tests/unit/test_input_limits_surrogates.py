"""The JSON scanner's surrogate escapes: a pair is text wherever a chunk boundary cuts it, an
escape left alone is refused wherever it falls (an upload streams in chunks of any size)."""

from __future__ import annotations

import pytest

from earnest.api.json_limits import JsonScan, check_json_body
from earnest.domain.errors import InvalidInput

PAIR = b'[{"text": "ok \\ud83d\\ude00 ok"}]'
LONE = [b'[{"text": "ok \\ud800 ok"}]', b'[{"text": "\\udc00"}]', b'[{"text": "\\ud83dx\\ude00"}]']


def _fed(body: bytes, cut: int) -> None:
    scan = JsonScan()
    scan.feed(body[:cut])
    scan.feed(body[cut:], final=True)


@pytest.mark.parametrize("cut", range(len(PAIR) + 1))
def test_a_pair_cut_anywhere_is_text(cut: int) -> None:
    _fed(PAIR, cut)


@pytest.mark.parametrize("body", LONE)
def test_a_lone_surrogate_is_refused_whole_or_cut_anywhere(body: bytes) -> None:
    with pytest.raises(InvalidInput, match="surrogate"):
        check_json_body(body)
    for cut in range(len(body) + 1):
        with pytest.raises(InvalidInput, match="surrogate"):
            _fed(body, cut)


def test_an_escaped_backslash_before_u_is_not_an_escape() -> None:
    check_json_body(b'["\\\\ud800"]')
