"""Solana's PubSub websocket API over a LocalChain, for web3.js, kit and wallets.

Subscriptions (account, signature, logs, program, slot, root) answer with an id and are
notified in Solana's shapes (`{"method": "<kind>Notification", "params": {"result": ...,
"subscription": id}}`). The runtime tells `PubSub` of every landed transaction and every
new slot from whichever thread ran it; each connection has a queue its websocket drains.
One node without forks: a transaction is final once it lands, so every commitment is told
at once and the root is the latest slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from earnest.adapters.chain import rpc_encode, rpc_filters
from earnest.adapters.chain.rpc_methods import SOLANA_CORE_VERSION, pubkey
from earnest.adapters.chain.rpc_server import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    Params,
    RpcError,
    invalid,
)
from earnest.adapters.chain.runtime import Runtime
from earnest.adapters.chain.state import StoredTransaction

log = logging.getLogger("earnest.chain.pubsub")
_QUEUE = 10_000  # messages a connection may have waiting; past that it is closed
_MAX_SUBSCRIPTIONS = 10_000  # per connection
_CLOSED = Account(0, b"", SYSTEM_PROGRAM_ID)  # how Solana shows an account that was closed
Json = dict[str, Any]


class Client:
    """One websocket connection: its outgoing queue, fed from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(_QUEUE)
        self.subscriptions: set[int] = set()

    def send(self, message: Json) -> None:
        """Queue `message` for the client (thread-safe; dropped once it is gone)."""
        with contextlib.suppress(RuntimeError):  # the loop closed: the client is gone
            self._loop.call_soon_threadsafe(self._put, json.dumps(message))

    def _put(self, text: str) -> None:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:  # a client that reads nothing is let go
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


@dataclass
class _Subscription:
    kind: str  # account, signature, logs, program, slot, root
    client: Client
    key: Any = None  # the address, signature, program or logs filter
    config: Json = field(default_factory=dict)
    filters: list[rpc_filters.Filter] = field(default_factory=list)


class PubSub:
    """The subscriptions of every connection, told of the runtime's transactions and slots."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._subscriptions: dict[int, _Subscription] = {}
        runtime.listen(self)

    def connect(self, loop: asyncio.AbstractEventLoop) -> Client:
        return Client(loop)

    def disconnect(self, client: Client) -> None:
        with self._lock:
            for ident in client.subscriptions:
                self._subscriptions.pop(ident, None)
            client.subscriptions.clear()

    def handle(self, client: Client, text: str) -> None:
        """Answer one message of the client (its answers and notifications are queued)."""
        try:
            call = json.loads(text)
        except (ValueError, RecursionError):
            client.send(_error(None, RpcError(PARSE_ERROR, "Parse error")))
            return
        if not isinstance(call, dict) or call.get("jsonrpc") != "2.0":
            client.send(_error(None, RpcError(INVALID_REQUEST, "Invalid request")))
            return
        method, ident = call.get("method"), call.get("id")
        if "id" not in call:
            return  # a notification, such as the clients' keep-alive "ping": nothing to answer
        try:
            if not isinstance(method, str):
                raise RpcError(INVALID_REQUEST, "Invalid request")
            params = Params(call.get("params"))
            if method.endswith("Unsubscribe"):
                result: Any = self._unsubscribe(client, method[: -len("Unsubscribe")], params)
                client.send({"jsonrpc": "2.0", "result": result, "id": ident})
                return
            subscription = self._parse(client, method, params)
        except RpcError as exc:
            client.send(_error(ident, exc))
            return
        with self._lock:
            if len(client.subscriptions) >= _MAX_SUBSCRIPTIONS:
                client.send(_error(ident, invalid("Too many subscriptions on this connection")))
                return
            number = next(self._ids)
            self._subscriptions[number] = subscription
            client.subscriptions.add(number)
        client.send({"jsonrpc": "2.0", "result": number, "id": ident})
        if subscription.kind == "signature":
            stored = self._runtime.stored(subscription.key)
            if stored is not None:  # it landed before the client asked: tell it at once
                self._tell_signature(number, subscription, stored)

    def _parse(self, client: Client, method: str, params: Params) -> _Subscription:
        if method == "accountSubscribe":
            address, config = pubkey(params, 0), params.config(1)
            rpc_encode.check_encoding(config)
            return _Subscription("account", client, address, config)
        if method == "signatureSubscribe":
            text, config = params.string(0), params.config(1)
            try:
                signature = str(Signature.from_string(text))
            except ValueError as exc:
                raise invalid("Invalid param: Invalid") from exc
            return _Subscription("signature", client, signature, config)
        if method == "logsSubscribe":
            return _Subscription("logs", client, _logs_filter(params.required(0)), params.config(1))
        if method == "programSubscribe":
            program, config = pubkey(params, 0), params.config(1)
            rpc_encode.check_encoding(config)
            filters = rpc_filters.parse(config.get("filters"))
            return _Subscription("program", client, program, config, filters)
        if method in ("slotSubscribe", "rootSubscribe"):
            return _Subscription(method[: -len("Subscribe")], client)
        raise RpcError(METHOD_NOT_FOUND, "Method not found")

    def _unsubscribe(self, client: Client, kind: str, params: Params) -> bool:
        number = params.integer(0)
        with self._lock:
            found = self._subscriptions.get(number)
            if found is None or found.client is not client or found.kind != kind:
                raise RpcError(INVALID_PARAMS, "Invalid subscription id.")
            del self._subscriptions[number]
            client.subscriptions.discard(number)
        return True

    # Listener: called by the runtime, from the thread that ran the transaction or slot.

    def landed(
        self,
        stored: StoredTransaction,
        addresses: list[Pubkey],
        changed: dict[Pubkey, Account | None],
    ) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions.items())
        if not subscriptions:
            return
        details = json.loads(stored.details or "{}")
        mentioned = set(addresses)
        for number, sub in subscriptions:
            if sub.kind == "signature" and sub.key == stored.signature:
                self._tell_signature(number, sub, stored)
            elif sub.kind == "logs" and (sub.key is None or sub.key in mentioned):
                value = {
                    "signature": stored.signature,
                    "err": details.get("err"),
                    "logs": details.get("logMessages") or [],
                }
                self._tell(number, sub, "logs", _context(stored.slot, value))
            elif sub.kind == "account" and sub.key in changed:
                value = self._account(changed[sub.key], sub.config)
                self._tell(number, sub, "account", _context(stored.slot, value))
            elif sub.kind == "program":
                for address, account in changed.items():
                    if account is None or account.owner != sub.key:
                        continue
                    if not rpc_filters.matches(sub.filters, account):
                        continue
                    value = {"pubkey": str(address), "account": self._account(account, sub.config)}
                    self._tell(number, sub, "program", _context(stored.slot, value))

    def slot(self, slot: int) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions.items())
        for number, sub in subscriptions:
            if sub.kind == "slot":
                self._tell(
                    number, sub, "slot", {"parent": max(slot - 1, 0), "root": slot, "slot": slot}
                )
            elif sub.kind == "root":
                self._tell(number, sub, "root", slot)

    def _tell_signature(self, number: int, sub: _Subscription, stored: StoredTransaction) -> None:
        with self._lock:  # a signature is told once, then its subscription ends (as Solana's)
            if self._subscriptions.pop(number, None) is None:
                return
            sub.client.subscriptions.discard(number)
        err = json.loads(stored.details or "{}").get("err") if stored.details else None
        if not stored.ok and err is None:
            err = rpc_encode.UNKNOWN_FAILURE
        self._tell(number, sub, "signature", _context(stored.slot, {"err": err}))

    def _account(self, account: Account | None, config: Json) -> Json:
        return rpc_encode.account(account or _CLOSED, config, self._runtime.decimals_of)

    @staticmethod
    def _tell(number: int, sub: _Subscription, kind: str, result: Any) -> None:
        params = {"result": result, "subscription": number}
        sub.client.send({"jsonrpc": "2.0", "method": f"{kind}Notification", "params": params})


def _logs_filter(raw: Any) -> Pubkey | None:
    """None for every transaction ("all", "allWithVotes"), or the one address mentioned."""
    if raw in ("all", "allWithVotes"):
        return None
    if isinstance(raw, dict) and isinstance(raw.get("mentions"), list):
        mentions = raw["mentions"]
        if len(mentions) != 1:
            raise invalid("Invalid Request: Only 1 address supported")
        return pubkey(Params(mentions), 0)
    raise invalid('Invalid params: expected `all`, `allWithVotes` or `{"mentions": [...]}`.')


def _context(slot: int, value: Any) -> Json:
    return {"context": {"slot": slot, "apiVersion": SOLANA_CORE_VERSION}, "value": value}


def _error(ident: Any, error: RpcError) -> Json:
    return {"jsonrpc": "2.0", "error": error.as_json(), "id": ident}


def endpoint(pubsub: PubSub) -> Callable[[WebSocket], Any]:
    """The ASGI websocket endpoint serving `pubsub` (see rpc_server.create_rpc_app)."""

    async def serve(websocket: WebSocket) -> None:
        await websocket.accept()
        client = pubsub.connect(asyncio.get_running_loop())
        writer = asyncio.create_task(_drain(websocket, client))
        try:
            while True:
                text = await websocket.receive_text()
                # Subscribing may read the runtime, which blocks: keep the loop free.
                await run_in_threadpool(pubsub.handle, client, text)
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client went away (or sent a frame that was not text)
        finally:
            pubsub.disconnect(client)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer

    return serve


async def _drain(websocket: WebSocket, client: Client) -> None:
    while True:
        text = await client.queue.get()
        if text is None:
            log.warning("a websocket client fell %d messages behind: closed", _QUEUE)
            await websocket.close(code=1008)
            return
        await websocket.send_text(text)
