"""RFC 9457 problem details: the one place where errors become HTTP answers."""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from earnest.domain import errors as e

log = logging.getLogger("earnest.api")

PROBLEM_TYPE = "application/problem+json"

STATUS: list[tuple[type[e.EarnestError], int]] = [
    (e.InvalidInput, 422),
    (e.Unauthenticated, 401),
    (e.Forbidden, 403),
    (e.NotFound, 404),
    (e.NoWorkAvailable, 404),
    (e.Conflict, 409),
    (e.InsufficientFunds, 409),
    (e.RateLimited, 429),
    (e.ChainError, 502),
    (e.Unavailable, 503),
]
OUTAGE_RETRY_AFTER = 2  # seconds a client waits before resending during a database outage


def status_for(exc: e.EarnestError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 400


# Every operation may answer with these problems (authentication, scope or ownership, state,
# size, validation, rate): documented once here rather than on each route.
DOCUMENTED = {
    400: "Bad request",
    401: "Not authenticated (header WWW-Authenticate: Bearer)",
    403: "Forbidden: a missing scope, a gate, or not a party to the object",
    404: "Not found, or not yours to see",
    409: "Conflict with the object's state, or not enough funds",
    413: "Request body too large",
    422: "Invalid input: the body, a parameter or a header",
    429: "Too many requests (header Retry-After: seconds)",
    502: "The chain refused the request or could not be reached",
    503: "The database is out of reach for a moment (header Retry-After: seconds)",
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
    "additionalProperties": True,
}
_HEADERS = {
    401: {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    429: {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
    503: {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
}


def problem_headers(status: int, extra: dict[str, Any]) -> dict[str, str] | None:
    """Headers a problem carries: how to authenticate (401), when to come back (429, 503)."""
    if status == 401:
        return {"WWW-Authenticate": "Bearer"}
    if status == 429:
        return {"Retry-After": str(extra.get("retry_after", 1))}
    if status == 503:
        return {"Retry-After": str(OUTAGE_RETRY_AFTER)}
    return None


class Outage:
    """One log line when the database goes out of reach, one when it answers again: an
    outage answers every request with 503 and would otherwise log a traceback each."""

    def __init__(self) -> None:
        self._down = threading.Event()

    def down(self, exc: BaseException) -> None:
        if not self._down.is_set():
            self._down.set()
            cause = exc.__cause__ or exc
            log.warning("database out of reach, answering 503: %s", _first_line(cause))

    def up(self) -> None:
        if self._down.is_set():
            self._down.clear()
            log.warning("database reachable again")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


OUTAGE = Outage()  # per process: every app in it shares the same database


def unavailable(exc: e.Unavailable) -> JSONResponse:
    """The 503 an outage answers with (logged once per outage, see Outage)."""
    OUTAGE.down(exc)
    return problem(503, exc.title, exc.detail, exc.code)


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> JSONResponse:
    body = {
        "type": f"https://earnest.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    } | extra
    headers = problem_headers(status, extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def document(app: FastAPI) -> None:
    """Describe the problem answers in the OpenAPI schema, as the handlers below send them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # cached by FastAPI; the changes below are idempotent
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        schemas.pop("HTTPValidationError", None)  # our 422 is a problem, not FastAPI's shape
        schemas.pop("ValidationError", None)
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                operation["responses"].update(_problem_responses())
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problem_responses() -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Problem"}
    return {
        str(status): {
            "description": text,
            "content": {PROBLEM_TYPE: {"schema": ref}},
        }
        | ({"headers": _HEADERS[status]} if status in _HEADERS else {})
        for status, text in DOCUMENTED.items()
    }


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem JSON, and document them."""
    document(app)

    @app.exception_handler(e.EarnestError)
    async def _domain(_: Request, exc: e.EarnestError) -> JSONResponse:
        if isinstance(exc, e.Unavailable):
            return unavailable(exc)
        return problem(status_for(exc), exc.title, exc.detail, exc.code, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": "/".join(str(p) for p in err.get("loc", ())), "error": err.get("msg", "")}
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"location": "", "error": "invalid request"}
        detail = f"{first['location']}: {first['error']}"
        return problem(422, "Invalid input", detail, "invalid_input", errors=errors)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail), "http_error")

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "Internal error", "the market hit an unexpected error", "internal")
