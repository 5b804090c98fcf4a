"""A market on RpcChain paying in a Token-2022 mint with a transfer fee, through a served
LocalChain: the devnet code path reads the fee, the epoch and the rent over JSON-RPC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from earnest.adapters.chain import MintSetup, RpcChain, Wallet, token2022
from earnest.bootstrap import Market, build_market
from earnest.config import Settings
from earnest.domain.transfer_fee import TransferFee
from earnest.services.reconcile import reconcile
from earnest.services.settlement import settle_once
from tests.factories import (
    REWARD,
    do_unit,
    funded_requester,
    labeling_campaign,
    principal,
    unit_cost,
)
from tests.rpc_helpers import Node, running_node

FEE = TransferFee(200, 50)  # 2%, at most 50 base units a transfer


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    setup = MintSetup(token_2022=True, transfer_fee=FEE)
    with running_node(tmp_path / "market", mint=setup) as served:
        yield served


@pytest.fixture
def market(tmp_path: Path, node: Node) -> Iterator[Market]:
    settings = Settings(
        data_dir=tmp_path / "market", chain="rpc", chain_url=node.url, mint=node.local.mint, port=0
    )
    built = build_market(settings)
    yield built
    built.close()


def test_rpc_market_pays_a_fee_mint_exactly_memos_included(node: Node, market: Market) -> None:
    chain = market.chain
    assert isinstance(chain, RpcChain)
    terms = chain.mint_terms()
    assert (terms.program, terms.transfer_fee, terms.refused) == ("spl-token-2022", FEE, None)
    assert terms.account_rent == node.local.mint_terms().account_rent
    crew = [Wallet.generate() for _ in range(12)]
    for wallet in crew[:4]:  # these open their own accounts and require memos
        node.local.faucet(wallet.address, 0)
        account = Pubkey.from_string(node.local.token_account(wallet.address))
        owner = wallet.keypair.pubkey()
        ixs = token2022.require_memos(account, owner)
        blockhash = node.local.runtime.latest_blockhash()
        node.local.submit(bytes(Transaction([wallet.keypair], Message(ixs, owner), blockhash)))
    assert chain.memo_required([w.address for w in crew]) == {w.address for w in crew[:4]}
    units = [1 + i % 4 for i in range(len(crew))]  # 3,000 and 4,000 pay the 50 cap
    _, requester = funded_requester(market, sum(units) * unit_cost(market))
    campaign = labeling_campaign(market, requester, tasks=sum(units), overlap=1)
    for wallet, n in zip(crew, units, strict=True):
        for _ in range(n):
            assert (
                do_unit(market, principal(wallet.address), campaign.id).decision.value == "accept"
            )

    report = settle_once(store=market.store, chain=chain, clock=market.clock, rand=market.rand)

    assert report.dropped == 0 and report.confirmed == report.sent >= 1
    for wallet, n in zip(crew, units, strict=True):
        assert node.local.token_balance(node.local.token_account(wallet.address)) == n * REWARD
    rec = reconcile(store=market.store, chain=chain)
    assert rec.ok, rec.problems
