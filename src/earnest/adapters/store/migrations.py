"""Schema migrations: an ordered list of steps, each applied once, recorded in schema_version.

Written here rather than with Alembic because the market embeds its database and must
upgrade itself at start on two dialects with no migration scripts directory to ship; each
step is plain SQLAlchemy Core, so Alembic can take over if autogeneration is ever needed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, bindparam, inspect, select, update

from earnest.adapters.store import tables
from earnest.domain.task_keys import task_key


def _v1_initial(conn: Connection) -> None:
    tables.metadata.create_all(conn)


# Columns added to existing tables by v2 (the quality engine); new tables come from
# create_all, which skips tables that exist.
_V2_COLUMNS = {
    "campaigns": ("quality",),
    "tasks": ("prediction", "uncertainty"),
    "assignments": ("evidence", "review_due"),
}


def _v2_quality(conn: Connection) -> None:
    tables.metadata.create_all(conn)
    _add_columns(conn, _V2_COLUMNS)
    for table_name in _V2_COLUMNS:
        _create_indexes(conn, table_name)


def _create_indexes(conn: Connection, table_name: str) -> None:
    """Create the table's indexes it lacks, but those on columns a later step adds."""
    have = {c["name"] for c in inspect(conn).get_columns(table_name)}
    for index in tables.metadata.tables[table_name].indexes:
        if {c.name for c in index.columns} <= have:
            index.create(conn, checkfirst=True)


def _v3_peer_review(conn: Connection) -> None:
    tables.peer_reviews.create(conn, checkfirst=True)


def _v4_facts(conn: Connection) -> None:
    tables.facts.create(conn, checkfirst=True)


def _v5_bandwidth(conn: Connection) -> None:
    """Campaign terms (price per KB, allowlist) and the bodies bandwidth nodes fetched.

    Written to run in any position: another step added meanwhile may come before it.
    """
    _add_columns(conn, {"campaigns": ("terms",)})
    tables.fetch_bodies.create(conn, checkfirst=True)


def _add_columns(conn: Connection, columns: dict[str, tuple[str, ...]]) -> None:
    """Add the named columns of `tables` that an existing table lacks (fresh ones have them)."""
    for table_name, names in columns.items():
        table = tables.metadata.tables[table_name]
        have = {c["name"] for c in inspect(conn).get_columns(table_name)}
        for name in names:
            if name not in have:
                kind = table.c[name].type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {table_name} ADD COLUMN {name} {kind}")


def _v6_devices(conn: Connection) -> None:
    tables.devices.create(conn, checkfirst=True)


def _v7_lookup_tables(conn: Connection) -> None:
    tables.lookup_tables.create(conn, checkfirst=True)


def _v8_expiry_indexes(conn: Connection) -> None:
    """Indexes housekeeping finds expired sessions, challenges and old idempotency
    records by (services/housekeeping.py)."""
    for table_name in ("sessions", "nonces", "idempotency"):
        for index in tables.metadata.tables[table_name].indexes:
            index.create(conn, checkfirst=True)


def _v9_max_leases(conn: Connection) -> None:
    """Each campaign's cap on one worker's live leases (campaigns before it keep 20)."""
    _add_columns(conn, {"campaigns": ("max_leases",)})


def _v10_revocations_and_rate_counts(conn: Connection) -> None:
    """Sign-outs every process hears of, rate-limit counts shared by all processes; and the
    Idempotency-Key records kept under the old scoping (by raw Authorization header, some
    holding a new key's secret) go: they are retry caches of at most a day.

    Written to run in any position: another step added meanwhile may come before it."""
    tables.revocations.create(conn, checkfirst=True)
    tables.rate_counts.create(conn, checkfirst=True)
    conn.execute(tables.idempotency.delete())


def _v11_reputation_skill_length(conn: Connection) -> None:
    """Peer reviewers' reputation is kept in "review:<skill>", up to 47 characters for a
    campaign skill of 40; the column held 40, so PostgreSQL refused such an event. SQLite
    does not enforce a VARCHAR's length: nothing to do there.

    Written to run in any position: it sets the length the table declares now."""
    if conn.dialect.name != "postgresql":
        return
    kind = tables.reputation_events.c.skill.type.compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE reputation_events ALTER COLUMN skill TYPE {kind}")


def _v12_worker_profiles(conn: Connection) -> None:
    """What workers declare for campaigns' criteria (languages, region), on their party.

    Written to run in any position: another step added meanwhile may come before it."""
    _add_columns(conn, {"parties": ("languages", "region")})


def _v13_transfer_fees(conn: Connection) -> None:
    """A campaign's transfer fee per unit and a batch's withheld fees (Token-2022 mints with
    a transfer fee); rows before it have none.

    Written to run in any position: another step added meanwhile may come before it."""
    _add_columns(conn, {"campaigns": ("transfer_fee",), "batches": ("transfer_fees",)})


def _v14_worker_lists_and_bonuses(conn: Connection) -> None:
    """Requesters' block and allow lists of workers, and the bonuses they pay.

    Written to run in any position: another step added meanwhile may come before it."""
    tables.worker_lists.create(conn, checkfirst=True)
    tables.bonuses.create(conn, checkfirst=True)
    for index in tables.bonuses.indexes:
        index.create(conn, checkfirst=True)


_KEY_BATCH = 1000


def _v15_task_keys(conn: Connection) -> None:
    """Each task's key (domain.task_keys), unique per campaign, so an upload repeated adds
    nothing. Tasks uploaded before keys existed get theirs; of several that share a key (a
    file uploaded twice) the first keeps it and the rest keep none, as they were.

    Written to run in any position: another step added meanwhile may come before it."""
    _add_columns(conn, {"tasks": ("task_key",)})
    t = tables.tasks
    stmt = update(t).where(t.c.id == bindparam("b_id")).values(task_key=bindparam("b_key"))
    for campaign_id in conn.scalars(select(t.c.campaign_id).distinct()).all():
        seen: set[str] = set()
        after = 0
        while True:  # a page at a time: a campaign may hold a million tasks
            page = conn.execute(
                select(t.c.id, t.c.external_id, t.c.data)
                .where(t.c.campaign_id == campaign_id, t.c.id > after)
                .order_by(t.c.id)
                .limit(_KEY_BATCH)
            ).all()
            if not page:
                break
            after = page[-1].id
            keyed = []
            for row in page:
                key = task_key(row.external_id, row.data)
                if key not in seen:
                    seen.add(key)
                    keyed.append({"b_id": row.id, "b_key": key})
            if keyed:
                conn.execute(stmt, keyed)
    _create_indexes(conn, "tasks")


def _v16_webhooks(conn: Connection) -> None:
    """Webhook endpoints and the outbox of their deliveries (services/webhooks.py)."""
    tables.webhook_endpoints.create(conn, checkfirst=True)
    tables.webhook_deliveries.create(conn, checkfirst=True)


STEPS: list[Callable[[Connection], None]] = [
    _v1_initial,
    _v2_quality,
    _v3_peer_review,
    _v4_facts,
    _v5_bandwidth,
    _v6_devices,
    _v7_lookup_tables,
    _v8_expiry_indexes,
    _v9_max_leases,
    _v10_revocations_and_rate_counts,
    _v11_reputation_skill_length,
    _v12_worker_profiles,
    _v13_transfer_fees,
    _v14_worker_lists_and_bonuses,
    _v15_task_keys,
    _v16_webhooks,
]


def migrate(engine: Engine) -> int:
    """Bring the schema to the newest version; return that version."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # One migrator at a time when N API processes start together.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727001)")
        if not inspect(conn).has_table("schema_version"):
            tables.schema_version.create(conn)
        done = set(conn.scalars(select(tables.schema_version.c.version)))
        for version, step in enumerate(STEPS, start=1):
            if version in done:
                continue
            step(conn)
            conn.execute(
                tables.schema_version.insert().values(version=version, applied_at=datetime.now(UTC))
            )
    return len(STEPS)
