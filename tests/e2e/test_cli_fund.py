"""`earnest campaign fund ID AMOUNT` against a market served on loopback: AMOUNT is tokens."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market
from earnest.cli import app, main
from earnest.client import Earnest
from tests.e2e.helpers import campaign_spec, deposit

runner = CliRunner()


def requester_with_a_draft(
    market: Market, sign_in: Callable[..., Earnest], units: int
) -> tuple[Earnest, str]:
    wallet = Wallet.generate()
    api = sign_in(wallet)
    deposit(market, api, wallet, units)
    return api, api.create_campaign(**campaign_spec())["id"]


def test_fund_takes_tokens_as_the_web_does(
    sqlite_market: Market, sign_in: Callable[..., Earnest], base_url: str
) -> None:
    decimals = sqlite_market.chain.decimals
    api, campaign = requester_with_a_draft(sqlite_market, sign_in, 3 * 10**decimals)
    args = ["campaign", "fund", campaign, "1.5", "--url", base_url, "--api-key", api.token]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"escrow": 15 * 10 ** (decimals - 1)}
    assert api.balance()["available"] == 15 * 10 ** (decimals - 1)
    assert api.campaign(campaign)["campaign"]["status"] == "active"


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1500000.5.0", "amount must be a number of tokens such as 12 or 0.5"),
        ("-1", "amount must be a number of tokens"),
        ("1e3", "amount must be a number of tokens"),
        ("0", "amount must be positive"),
        ("0.0000000001", "amount has more than"),
    ],
)
def test_fund_refuses_what_is_not_a_positive_number_of_tokens(
    sqlite_market: Market,
    sign_in: Callable[..., Earnest],
    base_url: str,
    amount: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One line naming the problem, exit code 2, and no money moved."""
    api, campaign = requester_with_a_draft(sqlite_market, sign_in, 10**6)
    # "--" ends the options, so "-1" reaches the amount parser as a typed amount would.
    argv = ["earnest", "campaign", "fund", "--url", base_url, "--api-key", api.token]
    monkeypatch.setattr(sys, "argv", [*argv, "--", campaign, amount])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert api.balance()["available"] == 10**6
    assert api.campaign(campaign)["escrow"] == 0
