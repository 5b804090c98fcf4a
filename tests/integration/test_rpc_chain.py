"""The market on RpcChain, talking JSON-RPC to a served LocalChain: the code path of devnet.

Deposit, campaign, work, verified, paid, `earnest reconcile`; then the faults a cluster
brings: sends that vanish (rebroadcast, byte for byte), blockhashes that expire before a
payout lands (re-signed once, never paid twice), answers lost after landing, HTTP 429.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from solders.compute_budget import ID as COMPUTE_BUDGET_ID
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from spl.token.constants import ASSOCIATED_TOKEN_PROGRAM_ID as ATA_PROGRAM
from typer.testing import CliRunner

from earnest.adapters.chain import RpcChain, RpcOptions, Wallet, load_or_create_keypair
from earnest.adapters.chain.rpc_bridge import RpcBridge
from earnest.adapters.chain.rpc_server import Params
from earnest.bootstrap import Market, build_market
from earnest.cli import app
from earnest.config import Settings
from earnest.domain import ledger
from earnest.domain.errors import ChainError, InvalidInput, TransactionTooLarge
from earnest.domain.receipts import memo_for
from earnest.services.chain_port import MAX_TRANSACTION_BYTES, Transfer, TxState
from earnest.services.reconcile import reconcile
from earnest.services.settlement import SettleReport, settle_once
from tests.factories import REWARD, do_unit, funded_requester, labeling_campaign, unit_cost, worker
from tests.rpc_helpers import Node, running_node, signature_of

PRIORITY_FEE = 1_000  # micro-lamports per compute unit


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    with running_node(tmp_path / "market") as served:
        yield served


def rpc_env(node: Node, url: str | None = None) -> dict[str, str]:
    return {
        "EARNEST_CHAIN": "rpc",
        "EARNEST_CHAIN_URL": url or node.url,
        "EARNEST_MINT": node.local.mint,
        "EARNEST_PRIORITY_FEE_MICROLAMPORTS": str(PRIORITY_FEE),
    }


@pytest.fixture
def market(tmp_path: Path, node: Node) -> Iterator[Market]:
    """A market (SQLite) whose chain is RpcChain on the node; same key as the node's."""
    settings = Settings(
        data_dir=tmp_path / "market",
        chain="rpc",
        chain_url=node.url,
        mint=node.local.mint,
        priority_fee_microlamports=PRIORITY_FEE,
        port=0,
    )
    built = build_market(settings)
    yield built
    built.close()


def fast_chain(node: Node, **options: Any) -> RpcChain:
    """An RpcChain that polls and rebroadcasts every few milliseconds."""
    quick = RpcOptions(poll_seconds=0.01, rebroadcast_seconds=0.02, confirm_seconds=10, **options)
    return RpcChain.open(
        node.url, load_or_create_keypair(node.keypair_path), node.local.mint, quick
    )


def settle(market: Market, chain: RpcChain | None = None) -> SettleReport:
    return settle_once(
        store=market.store, chain=chain or market.chain, clock=market.clock, rand=market.rand
    )


def accepted_work(market: Market, units: list[int]) -> list[str]:
    """One overlap-1 campaign; worker i does units[i] accepted units. Their addresses."""
    _, requester = funded_requester(market, sum(units) * unit_cost(market) + 5_000)
    campaign = labeling_campaign(market, requester, tasks=sum(units), overlap=1)
    crew = [worker() for _ in units]
    for who, n in zip(crew, units, strict=True):
        for _ in range(n):
            assert do_unit(market, who, campaign.id).decision.value == "accept"
    return [who.address for who in crew]


def assert_paid_once(market: Market, node: Node, crew: list[str], units: list[int]) -> None:
    """The node's own state says each worker holds exactly its rewards; the ledger agrees."""
    for address, n in zip(crew, units, strict=True):
        assert node.local.token_balance(node.local.token_account(address)) == n * REWARD
    report = reconcile(store=market.store, chain=market.chain)
    assert report.ok, report.problems
    assert report.in_flight == 0
    assert report.vault_onchain == node.local.token_balance(node.local.vault)


def intercept(
    node: Node, wrap: Callable[[Callable[[Params], Any]], Callable[[Params], Any]]
) -> None:
    """Let `wrap` handle the payouts sent; setup transactions (token accounts, lookup
    tables) are legacy and reach the node as they are, payouts are v0."""
    send = node.handlers["sendTransaction"]
    wrapped = wrap(send)

    def route(params: Params) -> Any:
        raw = base64.b64decode(params.string(0))
        payout = VersionedTransaction.from_bytes(raw).version() == 0
        return wrapped(params) if payout else send(params)

    node.handlers["sendTransaction"] = route


def test_the_market_pays_through_rpc_and_reconciles(
    tmp_path: Path, node: Node, market: Market
) -> None:
    assert isinstance(market.chain, RpcChain) and market.chain.decimals == node.local.decimals
    units = [1] * 48 + [2, 3]  # 50 payees without token accounts: more than one v0 batch
    crew = accepted_work(market, units)

    report = settle(market)
    assert report.transfers == 50 and report.dropped == 0
    assert report.sent == report.confirmed == len(report.signatures) >= 2
    assert_paid_once(market, node, crew, units)
    rows = {r.account: r for r in reconcile(store=market.store, chain=market.chain).rows}
    assert rows[f"paid:{crew[-1]}"].chain == rows[f"paid:{crew[-1]}"].ledger == 3 * REWARD
    assert rows[ledger.worker_payable(crew[0])].chain is None

    # Each batch carries the configured priority fee and stays within Solana's size limit.
    for signature in report.signatures:
        stored = node.local.runtime.stored(signature)
        assert stored is not None and stored.details is not None
        assert len(stored.raw) <= MAX_TRANSACTION_BYTES
        assert json.loads(stored.details)["fee"] > 5_000  # the signature fee and a priority fee
        message = VersionedTransaction.from_bytes(stored.raw).message
        programs = [message.account_keys[ix.program_id_index] for ix in message.instructions]
        assert programs.count(COMPUTE_BUDGET_ID) == 2

    runner = CliRunner()
    data_dir = ["--data-dir", str(tmp_path / "market")]
    clean = runner.invoke(app, ["reconcile", *data_dir], env=rpc_env(node))
    assert clean.exit_code == 0, clean.output
    assert "reconciled" in clean.output and f"paid:{crew[-1]}" in clean.output
    assert f"at slot {node.local.slot()}" in clean.output

    node.local.faucet(node.local.vault_owner, 7)  # tokens reach the vault behind the ledger's back
    dirty = runner.invoke(app, ["reconcile", *data_dir, "--json"], env=rpc_env(node))
    assert dirty.exit_code == 1
    assert '"ok": false' in dirty.output and "7 more than the ledger" in dirty.output


def test_a_vanished_send_is_rebroadcast_byte_for_byte_and_pays_once(
    node: Node, market: Market
) -> None:
    units = [1, 2, 1]
    crew = accepted_work(market, units)
    seen: list[str] = []

    def lossy(send: Callable[[Params], Any]) -> Callable[[Params], Any]:
        def handler(params: Params) -> Any:
            seen.append(params.string(0))
            if len(seen) <= 3:
                return signature_of(params)  # the node answers, then loses it on the way
            return send(params)

        return handler

    intercept(node, lossy)
    with fast_chain(node) as chain:
        report = settle(market, chain)
    assert (report.sent, report.confirmed, report.dropped) == (1, 1, 0)
    assert len(seen) >= 4 and len(set(seen)) == 1  # never re-signed, only re-sent
    assert_paid_once(market, node, crew, units)


def test_a_payout_that_expires_unlanded_is_signed_again_and_paid_once(
    node: Node, market: Market
) -> None:
    units = [2, 1, 1]
    crew = accepted_work(market, units)
    dropped: list[str] = []

    def black_hole(send: Callable[[Params], Any]) -> Callable[[Params], Any]:
        def handler(params: Params) -> Any:
            signature = signature_of(params)
            if not dropped or dropped[0] == signature:
                dropped.append(signature)
                if len(dropped) == 3:
                    node.local.expire_blockhash()  # 150 blocks pass: it can never land now
                return signature
            return send(params)

        return handler

    intercept(node, black_hole)
    with fast_chain(node) as chain:
        first = settle(market, chain)
        assert (first.confirmed, first.dropped) == (0, 1)
        assert chain.status(dropped[0]).state is TxState.UNKNOWN
        second = settle(market, chain)
    assert (second.confirmed, second.dropped) == (1, 0)
    assert second.signatures[0] != dropped[0] and len(dropped) >= 3
    with market.store.uow(readonly=True) as uow:
        batches = uow.payouts.confirmed_batches()
    assert [b.signature for b in batches] == second.signatures
    assert_paid_once(market, node, crew, units)


def test_a_node_with_slots_lands_what_was_sent_at_its_next_block(tmp_path: Path) -> None:
    with running_node(tmp_path / "market", slot_seconds=3600) as node, fast_chain(node) as chain:
        assert node.rpc is not None
        node.local.faucet(node.local.vault_owner, 50)
        owner = Wallet.generate().address
        tx = chain.build_payout([Transfer(owner, 5)], b"slots", create_for=[owner])
        chain.send(tx)
        chain.send(tx)  # a resend while it waits lands once
        assert chain.status(tx.signature).state is TxState.UNKNOWN  # sent, not in a block
        assert node.rpc.produce_block() == 1
        assert chain.status(tx.signature).state is TxState.CONFIRMED
        chain.await_landing([tx])  # landed: returns at its first look
        assert node.local.token_balance(node.local.token_account(owner)) == 5


def test_a_round_sends_its_transactions_together_and_awaits_them_together(
    tmp_path: Path,
) -> None:
    """On a node that makes a block every 0.1 s, the settler sends all of a round's token
    account creations, then all of its payout batches, before it asks how any of them
    went: a round waits about one block for each kind, not one block per transaction."""
    with running_node(tmp_path / "market", slot_seconds=0.1) as node:
        settings = Settings(
            data_dir=tmp_path / "market", chain="rpc", chain_url=node.url, mint=node.local.mint
        )
        market = build_market(settings)
        try:
            units = [1] * 100  # 100 new payees: 13 creation transactions, 3 payout batches
            crew = accepted_work(market, units)
            calls = _recorded(node)
            with fast_chain(node) as chain:
                report = settle(market, chain)
            assert report.transfers == 100 and report.sent == report.confirmed >= 3
            assert_paid_once(market, node, crew, units)
        finally:
            market.close()
    for kind, count in (("create", 13), ("payout", report.sent)):
        first_sends = {}
        for at, (method, what, signature) in enumerate(calls):
            if method == "sendTransaction" and what == kind:
                first_sends.setdefault(signature, at)
        assert len(first_sends) == count
        start, last = min(first_sends.values()), max(first_sends.values())
        polls = [at for at, (method, _, _) in enumerate(calls) if method == "getSignatureStatuses"]
        assert not [at for at in polls if start < at < last], f"{kind}s awaited one by one"


def test_a_token_account_creation_that_expires_unlanded_is_signed_again(
    node: Node, market: Market
) -> None:
    """Creations are sent together; one the node drops, its blockhash then expiring, is
    signed again with a fresh one and lands, and the round pays everyone."""
    units = [1] * 20  # 3 creation transactions
    crew = accepted_work(market, units)
    dropped: list[str] = []
    send = node.handlers["sendTransaction"]

    def lossy(params: Params) -> Any:
        tx = VersionedTransaction.from_bytes(base64.b64decode(params.string(0)))
        keys = tx.message.account_keys
        programs = {keys[ix.program_id_index] for ix in tx.message.instructions}
        if ATA_PROGRAM in programs and tx.version() != 0 and not dropped:
            dropped.append(str(tx.signatures[0]))
            node.local.expire_blockhash()  # 150 blocks pass: it can never land now
            return dropped[0]
        return send(params)

    node.handlers["sendTransaction"] = lossy
    with fast_chain(node) as chain:
        report = settle(market, chain)
        assert chain.status(dropped[0]).state is TxState.UNKNOWN
    assert report.transfers == 20 and report.dropped == 0
    assert_paid_once(market, node, crew, units)


def _recorded(node: Node) -> list[tuple[str, str, str]]:
    """Every sendTransaction (what it carries: a payout, token account creations, other)
    and getSignatureStatuses call the node answers from now on, in order."""
    calls: list[tuple[str, str, str]] = []
    send, statuses = node.handlers["sendTransaction"], node.handlers["getSignatureStatuses"]

    def on_send(params: Params) -> Any:
        tx = VersionedTransaction.from_bytes(base64.b64decode(params.string(0)))
        keys = tx.message.account_keys
        programs = {keys[ix.program_id_index] for ix in tx.message.instructions}
        what = "payout" if tx.version() == 0 else "create" if ATA_PROGRAM in programs else "other"
        calls.append(("sendTransaction", what, str(tx.signatures[0])))
        return send(params)

    def on_statuses(params: Params) -> Any:
        calls.append(("getSignatureStatuses", "", ""))
        return statuses(params)

    node.handlers["sendTransaction"] = on_send
    node.handlers["getSignatureStatuses"] = on_statuses
    return calls


def test_a_landed_payout_whose_answer_is_lost_is_recorded_not_repaid(
    node: Node, market: Market
) -> None:
    units = [1, 1]
    crew = accepted_work(market, units)

    def lost(send: Callable[[Params], Any]) -> Callable[[Params], Any]:
        def handler(params: Params) -> Any:
            send(params)
            raise ConnectionResetError("the answer never made it back")

        return handler

    intercept(node, lost)
    report = settle(market)
    assert (report.sent, report.confirmed, report.dropped) == (0, 1, 0)
    again = settle(market)
    assert (again.sent, again.confirmed) == (0, 0)
    assert_paid_once(market, node, crew, units)


def test_http_429_is_retried_with_backoff_a_bounded_number_of_times(node: Node) -> None:
    node.too_many = 3
    with fast_chain(node, retries=3) as chain:
        assert node.answered_429 == 3  # opening read the mint through three refusals
        assert chain.slot() == node.local.slot()
        node.too_many = 100
        with pytest.raises(ChainError, match="HTTP 429"):
            chain.slot()
        assert node.answered_429 == 3 + 4  # one try and three retries, then it gives up
        node.too_many = 0

    node.too_many, node.retry_after = 3, None  # no Retry-After: 10, 20, 40 ms of backoff
    bridge = RpcBridge(node.url, commitment="confirmed", retries=3, first_delay=0.01)
    try:
        started = time.monotonic()
        assert bridge.call("getSlot", lambda c: c.get_slot()).value == node.local.slot()
        assert time.monotonic() - started >= 0.07
    finally:
        bridge.close()


def test_no_rpc_secret_reaches_logs_settings_or_errors(
    tmp_path: Path, node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "k3y-0f-the-provider"
    url = f"{node.url}/?api-key={secret}"
    settings = Settings(
        data_dir=tmp_path / "market", chain="rpc", chain_url=url, mint=node.local.mint
    )
    assert secret not in repr(settings) and secret not in str(settings.model_dump())
    caplog.set_level(logging.DEBUG)
    market = build_market(settings)
    try:
        assert market.chain.slot() == node.local.slot()
        node.too_many = 100
        with pytest.raises(ChainError) as refused:
            market.chain.slot()
        node.too_many = 0
    finally:
        market.close()
    assert "HTTP Request" in caplog.text  # httpx2 did log each request, masked
    assert secret not in caplog.text and secret not in str(refused.value)
    assert str(load_or_create_keypair(node.keypair_path)) not in caplog.text + repr(market)


def test_rpc_chain_refuses_oversized_payouts_and_a_wrong_mint(node: Node) -> None:
    with fast_chain(node) as chain:
        owners = [Wallet.generate().address for _ in range(30)]
        with pytest.raises(TransactionTooLarge):
            chain.build_payout([Transfer(o, 1) for o in owners], memo_for("00" * 32))
        assert chain.missing_token_accounts(owners) == set(owners)
        assert chain.token_balance(chain.token_account(owners[0])) == 0
        assert chain.token_transfers("not-a-signature") is None
    key = load_or_create_keypair(node.keypair_path)
    with pytest.raises(InvalidInput, match="not an SPL Token mint"):
        RpcChain.open(node.url, key, Wallet.generate().address, RpcOptions())


def test_bad_chain_settings_are_refused_at_start(tmp_path: Path, node: Node) -> None:
    runner = CliRunner()
    data_dir = ["--data-dir", str(tmp_path / "m")]
    cases: list[tuple[dict[str, str], str]] = [
        ({"EARNEST_CHAIN": "rpc"}, "EARNEST_CHAIN_URL"),
        ({**rpc_env(node), "EARNEST_COMMITMENT": "max"}, "EARNEST_COMMITMENT"),
        ({**rpc_env(node), "EARNEST_MINT": "not a mint"}, "base58"),
        ({"EARNEST_MINT": node.local.mint}, "EARNEST_CHAIN=rpc"),
    ]
    for env, expected in cases:
        result = runner.invoke(app, ["reconcile", *data_dir], env=env)
        assert isinstance(result.exception, InvalidInput), result.output
        assert expected in result.exception.detail
    assert not (tmp_path / "m" / "earnest.sqlite").exists()  # refused before opening anything


def test_chain_init_prepares_a_mint_and_a_vault_for_another_market(
    tmp_path: Path, node: Node
) -> None:
    runner = CliRunner()
    data_dir = ["--data-dir", str(tmp_path / "other")]  # its own key, no SOL: as on devnet
    poor = runner.invoke(app, ["chain", "init", "--url", node.url, *data_dir])
    assert isinstance(poor.exception, InvalidInput) and "lamports" in poor.exception.detail

    made = runner.invoke(
        app,
        ["chain", "init", "--url", node.url, "--airdrop", str(10**9), "--decimals", "2", *data_dir],
    )
    assert made.exit_code == 0, made.output
    found = re.search(r"EARNEST_MINT=(\w+)", made.output)
    assert found is not None and f"EARNEST_CHAIN_URL={node.url}" in made.output
    key = load_or_create_keypair(tmp_path / "other" / "market-keypair.json")
    payee = Wallet.generate().address
    with RpcChain.open(node.url, key, found.group(1), RpcOptions()) as chain:
        assert chain.decimals == 2 and chain.token_balance(chain.vault) == 0
        chain.faucet(payee, 250)  # the market key is the new mint's authority
        assert chain.token_balance(chain.token_account(payee)) == 250

    existing = ["chain", "init", "--url", node.url, "--mint", node.local.mint, *data_dir]
    for _ in range(2):  # idempotent
        assert runner.invoke(app, existing).exit_code == 0
    vault = node.local.token_account(str(key.pubkey()))
    assert node.local.runtime.account(Pubkey.from_string(vault)) is not None
