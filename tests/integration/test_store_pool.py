"""The PostgreSQL pool: a pooled connection whose server side ended (a restart, a failover,
pg_terminate_backend) is replaced at checkout, not handed to a request."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from earnest.adapters.store.engine import create_store_engine

pytestmark = pytest.mark.postgres


def test_a_pooled_connection_whose_server_side_ended_is_replaced(pg_url: str) -> None:
    engine = create_store_engine(pg_url, pool_size=1)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with admin.connect() as a:
            a.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first})
        with engine.connect() as conn:  # used a moment ago, and dead: checked all the same
            second = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        assert second != first
    finally:
        admin.dispose()
        engine.dispose()
