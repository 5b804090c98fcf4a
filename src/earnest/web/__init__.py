"""Server-rendered pages for workers, requesters and operators (Jinja2, small vanilla JS)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from inspect import isawaitable
from pathlib import Path
from typing import cast
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from earnest.domain.errors import EarnestError
from earnest.web import (
    pages_auth,
    pages_campaign,
    pages_data,
    pages_deposit,
    pages_operator,
    pages_requester,
    pages_settings,
    pages_worker,
)
from earnest.web.render import page
from earnest.web.session import SignInFirst, viewer, wants_fragment

__all__ = ["install"]

STATIC = Path(__file__).parent / "static"
Handler = Callable[[Request, Exception], Response | Awaitable[Response]]
_STATUS = {"not_found": 404, "forbidden": 403, "no_work_available": 404, "unauthenticated": 401}


def install(app: FastAPI) -> None:
    """Mount the pages and their static files; the API under /v1 keeps its own errors."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    pages = (
        pages_auth,
        pages_worker,
        pages_requester,
        pages_campaign,
        pages_settings,
        pages_data,
        pages_deposit,
    )
    for module in (*pages, pages_operator):
        app.include_router(module.router)
    api_errors = cast(Handler | None, app.exception_handlers.get(EarnestError))

    async def on_sign_in_first(request: Request, exc: Exception) -> Response:
        if wants_fragment(request) or request.headers.get("accept") == "application/json":
            # A script cannot follow a redirect to a page: tell it, so it can say so.
            return JSONResponse({"detail": "your session ended: sign in again"}, status_code=401)
        target = exc.next_url if isinstance(exc, SignInFirst) else "/"
        return RedirectResponse(f"/signin?next={quote(target)}", status_code=303)

    async def on_error(request: Request, exc: Exception) -> Response:
        # A page shows an error as a page; the API and the pages' scripts get problem JSON.
        is_page = request.method == "GET" and not request.url.path.startswith(("/v1/", "/static/"))
        if not (is_page and isinstance(exc, EarnestError)) and api_errors is not None:
            return await _call(api_errors, request, exc)
        title, detail = getattr(exc, "title", "Error"), getattr(exc, "detail", str(exc))
        who = viewer(request, request.app.state.market)
        status = _STATUS.get(getattr(exc, "code", ""), 400)
        return page(request, "error.html", who, status, title=title, detail=detail)

    app.add_exception_handler(SignInFirst, on_sign_in_first)
    app.add_exception_handler(EarnestError, on_error)


async def _call(handler: Handler, request: Request, exc: Exception) -> Response:
    response = handler(request, exc)
    return await response if isawaitable(response) else response
