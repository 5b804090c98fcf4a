"""Getting a signed transaction onto a cluster: blockhashes, broadcast, rebroadcast, status.

Exactly-once rests on three habits. A transaction is sent with preflight, then the same
signed bytes are rebroadcast (never re-signed) until its signature reaches the configured
commitment or the block height passes its `lastValidBlockHeight`. Expiry is read *before*
the status, and the status is asked with `searchTransactionHistory`, so "unknown after
expiry" means it can never land: only then may the settler sign its payouts again.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from solana.rpc.async_api import AsyncClient
from solana.rpc.models import TxOpts
from solders.commitment_config import CommitmentConfig, CommitmentLevel
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.signature import Signature

from earnest.adapters.chain import payout
from earnest.adapters.chain.keys import parse_address
from earnest.adapters.chain.rpc_bridge import RpcBridge
from earnest.domain.errors import ChainError
from earnest.services.chain_port import TxState, TxStatus

T = TypeVar("T")
_BLOCKHASH_REUSE = 2.0  # seconds one blockhash serves the settler's many trial signings
LEVELS = {
    "processed": CommitmentLevel.Processed,
    "confirmed": CommitmentLevel.Confirmed,
    "finalized": CommitmentLevel.Finalized,
}


@dataclass(frozen=True, kw_only=True)
class RpcOptions:
    """How RpcChain talks to its node."""

    commitment: str = "confirmed"
    priority_fee_microlamports: int = 0
    compute_unit_limit: int | None = None  # None: estimated per batch when a fee is set
    timeout: float = 15.0  # seconds per HTTP request
    retries: int = 5  # retries of a request answered with HTTP 429
    # A blockhash lives 150 blocks (60-90 s): a send rebroadcasts for at most this long.
    confirm_seconds: float = 90.0
    poll_seconds: float = 0.5
    rebroadcast_seconds: float = 2.0


class Sender:
    """Sends, rebroadcasts and watches transactions through one RpcBridge."""

    def __init__(self, bridge: RpcBridge, options: RpcOptions) -> None:
        self.bridge = bridge
        self.options = options
        self._level = CommitmentConfig(LEVELS[options.commitment])
        self._lock = threading.Lock()
        self._recent: tuple[Hash, int, float] | None = None

    @classmethod
    def connect(cls, url: str, options: RpcOptions) -> Sender:
        """A Sender on a new bridge to `url`."""
        bridge = RpcBridge(
            url, commitment=options.commitment, timeout=options.timeout, retries=options.retries
        )
        return cls(bridge, options)

    def call(self, method: str, request: Callable[[AsyncClient], Awaitable[T]]) -> T:
        """One RPC request through the bridge."""
        return self.bridge.call(method, request)

    def height(self) -> int:
        """The block height at the configured commitment."""
        return int(self.call("getBlockHeight", lambda c: c.get_block_height()).value)

    def expired(self, last_valid: int) -> bool:
        """Whether the block height has passed `last_valid` (then so has any blockhash kept
        here that expires no later: it is forgotten)."""
        if self.height() <= last_valid:
            return False
        with self._lock:
            if self._recent is not None and self._recent[1] <= last_valid:
                self._recent = None
        return True

    def blockhash(self) -> tuple[Hash, int]:
        """A recent blockhash and its last valid block height (reused for a moment)."""
        with self._lock:
            recent = self._recent
        if recent is not None and time.monotonic() - recent[2] < _BLOCKHASH_REUSE:
            return recent[0], recent[1]
        value = self.call("getLatestBlockhash", lambda c: c.get_latest_blockhash()).value
        with self._lock:
            self._recent = (value.blockhash, value.last_valid_block_height, time.monotonic())
        return value.blockhash, value.last_valid_block_height

    def status(self, signature: str) -> TxStatus:
        """The signature's status at the configured commitment, searching the node's history."""
        try:
            key = Signature.from_string(signature)
        except ValueError:
            return TxStatus(TxState.UNKNOWN)
        found = self.call(
            "getSignatureStatuses",
            lambda c: c.get_signature_statuses([key], search_transaction_history=True),
        ).value[0]
        if found is None or not found.satisfies_commitment(self._level):
            return TxStatus(TxState.UNKNOWN)
        if found.err is not None:
            return TxStatus(TxState.FAILED, slot=found.slot, error=str(found.err))
        return TxStatus(TxState.CONFIRMED, slot=found.slot)

    def broadcast(self, raw: bytes, *, preflight: bool) -> None:
        """Send signed bytes once; a transaction that already landed is not an error."""
        opts = TxOpts(
            skip_confirmation=True,
            skip_preflight=not preflight,
            preflight_commitment=self.options.commitment,  # type: ignore[arg-type]
        )
        try:
            self.call("sendTransaction", lambda c: c.send_raw_transaction(raw, opts))
        except ChainError as exc:
            refused = exc.extra.get("tx_error")
            if refused == "AlreadyProcessed":
                return  # it landed earlier: re-sending the same bytes is how retries work
            if refused == "BlockhashNotFound":
                with self._lock:
                    self._recent = None  # the next signing fetches a fresh blockhash
            raise

    def await_landing(self, signature: str, raw: bytes | None, last_valid: int | None) -> None:
        """Poll until the signature reaches the commitment, rebroadcasting `raw`.

        Bounded by `confirm_seconds` and, when known, by the blockhash's last valid height.
        """
        options = self.options
        deadline = time.monotonic() + options.confirm_seconds
        rebroadcast = time.monotonic() + options.rebroadcast_seconds
        while time.monotonic() < deadline:
            # Expiry first: a status read after it is final for a transaction never seen.
            expired = last_valid is not None and self.expired(last_valid)
            if self.status(signature).state is not TxState.UNKNOWN or expired:
                return
            if raw is not None and time.monotonic() >= rebroadcast:
                with contextlib.suppress(ChainError):
                    self.broadcast(raw, preflight=False)  # the same bytes land at most once
                rebroadcast = time.monotonic() + options.rebroadcast_seconds
            time.sleep(options.poll_seconds)

    def require_confirmed(self, signature: str) -> None:
        """ChainError unless the signature is confirmed."""
        found = self.status(signature)
        if found.state is not TxState.CONFIRMED:
            detail = f": {found.error}" if found.error else ""
            raise ChainError(f"transaction {signature} did not land ({found.state}){detail}")

    def sign_and_confirm(self, ixs: list[Instruction], signers: Sequence[Keypair]) -> str:
        """Sign `ixs` (the first signer pays), send, wait until confirmed; the signature."""
        blockhash, last_valid = self.blockhash()
        signed = payout.sign(ixs, signers, blockhash)
        raw = bytes(signed)
        payout.check_size(raw)
        signature = str(signed.signatures[0])
        self.broadcast(raw, preflight=True)
        self.await_landing(signature, raw, last_valid)
        self.require_confirmed(signature)
        return signature

    def airdrop(self, owner: str, lamports: int) -> str:
        """Ask the node's faucet (a local node, devnet, testnet) for SOL; wait until it lands."""
        key = parse_address(owner)
        found = self.call("requestAirdrop", lambda c: c.request_airdrop(key, lamports))
        signature = str(found.value)
        self.await_landing(signature, None, None)
        self.require_confirmed(signature)
        return signature
