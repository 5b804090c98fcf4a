"""RFC 9457 problem details: the one place where errors become HTTP answers."""

from __future__ import annotations

import logging
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
]


def status_for(exc: e.EarnestError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> JSONResponse:
    body = {
        "type": f"https://earnest.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    } | extra
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem JSON."""

    @app.exception_handler(e.EarnestError)
    async def _domain(_: Request, exc: e.EarnestError) -> JSONResponse:
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
