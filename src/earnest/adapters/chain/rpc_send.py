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
from typing import Any, TypeVar

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
_STATUSES_PER_REQUEST = 256  # getSignatureStatuses takes at most 256 signatures
_SIGNINGS = 3  # times a setup transaction whose blockhash expired unlanded is signed
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


@dataclass(frozen=True)
class Outstanding:
    """A transaction sent and not yet known to have landed: its bytes are rebroadcast
    (never re-signed) until it lands or its blockhash expires."""

    signature: str
    raw: bytes | None  # None: nothing to rebroadcast (an airdrop the node itself sends)
    last_valid: int | None  # the blockhash's last valid block height, if known


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
        height = self.height()
        if height <= last_valid:
            return False
        self._forget_blockhash(height)
        return True

    def _forget_blockhash(self, height: int) -> None:
        """Drop the kept blockhash if the block height has passed its last valid height."""
        with self._lock:
            if self._recent is not None and self._recent[1] < height:
                self._recent = None

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
        return self.statuses([signature])[0]

    def statuses(self, signatures: Sequence[str]) -> list[TxStatus]:
        """Each signature's status, as `status` gives it, in requests of 256 signatures."""
        found = [TxStatus(TxState.UNKNOWN)] * len(signatures)
        keys: list[tuple[int, Signature]] = []
        for index, text in enumerate(signatures):
            with contextlib.suppress(ValueError):  # not a signature: unknown
                keys.append((index, Signature.from_string(text)))
        for start in range(0, len(keys), _STATUSES_PER_REQUEST):
            chunk = keys[start : start + _STATUSES_PER_REQUEST]
            asked = [key for _, key in chunk]
            answers = self.call(
                "getSignatureStatuses",
                lambda c, asked=asked: c.get_signature_statuses(  # type: ignore[misc]
                    asked, search_transaction_history=True
                ),
            ).value
            for (index, _), answer in zip(chunk, answers, strict=True):
                found[index] = self._status_of(answer)
        return found

    def _status_of(self, found: Any) -> TxStatus:
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
            preflight_commitment=self.options.commitment,
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
        """Poll until the signature reaches the commitment, rebroadcasting `raw`."""
        self.await_all([Outstanding(signature, raw, last_valid)])

    def await_all(self, outstanding: Sequence[Outstanding]) -> None:
        """Poll until every transaction has reached the commitment, failed, or can no longer
        land, rebroadcasting the bytes of those still out; all of them in one status request
        a round, so N transactions sent together take about one confirmation, not N.

        Bounded by `confirm_seconds` and, when known, by each blockhash's last valid height.
        """
        options = self.options
        deadline = time.monotonic() + options.confirm_seconds
        rebroadcast = time.monotonic() + options.rebroadcast_seconds
        waiting = list(outstanding)
        while waiting and time.monotonic() < deadline:
            # Expiry first: a status read after it is final for a transaction never seen.
            height = self.height() if any(o.last_valid is not None for o in waiting) else 0
            found = self.statuses([o.signature for o in waiting])
            limits = [o.last_valid for o in waiting if o.last_valid is not None]
            if limits and height > min(limits):
                self._forget_blockhash(height)
            waiting = [
                o
                for o, status in zip(waiting, found, strict=True)
                if status.state is TxState.UNKNOWN
                and (o.last_valid is None or height <= o.last_valid)
            ]
            if not waiting:
                return
            if time.monotonic() >= rebroadcast:
                for o in waiting:
                    if o.raw is not None:
                        with contextlib.suppress(ChainError):
                            self.broadcast(o.raw, preflight=False)  # lands at most once
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
        (signature,) = self.sign_and_confirm_all([ixs], signers)
        return signature

    def sign_and_confirm_all(
        self, transactions: Sequence[list[Instruction]], signers: Sequence[Keypair]
    ) -> list[str]:
        """Sign each instruction list as one transaction (the first signer pays), send them
        all, then wait until every one is confirmed; their signatures.

        One whose blockhash expired before it landed (read before its status: it never can
        now) or before it was sent is signed again with a fresh blockhash, up to 3 signings.
        ChainError if one failed, or is still out when the wait ends (the others may have
        landed: callers send only what is safe to send again).
        """
        done: dict[int, str] = {}
        todo = dict(enumerate(transactions))
        for _ in range(_SIGNINGS):
            blockhash, last_valid = self.blockhash()
            out: dict[int, Outstanding] = {}
            for index, ixs in todo.items():
                signed = payout.sign(ixs, signers, blockhash)
                raw = bytes(signed)
                payout.check_size(raw)
                try:
                    self.broadcast(raw, preflight=True)
                except ChainError as exc:
                    if exc.extra.get("tx_error") != "BlockhashNotFound":
                        raise
                    continue  # refused unsent: signed again in the next pass
                out[index] = Outstanding(str(signed.signatures[0]), raw, last_valid)
            self.await_all(list(out.values()))
            height = self.height()
            found = self.statuses([sent.signature for sent in out.values()])
            for (index, sent), status in zip(out.items(), found, strict=True):
                if status.state is TxState.CONFIRMED:
                    done[index] = sent.signature
                elif status.state is TxState.FAILED or height <= last_valid:
                    self.require_confirmed(sent.signature)  # raises, saying why
            todo = {index: ixs for index, ixs in todo.items() if index not in done}
            if not todo:
                return [done[index] for index in range(len(transactions))]
        raise ChainError(f"{len(todo)} transaction(s) expired unlanded {_SIGNINGS} times")

    def airdrop(self, owner: str, lamports: int) -> str:
        """Ask the node's faucet (a local node, devnet, testnet) for SOL; wait until it lands."""
        key = parse_address(owner)
        found = self.call("requestAirdrop", lambda c: c.request_airdrop(key, lamports))
        signature = str(found.value)
        self.await_landing(signature, None, None)
        self.require_confirmed(signature)
        return signature
