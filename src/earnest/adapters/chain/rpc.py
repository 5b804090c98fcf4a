"""RpcChain: the `Chain` port over any Solana JSON-RPC endpoint (localnet, devnet, mainnet).

Sending, rebroadcasting and the expiry rule live in `rpc_send.py`; this module builds the
market's transactions and reads balances and transfers back from the node.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial
from typing import Any

from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed, Finalized
from solders.account import Account
from solders.address_lookup_table_account import AddressLookupTable
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_PROGRAM_ID

from earnest.adapters.chain import decode, history, lookup, payout
from earnest.adapters.chain.keys import parse_address
from earnest.adapters.chain.market import MarketMint
from earnest.adapters.chain.rpc_bridge import RpcBridge
from earnest.adapters.chain.rpc_send import LEVELS, Outstanding, RpcOptions, Sender
from earnest.domain.errors import ChainError, InvalidInput
from earnest.services.chain_port import (
    SignedTransaction,
    TokenTransfer,
    TxStatus,
)

_ACTIVATION_WAIT = 30.0  # seconds for a cluster to pass one slot (~0.4 s each)
_MAX_KEYS = 100  # getMultipleAccounts takes at most 100 addresses
# Compute units when the limit is estimated (priority fee set, no explicit limit). Measured
# under LiteSVM: TransferChecked 105, ATA create 13,525, a 75-byte memo 513; the original
# SPL Token program, still live on clusters, takes ~6,200 for a TransferChecked.
_UNITS_BASE = 5_000
_UNITS_TRANSFER = 10_000
_UNITS_CREATE = 40_000
_MAX_UNITS = 1_400_000  # Solana's per-transaction ceiling


class RpcChain(MarketMint):
    """The `Chain` port on a Solana RPC node; the market key signs payouts from its vault."""

    def __init__(
        self,
        sender: Sender,
        market: Keypair,
        mint: Pubkey,
        decimals: int,
        program: Pubkey = TOKEN_PROGRAM_ID,
    ) -> None:
        super().__init__(market, mint, decimals, program)
        self._sender = sender

    @classmethod
    def open(cls, url: str, market: Keypair, mint: str, options: RpcOptions) -> RpcChain:
        """Connect to `url` and read the mint's decimals; InvalidInput if it is not a mint."""
        if options.commitment not in LEVELS:
            raise InvalidInput(f"commitment must be one of {', '.join(LEVELS)}")
        sender = Sender.connect(url, options)
        try:
            key = parse_address(mint)
            found = _account(sender.bridge, key)
            state = history.mint_state(found)
            if found is None or state is None:
                raise InvalidInput(
                    f"{mint} is not an SPL Token mint (classic or Token-2022) on "
                    f"{sender.bridge.endpoint} (see docs/operating.md, 'Running against a "
                    "real Solana RPC')"
                )
            chain = cls(sender, market, key, int(state.decimals), found.owner)
            chain.mint_terms()  # learns whether transfers must state a fee
            return chain
        except BaseException:
            sender.bridge.close()
            raise

    @property
    def endpoint(self) -> str:
        """The node's scheme, host and port (never its path or query, which hold API keys)."""
        return self._sender.bridge.endpoint

    def missing_token_accounts(self, owners: Sequence[str]) -> set[str]:
        """The owners among `owners` whose associated token account does not exist yet."""
        unique = list(dict.fromkeys(owners))
        found = self._accounts([self._ata(owner) for owner in unique])
        return {owner for owner, acc in zip(unique, found, strict=True) if acc is None}

    def _accounts(self, keys: Sequence[Pubkey]) -> list[Account | None]:
        found: list[Account | None] = []
        for start in range(0, len(keys), _MAX_KEYS):
            chunk = list(keys[start : start + _MAX_KEYS])
            request = partial(AsyncClient.get_multiple_accounts, pubkeys=chunk)
            got = self._sender.call("getMultipleAccounts", request)
            found += list(got.value)
        return found

    def send(self, tx: SignedTransaction) -> None:
        """Send the signed bytes (with preflight); `await_landing` rebroadcasts them until
        they land or expire.

        Raises ChainError if the node refuses them (a failed preflight); a transaction that
        had already landed is not an error.
        """
        self._sender.broadcast(tx.raw, preflight=True)

    def await_landing(self, txs: Sequence[SignedTransaction]) -> None:
        """Poll the signatures together until each lands or expires, rebroadcasting."""
        self._sender.await_all([Outstanding(t.signature, t.raw, t.last_valid_height) for t in txs])

    def status(self, signature: str) -> TxStatus:
        """The signature's status at the configured commitment, searching the node's history."""
        return self._sender.status(signature)

    def blockhash_valid(self, tx: SignedTransaction) -> bool:
        """Whether the block height has not yet passed the transaction's last valid height."""
        return not self._sender.expired(tx.last_valid_height)

    def token_transfers(self, signature: str) -> list[TokenTransfer] | None:
        """The SPL token transfers of a confirmed transaction; None if unknown or failed."""
        try:
            key = Signature.from_string(signature)
        except ValueError:
            return None
        # getTransaction refuses `processed`: nothing below `confirmed` is in its ledger.
        level = Confirmed if self._sender.options.commitment == "processed" else None
        found = self._sender.call(
            "getTransaction",
            lambda c: c.get_transaction(
                key, encoding="base64", commitment=level, max_supported_transaction_version=0
            ),
        ).value
        if found is None or found.transaction.meta is None or found.transaction.meta.err:
            return None
        tx = found.transaction.transaction
        if not isinstance(tx, VersionedTransaction):
            raise ChainError(f"{self.endpoint} did not return transaction {signature} as bytes")
        balances = [
            *(found.transaction.meta.pre_token_balances or []),
            *(found.transaction.meta.post_token_balances or []),
        ]
        loaded = found.transaction.meta.loaded_addresses
        extra = [*loaded.writable, *loaded.readonly] if loaded else []
        keys = [*tx.message.account_keys, *extra]
        known = {keys[b.account_index]: b.mint for b in balances if b.account_index < len(keys)}
        return decode.token_transfers(tx, lambda account: known.get(account), extra, self._fee_of)

    def token_balance(self, token_account: str) -> int:
        """Balance of a token account in base units (0 if it does not exist)."""
        found = _account(self._sender.bridge, parse_address(token_account))
        if found is None:
            return 0
        parsed = history.token_account(found)
        if parsed is None:
            raise InvalidInput(f"{token_account} is not a token account")
        return int(parsed.amount)

    def slot(self) -> int:
        """The node's current slot at the configured commitment."""
        return int(self._sender.call("getSlot", lambda c: c.get_slot()).value)

    def latest_blockhash(self) -> str:
        """A fresh blockhash for a client's transaction (a deposit, say)."""
        found = self._sender.call("getLatestBlockhash", lambda c: c.get_latest_blockhash())
        return str(found.value.blockhash)

    def submit(self, raw: bytes) -> str:
        """Send a client's signed transaction and wait until it lands; its signature."""
        payout.check_size(raw)
        try:
            signature = str(VersionedTransaction.from_bytes(raw).signatures[0])
        except ValueError as exc:
            raise InvalidInput(f"not a serialized Solana transaction: {exc}") from exc
        self._sender.broadcast(raw, preflight=True)
        self._sender.await_landing(signature, raw, None)
        self._sender.require_confirmed(signature)
        return signature

    def faucet(self, owner: str, amount: int, lamports: int = 10**9) -> str:
        """Airdrop SOL to `owner` and mint `amount` tokens to it (the market must be the mint
        authority: a mint made by `earnest chain init`, on a local node or devnet)."""
        if lamports:
            self._sender.airdrop(owner, lamports)
        ixs = self._faucet_instructions(owner, amount)
        return self._sender.sign_and_confirm(ixs, [self._market])

    def close(self) -> None:
        """Close the connection pool and its loop thread."""
        self._sender.bridge.close()

    def _blockhash(self) -> tuple[Hash, int]:
        return self._sender.blockhash()

    def _account_data(self, keys: Sequence[Pubkey]) -> list[bytes | None]:
        return [None if a is None else bytes(a.data) for a in self._accounts(keys)]

    def _epoch(self) -> int:
        return int(self._sender.call("getEpochInfo", lambda c: c.get_epoch_info()).value.epoch)

    def _rent(self, size: int) -> int:
        found = self._sender.call(
            "getMinimumBalanceForRentExemption",
            lambda c: c.get_minimum_balance_for_rent_exemption(size),
        )
        return int(found.value)

    def _read_tables(self, tables: Sequence[str]) -> list[AddressLookupTable | None]:
        found = self._accounts([parse_address(t) for t in tables])
        return [None if a is None else lookup.decode(bytes(a.data)) for a in found]

    def _run(self, ixs: list[Instruction]) -> None:
        self._sender.sign_and_confirm(ixs, [self._market])

    def _run_all(self, transactions: Sequence[list[Instruction]]) -> None:
        self._sender.sign_and_confirm_all(transactions, [self._market])

    def _recent_slot(self) -> int:
        # A finalized slot is surely among the cluster's SlotHashes when the create runs.
        return int(self._sender.call("getSlot", lambda c: c.get_slot(Finalized)).value)

    def _await_active(self, table: Pubkey) -> None:
        (found,) = self._read_tables([str(table)])
        if found is None:
            raise ChainError(f"lookup table {table} is missing on {self.endpoint}")
        deadline = time.monotonic() + _ACTIVATION_WAIT
        while self.slot() <= found.meta.last_extended_slot:
            if time.monotonic() > deadline:
                raise ChainError(f"{self.endpoint} did not pass the slot of table {table}")
            time.sleep(0.2)

    def _v0_budget(self, transfers: int) -> list[Instruction]:
        # A cluster may still run the original SPL Token program (~6,200 units a transfer,
        # 60 times LiteSVM's), so the limit stays the estimate below unless configured.
        return self._budget(transfers, 0) or super()._v0_budget(transfers)

    def _budget(self, transfers: int, creates: int) -> list[Instruction]:
        options = self._sender.options
        price, limit = options.priority_fee_microlamports, options.compute_unit_limit
        if not price and limit is None:
            return []
        units = limit or min(
            _MAX_UNITS, _UNITS_BASE + transfers * _UNITS_TRANSFER + creates * _UNITS_CREATE
        )
        ixs = [set_compute_unit_limit(units)]
        if price:
            ixs.append(set_compute_unit_price(price))
        return ixs


def _account(bridge: RpcBridge, key: Pubkey) -> Account | None:
    resp: Any = bridge.call("getAccountInfo", lambda c: c.get_account_info(key, encoding="base64"))
    found: Account | None = resp.value
    return found
