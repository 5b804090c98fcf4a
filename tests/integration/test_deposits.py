"""Deposits read back from the real chain, and withdrawals paid back on chain."""

from __future__ import annotations

import pytest
from solders.hash import Hash
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from earnest.adapters.chain import Wallet, instructions
from earnest.bootstrap import Market
from earnest.demo.funds import send_deposit
from earnest.domain import ledger
from earnest.domain.errors import (
    AlreadyDone,
    ChainError,
    Forbidden,
    InvalidInput,
    NotFound,
)
from earnest.services import funds
from earnest.services.reconcile import reconcile
from earnest.services.settlement import settle_once
from tests.factories import (
    balance,
    funded_requester,
    ledger_balances,
    principal,
    token_balance,
)


def _record(market: Market, who_address: str, signature: str) -> int:
    return market.money.record_deposit(funds.RecordDeposit(principal(who_address), signature))


def test_a_deposit_is_credited_exactly_once(market: Market) -> None:
    wallet = Wallet.generate()
    market.chain.faucet(wallet.address, 5_000)
    signature = send_deposit(market, wallet, 3_000)
    assert _record(market, wallet.address, signature) == 3_000
    with pytest.raises(AlreadyDone):
        _record(market, wallet.address, signature)
    assert ledger_balances(market) == {
        ledger.VAULT: 3_000,
        ledger.requester_available(wallet.address): 3_000,
    }
    assert market.chain.token_balance(market.chain.vault) == 3_000
    assert token_balance(market, wallet.address) == 2_000
    assert reconcile(store=market.store, chain=market.chain).ok


def test_a_deposit_signed_by_another_wallet_is_forbidden(market: Market) -> None:
    payer, thief = Wallet.generate(), Wallet.generate()
    market.chain.faucet(payer.address, 700)
    signature = send_deposit(market, payer, 700)
    with pytest.raises(Forbidden):
        _record(market, thief.address, signature)
    assert ledger_balances(market) == {}
    # The rightful owner can still claim it.
    assert _record(market, payer.address, signature) == 700
    assert balance(market, ledger.requester_available(payer.address)) == 700
    assert balance(market, ledger.requester_available(thief.address)) == 0


def test_a_transfer_not_to_the_vault_is_invalid(market: Market) -> None:
    sender, friend = Wallet.generate(), Wallet.generate()
    market.chain.faucet(sender.address, 900)
    market.chain.faucet(friend.address, 0)
    mint = Pubkey.from_string(market.chain.mint)
    move = instructions.transfer(
        source=Pubkey.from_string(market.chain.token_account(sender.address)),
        mint=mint,
        dest=Pubkey.from_string(market.chain.token_account(friend.address)),
        owner=sender.keypair.pubkey(),
        amount=400,
        decimals=market.chain.decimals,
    )
    raw = bytes(
        Transaction(
            [sender.keypair],
            Message([move], sender.keypair.pubkey()),
            Hash.from_string(market.chain.latest_blockhash()),
        )
    )
    signature = market.chain.submit(raw)
    assert token_balance(market, friend.address) == 400
    with pytest.raises(InvalidInput, match="vault"):
        _record(market, sender.address, signature)
    assert ledger_balances(market) == {}


def test_an_unknown_or_failed_signature_is_not_found(market: Market) -> None:
    wallet = Wallet.generate()
    market.chain.faucet(wallet.address, 100)
    never_sent = wallet.deposit_transaction(
        mint=market.chain.mint,
        decimals=market.chain.decimals,
        vault=market.chain.vault,
        amount=10,
        blockhash=market.chain.latest_blockhash(),
    )
    with pytest.raises(NotFound):
        _record(market, wallet.address, str(Transaction.from_bytes(never_sent).signatures[0]))
    overdrawn = wallet.deposit_transaction(
        mint=market.chain.mint,
        decimals=market.chain.decimals,
        vault=market.chain.vault,
        amount=101,
        blockhash=market.chain.latest_blockhash(),
    )
    with pytest.raises(ChainError, match="insufficient funds"):
        market.chain.submit(overdrawn)
    with pytest.raises(NotFound):
        _record(market, wallet.address, str(Transaction.from_bytes(overdrawn).signatures[0]))
    assert ledger_balances(market) == {}


def test_a_withdrawal_is_queued_then_paid_on_chain(market: Market) -> None:
    wallet, who = funded_requester(market, 10_000)
    assert token_balance(market, wallet.address) == 0
    payout = market.money.withdraw(funds.Withdraw(who, 4_000))
    assert (payout.amount, payout.recipient, payout.status) == (4_000, wallet.address, "pending")
    assert market.money.balances(who) == funds.Balances(6_000, 4_000, 0)

    report = settle_once(
        store=market.store, chain=market.chain, clock=market.clock, rand=market.rand
    )
    assert (report.sent, report.confirmed, report.transfers) == (1, 1, 1)
    assert token_balance(market, wallet.address) == 4_000
    assert market.chain.token_balance(market.chain.vault) == 6_000
    assert market.money.balances(who) == funds.Balances(6_000, 0, 0)
    [paid] = market.money.payouts(who)
    assert paid.payout.status == "paid"
    assert paid.transaction == report.signatures[0]
    assert reconcile(store=market.store, chain=market.chain).ok


def test_two_equal_deposits_from_one_wallet_both_land(market: Market) -> None:
    wallet = Wallet.generate()
    market.chain.faucet(wallet.address, 500)
    market.chain.faucet(wallet.address, 500)
    first = send_deposit(market, wallet, 200)
    second = send_deposit(market, wallet, 200)
    assert first != second
    assert market.chain.token_balance(market.chain.vault) == 400
    assert token_balance(market, wallet.address) == 600
