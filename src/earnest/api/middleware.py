"""ASGI middleware: request body limits, and Idempotency-Key on every POST (rate limits: ratelimit)."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Awaitable, Callable
from typing import IO, Any

from anyio import to_thread
from starlette.exceptions import HTTPException

from earnest.api.problems import problem
from earnest.domain.errors import Conflict, IdempotencyConflict
from earnest.services.ports import Clock, Store

UPLOAD_SPOOL_IN_MEMORY = 8 << 20
# Answers holding a secret keep no Idempotency-Key record, which would hold the secret in
# clear in the database and replay it to whoever repeats the request. Sign-in: a retried
# challenge gets another (valid) one, a retried session POST is refused (the nonce is spent)
# and the SDK signs in afresh. A new API key: a retry creates another key, and the one whose
# answer was lost can be revoked (the store keeps only its hash). See docs/security.md.
UNRECORDED_PATHS = frozenset({"/v1/auth/challenge", "/v1/auth/session", "/v1/api-keys"})

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def is_upload(scope: Scope) -> bool:
    return bool(scope["method"] == "POST" and scope["path"].endswith("/tasks"))


async def _problem(send: Send, status: int, code: str, title: str, detail: str) -> None:
    """Answer with a problem JSON from inside a middleware (no route, no exception handler)."""
    await problem(status, title, detail, code)({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


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
    """A POST with an Idempotency-Key runs once per credential; a retry gets the first answer."""

    def __init__(self, app: App, *, store: Store, clock: Clock) -> None:
        self.app, self.store, self.clock = app, store, clock

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
        owner = header(scope, b"authorization") or "anonymous"
        slot = hashlib.sha256(f"{owner}\n{key}".encode()).hexdigest()
        if not is_upload(scope):
            body, replay = await _buffer(receive)
            return await self._once(scope, replay, send, slot, body)
        with tempfile.SpooledTemporaryFile(max_size=UPLOAD_SPOOL_IN_MEMORY) as spool:
            digest, replay = await _spool(receive, spool)
            await self._once(scope, replay, send, slot, digest)

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

    def _save(self, slot: str, status: int, body: bytes) -> None:
        with self.store.uow(single=True) as uow:
            if status >= 500 or status == 429:
                # A server fault or "too many requests" is not an answer: let a retry run.
                uow.idempotency.forget(slot)
            else:
                uow.idempotency.finish(slot, status, body)
            uow.commit()

    async def _run_and_remember(
        self, scope: Scope, receive: Receive, send: Send, slot: str
    ) -> None:
        status = 500
        chunks: list[bytes] = []

        saved = False

        async def capture(message: Message) -> None:
            nonlocal status, saved
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    # Recorded before the client sees the answer, so an immediate retry
                    # is replayed instead of finding the request still "in progress".
                    await to_thread.run_sync(self._save, slot, status, b"".join(chunks))
                    saved = True
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if not saved:
                await to_thread.run_sync(self._save, slot, status, b"".join(chunks))


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
