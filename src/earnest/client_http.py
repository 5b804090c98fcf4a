"""The SDK's wire habits: headers, when and how long to wait before resending, errors.

A call is resent, under the same Idempotency-Key, after a lost answer or a 429, 502, 503 or
504, at most `RETRIES` times in all: after a 429 the Retry-After it names (30 s at most);
otherwise the Retry-After a 503 names, or an exponential backoff, each with jitter, so that
clients refused together do not come back together. When the last attempt is refused too,
the call raises `RetriesExhausted` (an `ApiError`) saying how many attempts it made.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx

from earnest.adapters.chain.wallet import Wallet
from earnest.domain.errors import EarnestError

RETRIES = 5
BACKOFF = 0.25  # seconds before the second attempt; doubled for each one after
_RETRY_STATUS = {429, 502, 503, 504}
SESSION = "/v1/auth/session"
_UNKEYED = frozenset({"/v1/auth/challenge", SESSION})  # see earnest.client's docstring
MAX_RETRY_AFTER = 30.0  # seconds; a longer wait is the caller's decision, not the SDK's


def _retry_after(response: httpx.Response) -> float | None:
    """The wait a Retry-After in seconds names, capped; None without one. A proxy's header
    may hold anything: a date, a negative or non-finite number reads as 1 s (time.sleep
    refuses a negative or NaN wait)."""
    asked = response.headers.get("retry-after")
    if asked is None:
        return None
    try:
        seconds = float(asked)
    except ValueError:
        return 1.0
    if not math.isfinite(seconds) or seconds < 0:
        return 1.0
    return min(seconds, MAX_RETRY_AFTER)


def backoff(attempt: int) -> float:
    """Seconds to wait after attempt `attempt` (0-based) failed unanswered, with jitter."""
    return min(BACKOFF * 2.0**attempt, MAX_RETRY_AFTER) * random.uniform(0.5, 1.0)


def pause(response: httpx.Response, attempt: int = 0) -> float:
    """How long to wait before resending: a 429's Retry-After as asked (capped); for a
    server that is out (502, 503, 504) its Retry-After or the backoff, with jitter."""
    asked = _retry_after(response)
    if response.status_code == 429:
        return 1.0 if asked is None else asked
    if asked is None:
        return backoff(attempt)
    return asked * random.uniform(0.5, 1.0)


class ApiError(EarnestError):
    """The server answered with a problem JSON (RFC 9457)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(str(problem.get("detail") or problem.get("title") or status))
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code", "http_error"))


class RetriesExhausted(ApiError):
    """Every attempt of a call was refused with a retryable status (the server out of
    reach, or too busy): the SDK gave up. The same call may be made again later; a POST's
    effect, if any, happened at most once."""

    def __init__(self, status: int, problem: dict[str, Any], attempts: int) -> None:
        super().__init__(status, problem)
        self.attempts = attempts
        self.args = (f"gave up after {attempts} attempts: HTTP {status} {self.detail}",)


def resend(path: str, response: httpx.Response | None) -> bool:
    """Whether to send again after a lost answer (None) or this one. A session request is
    resent only when refused unread (429): otherwise it may have spent its nonce."""
    if path == SESSION:
        return response is not None and response.status_code == 429
    return response is None or response.status_code in _RETRY_STATUS


def session_body(wallet: Wallet, issued: dict[str, Any], kind: str) -> dict[str, str]:
    message = issued["message"]
    return {"message": message, "signature": wallet.sign_message(message.encode()), "kind": kind}


def problem_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text[:500]}
    return body if isinstance(body, dict) else {"detail": str(body)}


def raise_for(response: httpx.Response) -> None:
    if response.status_code >= 400:
        raise ApiError(response.status_code, problem_of(response))


def result(response: httpx.Response, none_on: str | None, *, gave_up_after: int = 0) -> Any:
    """The call's answer; `gave_up_after`: the attempts made when the last one was refused
    with a status worth retrying (RetriesExhausted), else 0."""
    if gave_up_after and response.status_code >= 400:
        raise RetriesExhausted(response.status_code, problem_of(response), gave_up_after)
    if none_on and response.status_code == 404 and response.json().get("code") == none_on:
        return None
    raise_for(response)
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


FILE_CHUNK = 1 << 16


def file_chunks(path: Path) -> Iterator[bytes]:
    """A file's bytes in chunks, opened now so that a missing file fails the call at once."""
    handle = path.open("rb")

    def chunks() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(FILE_CHUNK):
                yield chunk

    return chunks()


def jsonl(tasks: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for task in tasks:
        yield (json.dumps(task) + "\n").encode()


def headers_for(
    token: str | None, method: str, extra: dict[str, str] | None, path: str = ""
) -> dict[str, str]:
    headers = dict(extra or {})
    if token:
        headers["authorization"] = f"Bearer {token}"
    if method == "POST" and path not in _UNKEYED:
        headers.setdefault("idempotency-key", uuid.uuid4().hex)  # a key of the caller's wins
    return headers
