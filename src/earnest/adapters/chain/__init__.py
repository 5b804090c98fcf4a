"""Solana for the market: LocalChain (solders.litesvm, persisted), keys and client wallets."""

from earnest.adapters.chain.keys import MarketCrypto, load_or_create_keypair
from earnest.adapters.chain.local import LocalChain
from earnest.adapters.chain.wallet import Wallet

__all__ = ["LocalChain", "MarketCrypto", "Wallet", "load_or_create_keypair"]
