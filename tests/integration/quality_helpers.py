"""Helpers for the quality API tests: a market on a fake clock, served on loopback.

Everything goes through HTTP with the SDK; only time (FakeClock) and randomness
(FixedRandom) are controlled, and the background quality pass is run by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market
from earnest.client import ApiError, Earnest
from earnest.domain.money import unit_cost
from tests.e2e.helpers import REWARD, campaign_spec, deposit, task_row, truth
from tests.factories import FakeClock

__all__ = ["REWARD", "QualityMarket", "problem", "task_row", "truth"]


class QualityMarket:
    """A served market with a fake clock, and the wallets signed in to it."""

    def __init__(self, market: Market, url: str, clock: FakeClock) -> None:
        self.market = market
        self.url = url
        self.clock = clock
        self.cost = unit_cost(REWARD, market.settings.fee_bps)
        self._wallets: dict[int, Wallet] = {}
        self._opened: list[Earnest] = []

    def sign_in(self, *, kind: str = "person", wallet: Wallet | None = None) -> Earnest:
        """A wallet (new by default), signed in (as a person, or as an AI agent)."""
        wallet = wallet or Wallet.generate()
        api = Earnest.sign_in(self.url, wallet, kind=kind)
        self._wallets[id(api)] = wallet
        self._opened.append(api)
        return api

    def sign_in_again(self, api: Earnest) -> Earnest:
        """A fresh session for the wallet behind `api` (sessions expire after a day)."""
        return self.sign_in(wallet=self._wallets[id(api)])

    def close(self) -> None:
        for api in self._opened:
            api.close_client()

    def campaign(
        self,
        rows: list[dict[str, Any]],
        *,
        requester: Earnest | None = None,
        quality: dict[str, Any] | None = None,
        **changes: Any,
    ) -> tuple[Earnest, str]:
        """An active campaign of `rows`, escrow for every slot; (requester, campaign id)."""
        api = requester or self.sign_in()
        spec = campaign_spec(**changes) | ({"quality": quality} if quality else {})
        budget = len(rows) * spec["overlap"] * self.cost
        deposit(self.market, api, self._wallets[id(api)], budget)
        cid: str = api.create_campaign(**spec)["id"]
        api.upload_tasks(cid, rows)
        api.fund(cid, budget)
        return api, cid

    def answer(
        self, worker: Earnest, campaign_id: str, *, right: bool = True, seconds: float = 0.0
    ) -> dict[str, Any]:
        """Claim a task of the campaign, let `seconds` pass, answer it; the verdict and n."""
        lease = worker.claim(campaign_id)
        assert lease is not None, "expected a task to claim"
        self.clock.advance(seconds)
        n = lease["task"]["n"]
        verdict: dict[str, Any] = worker.submit(
            lease["assignment"]["id"], truth(n if right else n + 1)
        )
        return verdict | {"n": n}

    def train(self, workers: list[Earnest], golds: list[int], skill: str = "") -> str:
        """Each worker answers golds[i] control tasks right in a campaign of another requester."""
        quality = {"skill": skill} if skill else None
        # One answer per task: a control task is decided when an ordinary one would be.
        _, cid = self.campaign(
            [task_row(n, gold=True) for n in range(sum(golds))], overlap=1, quality=quality
        )
        for worker, count in zip(workers, golds, strict=True):
            for _ in range(count):
                assert self.answer(worker, cid)["decision"] == "accept"
        return cid


def problem(info: pytest.ExceptionInfo[ApiError], status: int, code: str) -> dict[str, Any]:
    """Assert the SDK error is an RFC 9457 problem with `status` and `code`; its body."""
    body = info.value.problem
    assert info.value.status == status, body
    for field in ("type", "title", "status", "detail"):
        assert body.get(field) not in (None, ""), body
    assert (body["status"], body["code"]) == (status, code), body
    return body
