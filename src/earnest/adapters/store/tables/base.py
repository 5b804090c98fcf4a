"""Storage basics: one MetaData, the column types every table shares, the dialect's upsert."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert

metadata = MetaData()


def upsert(table: Table, pg: bool) -> PgInsert | SqliteInsert:
    """INSERT with the dialect's ON CONFLICT clauses (PostgreSQL's or SQLite's)."""
    return postgresql.insert(table) if pg else sqlite.insert(table)


# Amounts are integers of base units. BIGINT (i64) on both dialects: money.MAX_AMOUNT keeps
# every amount and balance below 2**63, far above any real token supply in base units.
Amount = BigInteger
Address = String(44)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both dialects (SQLite keeps no zone, so store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


Moment = UtcDateTime()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Moment, nullable=False),
)
