"""End-to-end fixtures: the API served over real HTTP on 127.0.0.1, wallets, funded campaigns."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market
from earnest.client import Earnest
from earnest.demo.server import BackgroundServer
from earnest.domain.money import unit_cost
from tests.e2e.helpers import campaign_spec, deposit, task_row


@pytest.fixture
def base_url(sqlite_market: Market) -> Iterator[str]:
    """The market's API on a free loopback port, stopped after the test."""
    server = BackgroundServer(sqlite_market)
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    """A raw HTTP client on the API."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


@pytest.fixture
def sign_in(base_url: str) -> Iterator[Callable[..., Earnest]]:
    """Sign in a wallet (a new one by default) and get an SDK client; all closed afterwards."""
    opened: list[Earnest] = []

    def _sign_in(wallet: Wallet | None = None) -> Earnest:
        api = Earnest.sign_in(base_url, wallet or Wallet.generate())
        opened.append(api)
        return api

    yield _sign_in
    for api in opened:
        api.close_client()


@pytest.fixture
def funded_campaign(
    sqlite_market: Market, sign_in: Callable[..., Earnest]
) -> Callable[..., tuple[Earnest, dict[str, Any]]]:
    """A requester with an active campaign of `tasks` tasks, escrow for every unit."""

    def _make(tasks: int = 3, **changes: Any) -> tuple[Earnest, dict[str, Any]]:
        wallet = Wallet.generate()
        api = sign_in(wallet)
        spec = campaign_spec(**changes)
        budget = tasks * spec["overlap"] * unit_cost(spec["reward"], api.market()["fee_bps"])
        deposit(sqlite_market, api, wallet, budget)
        campaign = api.create_campaign(**spec)
        api.upload_tasks(campaign["id"], (task_row(n) for n in range(tasks)))
        api.fund(campaign["id"], budget)
        return api, campaign

    return _make
