"""Cash-out: a worker sends tokens from their own wallet to any Solana address (another
wallet, an exchange's deposit address), signing in the browser with their own key.

Earnings are paid to the worker's own token account, so they are the worker's already; the
market never holds a worker's key and never moves their tokens. It only builds the transfer
(`quote`), which the worker's key signs in the page, and co-signs it as fee payer (`send`):
the worker needs no SOL. The message is rebuilt from its inputs when the signature comes
back, so the market never co-signs bytes a page made up.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from earnest.domain.errors import InsufficientFunds, InvalidInput
from earnest.domain.money import parse_amount
from earnest.services.chain_port import Chain, Crypto
from earnest.services.identity import Principal

# What the market pays per cash-out, in lamports (shown to the worker, who pays none of it):
# Solana's 5,000 per signature (the market's and the worker's), and the rent-exempt minimum
# of a token account (165 bytes) when the recipient has none for this mint yet.
LAMPORTS_PER_SIGNATURE = 5_000
TOKEN_ACCOUNT_RENT = 2_039_280


@dataclass(frozen=True)
class CashOut:
    """Send `amount` base units from the worker's wallet to `to` (a wallet address)."""

    who: Principal
    to: str
    amount: int


@dataclass(frozen=True)
class Quote:
    """A transfer ready to sign: what it does, what it costs, and the bytes to sign."""

    to: str
    amount: int
    balance: int  # the worker's wallet before it
    create: bool  # whether the recipient's token account is created first
    blockhash: str
    message: str  # base64 of the message the worker's key signs
    network_fee: int  # lamports, paid by the market
    account_rent: int  # lamports, paid by the market (0 when the account exists)


def wallet_balance(who: Principal, *, chain: Chain) -> int:
    """The tokens in the worker's own token account, on chain."""
    return chain.token_balance(chain.token_account(who.address))


def quote(cmd: CashOut, *, chain: Chain, crypto: Crypto) -> Quote:
    """Check a cash-out and build the transfer the worker's key will sign."""
    _check(cmd, crypto)
    balance = wallet_balance(cmd.who, chain=chain)
    if cmd.amount > balance:
        raise InsufficientFunds(f"your wallet holds {balance} base units, less than {cmd.amount}")
    create = bool(chain.missing_token_accounts([cmd.to]))
    blockhash = chain.fresh_blockhash()
    message = chain.build_transfer(
        cmd.who.address, cmd.to, cmd.amount, create=create, blockhash=blockhash
    )
    return Quote(
        cmd.to,
        cmd.amount,
        balance,
        create,
        blockhash,
        base64.b64encode(message).decode(),
        2 * LAMPORTS_PER_SIGNATURE,
        TOKEN_ACCOUNT_RENT if create else 0,
    )


@dataclass(frozen=True)
class SendCashOut:
    """The signed transfer of a `quote`: its inputs again, and the worker's signature."""

    cashout: CashOut
    create: bool
    blockhash: str
    signature: str  # base58, the worker's Ed25519 signature of the quote's message


def send(cmd: SendCashOut, *, chain: Chain, crypto: Crypto) -> str:
    """Rebuild the transfer, check the worker signed exactly it, co-sign and send it; the
    transaction's signature once it landed."""
    out = cmd.cashout
    _check(out, crypto)
    message = chain.build_transfer(
        out.who.address, out.to, out.amount, create=cmd.create, blockhash=cmd.blockhash
    )
    if not crypto.verify(out.who.address, message, cmd.signature):
        raise InvalidInput("the signature is not your key's signature of this transfer")
    return chain.send_transfer(message, cmd.signature)


def _check(cmd: CashOut, crypto: Crypto) -> None:
    cmd.who.require("funds:write")
    parse_amount(cmd.amount, "the amount", positive=True)
    if not crypto.is_address(cmd.to):
        raise InvalidInput("the recipient is not a Solana address (base58, 32 to 44 characters)")
    if cmd.to == cmd.who.address:
        raise InvalidInput("that is your own address: name another wallet or an exchange's")
