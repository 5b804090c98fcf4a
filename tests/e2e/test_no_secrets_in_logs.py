"""No secret reaches a log: session tokens, API keys, wallet and market keys.

A whole flow over real HTTP on loopback (sign-in, an API key driving a campaign, a deposit,
work, settlement, refused credentials), with every logger of the process at DEBUG (the
server's access log included), then the captured text is searched for each secret.
"""

from __future__ import annotations

import logging

import pytest

from earnest.adapters.chain import Wallet, load_or_create_keypair
from earnest.bootstrap import Market
from earnest.client import ApiError, Earnest
from earnest.demo.server import BackgroundServer
from earnest.domain.money import unit_cost
from tests.e2e.helpers import campaign_spec, deposit, task_row, truth

LOGGERS = ("", "earnest", "uvicorn", "uvicorn.access", "uvicorn.error", "httpx", "httpcore")
SCOPES = ["campaigns:read", "campaigns:write", "tasks:write", "funds:write"]


def test_no_token_key_or_secret_key_is_ever_logged(
    sqlite_market: Market, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = BackgroundServer(sqlite_market)  # sets uvicorn's log levels: ours come after
    server.server.config.access_log = True  # as `earnest serve` runs it
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)  # up to caplog
    url = server.start()
    requester, hand = Wallet.generate(), Wallet.generate()
    try:
        with Earnest.sign_in(url, requester) as api, Earnest.sign_in(url, hand) as worker:
            key = api.create_api_key("ci", SCOPES)
            budget = 2 * unit_cost(campaign_spec()["reward"], api.market()["fee_bps"])
            deposit(sqlite_market, api, requester, budget)
            with Earnest(url, token=key["key"]) as program:
                campaign = program.create_campaign(**campaign_spec())
                program.upload_tasks(campaign["id"], [task_row(0), task_row(1)])
                program.fund(campaign["id"], budget)
            lease = worker.claim(campaign["id"])
            worker.submit(lease["assignment"]["id"], truth(lease["task"]["n"]))
            assert sqlite_market.settler.round().confirmed == 1
            api.revoke_api_key(key["id"])
            for refused in (key["key"], api.token + "x"):
                with Earnest(url, token=refused) as stranger, pytest.raises(ApiError):
                    stranger.balance()
            secrets = [api.token, worker.token, key["key"]]
    finally:
        server.stop()
    market_key = load_or_create_keypair(sqlite_market.settings.resolved_keypair)
    secrets += [str(requester.keypair), str(hand.keypair), str(market_key)]
    secrets += [sqlite_market.settings.resolved_keypair.read_text().strip()]
    logged = caplog.text
    assert "POST /v1/auth/session" in logged and "HTTP Request" in logged  # logs did run
    leaked = [i for i, secret in enumerate(secrets) if secret and secret in logged]
    assert not leaked, f"secrets {leaked} of {len(secrets)} appear in the logs"
