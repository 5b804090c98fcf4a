"""Deposits from a connected wallet: the market builds the transfer to its vault, the
requester's wallet signs it, the market co-signs as fee payer, sends it and credits it.

The transfer is the same one a worker's cash-out uses (`Chain.build_transfer`, the market
paying the network fee, so the requester needs no SOL), addressed to the vault's owner. The
signed message is rebuilt from the same inputs, never taken from the browser, and the
deposit is credited only as `funds.record_deposit` credits any deposit: from the chain's
record of the landed transaction. Pasting the signature of a transfer made elsewhere stays.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from earnest.domain.errors import InsufficientFunds, InvalidInput
from earnest.domain.money import parse_amount
from earnest.services import funds
from earnest.services.chain_port import Chain, Crypto
from earnest.services.identity import Principal
from earnest.services.ports import Clock, MoneyStore

SIGNATURE_SLOTS = 2  # the market (fee payer) and the requester sign the transfer


@dataclass(frozen=True)
class DepositQuote:
    amount: int
    blockhash: str
    transaction: str  # base64 wire transaction, its signatures empty, for the wallet to sign


@dataclass(frozen=True)
class WalletDeposit:
    """The requester's signature of a quoted deposit, with the quote's inputs again."""

    who: Principal
    amount: int
    blockhash: str
    signature: str  # base58 Ed25519 signature of the transfer's message


def quote(who: Principal, amount: int, *, chain: Chain) -> DepositQuote:
    """The transfer of `amount` from the requester's token account to the vault."""
    who.require("funds:write")
    parse_amount(amount, positive=True)
    held = chain.token_balance(chain.token_account(who.address))
    if held < amount:
        raise InsufficientFunds(
            f"your wallet holds {held} base units, less than {amount}",
            available=held,
            needed=amount,
        )
    blockhash = chain.fresh_blockhash()
    message = chain.build_transfer(
        who.address, chain.vault_owner, amount, create=False, blockhash=blockhash
    )
    # The wire form: the count of signatures (one byte, below 128), empty slots, the message.
    wire = bytes([SIGNATURE_SLOTS]) + bytes(64 * SIGNATURE_SLOTS) + message
    return DepositQuote(amount, blockhash, base64.b64encode(wire).decode())


def deposit(
    cmd: WalletDeposit, *, store: MoneyStore, chain: Chain, crypto: Crypto, clock: Clock
) -> int:
    """Rebuild the transfer, check the wallet signed exactly it, send it, credit it."""
    cmd.who.require("funds:write")
    parse_amount(cmd.amount, positive=True)
    message = chain.build_transfer(
        cmd.who.address, chain.vault_owner, cmd.amount, create=False, blockhash=cmd.blockhash
    )
    if not crypto.verify(cmd.who.address, message, cmd.signature):
        raise InvalidInput("the wallet's signature is not your key's signature of this deposit")
    sent = chain.send_transfer(message, cmd.signature)
    return funds.record_deposit(
        funds.RecordDeposit(cmd.who, sent), store=store, chain=chain, clock=clock
    )
