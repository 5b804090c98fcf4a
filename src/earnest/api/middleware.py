"""ASGI middleware: request body limits, and Idempotency-Key on every POST (rate limits: ratelimit)."""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from functools import partial
from typing import IO

from anyio import to_thread
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser
from starlette.types import ASGIApp as App
from starlette.types import Message, Receive, Scope, Send

from earnest.api.problems import OUTAGE, problem, unavailable
from earnest.domain.errors import Conflict, IdempotencyConflict, Unauthenticated, Unavailable
from earnest.services.identity import SessionCache, authenticate, cached_session
from earnest.services.ports import Clock, HeldCommit, Store

UPLOAD_SPOOL_IN_MEMORY = 8 << 20
# Answers holding a secret keep no Idempotency-Key record, which would hold the secret in
# clear in the database and replay it to whoever repeats the request. Sign-in: a retried
# challenge gets another (valid) one, a retried session POST is refused (the nonce is spent)
# and the SDK signs in afresh. A new API key (API or page): a retry creates another key, and
# the one whose answer was lost can be revoked (the store keeps only its hash). Sign-in and
# sign-out pages set or clear the cookie. Any other answer that sets a cookie is not kept
# either. See docs/security.md, "Requests and sign-in".
UNRECORDED_PATHS = frozenset(
    {
        "/v1/auth/challenge",
        "/v1/auth/session",
        "/v1/api-keys",
        "/dashboard/keys",
        "/session",
        "/signout",
    }
)
UNKEPT = -1  # the status an answer not to keep is recorded with (_save forgets it)
SESSION_COOKIE = "earnest_session"  # web.session.COOKIE (the web package imports the api)


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def credential_of(scope: Scope) -> str:
    """The bearer token or API key, else the session cookie, else ''."""
    authorization = header(scope, b"authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else authorization
    cookies = header(scope, b"cookie")
    return cookie_parser(cookies).get(SESSION_COOKIE, "") if cookies else ""


def is_upload(scope: Scope) -> bool:
    return bool(scope["method"] == "POST" and scope["path"].endswith("/tasks"))


async def _problem(send: Send, status: int, code: str, title: str, detail: str) -> None:
    """Answer with a problem JSON from inside a middleware (no route, no exception handler)."""
    await problem(status, title, detail, code)({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class Outages:
    """Outermost: a database outage met outside a route (in a middleware: the session, the
    Idempotency-Key record) answers 503 too, with no traceback; the first answer that is not
    a server error after an outage logs that the database is back (problems.Outage)."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] < 500:
                    OUTAGE.up()
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Unavailable as exc:
            if started:
                raise
            await unavailable(exc)(scope, _no_body, send)


class BodyLimit:
    """Refuse bodies over the limit (413) before a route reads them whole."""

    def __init__(self, app: App, *, max_body: int, max_upload: int) -> None:
        self.app, self.max_body, self.max_upload = app, max_body, max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.max_upload if is_upload(scope) else self.max_body
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _problem(
                send, 413, "too_large", "Request body too large", f"the limit is {limit} bytes"
            )
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge(limit)
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge as exc:
            await _problem(
                send, 413, "too_large", "Request body too large", f"the limit is {exc.limit} bytes"
            )


class _TooLarge(HTTPException):
    """An HTTPException, so that FastAPI's body parsing lets it through as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the limit is {limit} bytes")
        self.limit = limit


class Idempotency:
    """A POST with an Idempotency-Key runs once per principal; a retry gets the first answer.

    The principal is the verified caller (wallet and credential kind), from a bearer token,
    an API key or the session cookie alike: never the raw header, which anyone can send.
    A request with no valid credential keeps no record (it runs every time: the anonymous
    POSTs are sign-in steps, which hold secrets and must not be replayed anyway)."""

    def __init__(
        self, app: App, *, store: Store, clock: Clock, sessions: SessionCache | None = None
    ) -> None:
        self.app, self.store, self.clock, self.sessions = app, store, clock, sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] in UNRECORDED_PATHS
            or (key := header(scope, b"idempotency-key")) is None
        ):
            return await self.app(scope, receive, send)
        if not 1 <= len(key) <= 200:
            return await _problem(
                send,
                422,
                "invalid_input",
                "Invalid input",
                "Idempotency-Key must be 1 to 200 characters",
            )
        owner = await self._principal(scope)
        if owner is None:
            return await self.app(scope, receive, send)
        slot = hashlib.sha256(f"{owner}\n{key}".encode()).hexdigest()
        if not is_upload(scope):
            body, replay = await _buffer(receive)
            return await self._once(scope, replay, send, slot, body)
        with tempfile.SpooledTemporaryFile(max_size=UPLOAD_SPOOL_IN_MEMORY) as spool:
            digest, replay = await _spool(receive, spool)
            await self._once(scope, replay, send, slot, digest)

    async def _principal(self, scope: Scope) -> str | None:
        """Who the request is from, verified: "address credential-kind", or None."""
        credential = credential_of(scope)
        if not credential:
            return None
        sessions = self.sessions or _sessions_of(scope)
        who = cached_session(credential, clock=self.clock, sessions=sessions) if sessions else None
        if who is None:
            ask = partial(
                authenticate, credential, store=self.store, clock=self.clock, sessions=sessions
            )
            try:
                who = await to_thread.run_sync(ask)
            except Unauthenticated:
                return None  # the route refuses it; nothing worth replaying
        return f"{who.address} {who.credential}"

    async def _once(
        self, scope: Scope, receive: Receive, send: Send, slot: str, body: bytes
    ) -> None:
        fingerprint = hashlib.sha256(
            b"\n".join(
                [
                    scope["method"].encode(),
                    scope["path"].encode(),
                    scope.get("query_string", b""),
                    body,
                ]
            )
        ).hexdigest()
        try:
            record = await to_thread.run_sync(self._claim, slot, fingerprint)
        except IdempotencyConflict as exc:
            status = 422 if exc.extra.get("mismatch") else 409
            return await _problem(send, status, exc.code, exc.title, exc.detail)
        if record is not None:
            return await _replay(send, *record)
        await self._run_and_remember(scope, receive, send, slot)

    def _claim(self, slot: str, fingerprint: str) -> tuple[int, bytes] | None:
        try:
            # One statement each (claim, then finish or forget): no transaction around them.
            with self.store.uow(single=True) as uow:
                found = uow.idempotency.claim(slot, fingerprint, self.clock.now())
                uow.commit()
            if found is None:
                return None
        except Conflict as exc:
            raise IdempotencyConflict("a request with this Idempotency-Key is in progress") from exc
        if found.fingerprint != fingerprint:
            raise IdempotencyConflict(
                "this Idempotency-Key was used for a different request", mismatch=True
            )
        if found.status_code is None or found.body is None:
            raise IdempotencyConflict("a request with this Idempotency-Key is in progress")
        return found.status_code, found.body

    def _save(self, held: HeldCommit, slot: str, status: int, body: bytes) -> None:
        if held.recorded:
            return  # the route wrote it, with its effects (api/recorded.py)
        if status >= 500 or status == 429 or status == UNKEPT:
            # A server fault or "too many requests" is not an answer: let a retry run.
            held.record(lambda records: records.forget(slot))
        else:
            held.record(lambda records: records.finish(slot, status, body))

    async def _run_and_remember(
        self, scope: Scope, receive: Receive, send: Send, slot: str
    ) -> None:
        status = 500
        start: Message | None = None
        chunks: list[bytes] = []
        saved = False
        lost: Unavailable | None = None  # the record could not be written: an outage

        async def capture(message: Message) -> None:
            nonlocal status, saved, start, lost
            if message["type"] == "http.response.start":
                start, status = message, message["status"]
                if any(k.lower() == b"set-cookie" for k, _ in message.get("headers", [])):
                    status = UNKEPT  # it may set a session token: not kept (_save forgets it)
                return  # sent with the body, once the record is written
            if message["type"] != "http.response.body" or start is None:
                return await send(message)
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            # Written (by a @recorded route with its effects, or here) before the client
            # sees the answer, so an immediate retry is replayed instead of finding the
            # request still "in progress". Should that fail, the client sees the failure
            # (503 in an outage), not an answer that was not recorded.
            try:
                await to_thread.run_sync(self._save, held, slot, status, body)
            except Unavailable as exc:
                # Raised here, inside the route's own send, the route's error handling
                # would see a response already started (a 500 and a traceback): it is
                # raised once the route is done instead, and answers 503 (Outages).
                lost = exc
                return
            saved = True
            await send(start)
            await send({"type": "http.response.body", "body": body})

        with self.store.held(slot) as held:
            try:
                await self.app(scope, receive, capture)
            finally:
                if not saved and lost is None:
                    # In an outage the record stays "in progress" until its lease runs out.
                    with contextlib.suppress(Unavailable):
                        await to_thread.run_sync(self._save, held, slot, status, b"".join(chunks))
            if lost is not None:
                raise lost


def _sessions_of(scope: Scope) -> SessionCache | None:
    """The app's session cache (api.app puts it in the app's state)."""
    state = getattr(scope.get("app"), "state", None)
    return getattr(state, "sessions", None)


async def _spool(receive: Receive, spool: IO[bytes]) -> tuple[bytes, Receive]:
    """Spool an upload to `spool` while hashing it; replay it to the app in chunks."""
    digest = hashlib.sha256()
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        digest.update(chunk)
        await to_thread.run_sync(spool.write, chunk)
        if not message.get("more_body"):
            break
    spool.seek(0)

    async def replay() -> Message:
        chunk = await to_thread.run_sync(spool.read, 1 << 20)
        return {"type": "http.request", "body": chunk, "more_body": len(chunk) == 1 << 20}

    return digest.hexdigest().encode(), replay


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    """Read the body to fingerprint it (uploads are spooled instead: see _spool)."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(parts)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


async def _replay(send: Send, status: int, body: bytes) -> None:
    media = b"application/problem+json" if status >= 400 else b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", media), (b"idempotent-replayed", b"true")],
        }
    )
    await send({"type": "http.response.body", "body": body})
