"""`earnest chain serve`'s slot clock: a block per slot, a new blockhash per slot, each valid
for 150 blocks as on a cluster, and block times from the wall clock.

The node's clock runs by hand here (`produce_block`), so each step is one slot.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.system_program import TransferParams, transfer

from earnest.adapters.chain import payout
from earnest.adapters.chain.runtime import BLOCKHASH_LIFETIME
from tests.rpc_helpers import Node, running_node


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    with running_node(tmp_path, slot_seconds=3600) as served:  # slots only when produced
        yield served


def _call(node: Node, method: str, params: Any = None) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
    answer = httpx.post(node.url, json=body, timeout=10).json()
    assert "error" not in answer, answer
    return answer["result"]


def _payment(payer: Keypair, to: Keypair, blockhash: str) -> str:
    move = transfer(
        TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to.pubkey(), lamports=10**6)
    )
    tx = payout.sign([move], [payer], Hash.from_string(blockhash))
    return base64.b64encode(bytes(tx)).decode()


def _send(node: Node, raw: str) -> Any:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "sendTransaction",
        "params": [raw, {"encoding": "base64"}],
    }
    return httpx.post(node.url, json=body, timeout=10).json()


def test_every_slot_has_its_own_blockhash_valid_for_150_blocks(node: Node) -> None:
    assert node.rpc is not None
    first = _call(node, "getLatestBlockhash")
    height = _call(node, "getBlockHeight")
    assert first["value"]["lastValidBlockHeight"] == height + BLOCKHASH_LIFETIME
    node.rpc.produce_block()  # an idle slot passes all the same
    second = _call(node, "getLatestBlockhash")
    assert second["value"]["blockhash"] != first["value"]["blockhash"]
    assert _call(node, "getBlockHeight") == height + 1 == second["context"]["slot"]
    assert second["value"]["lastValidBlockHeight"] == height + 1 + BLOCKHASH_LIFETIME
    for _ in range(BLOCKHASH_LIFETIME - 1):
        node.rpc.produce_block()
    assert _call(node, "isBlockhashValid", [first["value"]["blockhash"]])["value"] is True
    node.rpc.produce_block()  # height now past the first blockhash's lastValidBlockHeight
    assert _call(node, "isBlockhashValid", [first["value"]["blockhash"]])["value"] is False
    assert _call(node, "isBlockhashValid", [second["value"]["blockhash"]])["value"] is True
    payer = Keypair()
    _call(node, "requestAirdrop", [str(payer.pubkey()), 10**9])
    expired = _send(node, _payment(payer, Keypair(), first["value"]["blockhash"]))
    assert expired["error"]["message"] == "Transaction simulation failed: Blockhash not found"


def test_identical_transactions_in_different_slots_both_land_with_a_block_time(
    node: Node,
) -> None:
    """A client that re-reads the blockhash each slot signs a new transaction each time, even
    for the same payment; a blockhash from a few slots ago still lands."""
    assert node.rpc is not None
    payer, payee = Keypair(), Keypair()
    _call(node, "requestAirdrop", [str(payer.pubkey()), 10**9])
    node.rpc.produce_block()
    signatures = []
    for _ in range(2):
        blockhash = _call(node, "getLatestBlockhash")["value"]["blockhash"]
        signatures.append(
            _call(
                node, "sendTransaction", [_payment(payer, payee, blockhash), {"encoding": "base64"}]
            )
        )
        node.rpc.produce_block()
    old = _call(node, "getLatestBlockhash")["value"]["blockhash"]
    for _ in range(3):
        node.rpc.produce_block()
    signatures.append(
        _call(node, "sendTransaction", [_payment(payer, payee, old), {"encoding": "base64"}])
    )
    node.rpc.produce_block()
    assert len(set(signatures)) == 3
    statuses = _call(node, "getSignatureStatuses", [signatures])["value"]
    assert [s["err"] for s in statuses] == [None, None, None]
    assert statuses[0]["slot"] < statuses[1]["slot"] < statuses[2]["slot"]
    assert _call(node, "getBalance", [str(payee.pubkey())])["value"] == 3 * 10**6
    landed = _call(node, "getTransaction", [signatures[0]])
    assert abs(landed["blockTime"] - time.time()) < 60


def test_a_simulation_may_replace_an_expired_blockhash_and_skip_signatures(node: Node) -> None:
    assert node.rpc is not None
    payer = Keypair()
    _call(node, "requestAirdrop", [str(payer.pubkey()), 10**9])
    old = _call(node, "getLatestBlockhash")["value"]["blockhash"]
    for _ in range(BLOCKHASH_LIFETIME + 1):
        node.rpc.produce_block()
    raw = _payment(payer, Keypair(), old)
    config = {"encoding": "base64"}
    refused = _call(node, "simulateTransaction", [raw, config])["value"]
    assert refused["err"] == "BlockhashNotFound"
    replaced = _call(
        node, "simulateTransaction", [raw, {**config, "replaceRecentBlockhash": True}]
    )["value"]
    latest = _call(node, "getLatestBlockhash")["value"]
    assert replaced["err"] is None and replaced["replacementBlockhash"] == latest
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "simulateTransaction",
        "params": [raw, {**config, "replaceRecentBlockhash": True, "sigVerify": True}],
    }
    both = httpx.post(node.url, json=body, timeout=10).json()
    assert both["error"]["code"] == -32602
