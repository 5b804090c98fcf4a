"""solana-py's AsyncClient behind a synchronous call, with bounded retries on HTTP 429.

Why a private event loop thread: solana-py 0.41 ships only the asynchronous client, while
the `Chain` port is synchronous (the settler is a thread, the API calls it from a thread
pool). `asyncio.run` per call would build a new loop and a new connection pool each time,
and httpx's pooled connections belong to the loop that opened them. One long-lived loop
thread owns one AsyncClient (one pool, HTTP keep-alive) shared by every calling thread;
each call waits for its own future with a timeout, so no caller can hang forever.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment
from solana.rpc.core import RPCException

from earnest.domain.errors import ChainError

log = logging.getLogger("earnest.chain.rpc")
T = TypeVar("T")

_TOO_MANY_REQUESTS = 429
_FIRST_DELAY = 0.25  # seconds before the first retry; doubles each time
_MAX_DELAY = 8.0  # longest wait between retries, whatever Retry-After asks for


# Loggers that write the request URL: httpx2 at INFO for every request, solana-py on sends.
_URL_LOGGERS = ("httpx2", "solana.rpc.async_http_provider")


def redact(url: str) -> str:
    """`url` without path, query or credentials: providers put API keys there."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


class _Redact(logging.Filter):
    """Masks, in log records, the parts of the RPC URL that may hold an API key."""

    def __init__(self, url: str) -> None:
        super().__init__()
        parts = urlsplit(url)
        pieces = (parts.query, parts.path.strip("/"), parts.username, parts.password)
        self._secrets = [p for p in pieces if p and len(p) >= 3]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self._secrets):
            for secret in self._secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


class RpcBridge:
    """One AsyncClient on its own event loop thread, called from any thread."""

    def __init__(
        self,
        url: str,
        *,
        commitment: str,
        timeout: float = 15.0,
        retries: int = 5,
        first_delay: float = _FIRST_DELAY,
    ) -> None:
        self.endpoint = redact(url)
        self._redact = _Redact(url)
        for name in _URL_LOGGERS:
            logging.getLogger(name).addFilter(self._redact)
        self._timeout = timeout
        self._retries = retries
        self._first_delay = first_delay
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="earnest-rpc-loop", daemon=True
        )
        self._thread.start()
        self._client: AsyncClient = self._run(_open(url, Commitment(commitment), timeout))

    def call(self, method: str, request: Callable[[AsyncClient], Awaitable[T]]) -> T:
        """Run one RPC request; HTTP 429 is retried with backoff, a bounded number of times.

        Raises ChainError; for a refused transaction `extra["tx_error"]` holds Solana's JSON of
        the transaction error (e.g. "BlockhashNotFound", "AlreadyProcessed").
        """
        for attempt in range(self._retries + 1):
            try:
                return self._run(request(self._client))
            except SolanaRpcException as exc:
                status, wait = _http_status(exc)
                if status != _TOO_MANY_REQUESTS or attempt == self._retries:
                    reason = f"HTTP {status}" if status else type(exc.__cause__).__name__
                    raise ChainError(f"{method} at {self.endpoint} failed: {reason}") from exc
                backoff = self._first_delay * 2**attempt
                delay = min(backoff if wait is None else wait, _MAX_DELAY)
                log.warning("%s at %s: HTTP 429, retry in %.2fs", method, self.endpoint, delay)
                time.sleep(delay)
            except RPCException as exc:
                message, tx_error = _refusal(exc)
                raise ChainError(
                    f"{method} at {self.endpoint} refused: {message}", tx_error=tx_error
                ) from exc
        raise AssertionError("unreachable: the last attempt returns or raises")

    def close(self) -> None:
        """Close the client's connections and stop the loop thread."""
        if self._loop.is_closed():
            return
        try:
            self._run(self._client.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=self._timeout)
            self._loop.close()
            for name in _URL_LOGGERS:
                logging.getLogger(name).removeFilter(self._redact)

    def _run(self, work: Awaitable[T]) -> T:
        future = asyncio.run_coroutine_threadsafe(_awaited(work), self._loop)
        try:
            # The HTTP timeout bounds each request; this bounds the whole call once more.
            return future.result(timeout=self._timeout * 2 + 1)
        except TimeoutError as exc:
            future.cancel()
            raise ChainError(f"no answer from {self.endpoint} in time") from exc


async def _open(url: str, commitment: Commitment, timeout: float) -> AsyncClient:
    # Created on the loop thread, so its connection pool belongs to that loop.
    return AsyncClient(url, commitment=commitment, timeout=timeout)


async def _awaited(work: Awaitable[T]) -> T:
    return await work


def _refusal(exc: RPCException) -> tuple[str, Any]:
    """The node's error message, and the transaction error of a failed preflight if any."""
    error = exc.args[0] if exc.args else None
    try:
        body = json.loads(error.to_json())  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        return str(error), None
    data = body.get("data")
    return str(body.get("message", error)), data.get("err") if isinstance(data, dict) else None


def _http_status(exc: SolanaRpcException) -> tuple[int | None, float | None]:
    """The HTTP status behind a transport error and the Retry-After it asked for, if any."""
    response: Any = getattr(exc.__cause__, "response", None)
    if response is None:
        return None, None
    retry_after = response.headers.get("retry-after", "")
    try:
        wait = float(retry_after) if retry_after else None
    except ValueError:
        wait = None  # an HTTP date: fall back to our own backoff
    return int(response.status_code), wait
