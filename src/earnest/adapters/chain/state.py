"""The SQLite file that lets a LocalChain survive restarts.

LiteSVM keeps everything in memory, so after every landed transaction the accounts it
touched and the transaction itself are written here in one SQLite transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from earnest.adapters.private import private_database
from earnest.domain.errors import ChainError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (address TEXT PRIMARY KEY, account BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS transactions (
    signature TEXT PRIMARY KEY,
    raw BLOB NOT NULL,
    slot INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT,
    details TEXT,
    block_time INTEGER
);
CREATE INDEX IF NOT EXISTS transactions_by_slot ON transactions (slot);
CREATE TABLE IF NOT EXISTS blocks (
    slot INTEGER PRIMARY KEY,
    blockhash TEXT NOT NULL,
    previous_blockhash TEXT NOT NULL,
    block_time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS address_signatures (address TEXT NOT NULL, signature TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS address_signatures_by_address ON address_signatures (address);
"""


@dataclass(frozen=True)
class Block:
    """A block of the chain: its slot (= its height), blockhash and time."""

    slot: int
    blockhash: str
    previous_blockhash: str
    block_time: int


@dataclass(frozen=True)
class StoredTransaction:
    """A transaction that landed on the local chain, successful or not."""

    signature: str
    raw: bytes
    slot: int
    ok: bool
    error: str | None
    details: str | None = None  # JSON: fee, logs, error, balances (history.py), for RPC readers
    block_time: int | None = None  # Unix time of its block (None: landed before it was kept)


class ChainState:
    """Accounts, landed transactions and counters of one LocalChain, on disk."""

    def __init__(self, path: Path) -> None:
        try:
            private_database(path)  # 0600 with its -wal and -shm (docs/security.md)
            # The caller serializes every use behind its own lock, so sharing across threads is safe.
            self._db = sqlite3.connect(path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._add_columns()
        except (OSError, sqlite3.Error) as exc:
            raise ChainError(f"cannot open the chain state file {path}: {exc}") from exc

    def _add_columns(self) -> None:
        # State files written before transactions kept their details (or block time) lack them.
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(transactions)")}
        for name, kind in (("details", "TEXT"), ("block_time", "INTEGER")):
            if name not in columns:
                self._db.execute(f"ALTER TABLE transactions ADD COLUMN {name} {kind}")

    def meta(self) -> dict[str, str]:
        """Every stored counter and setting."""
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def accounts(self) -> Iterator[tuple[str, bytes]]:
        """Every persisted account as (address, serialized Account)."""
        yield from self._db.execute("SELECT address, account FROM accounts")

    def transaction(self, signature: str) -> StoredTransaction | None:
        """The landed transaction with this signature, if any."""
        row = self._db.execute(
            "SELECT signature, raw, slot, ok, error, details, block_time FROM transactions"
            " WHERE signature = ?",
            (signature,),
        ).fetchone()
        if row is None:
            return None
        return StoredTransaction(
            row[0], bytes(row[1]), row[2], bool(row[3]), row[4], row[5], row[6]
        )

    def transaction_count(self) -> int:
        """How many transactions landed."""
        (count,) = self._db.execute("SELECT count(*) FROM transactions").fetchone()
        return int(count)

    def block(self, slot: int) -> Block | None:
        """The block at `slot`, if one was kept."""
        row = self._db.execute(
            "SELECT slot, blockhash, previous_blockhash, block_time FROM blocks WHERE slot = ?",
            (slot,),
        ).fetchone()
        return None if row is None else Block(*row)

    def block_slots(self, start: int, end: int, limit: int) -> list[int]:
        """The slots of kept blocks from `start` to `end` (inclusive), at most `limit`."""
        rows = self._db.execute(
            "SELECT slot FROM blocks WHERE slot BETWEEN ? AND ? ORDER BY slot LIMIT ?",
            (start, end, limit),
        )
        return [row[0] for row in rows]

    def first_block(self) -> int | None:
        """The lowest slot of a kept block."""
        (slot,) = self._db.execute("SELECT min(slot) FROM blocks").fetchone()
        return None if slot is None else int(slot)

    def transactions_in(self, slot: int) -> list[StoredTransaction]:
        """The transactions that landed at `slot`, in the order they ran."""
        rows = self._db.execute(
            "SELECT signature, raw, slot, ok, error, details, block_time FROM transactions"
            " WHERE slot = ? ORDER BY rowid",
            (slot,),
        )
        return [StoredTransaction(r[0], bytes(r[1]), r[2], bool(r[3]), *r[4:]) for r in rows]

    def signatures_for(
        self, address: str, limit: int, before: str | None, until: str | None
    ) -> list[StoredTransaction]:
        """The transactions that referenced `address`, newest first, strictly older than the
        one signed `before` and newer than `until` (both signatures of this address)."""
        bounds, args = "", [address]
        for signature, compare in ((before, "<"), (until, ">")):
            if signature is not None:
                bounds += (
                    f" AND a.rowid {compare} (SELECT rowid FROM address_signatures"
                    " WHERE address = ? AND signature = ?)"
                )
                args += [address, signature]
        rows = self._db.execute(
            "SELECT t.signature, t.raw, t.slot, t.ok, t.error, t.details, t.block_time"
            " FROM address_signatures a JOIN transactions t ON t.signature = a.signature"
            f" WHERE a.address = ?{bounds} ORDER BY a.rowid DESC LIMIT ?",
            (*args, limit),
        )
        return [StoredTransaction(r[0], bytes(r[1]), r[2], bool(r[3]), *r[4:]) for r in rows]

    def record(
        self,
        *,
        meta: Mapping[str, str],
        accounts: Mapping[str, bytes | None] = {},
        transaction: StoredTransaction | None = None,
        addresses: Sequence[str] = (),
        block: Block | None = None,
    ) -> None:
        """Write counters, account states (None deletes), a transaction with the addresses
        it referenced, and a new block, atomically."""
        try:
            with self._db:
                if block is not None:
                    self._db.execute(
                        "INSERT OR REPLACE INTO blocks VALUES (?, ?, ?, ?)",
                        (block.slot, block.blockhash, block.previous_blockhash, block.block_time),
                    )
                if transaction is not None:
                    self._db.executemany(
                        "INSERT INTO address_signatures (address, signature) VALUES (?, ?)",
                        [(a, transaction.signature) for a in addresses],
                    )
                self._db.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta.items()
                )
                self._db.executemany(
                    "INSERT OR REPLACE INTO accounts (address, account) VALUES (?, ?)",
                    [(a, data) for a, data in accounts.items() if data is not None],
                )
                self._db.executemany(
                    "DELETE FROM accounts WHERE address = ?",
                    [(a,) for a, data in accounts.items() if data is None],
                )
                if transaction is not None:
                    self._db.execute(
                        "INSERT OR REPLACE INTO transactions"
                        " (signature, raw, slot, ok, error, details, block_time)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            transaction.signature,
                            transaction.raw,
                            transaction.slot,
                            int(transaction.ok),
                            transaction.error,
                            transaction.details,
                            transaction.block_time,
                        ),
                    )
        except sqlite3.Error as exc:
            raise ChainError(f"cannot persist the local chain state: {exc}") from exc

    def close(self) -> None:
        """Close the file."""
        self._db.close()
