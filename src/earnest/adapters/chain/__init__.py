"""Solana for the market: LocalChain (solders.litesvm, persisted), RpcChain (any Solana
JSON-RPC node), keys and client wallets."""

from earnest.adapters.chain.keys import MarketCrypto, load_or_create_keypair
from earnest.adapters.chain.local import LocalChain
from earnest.adapters.chain.rpc import RpcChain
from earnest.adapters.chain.rpc_send import RpcOptions
from earnest.adapters.chain.token2022 import MintSetup
from earnest.adapters.chain.wallet import Wallet

__all__ = [
    "LocalChain",
    "MarketCrypto",
    "MintSetup",
    "RpcChain",
    "RpcOptions",
    "Wallet",
    "load_or_create_keypair",
]
