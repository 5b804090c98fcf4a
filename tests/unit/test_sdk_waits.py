"""How long the SDK waits before resending, whatever a server or a proxy puts in Retry-After."""

from __future__ import annotations

import httpx
import pytest

from earnest.client_http import MAX_RETRY_AFTER, pause


def _answer(status: int, retry_after: str | None) -> httpx.Response:
    headers = {} if retry_after is None else {"retry-after": retry_after}
    return httpx.Response(status, headers=headers)


@pytest.mark.parametrize("status", [429, 502, 503, 504])
@pytest.mark.parametrize(
    "header", ["-5", "nan", "NaN", "inf", "-inf", "1e400", "Wed, 21 Oct 2026 07:28:00 GMT", ""]
)
def test_any_retry_after_gives_a_wait_time_sleep_accepts(status: int, header: str) -> None:
    wait = pause(_answer(status, header))
    assert 0 <= wait <= MAX_RETRY_AFTER  # time.sleep refuses a negative or NaN wait


@pytest.mark.parametrize(
    ("header", "expected"), [("2", 2.0), ("0", 0.0), ("3600", MAX_RETRY_AFTER)]
)
def test_a_429_waits_what_it_names_capped(header: str, expected: float) -> None:
    assert pause(_answer(429, header)) == expected
