"""The PostgreSQL pool: a connection idle for a while is checked before use, and a dead one
is replaced; a connection reused at once is not pinged (no round trip per checkout)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from earnest.adapters.store import engine as engines
from earnest.adapters.store.engine import create_store_engine

pytestmark = pytest.mark.postgres


def _terminate_pooled(engine: Engine, admin: Engine) -> int:
    """Use the pool's one connection, then end its server side while it sits in the pool."""
    with engine.connect() as conn:
        pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar() or 0)
    with admin.connect() as a:
        a.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    return pid


def test_a_connection_reused_at_once_is_not_pinged(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_store_engine(pg_url, pool_size=1)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        _terminate_pooled(engine, admin)
        monkeypatch.setattr(engines, "PING_AFTER_IDLE_S", 3600.0)
        # Not pinged: the dead connection is handed out, and its first statement fails.
        with pytest.raises(DBAPIError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        admin.dispose()
        engine.dispose()


def test_an_idle_connection_whose_server_side_died_is_replaced(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_store_engine(pg_url, pool_size=1)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        first = _terminate_pooled(engine, admin)
        # Without the idle check the next checkout would hand out the dead connection.
        monkeypatch.setattr(engines, "PING_AFTER_IDLE_S", 0.0)
        with engine.connect() as conn:
            second = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        assert second != first
    finally:
        admin.dispose()
        engine.dispose()
