"""Engines for the two supported databases, with the settings each needs for the market."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from earnest.domain.errors import InvalidInput


def create_store_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for `url` (sqlite:///path or postgresql+psycopg://...)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite(url, parsed.database)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            isolation_level="READ COMMITTED",
        )
        engine.dialect.use_insertmanyvalues_wo_returning = True
        return engine
    raise InvalidInput(f"unsupported database URL {parsed.render_as_string(hide_password=True)}")


def _sqlite(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
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
