"""Money moves the demos share: a requester's tokens into the vault, and settling what is owed."""

from __future__ import annotations

import time

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market


def faucet_deposit(market: Market, wallet: Wallet, amount: int) -> str:
    """The demo's faucet mints enough to `wallet` that, sent to the market's vault on chain,
    `amount` arrives (a transfer-fee mint withholds its fee on the way); the transaction's
    signature, for the requester to credit."""
    gross = market.chain.transfer_fee().gross(amount)
    market.chain.faucet(wallet.address, gross)
    return send_deposit(market, wallet, gross)


def send_deposit(market: Market, wallet: Wallet, amount: int) -> str:
    """Move `amount` tokens from the wallet to the vault on chain; the signature."""
    raw = wallet.deposit_transaction(
        mint=market.chain.mint,
        decimals=market.chain.decimals,
        vault=market.chain.vault,
        amount=amount,
        blockhash=market.chain.latest_blockhash(),
        program=market.chain.token_program,
    )
    return market.chain.submit(raw)


def settle_all(market: Market, timeout: float = 60.0) -> bool:
    """Pay everything owed on chain (batched SPL transfers with the receipts' Merkle root);
    False if a backlog remains after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        market.settler.round()
        with market.store.uow(readonly=True) as uow:
            backlog = uow.payouts.backlog()
        if not backlog.get("pending_count") and not backlog.get("batched_count"):
            return True
    return False
