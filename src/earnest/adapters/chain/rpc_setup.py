"""Preparing a cluster for a market: its mint (new, or an existing one) and its vault."""

from __future__ import annotations

from dataclasses import dataclass

from solders.keypair import Keypair

from earnest.adapters.chain import instructions, payout
from earnest.adapters.chain.keys import parse_address
from earnest.adapters.chain.rpc_send import RpcOptions, Sender
from earnest.domain.errors import InvalidInput

# Fees for a few setup transactions and rent for a mint (0.0015 SOL) and an account (0.002).
_SETUP_LAMPORTS = 10_000_000


@dataclass(frozen=True)
class MintSetup:
    """What `earnest chain init` did and what the market's settings must say."""

    mint: str
    vault: str
    market: str
    created_mint: bool
    lamports: int  # the market wallet's SOL, in lamports, after setup


def init_mint(
    url: str,
    market: Keypair,
    *,
    mint: str | None = None,
    decimals: int = 6,
    airdrop: int = 0,
    options: RpcOptions | None = None,
) -> MintSetup:
    """Create a mint whose authority is the market (unless `mint` is given) and the vault.

    Both steps are idempotent but for the new mint itself; `airdrop` lamports are asked of
    the node's faucet first (local nodes, devnet, testnet). The market key pays the fees.
    """
    if not 0 <= decimals <= 9:
        raise InvalidInput(f"decimals must be between 0 and 9, got {decimals}")
    options = options or RpcOptions()
    sender = Sender.connect(url, options)
    owner = market.pubkey()
    try:
        if airdrop:
            sender.airdrop(str(owner), airdrop)
        lamports = _balance(sender, str(owner))
        if lamports < _SETUP_LAMPORTS:
            raise InvalidInput(
                f"the market wallet {owner} holds {lamports} lamports; fund it with at least "
                f"{_SETUP_LAMPORTS} (devnet: --airdrop {10**9}) before setup"
            )
        if mint is None:
            fresh = Keypair()
            rent = sender.call(
                "getMinimumBalanceForRentExemption",
                lambda c: c.get_minimum_balance_for_rent_exemption(instructions.MINT_SIZE),
            ).value
            ixs = instructions.create_mint(owner, fresh.pubkey(), decimals, int(rent))
            sender.sign_and_confirm(ixs, [market, fresh])
            mint_key, created = fresh.pubkey(), True
        else:
            mint_key, created = parse_address(mint), False
            vault_ix = instructions.create_token_account(owner, owner, mint_key)
            sender.sign_and_confirm([vault_ix], [market])
        vault = str(payout.ata(str(owner), mint_key))
        return MintSetup(str(mint_key), vault, str(owner), created, _balance(sender, str(owner)))
    finally:
        sender.bridge.close()


def _balance(sender: Sender, owner: str) -> int:
    key = parse_address(owner)
    return int(sender.call("getBalance", lambda c: c.get_balance(key)).value)
