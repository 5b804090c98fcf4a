"""The SQLite file that lets a LocalChain survive restarts.

LiteSVM keeps everything in memory, so after every landed transaction the accounts it
touched and the transaction itself are written here in one SQLite transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
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
"""


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

    def record(
        self,
        *,
        meta: Mapping[str, str],
        accounts: Mapping[str, bytes | None] = {},
        transaction: StoredTransaction | None = None,
    ) -> None:
        """Write counters, account states (None deletes) and a transaction atomically."""
        try:
            with self._db:
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
