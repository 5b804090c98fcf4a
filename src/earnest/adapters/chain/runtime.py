"""LiteSVM made durable and thread-safe: every landed transaction is written to SQLite.

LiteSVM lives only in memory and forgets its history on restart. `Runtime` executes
transactions under one lock and, for each one that lands (success or failure), writes the
accounts it referenced and the transaction itself in one SQLite transaction, before the
caller hears back. Restoring replays those accounts into a fresh LiteSVM.

It runs past 400 lines on purpose: everything that must happen under the one lock around
LiteSVM and the state file (execution, persistence, the block height, the slot clock and
its blockhashes) lives here, so no caller can interleave them.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from solders.account import Account
from solders.clock import Clock
from solders.epoch_schedule import EpochSchedule
from solders.hash import Hash
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import (
    FailedTransactionMetadata,
    SimulatedTransactionInfo,
    TransactionMetadata,
)

from earnest.adapters.chain import decode, history, lookup
from earnest.adapters.chain.state import Block, ChainState, StoredTransaction
from earnest.domain.errors import ChainError

# Owners whose accounts LiteSVM rebuilds itself (sysvars, loaders): never persisted.
_RUNTIME_OWNERS = {
    Pubkey.from_string("Sysvar1111111111111111111111111111111111111"),
    Pubkey.from_string("NativeLoader1111111111111111111111111111111"),
    Pubkey.from_string("BPFLoader2111111111111111111111111111111111"),
    Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111"),
}
# Settings that change as the chain runs, as opposed to market, mint and decimals.
_COUNTERS = ("height", "blockhash_generation", "blockhash_height", "slot_blockhash")
# Blocks a blockhash stays valid on Solana (MAX_PROCESSING_AGE): LiteSVM keeps one
# blockhash until told otherwise, so the runtime moves to a new one after as many blocks.
BLOCKHASH_LIFETIME = 150
T = TypeVar("T")
_SLOT_HASHES = 512  # entries the SlotHashes sysvar keeps (MAX_ENTRIES)


class Listener(Protocol):
    """What the runtime tells once its lock is released (the websocket API listens)."""

    def landed(
        self,
        stored: StoredTransaction,
        addresses: list[Pubkey],
        changed: dict[Pubkey, Account | None],
    ) -> None:
        """A transaction landed (success or failure), referencing `addresses` and leaving
        the `changed` ones in these states (None: closed)."""

    def slot(self, slot: int) -> None:
        """A new slot began."""


class Runtime:
    """One LiteSVM, its state file, a block-height counter and the lock around them."""

    def __init__(self, svm: LiteSVM, state: ChainState, settings: dict[str, str]) -> None:
        self._svm = svm
        self._state = state
        self._settings = {k: v for k, v in settings.items() if k not in _COUNTERS}
        self._height = int(settings.get("height", svm.get_clock().slot))
        self._generation = int(settings.get("blockhash_generation", 0))
        self._blockhash_height = int(settings.get("blockhash_height", self._height))
        # With the slot clock (`start_slots`): the blockhash of each recent block, by the
        # height it was made at, and the latest one. None: LiteSVM's single blockhash rules.
        saved = settings.get("slot_blockhash")
        self._slot_hash: Hash | None = None
        self._saved_slot_hash = Hash.from_string(saved) if saved else None
        self._recent: dict[Hash, int] = {}
        self._listeners: list[Listener] = []
        # LiteSVM and the SQLite connection are not thread-safe; the API calls from a pool.
        self._lock = threading.Lock()
        self._enter_slot()

    @classmethod
    def restore(cls, state: ChainState, settings: dict[str, str]) -> Runtime:
        """A fresh LiteSVM holding every persisted account and the persisted blockhash."""
        svm = LiteSVM()
        try:
            for address, data in state.accounts():
                svm.set_account(Pubkey.from_string(address), Account.from_bytes(data))
        except ValueError as exc:
            raise ChainError(f"the chain state file holds a corrupt account: {exc}") from exc
        # LiteSVM derives each blockhash from the previous one, so replaying the expiries
        # brings back today's blockhash: expired transactions stay expired after a restart.
        for _ in range(int(settings.get("blockhash_generation", "0"))):
            svm.expire_blockhash()
        return cls(svm, state, settings)

    @property
    def height(self) -> int:
        """The block height: one block per landed transaction, or per slot with the clock."""
        with self._lock:
            return self._height

    def latest_blockhash(self) -> Hash:
        """The blockhash new transactions should carry (the only one accepted, without slots)."""
        with self._lock:
            return self._latest()

    def blockhash(self) -> tuple[Hash, int]:
        """The blockhash new transactions must carry, and the last height it is valid at."""
        with self._lock:
            return self._latest(), self._blockhash_height + BLOCKHASH_LIFETIME

    def blockhash_valid(self, blockhash: Hash) -> bool:
        """Whether a transaction carrying `blockhash` can land now."""
        with self._lock:
            return self._valid(blockhash)

    def start_slots(self) -> None:
        """Switch to the slot clock: from now on a block is a slot that `advance_slot` closes.

        Transactions land in the current slot; every slot has its own blockhash, valid for
        BLOCKHASH_LIFETIME blocks as on a cluster. LiteSVM knows one blockhash only, so the
        runtime checks the age itself and lets LiteSVM skip its check for a valid one.
        """
        with self._lock:
            # Never LiteSVM's own blockhash, which its check would accept at any age.
            own = bytes(self._svm.latest_blockhash())
            self._slot_hash = self._saved_slot_hash or Hash(hashlib.sha256(own).digest())
            self._blockhash_height = self._height
            self._recent = {self._slot_hash: self._height}
            self._enter_slot(force=True)
            self._state.record(meta=self._meta(), block=self._block())

    def advance_slot(self) -> int:
        """Close the current slot and open the next one, with a new blockhash; its number."""
        with self._lock:
            if self._slot_hash is None:
                raise ChainError("the slot clock is not running (start_slots)")
            self._height += 1
            seed = bytes(self._slot_hash) + self._height.to_bytes(8, "little")
            self._slot_hash = Hash(hashlib.sha256(seed).digest())
            self._recent[self._slot_hash] = self._height
            oldest = self._height - BLOCKHASH_LIFETIME
            self._recent = {h: at for h, at in self._recent.items() if at >= oldest}
            self._blockhash_height = self._height
            self._enter_slot()
            self._state.record(meta=self._meta(), block=self._block())
            height = self._height
        for listener in self._listeners:
            listener.slot(height)
        return height

    def listen(self, listener: Listener) -> None:
        """Tell `listener` of every landed transaction and every new slot from now on."""
        self._listeners.append(listener)

    def block_time(self) -> int:
        """The Unix time of the current slot (the Clock sysvar's `unix_timestamp`)."""
        with self._lock:
            return int(self._svm.get_clock().unix_timestamp)

    def recent_slot(self) -> int:
        """The current slot, listed in the SlotHashes sysvar (a lookup table derives from it)."""
        with self._lock:
            return int(self._svm.get_clock().slot)

    def rent_exempt_minimum(self, size: int) -> int:
        """Lamports an account of `size` bytes needs to be rent exempt."""
        with self._lock:
            return int(self._svm.minimum_balance_for_rent_exemption(size))

    def account(self, address: Pubkey) -> Account | None:
        """The account at `address`, or None."""
        with self._lock:
            return self._svm.get_account(address)

    def mint_of(self, token_account: Pubkey) -> Pubkey | None:
        """The mint of a token account, or None if it is not one (or is gone)."""
        parsed = history.token_account(self.account(token_account))
        return None if parsed is None else parsed.mint

    def stored(self, signature: str) -> StoredTransaction | None:
        """The landed transaction with this signature, from the state file."""
        with self._lock:
            return self._state.transaction(signature)

    def credit_lamports(self, owner: Pubkey, lamports: int) -> None:
        """Add SOL to `owner` out of thin air (persisted with the next transaction)."""
        # set_account rather than svm.airdrop: LiteSVM's airdrop is a transaction, and two
        # equal airdrops within one blockhash would be refused as already processed.
        with self._lock:
            now = self._svm.get_account(owner) or Account(0, b"", SYSTEM_PROGRAM_ID)
            self._svm.set_account(
                owner,
                Account(
                    now.lamports + lamports, now.data, now.owner, now.executable, now.rent_epoch
                ),
            )

    def program_accounts(self, program: Pubkey) -> list[tuple[Pubkey, Account]]:
        """Every account owned by `program`."""
        with self._lock:
            return list(self._svm.get_program_accounts(program))

    def epoch(self) -> int:
        """The current epoch, as the Clock sysvar states it."""
        with self._lock:
            return int(self._svm.get_clock().epoch)

    def epoch_schedule(self) -> EpochSchedule:
        """The EpochSchedule sysvar (LiteSVM's: Solana's mainnet schedule)."""
        with self._lock:
            return self._svm.get_epoch_schedule()

    def read(self, query: Callable[[ChainState], T]) -> T:
        """Run a read of the state file (history: blocks, transactions, signatures)."""
        with self._lock:
            return query(self._state)

    def transaction_count(self) -> int:
        """Transactions landed since the chain began, failed ones included."""
        return self.read(ChainState.transaction_count)

    def lamports(self) -> list[tuple[str, int]]:
        """(address, lamports) of every account the chain keeps (not sysvars, not programs)."""
        with self._lock:
            found = []
            for address, _ in self._state.accounts():
                account = self._svm.get_account(Pubkey.from_string(address))
                if account is not None:
                    found.append((address, account.lamports))
            return found

    def decimals_of(self, mint: Pubkey) -> int | None:
        """The decimals of a mint, or None if `mint` is not one."""
        with self._lock:
            return self._decimals_of(mint)

    def expire_blockhash(self) -> None:
        """Let the current blockhash's blocks pass, so transactions signed with it never land."""
        with self._lock:
            self._height = max(self._height, self._blockhash_height + BLOCKHASH_LIFETIME) + 1
            self._next_blockhash()
            self._state.record(meta=self._meta())

    def simulate(
        self, tx: VersionedTransaction, *, sig_verify: bool = True, any_blockhash: bool = False
    ) -> SimulatedTransactionInfo | FailedTransactionMetadata:
        """Run `tx` without keeping anything it changed; optionally without checking its
        signatures or its blockhash (simulateTransaction's sigVerify, replaceRecentBlockhash)."""
        with self._lock:
            self._check_blockhash_of(tx, any_blockhash)
            if not sig_verify:
                self._svm.with_sigverify(False)
            try:
                return self._svm.simulate_transaction(tx)
            finally:
                self._svm.with_sigverify(True)
                self._svm.with_blockhash_check(True)

    def execute(self, tx: VersionedTransaction) -> str:
        """Run `tx` once and persist it; a re-run of a landed success returns quietly."""
        signature = tx.signatures[0]
        key = str(signature)
        with self._lock:
            known = self._state.transaction(key)
            if known is not None:
                if known.ok:
                    return key  # re-sending landed bytes is how exactly-once retries work
                raise ChainError(f"transaction {key} already landed and failed: {known.error}")
            keys = self._keys(tx)
            before = self._accounts(keys)
            self._check_blockhash_of(tx, False)
            try:
                result = self._svm.send_transaction(tx)
            except Exception as exc:
                raise ChainError(f"the local chain refused transaction {key}: {exc}") from exc
            finally:
                self._svm.with_blockhash_check(True)
            # History, not the send result, says whether it landed: "already processed" means
            # an earlier send landed but was not persisted (a crash in between).
            landed = self._svm.get_transaction(signature)
            if landed is None:
                raise ChainError(
                    f"transaction {key} was rejected: {_reason(result) or 'not recorded'}"
                )
            error = _reason(landed)
            stored, changed = self._persist(tx, error, landed, keys, before)
        for listener in self._listeners:
            listener.landed(stored, [k for part in keys for k in part], changed)
            if self._slot_hash is None:
                listener.slot(stored.slot)
        if error is not None:
            raise ChainError(f"transaction {key} failed: {error}")
        return key

    def close(self) -> None:
        """Close the state file."""
        with self._lock:
            self._state.close()

    def _latest(self) -> Hash:
        return self._svm.latest_blockhash() if self._slot_hash is None else self._slot_hash

    def _valid(self, blockhash: Hash) -> bool:
        if self._slot_hash is None:
            return blockhash == self._svm.latest_blockhash()
        made = self._recent.get(blockhash)
        return made is not None and made + BLOCKHASH_LIFETIME >= self._height

    def _check_blockhash_of(self, tx: VersionedTransaction, skip: bool) -> None:
        """Let LiteSVM skip its blockhash check when the runtime vouches for the blockhash.

        With the slot clock LiteSVM's own blockhash is never handed out, so a transaction
        the runtime does not vouch for fails LiteSVM's check with BlockhashNotFound.
        """
        if skip or (self._slot_hash is not None and self._valid(tx.message.recent_blockhash)):
            self._svm.with_blockhash_check(False)

    def _persist(
        self,
        tx: VersionedTransaction,
        error: str | None,
        landed: TransactionMetadata | FailedTransactionMetadata,
        keys: tuple[list[Pubkey], list[Pubkey], list[Pubkey]],
        before: list[Account | None],
    ) -> tuple[StoredTransaction, dict[Pubkey, Account | None]]:
        if self._slot_hash is None:  # without the slot clock, each transaction is a block
            self._height += 1
            if self._height > self._blockhash_height + BLOCKHASH_LIFETIME:
                self._next_blockhash()
            self._enter_slot()
        after = self._accounts(keys)
        accounts: dict[str, bytes | None] = {}
        changed: dict[Pubkey, Account | None] = {}
        addresses = [k for part in keys for k in part]
        for address, old, account in zip(addresses, before, after, strict=True):
            if (old is None) != (account is None) or (old and account and old != account):
                changed[address] = account
            if account is None:
                accounts[str(address)] = None
            elif not account.executable and account.owner not in _RUNTIME_OWNERS:
                accounts[str(address)] = bytes(account)
        details = history.status_meta(landed, before, after, self._decimals_of, keys[1:])
        key = str(tx.signatures[0])
        stored = StoredTransaction(
            key,
            bytes(tx),
            self._height,
            error is None,
            error,
            json.dumps(details),
            int(self._svm.get_clock().unix_timestamp),
        )
        self._state.record(
            meta=self._meta(),
            accounts=accounts,
            transaction=stored,
            addresses=list(dict.fromkeys(str(a) for a in addresses)),
            block=self._block() if self._slot_hash is None else None,
        )
        return stored, changed

    def _keys(self, tx: VersionedTransaction) -> tuple[list[Pubkey], list[Pubkey], list[Pubkey]]:
        """Static keys, then the writable and readonly ones loaded from lookup tables."""
        writable, readonly = lookup.loaded_keys(tx, self._table_entries)
        return list(tx.message.account_keys), writable, readonly

    def _table_entries(self, table: Pubkey) -> list[Pubkey] | None:
        account = self._svm.get_account(table)
        found = None if account is None else lookup.decode(bytes(account.data))
        return None if found is None else list(found.addresses)

    def _accounts(self, keys: tuple[list[Pubkey], ...]) -> list[Account | None]:
        return [self._svm.get_account(key) for part in keys for key in part]

    def _enter_slot(self, *, force: bool = False) -> None:
        """Keep LiteSVM's slot equal to the block height and its clock on the wall's time.

        LiteSVM never moves its clock itself; a lookup table's new entries are usable only
        from the slot after their extension, and a table derives from a slot listed in
        SlotHashes, so each block (a landed transaction, or a slot of the slot clock)
        closes its slot and records the next one.
        """
        clock = self._svm.get_clock()
        if clock.slot >= self._height and not force:
            return
        self._svm.warp_to_slot(self._height)
        self._svm.set_clock(
            Clock(
                self._height,
                clock.epoch_start_timestamp,
                clock.epoch,
                clock.leader_schedule_epoch,
                int(time.time()),
            )
        )
        recent = [e for e in self._svm.get_slot_hashes() if e[0] < self._height]
        entry = (self._height, self._latest())
        self._svm.set_slot_hashes([entry, *recent[: _SLOT_HASHES - 1]])

    def _block(self) -> Block:
        previous = self._state.block(self._height - 1)
        return Block(
            self._height,
            str(self._latest()),
            previous.blockhash if previous else str(Hash.default()),
            int(self._svm.get_clock().unix_timestamp),
        )

    def _decimals_of(self, mint: Pubkey) -> int | None:
        found = history.mint_state(self._svm.get_account(mint))
        return None if found is None else int(found.decimals)

    def _next_blockhash(self) -> None:
        self._svm.expire_blockhash()
        self._generation += 1
        self._blockhash_height = self._height

    def _meta(self) -> dict[str, str]:
        counters = {
            "height": str(self._height),
            "blockhash_generation": str(self._generation),
            "blockhash_height": str(self._blockhash_height),
        }
        if self._slot_hash is not None:
            counters["slot_blockhash"] = str(self._slot_hash)
        return {**self._settings, **counters}


def _reason(result: object) -> str | None:
    if isinstance(result, FailedTransactionMetadata):
        return decode.failure_reason(result)
    return None
