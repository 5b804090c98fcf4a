"""Engines for the two supported databases, with the settings each needs for the market."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from earnest.adapters.private import private_database
from earnest.domain.errors import InvalidInput


def create_store_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for `url` (sqlite:///path or postgresql+psycopg://...)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite(url, parsed.database)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # pool_pre_ping: a connection whose server side ended (a restart, a failover, an
        # operator's pg_terminate_backend) is replaced at checkout instead of failing the
        # request that drew it. It costs a round trip per checkout; skipping it for
        # connections used a moment ago failed requests after every backend was
        # terminated (tests/e2e/test_crash_server.py).
        engine = create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            isolation_level="READ COMMITTED",
        )
        # Multi-row inserts as one INSERT ... VALUES statement, not psycopg's pipelined
        # executemany: about 15% less time per answer in a suite (bench/statements.py).
        engine.dialect.use_insertmanyvalues_wo_returning = True
        _cache_long_queries()
        return engine
    raise InvalidInput(f"unsupported database URL {parsed.render_as_string(hide_password=True)}")


def _cache_long_queries() -> None:
    """Let psycopg remember the conversion of long queries too.

    psycopg turns a query's %(name)s placeholders into $n once per query text, but caches
    that only for queries of at most 4,096 bytes and 50 parameters. A suite's multi-row
    inserts (20 rows of 4 to 11 columns) are longer, and converting them anew on every
    execution took about 17% of an API process's time under load (py-spy). Their texts
    repeat (one per table and row count), so a larger cache serves them. psycopg has no
    public setting for this: where its internals differ, nothing changes.
    """
    try:
        from psycopg import _queries
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return
    if not hasattr(_queries, "_query2pg_nocache") or getattr(_queries, "_earnest", False):
        return
    _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, 1 << 16)
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, 2_000)
    _queries._query2pg = lru_cache(maxsize=1_024)(_queries._query2pg_nocache)
    _queries._earnest = True  # type: ignore[attr-defined]  # our marker on psycopg's module


def _sqlite(url: str, database: str | None) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        private_database(Path(database))  # 0600 with its -wal and -shm (docs/security.md)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver level, so that SQLAlchemy's "begin" below decides how a
        # transaction starts: IMMEDIATE takes the write lock up front, which avoids the
        # deadlock of two readers both upgrading to writers.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get("earnest_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
