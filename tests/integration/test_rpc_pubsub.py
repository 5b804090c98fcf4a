"""`earnest chain serve`'s PubSub websocket API, with the `websockets` client as consumer:
Solana's subscribe answers and notification shapes, one message at a time."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from websockets.sync.client import ClientConnection, connect

from tests.rpc_helpers import Node, running_node


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    with running_node(tmp_path, slot_seconds=3600) as served:  # slots only when produced
        yield served


@pytest.fixture
def ws(node: Node) -> Iterator[ClientConnection]:
    with connect(node.url.replace("http", "ws"), open_timeout=10) as conn:
        yield conn


def _rpc(node: Node, method: str, params: Any) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    return httpx.post(node.url, json=body, timeout=10).json()["result"]


def _ask(ws: ClientConnection, method: str, params: Any = None, ident: int = 1) -> Any:
    ws.send(json.dumps({"jsonrpc": "2.0", "id": ident, "method": method, "params": params or []}))
    return _next(ws)


def _next(ws: ClientConnection) -> Any:
    return json.loads(ws.recv(timeout=10))


def test_subscriptions_are_told_of_a_transfer_and_of_the_slot_it_closes(
    node: Node, ws: ClientConnection
) -> None:
    assert node.rpc is not None
    payee = Keypair()
    slot = _ask(ws, "slotSubscribe")["result"]
    root = _ask(ws, "rootSubscribe")["result"]
    account = _ask(ws, "accountSubscribe", [str(payee.pubkey()), {"encoding": "base64"}])["result"]
    logs = _ask(ws, "logsSubscribe", [{"mentions": [str(payee.pubkey())]}])["result"]
    program = _ask(ws, "programSubscribe", [str(SYSTEM_PROGRAM_ID), {"encoding": "base64"}])
    ws.send(json.dumps({"jsonrpc": "2.0", "method": "ping"}))  # clients' keep-alive: no answer
    assert len({slot, root, account, logs, program["result"]}) == 5
    signature = _rpc(node, "requestAirdrop", [str(payee.pubkey()), 5 * 10**6])
    sig = _ask(ws, "signatureSubscribe", [signature, {"commitment": "confirmed"}])["result"]
    landed_in = _rpc(node, "getSlot", [])
    node.rpc.produce_block()  # the airdrop lands as its slot closes
    told: dict[str, Any] = {}
    for _ in range(10):  # the airdrop touches two system accounts: two program notifications
        message = _next(ws)
        told.setdefault(message["method"], message["params"])
        if len(told) == 6:
            break
    assert told["accountNotification"]["subscription"] == account
    value = told["accountNotification"]["result"]["value"]
    assert value["lamports"] == 5 * 10**6 and value["data"] == ["", "base64"]
    assert value["owner"] == str(SYSTEM_PROGRAM_ID)
    assert told["logsNotification"]["result"]["value"]["signature"] == signature
    assert told["logsNotification"]["result"]["value"]["err"] is None
    assert told["logsNotification"]["result"]["value"]["logs"]
    assert told["programNotification"]["result"]["value"]["account"]["owner"] == str(
        SYSTEM_PROGRAM_ID
    )
    assert told["signatureNotification"]["subscription"] == sig
    assert told["signatureNotification"]["result"]["value"] == {"err": None}
    assert told["signatureNotification"]["result"]["context"]["slot"] == landed_in
    assert told["slotNotification"]["result"] == {
        "parent": landed_in,
        "root": landed_in + 1,
        "slot": landed_in + 1,
    }
    assert told["rootNotification"] == {"subscription": root, "result": landed_in + 1}


def test_a_signature_that_landed_before_its_subscription_is_told_once_at_once(
    node: Node, ws: ClientConnection
) -> None:
    signature = _rpc(node, "requestAirdrop", [str(Keypair().pubkey()), 10**6])
    assert node.rpc is not None
    node.rpc.produce_block()
    sub = _ask(ws, "signatureSubscribe", [signature])["result"]
    told = _next(ws)
    assert told["method"] == "signatureNotification" and told["params"]["subscription"] == sub
    assert told["params"]["result"]["value"] == {"err": None}
    # Told once, a signature subscription is over, as on Solana.
    gone = _ask(ws, "signatureUnsubscribe", [sub], ident=2)
    assert gone["error"] == {"code": -32602, "message": "Invalid subscription id."}


def test_unsubscribe_stops_notifications_and_errors_have_solanas_codes(
    node: Node, ws: ClientConnection
) -> None:
    address = str(Keypair().pubkey())
    sub = _ask(ws, "accountSubscribe", [address])["result"]
    assert _ask(ws, "accountUnsubscribe", [sub], ident=2) == {
        "jsonrpc": "2.0",
        "result": True,
        "id": 2,
    }
    assert _ask(ws, "nosuchSubscribe", [], ident=3)["error"]["code"] == -32601
    assert _ask(ws, "accountSubscribe", ["not-an-address"], ident=4)["error"]["code"] == -32602
    assert _ask(ws, "logsSubscribe", [{"mentions": [address, address]}], ident=5)["error"] == {
        "code": -32602,
        "message": "Invalid Request: Only 1 address supported",
    }
    _rpc(node, "requestAirdrop", [address, 10**6])
    slot = _ask(ws, "slotSubscribe", ident=6)["result"]
    assert node.rpc is not None
    node.rpc.produce_block()  # the airdrop lands
    message = _next(ws)  # the account's change is not told any more: the slot comes first
    assert message["method"] == "slotNotification" and message["params"]["subscription"] == slot


def test_the_websocket_sends_account_data_base64_encoded(node: Node, ws: ClientConnection) -> None:
    """A token account's notification in base64 decodes to its 165 bytes."""
    owner = str(Keypair().pubkey())
    vault = node.local.token_account(owner)
    sub = _ask(ws, "accountSubscribe", [vault, {"encoding": "base64"}])["result"]
    node.local.faucet(owner, 7)  # the market's own transaction is told too
    told = _next(ws)
    assert told["params"]["subscription"] == sub
    data, encoding = told["params"]["result"]["value"]["data"]
    assert encoding == "base64" and len(base64.b64decode(data)) == 165


def test_hostile_frames_get_an_error_each_and_the_connection_keeps_answering(
    node: Node, ws: ClientConnection
) -> None:
    """Not JSON, JSON nested 100,000 deep, a list, a wrong version: each one error, no crash."""
    for frame, code in [
        ("not json", -32700),
        ("[" * 100_000 + "]" * 100_000, -32700),
        ("[1, 2]", -32600),
        ('{"jsonrpc": "1.0", "id": 1, "method": "slotSubscribe"}', -32600),
        ('{"jsonrpc": "2.0", "id": 1, "method": 7}', -32600),
    ]:
        ws.send(frame)
        assert _next(ws)["error"]["code"] == code, frame[:40]
    assert isinstance(_ask(ws, "slotSubscribe", ident=9)["result"], int)
