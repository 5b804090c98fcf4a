"""The Solana JSON-RPC methods `earnest chain serve` answers, over a LocalChain.

Each method takes the call's `Params` and returns the `result` value Solana would return:
the same context/value wrappers, encodings and error codes, so that stock clients work.
One node, no forks: everything that lands is final at once, and slot = block height.
Transactions run as they are sent (each one a block), or, with `slot_seconds`, on a slot
clock as a cluster runs (solana-test-validator's slots are 400 ms): a slot every so often,
each with a new blockhash valid for 150 blocks, and the transactions sent during a slot
land when it closes. A client then sees its transaction unknown until the next block, and
must send and wait as it would on devnet.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata

from earnest.adapters.chain import base58, history, rpc_encode
from earnest.adapters.chain.local import LocalChain
from earnest.adapters.chain.rpc_blocks import BlockMethods
from earnest.adapters.chain.rpc_cluster import ClusterMethods
from earnest.adapters.chain.rpc_server import (
    MIN_CONTEXT_SLOT_NOT_REACHED,
    PREFLIGHT_FAILURE,
    SIGNATURE_FAILURE,
    Handler,
    Params,
    RpcError,
    invalid,
)
from earnest.adapters.chain.rpc_tokens import TokenMethods
from earnest.domain.errors import ChainError, InvalidInput

# A semantic version, since clients parse it; LiteSVM runs Agave's runtime without naming one.
SOLANA_CORE_VERSION = "2.2.0"
FEATURE_SET = 3271415109
_MAX_ACCOUNTS = 100  # getMultipleAccounts
_MAX_SIGNATURES = 256  # getSignatureStatuses

Json = dict[str, Any]


def pubkey(params: Params, index: int) -> Pubkey:
    """A base58 address parameter."""
    return _pubkey(params.string(index))


def _pubkey(text: str) -> Pubkey:
    try:
        raw = base58.decode(text)
    except ValueError as exc:
        raise invalid("Invalid param: Invalid") from exc
    if len(raw) != 32:
        raise invalid("Invalid param: WrongSize")
    return Pubkey.from_bytes(raw)


def _signature(text: Any) -> Signature:
    try:
        return Signature.from_string(text)
    except (ValueError, TypeError) as exc:
        raise invalid("Invalid param: Invalid") from exc


class LocalRpc:
    """Solana's JSON-RPC methods answered by one LocalChain."""

    def __init__(self, chain: LocalChain, *, slot_seconds: float = 0.0) -> None:
        self._chain = chain
        self._runtime = chain.runtime
        self._slot_seconds = slot_seconds
        self._held: dict[str, bytes] = {}  # signature → bytes waiting for the next block
        self._held_lock = threading.Lock()
        self._stop = threading.Event()
        self._producer: threading.Thread | None = None

    def start(self) -> None:
        """With `slot_seconds`: start the slot clock, a block that often, until `stop`."""
        if self._slot_seconds > 0:
            self._runtime.start_slots()
            self._producer = threading.Thread(
                target=self._produce, name="earnest-chain-blocks", daemon=True
            )
            self._producer.start()

    def stop(self) -> None:
        self._stop.set()
        if self._producer is not None:
            self._producer.join(timeout=10)
        self.produce_block()  # what was sent before the stop still lands

    def produce_block(self) -> int:
        """Run the transactions sent since the last block, in the order sent, and close the
        slot (with the slot clock); how many ran."""
        with self._held_lock:
            held, self._held = self._held, {}
        for raw in held.values():
            with contextlib.suppress(ChainError):  # a failed one is kept as failed
                self._chain.submit(raw)
        if self._slot_seconds > 0:
            self._runtime.advance_slot()
        return len(held)

    def _produce(self) -> None:
        while not self._stop.wait(self._slot_seconds):
            self.produce_block()

    def handlers(self) -> dict[str, Handler]:
        """Method name → handler, for `rpc_server.create_rpc_app`."""
        cluster = ClusterMethods(self._runtime, self._chain.mint, self._context)
        tokens = TokenMethods(self._runtime, self._context)
        blocks = BlockMethods(self._runtime, self._context, cluster.identity)
        return (
            cluster.handlers()
            | tokens.handlers()
            | blocks.handlers()
            | {
                "getAccountInfo": self.get_account_info,
                "getBalance": self.get_balance,
                "getBlockHeight": self.get_block_height,
                "getHealth": lambda params: "ok",
                "getLatestBlockhash": self.get_latest_blockhash,
                "getMinimumBalanceForRentExemption": self.get_minimum_balance_for_rent_exemption,
                "getMultipleAccounts": self.get_multiple_accounts,
                "getSignatureStatuses": self.get_signature_statuses,
                "getSlot": self.get_block_height,
                "getTokenAccountBalance": self.get_token_account_balance,
                "getTransaction": self.get_transaction,
                "getVersion": lambda params: {
                    "solana-core": SOLANA_CORE_VERSION,
                    "feature-set": FEATURE_SET,
                },
                "isBlockhashValid": self.is_blockhash_valid,
                "requestAirdrop": self.request_airdrop,
                "sendTransaction": self.send_transaction,
                "simulateTransaction": self.simulate_transaction,
            }
        )

    def _slot(self, config: Json) -> int:
        slot = self._runtime.height
        wanted = config.get("minContextSlot")
        if type(wanted) is int and wanted > slot:
            raise RpcError(
                MIN_CONTEXT_SLOT_NOT_REACHED,
                "Minimum context slot has not been reached",
                {"contextSlot": slot},
            )
        return slot

    def _context(self, config: Json, value: Any) -> Json:
        slot = self._slot(config)
        return {"context": {"slot": slot, "apiVersion": SOLANA_CORE_VERSION}, "value": value}

    def get_latest_blockhash(self, params: Params) -> Json:
        """The blockhash to sign with and the last block height it can land at."""
        config = params.config(0)
        blockhash, last_valid = self._runtime.blockhash()
        return self._context(
            config, {"blockhash": str(blockhash), "lastValidBlockHeight": last_valid}
        )

    def is_blockhash_valid(self, params: Params) -> Json:
        """Whether a blockhash can still be used."""
        text, config = params.string(0), params.config(1)
        try:
            blockhash = Hash.from_string(text)
        except ValueError as exc:
            raise invalid("Invalid param: Invalid") from exc
        return self._context(config, self._runtime.blockhash_valid(blockhash))

    def get_block_height(self, params: Params) -> int:
        """The block height (also the slot: one node, one block per landed transaction)."""
        return self._slot(params.config(0))

    def get_minimum_balance_for_rent_exemption(self, params: Params) -> int:
        """Lamports an account of the given size needs to be rent exempt."""
        size = params.integer(0)
        params.config(1)
        return self._runtime.rent_exempt_minimum(size)

    def get_balance(self, params: Params) -> Json:
        """An account's lamports (0 if it does not exist)."""
        address, config = pubkey(params, 0), params.config(1)
        found = self._runtime.account(address)
        return self._context(config, found.lamports if found else 0)

    def get_account_info(self, params: Params) -> Json:
        """One account in the requested encoding, or null."""
        address, config = pubkey(params, 0), params.config(1)
        return self._context(config, self._encoded(address, config))

    def get_multiple_accounts(self, params: Params) -> Json:
        """Up to 100 accounts, null for each that does not exist."""
        addresses, config = params.strings(0, _MAX_ACCOUNTS), params.config(1)
        keys = [_pubkey(a) for a in addresses]
        return self._context(config, [self._encoded(key, config) for key in keys])

    def _encoded(self, address: Pubkey, config: Json) -> Json | None:
        found = self._runtime.account(address)
        if found is None:
            return None
        return rpc_encode.account(found, config, self._runtime.decimals_of)

    def get_token_account_balance(self, params: Params) -> Json:
        """A token account's balance as Solana's uiTokenAmount."""
        address, config = pubkey(params, 0), params.config(1)
        found = self._runtime.account(address)
        if found is None:
            raise invalid("Invalid param: could not find account")
        token = history.token_account(found)
        decimals = None if token is None else self._runtime.decimals_of(token.mint)
        if token is None or decimals is None:
            raise invalid("Invalid param: not a Token account")
        return self._context(config, history.ui_token_amount(token.amount, decimals))

    def request_airdrop(self, params: Params) -> str:
        """New SOL for an address, in a real transfer transaction."""
        address, lamports = pubkey(params, 0), params.integer(1)
        params.config(2)
        if lamports == 0:
            raise invalid("Invalid params: lamports must be positive.")
        try:
            tx = self._chain.airdrop_transaction(str(address), lamports)
        except InvalidInput as exc:
            raise invalid(f"Invalid params: {exc}") from exc
        return self._land(tx)

    def get_signature_statuses(self, params: Params) -> Json:
        """Where each signature stands; null for those the node does not know."""
        signatures, config = params.strings(0, _MAX_SIGNATURES), params.config(1)
        search = bool(config.get("searchTransactionHistory"))
        height, value = self._runtime.height, []
        for text in signatures:
            stored = self._runtime.stored(str(_signature(text)))
            value.append(None if stored is None else rpc_encode.status(stored, height, search))
        return self._context(config, value)

    def get_transaction(self, params: Params) -> Json | None:
        """A landed transaction with its meta, or null."""
        signature = _signature(params.string(0))
        second = params.optional(1)
        # The second parameter may also be a bare encoding name, as in Solana's older form.
        config = {"encoding": second} if isinstance(second, str) else params.config(1)
        if config.get("commitment") == "processed":
            raise invalid("Method does not support commitment below `confirmed`")
        stored = self._runtime.stored(str(signature))
        return None if stored is None else rpc_encode.transaction(stored, config)

    def simulate_transaction(self, params: Params) -> Json:
        """Run a signed transaction against the current state without keeping it."""
        config = params.config(1)
        replace, verify = bool(config.get("replaceRecentBlockhash")), bool(config.get("sigVerify"))
        if replace and verify:
            raise invalid("sigVerify may not be used with replaceRecentBlockhash")
        tx = rpc_encode.decode_transaction(params.string(0), config)
        result = self._runtime.simulate(tx, sig_verify=verify, any_blockhash=replace)
        value = rpc_encode.simulation(result)
        if replace:
            blockhash, last_valid = self._runtime.blockhash()
            value["replacementBlockhash"] = {
                "blockhash": str(blockhash),
                "lastValidBlockHeight": last_valid,
            }
        return self._context(config, value)

    def send_transaction(self, params: Params) -> str:
        """Run a signed transaction; with preflight, refuse it if its simulation fails."""
        config = params.config(1)
        tx = rpc_encode.decode_transaction(params.string(0), config)
        if not config.get("skipPreflight"):
            self._preflight(tx)
        return self._land(tx)

    def _land(self, tx: VersionedTransaction) -> str:
        """Run `tx` now, or at the end of the slot with the slot clock; its signature."""
        signature = str(tx.signatures[0])
        if self._slot_seconds > 0:
            with self._held_lock:
                self._held.setdefault(signature, bytes(tx))  # a resend waits once
            return signature
        # As on a cluster: a transaction that fails or is dropped still answers with its id.
        with contextlib.suppress(ChainError):
            self._chain.submit(bytes(tx))
        return signature

    def _preflight(self, tx: VersionedTransaction) -> None:
        if self._runtime.stored(str(tx.signatures[0])) is not None:
            err: Any = "AlreadyProcessed"
            result = {"err": err, "logs": [], "accounts": None, "unitsConsumed": 0}
        else:
            simulated = self._runtime.simulate(tx)
            if not isinstance(simulated, FailedTransactionMetadata):
                return
            err, result = history.error_json(simulated), rpc_encode.simulation(simulated)
        if err == "SignatureFailure":
            raise RpcError(SIGNATURE_FAILURE, "Transaction signature verification failure")
        message = f"Transaction simulation failed: {rpc_encode.describe(err)}"
        raise RpcError(PREFLIGHT_FAILURE, message, result)
