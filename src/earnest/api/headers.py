"""Security headers on every response: CSP, framing, sniffing, referrer, caching.

The rule for caching is one line: every answer is `Cache-Control: no-store` except the
static assets under /static/ (versioned by `?v=`, public, no secret). Pages and API answers
are per viewer and may hold a secret (the API keys page, a session token, an address), so
no browser or proxy keeps a copy. See docs/security.md, "Headers".
"""

from __future__ import annotations

from starlette.types import ASGIApp as App
from starlette.types import Message, Receive, Scope, Send

# No inline script, style or handler anywhere: the pages load /static/*.js and app.css only.
# img-src stops a requester's external image from loading in a worker's browser (a tracking
# pixel, the worker's address); blob: is the local report's photo preview, data: the samples.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
# FastAPI's Swagger UI page loads its script and style from jsDelivr and starts with an inline
# script. It shows only the public OpenAPI document, so it alone gets this policy (/redoc keeps
# the strict one and does not render: /docs is the API page the footer links to).
DOCS_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src https://cdn.jsdelivr.net 'unsafe-inline'",
        "style-src https://cdn.jsdelivr.net",
        "img-src 'self' data: https://fastapi.tiangolo.com",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})
STATIC_PREFIX = "/static/"

_ALWAYS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # same-origin: a link in task data (an external image is shown as a link) must not tell
    # its host which task page, campaign or receipt the worker came from. Not no-referrer:
    # under it browsers send "Origin: null" with the pages' own POSTs, which the web's CSRF
    # check (same_origin) rightly refuses.
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    """The security headers an answer at this path carries."""
    csp = DOCS_CSP if path in DOCS_PATHS else CSP
    found = [(b"content-security-policy", csp.encode()), *_ALWAYS]
    if not path.startswith(STATIC_PREFIX):
        found.append((b"cache-control", b"no-store"))
    return found


class SecurityHeaders:
    """Add the security headers to every HTTP answer (a route's own value wins)."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = headers_for(scope["path"])

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {key.lower() for key, _ in message.get("headers", [])}
                added = [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, with_headers)
