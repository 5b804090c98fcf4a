"""Test data and helpers shared by the end-to-end tests."""

from __future__ import annotations

from typing import Any

import httpx

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market
from earnest.client import Earnest

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "n": {"type": "integer"}},
    "required": ["text", "n"],
    "additionalProperties": False,
}
OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"label": {"enum": ["even", "odd"]}},
    "required": ["label"],
    "additionalProperties": False,
}
REWARD = 1_000


def campaign_spec(**changes: Any) -> dict[str, Any]:
    """A small labeling campaign: is `n` even or odd?"""
    return {
        "type": "labeling",
        "title": "Even or odd?",
        "instructions": "Say whether n is even or odd.",
        "input_schema": INPUT_SCHEMA,
        "output_schema": OUTPUT_SCHEMA,
        "reward": REWARD,
        "overlap": 1,
        "gold_share": 0.0,
        "lease_seconds": 600,
    } | changes


def task_row(n: int, *, gold: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {"id": f"t{n}", "data": {"text": f"item {n}", "n": n}}
    if gold:
        row["gold"] = truth(n)
    return row


def truth(n: int) -> dict[str, str]:
    return {"label": "even" if n % 2 == 0 else "odd"}


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert `response` is an RFC 9457 problem with `status`; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    for field in ("type", "title", "status", "detail"):
        assert body.get(field) not in (None, ""), body
    assert body["status"] == status
    return body


def deposit_on_chain(market: Market, wallet: Wallet, amount: int) -> str:
    """Faucet tokens to `wallet` and send them to the vault on chain; the signature."""
    chain = market.chain
    chain.faucet(wallet.address, amount)
    raw = wallet.deposit_transaction(
        mint=chain.mint,
        decimals=chain.decimals,
        vault=chain.vault,
        amount=amount,
        blockhash=chain.latest_blockhash(),
    )
    return chain.submit(raw)


def deposit(market: Market, api: Earnest, wallet: Wallet, amount: int) -> dict[str, Any]:
    """Send tokens to the vault on chain, then credit them via the API."""
    result: dict[str, Any] = api.deposit(deposit_on_chain(market, wallet, amount))
    return result
