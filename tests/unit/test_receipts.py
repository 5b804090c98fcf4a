"""Receipts and the Merkle tree that anchors them in a payout memo."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.domain.errors import InvalidInput
from earnest.domain.receipts import (
    MEMO_PREFIX,
    Receipt,
    memo_for,
    merkle_proof,
    merkle_root,
    verify_proof,
)

digest_hex = st.binary(min_size=32, max_size=32).map(bytes.hex)
digest_lists = st.lists(digest_hex, min_size=1, max_size=40)


def _flip(hex_digest: str) -> str:
    first = int(hex_digest[0], 16) ^ 1
    return f"{first:x}{hex_digest[1:]}"


@settings(max_examples=150, deadline=None)
@given(digest_lists)
def test_every_leaf_proof_verifies(digests: list[str]) -> None:
    root = merkle_root(digests)
    for i, d in enumerate(digests):
        assert verify_proof(d, merkle_proof(digests, i), root)


@settings(max_examples=150, deadline=None)
@given(st.lists(digest_hex, min_size=1, max_size=40, unique=True), st.data())
def test_tampered_digest_or_proof_fails(digests: list[str], data: st.DataObject) -> None:
    """Receipts in one batch are distinct, so a swapped side cannot hash to the same node."""
    root = merkle_root(digests)
    i = data.draw(st.integers(min_value=0, max_value=len(digests) - 1))
    proof = merkle_proof(digests, i)
    assert not verify_proof(_flip(digests[i]), proof, root)
    assert not verify_proof(digests[i], proof, _flip(root))
    if proof:
        j = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bad_hash = [dict(s) for s in proof]
        bad_hash[j]["hash"] = _flip(bad_hash[j]["hash"])
        assert not verify_proof(digests[i], bad_hash, root)
        bad_side = [dict(s) for s in proof]
        bad_side[j]["side"] = "left" if bad_side[j]["side"] == "right" else "right"
        assert not verify_proof(digests[i], bad_side, root)
        assert not verify_proof(digests[i], proof[:-1], root)


@settings(max_examples=100, deadline=None)
@given(st.lists(digest_hex, min_size=2, max_size=40, unique=True))
def test_proof_for_another_leaf_fails(digests: list[str]) -> None:
    root = merkle_root(digests)
    assert not verify_proof(digests[1], merkle_proof(digests, 0), root)


def test_single_leaf_root_is_its_leaf_hash() -> None:
    d = "ab" * 32
    assert merkle_root([d]) == hashlib.sha256(b"\x00" + bytes.fromhex(d)).hexdigest()
    assert merkle_proof([d], 0) == []


def test_leaf_cannot_pose_as_node() -> None:
    """Domain separation: the root of two leaves is not the leaf hash of their concatenation."""
    a, b = "11" * 32, "22" * 32
    root = merkle_root([a, b])
    assert root != merkle_root([root])
    assert root != hashlib.sha256(bytes.fromhex(a) + bytes.fromhex(b)).hexdigest()


def test_empty_tree_and_bad_index() -> None:
    with pytest.raises(InvalidInput):
        merkle_root([])
    with pytest.raises(InvalidInput):
        merkle_proof(["00" * 32], 1)
    with pytest.raises(InvalidInput):
        merkle_proof(["00" * 32], -1)


def test_root_depends_on_order() -> None:
    a, b = "11" * 32, "22" * 32
    assert merkle_root([a, b]) != merkle_root([b, a])


def test_memo_carries_the_root() -> None:
    root = "cd" * 32
    assert memo_for(root) == f"{MEMO_PREFIX}{root}".encode()


def _receipt() -> Receipt:
    return Receipt(
        id="rcp_1",
        assignment_id="asg_1",
        task_id=7,
        campaign_id="cmp_1",
        worker="W1",
        submission_hash="aa" * 32,
        verdict="accept",
        reason="agrees with 2 of 3",
        verifier="majority",
        reward=1000,
        issued_at="2025-01-01T00:00:00+00:00",
    )


def test_receipt_digest_is_stable() -> None:
    first = _receipt().digest()
    assert first == _receipt().digest()
    assert first == hashlib.sha256(_receipt().canonical()).hexdigest()
    assert len(first) == 64


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Receipt)])
def test_receipt_digest_changes_with_any_field(field: str) -> None:
    base = _receipt()
    value = getattr(base, field)
    changed = value + 1 if isinstance(value, int) else value + "x"
    assert dataclasses.replace(base, **{field: changed}).digest() != base.digest()
