"""Settlement on the real LocalChain: exact payouts, split batches, receipts in the memo."""

from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter

import pytest
from solders.transaction import VersionedTransaction
from spl.memo.constants import MEMO_PROGRAM_ID

from earnest.adapters.chain import Wallet
from earnest.bootstrap import Market
from earnest.domain import ledger
from earnest.domain.errors import NotFound, TransactionTooLarge
from earnest.domain.receipts import memo_for, verify_proof
from earnest.domain.verification import canonical_json
from earnest.services import receipts
from earnest.services.chain_port import MAX_TRANSACTION_BYTES, Transfer, TxState
from earnest.services.identity import Principal
from earnest.services.ports import BatchRecord
from earnest.services.reconcile import reconcile
from earnest.services.settlement import SettleReport, settle_once
from tests.factories import (
    REWARD,
    do_unit,
    funded_requester,
    labeling_campaign,
    ledger_balances,
    token_balance,
    unit_cost,
    worker,
)

MEMO_PROGRAM = str(MEMO_PROGRAM_ID)


def _settle(market: Market) -> SettleReport:
    return settle_once(store=market.store, chain=market.chain, clock=market.clock, rand=market.rand)


def _batches(market: Market) -> list[BatchRecord]:
    with market.store.uow(readonly=True) as uow:
        return uow.payouts.confirmed_batches()


def _work(market: Market, units_per_worker: list[int]) -> tuple[list[Principal], Principal]:
    """One overlap-1 campaign; worker i does units_per_worker[i] accepted units."""
    total = sum(units_per_worker)
    _, requester = funded_requester(market, total * unit_cost(market) + 5_000)
    campaign = labeling_campaign(market, requester, tasks=total, overlap=1)
    crew = [worker() for _ in units_per_worker]
    for w, units in zip(crew, units_per_worker, strict=True):
        for _ in range(units):
            assert do_unit(market, w, campaign.id).decision.value == "accept"
    return crew, requester


def _assert_settled(market: Market, crew: list[Principal], units: list[int]) -> None:
    for w, n in zip(crew, units, strict=True):
        assert token_balance(market, w.address) == n * REWARD
        assert ledger_balances(market)[ledger.worker_payable(w.address)] == 0
    balances = ledger_balances(market)
    liabilities = sum(v for k, v in balances.items() if k != ledger.VAULT)
    assert market.chain.token_balance(market.chain.vault) == balances[ledger.VAULT] == liabilities
    report = reconcile(store=market.store, chain=market.chain)
    assert report.ok, report.problems
    assert report.in_flight == 0


def test_settlement_pays_every_worker_exactly_in_split_batches(market: Market) -> None:
    units = [1] * 60 + [3, 2]  # 62 distinct payees, two of them with several payouts
    crew, _ = _work(market, units)
    vault_before = market.chain.token_balance(market.chain.vault)

    report = _settle(market)
    assert report.transfers == 62
    assert report.sent == report.confirmed == len(report.signatures) == 2
    assert report.dropped == 0
    _assert_settled(market, crew, units)
    assert market.chain.token_balance(market.chain.vault) == vault_before - 65 * REWARD

    batches = _batches(market)
    assert [b.signature for b in batches] == report.signatures
    assert sum(b.transfers for b in batches) == 62
    assert sum(len(b.receipt_digests) for b in batches) == 65
    # v0 transactions loading token accounts from the market's lookup table: >= 40 each.
    assert batches[0].transfers >= 40
    for b in batches:
        assert b.size == len(b.raw) <= MAX_TRANSACTION_BYTES
        assert VersionedTransaction.from_bytes(b.raw).version() == 0
        assert market.chain.status(b.signature).state is TxState.CONFIRMED
    with market.store.uow(readonly=True) as uow:
        assert len(uow.payouts.lookup_tables()) == 1

    again = _settle(market)
    assert (again.sent, again.confirmed, again.transfers) == (0, 0, 0)
    _assert_settled(market, crew, units)


def test_a_30_transfer_legacy_payout_is_too_large_and_v0_pays_them_at_once(
    market: Market,
) -> None:
    owners = [Wallet.generate().address for _ in range(30)]
    with pytest.raises(TransactionTooLarge):
        market.chain.build_payout([Transfer(o, 1) for o in owners], memo_for("00" * 32))
    # Half the payees already hold a token account; the settler creates the others first.
    units = [1] * 32
    crew, _ = _work(market, units)
    for w in crew[::2]:
        market.chain.faucet(w.address, 0)
    report = _settle(market)
    assert report.confirmed == 1
    [b] = _batches(market)
    assert b.transfers == 32 and b.size <= MAX_TRANSACTION_BYTES
    assert len(bytes(VersionedTransaction.from_bytes(b.raw))) == b.size
    _assert_settled(market, crew, units)


def test_lookup_tables_are_reused_and_extended_as_recipients_appear(market: Market) -> None:
    first, _ = _work(market, [1] * 5)
    _settle(market)
    with market.store.uow(readonly=True) as uow:
        [table] = uow.payouts.lookup_tables()
    second, _ = _work(market, [1] * 5)
    assert _settle(market).confirmed == 1
    with market.store.uow(readonly=True) as uow:
        assert uow.payouts.lookup_tables() == [table]
    _assert_settled(market, first + second, [1] * 10)


def _onchain_raw(market: Market, signature: str) -> bytes:
    """The transaction as LocalChain persisted it when it landed."""
    db = sqlite3.connect(f"file:{market.settings.chain_state}?mode=ro", uri=True)
    try:
        row = db.execute(
            "SELECT raw, ok FROM transactions WHERE signature = ?", (signature,)
        ).fetchone()
    finally:
        db.close()
    assert row is not None and row[1] == 1
    return bytes(row[0])


def test_a_receipt_proves_its_verdict_is_in_the_payout_memo(market: Market) -> None:
    crew, requester = _work(market, [2, 1, 1, 1])
    w = crew[0]
    with market.store.uow(readonly=True) as uow:
        mine = [a for a in uow.assignments.of_worker(w.address) if a.status.value == "accepted"]
        receipt_ids = [uow.payouts.of_recipient(w.address)[0].receipt_id]
    assert len(mine) == 2
    receipt_id = receipt_ids[0]
    assert receipt_id is not None

    unpaid = receipts.get_receipt(w, receipt_id, store=market.store, crypto=market.crypto)
    assert unpaid["payout"]["status"] == "pending"
    assert "proof" not in unpaid["payout"]

    _settle(market)
    got = receipts.get_receipt(w, receipt_id, store=market.store, crypto=market.crypto)
    body = got["receipt"]
    assert body["worker"] == w.address
    assert (body["verdict"], body["reward"]) == ("accept", REWARD)
    assert hashlib.sha256(canonical_json(body).encode()).hexdigest() == got["digest"]
    assert market.crypto.verify(
        market.crypto.market_address, bytes.fromhex(got["digest"]), got["signature"]
    )
    paid = got["payout"]
    assert (paid["status"], paid["amount"]) == ("paid", REWARD)
    assert verify_proof(got["digest"], paid["proof"], paid["merkle_root"])
    assert not verify_proof("00" * 32, paid["proof"], paid["merkle_root"])
    assert paid["memo"] == f"earnest:v1:{paid['merkle_root']}"

    [batch] = [b for b in _batches(market) if b.signature == paid["transaction"]]
    assert batch.merkle_root == paid["merkle_root"]
    assert got["digest"] in batch.receipt_digests
    assert market.chain.status(paid["transaction"]).state is TxState.CONFIRMED
    landed = VersionedTransaction.from_bytes(_onchain_raw(market, paid["transaction"]))
    assert str(landed.signatures[0]) == paid["transaction"]
    message = landed.message
    memos = [
        bytes(ix.data)
        for ix in message.instructions
        if str(message.account_keys[ix.program_id_index]) == MEMO_PROGRAM
    ]
    assert memos == [paid["memo"].encode()]

    # The requester may read it too; another worker may not.
    assert (
        receipts.get_receipt(requester, receipt_id, store=market.store, crypto=market.crypto)[
            "digest"
        ]
        == got["digest"]
    )
    with pytest.raises(NotFound):
        receipts.get_receipt(crew[1], receipt_id, store=market.store, crypto=market.crypto)
    with pytest.raises(NotFound):
        receipts.get_receipt(w, "rcp_nope", store=market.store, crypto=market.crypto)


def test_every_receipt_of_every_batch_has_a_valid_proof(market: Market) -> None:
    units = [1] * 50 + [2]  # 51 payees: two v0 batches
    crew, _ = _work(market, units)
    _settle(market)
    by_root: Counter[str] = Counter()
    for w in crew:
        with market.store.uow(readonly=True) as uow:
            ids = [p.receipt_id for p in uow.payouts.of_recipient(w.address)]
        for rid in ids:
            assert rid is not None
            got = receipts.get_receipt(w, rid, store=market.store, crypto=market.crypto)
            paid = got["payout"]
            assert verify_proof(got["digest"], paid["proof"], paid["merkle_root"])
            by_root[paid["merkle_root"]] += 1
    assert sum(by_root.values()) == 52
    assert len(by_root) == len(_batches(market)) >= 2
