"""Bonuses and worker lists on SQLite and PostgreSQL with the real chain: a bonus is owed
through the ledger and lands on chain through the settler, once; a blocked worker gets no
task of the requester, an allowlist-only campaign gives tasks to the allowed only."""

from __future__ import annotations

import pytest

from earnest.bootstrap import Market
from earnest.domain import ledger
from earnest.domain.errors import Forbidden, InsufficientFunds, InvalidInput, NotFound
from earnest.domain.money import unit_cost
from earnest.services.bonuses import ListWorker, PayBonus
from earnest.services.campaign_settings import UpdateCampaign
from earnest.services.reconcile import reconcile
from tests.factories import (
    balance,
    claim,
    do_unit,
    funded_requester,
    labeling_campaign,
    token_balance,
    worker,
)


def test_a_bonus_is_owed_by_the_ledger_and_paid_on_chain_once(market: Market) -> None:
    _, requester = funded_requester(market, 10**7)
    campaign = labeling_campaign(market, requester, tasks=2, overlap=1)
    helper, stranger = worker(), worker()
    do_unit(market, helper, campaign.id)
    market.settler.round()
    before = token_balance(market, helper.address)
    available = balance(market, ledger.requester_available(requester.address))
    fee = unit_cost(50_000, market.settings.fee_bps) - 50_000

    paid = market.campaigns.bonus(
        PayBonus(requester, campaign.id, helper.address, 50_000, "careful work")
    )
    assert (paid.amount, paid.fee, paid.reason) == (50_000, fee, "careful work")
    assert (
        balance(market, ledger.requester_available(requester.address)) == available - 50_000 - fee
    )
    assert market.campaigns.bonuses(requester, campaign.id) == [paid]
    for _ in range(3):  # a second round finds nothing more to pay
        market.settler.round()
    assert token_balance(market, helper.address) == before + 50_000
    assert balance(market, ledger.worker_payable(helper.address)) == 0
    assert reconcile(store=market.store, chain=market.chain).ok

    with pytest.raises(NotFound, match="has not answered in this campaign"):
        market.campaigns.bonus(PayBonus(requester, campaign.id, stranger.address, 1, "hi"))
    with pytest.raises(InsufficientFunds):
        market.campaigns.bonus(PayBonus(requester, campaign.id, helper.address, 10**9, "all"))
    with pytest.raises(InvalidInput, match="say why"):
        market.campaigns.bonus(PayBonus(requester, campaign.id, helper.address, 1, " "))
    with pytest.raises(NotFound):  # someone else's campaign
        market.campaigns.bonus(PayBonus(helper, campaign.id, helper.address, 1, "me"))


def test_blocked_workers_get_nothing_and_allowlists_admit_only_the_allowed(
    market: Market,
) -> None:
    _, requester = funded_requester(market, 10**7)
    campaign = labeling_campaign(market, requester, tasks=6, overlap=3)
    blocked, allowed, other = worker(), worker(), worker()
    market.campaigns.list_worker(ListWorker(requester, blocked.address, "block"))
    with pytest.raises(Forbidden, match="takes no work from you"):
        claim(market, blocked, campaign.id)
    claim(market, other, campaign.id)
    market.campaigns.update(
        UpdateCampaign(requester, campaign.id, {"quality": {"allowlist_only": True}})
    )
    market.campaigns.list_worker(ListWorker(requester, allowed.address, "allow"))
    with pytest.raises(Forbidden, match="only to workers its requester chose"):
        claim(market, worker(), campaign.id)
    assert claim(market, allowed, campaign.id).campaign.id == campaign.id
    assert market.campaigns.listings(requester) == {
        blocked.address: "block",
        allowed.address: "allow",
    }
    market.campaigns.list_worker(ListWorker(requester, blocked.address, None))
    assert market.campaigns.listings(requester) == {allowed.address: "allow"}
    with pytest.raises(InvalidInput):
        market.campaigns.list_worker(ListWorker(requester, "not an address", "block"))
    with pytest.raises(InvalidInput):
        market.campaigns.list_worker(ListWorker(requester, other.address, "ban"))
