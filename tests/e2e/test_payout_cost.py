"""The payout cost before funding, over HTTP, the SDK and the CLI, on the real LocalChain."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market
from earnest.cli import app
from earnest.client import ApiError, Earnest
from tests.e2e.helpers import campaign_spec, task_row

CLASSIC_RENT = 2_039_280  # lamports: a 165-byte token account, rent-exempt
ENTRY_RENT = 32 * 6_960  # a lookup-table entry: 32 bytes at 6,960 lamports a byte


def test_the_cost_counts_rent_only_for_payees_without_a_token_account(
    sqlite_market: Market, sign_in: Callable[..., Earnest], base_url: str
) -> None:
    api = sign_in()
    campaign = api.create_campaign(**campaign_spec(overlap=2))
    api.upload_tasks(campaign["id"], (task_row(n) for n in range(100)))
    exchange, fresh = Wallet.generate(), Wallet.generate()
    sqlite_market.chain.faucet(exchange.address, 0)  # it already has a token account

    cost = api.payout_cost(
        campaign["id"], payees=30, destinations=[exchange.address, fresh.address]
    )

    assert cost["units"] == 200 and cost["payees"] == 30
    assert cost["budget"] == 200 * cost["unit_cost"]
    assert (cost["existing_accounts"], cost["new_accounts"]) == (1, 29)
    assert (cost["account_size"], cost["account_rent"]) == (165, CLASSIC_RENT)
    assert cost["rent"] == 29 * (CLASSIC_RENT + ENTRY_RENT)
    assert cost["transfers_per_transaction"] == 48
    # 5 payout transactions, 4 creating 29 accounts (8 each), 2 extending the tables (28).
    assert cost["transactions"] == 5
    assert cost["network_fees"] == (5 + 4 + 2) * 5_000
    assert cost["total_lamports"] == cost["network_fees"] + cost["rent"]
    assert cost["token_program"] == "spl-token" and cost["token_transfer_fees"] == 0

    everyone_known = api.payout_cost(campaign["id"], payees=1, destinations=[exchange.address])
    assert everyone_known["new_accounts"] == everyone_known["rent"] == 0

    result = CliRunner().invoke(
        app,
        [
            "campaign",
            "estimate",
            campaign["id"],
            "--payees",
            "30",
            "--destination",
            exchange.address,
            "--destination",
            fresh.address,
            "--url",
            base_url,
            "--api-key",
            api.create_api_key("cli", ["campaigns:read"])["key"],
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == cost


def test_another_requesters_campaign_has_no_cost_to_read(
    sign_in: Callable[..., Earnest],
) -> None:
    owner, stranger = sign_in(), sign_in()
    campaign = owner.create_campaign(**campaign_spec())
    with pytest.raises(ApiError) as info:
        stranger.payout_cost(campaign["id"])
    assert info.value.status == 404


def test_a_destination_that_is_not_an_address_is_refused(sign_in: Callable[..., Earnest]) -> None:
    api = sign_in()
    campaign = api.create_campaign(**campaign_spec())
    with pytest.raises(ApiError, match="address"):
        api.payout_cost(campaign["id"], destinations=["not-an-address"])
