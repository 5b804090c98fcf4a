"""Verification receipts and the Merkle tree that anchors a batch of them in a payout memo.

Leaves and nodes are domain-separated (0x00 leaf, 0x01 node) so that no node can pose as a
receipt. An odd node at the end of a level is carried up unchanged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from earnest.domain.errors import InvalidInput
from earnest.domain.verification import canonical_json, json_digest

MEMO_PREFIX = "earnest:v1:"


@dataclass(frozen=True)
class Receipt:
    """What the market attests about one verdict."""

    id: str
    assignment_id: str
    task_id: int
    campaign_id: str
    worker: str
    submission_hash: str
    verdict: str
    reason: str
    verifier: str
    reward: int
    issued_at: str  # ISO 8601, UTC

    def body(self) -> dict[str, Any]:
        # Every field is a str or an int: a shallow copy is the whole body, at a thirtieth
        # of dataclasses.asdict's cost (a receipt is issued for every answer).
        return dict(vars(self))

    def canonical(self) -> bytes:
        return canonical_json(self.body()).encode()

    def digest(self) -> str:
        """sha256 hex of the receipt's canonical JSON: what the market key signs."""
        return json_digest(self.body())


def _leaf(digest_hex: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(digest_hex)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(digests: list[str]) -> str:
    """Root (hex) over receipt digests in order."""
    if not digests:
        raise InvalidInput("a Merkle tree needs at least one receipt")
    level = [_leaf(d) for d in digests]
    while len(level) > 1:
        level = [
            _node(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
    return level[0].hex()


def merkle_proof(digests: list[str], index: int) -> list[dict[str, str]]:
    """The sibling path from leaf `index` to the root: [{"side": "left"|"right", "hash": hex}]."""
    if not 0 <= index < len(digests):
        raise InvalidInput("receipt index out of range")
    level = [_leaf(d) for d in digests]
    path: list[dict[str, str]] = []
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            side = "left" if sibling < index else "right"
            path.append({"side": side, "hash": level[sibling].hex()})
        level = [
            _node(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
        index //= 2
    return path


def verify_proof(digest_hex: str, proof: list[dict[str, str]], root_hex: str) -> bool:
    """Whether `proof` links a receipt digest to `root_hex`."""
    node = _leaf(digest_hex)
    for step in proof:
        sibling = bytes.fromhex(step["hash"])
        node = _node(sibling, node) if step["side"] == "left" else _node(node, sibling)
    return node.hex() == root_hex


def memo_for(root_hex: str) -> bytes:
    """The memo text a payout transaction carries."""
    return (MEMO_PREFIX + root_hex).encode()
