"""Storage tables (SQLAlchemy Core), by area. The same schema runs on SQLite and PostgreSQL.

Every table is registered on the one `metadata` (tables/base.py) and re-exported here, so
repositories and migrations import them from `earnest.adapters.store.tables`.
"""

from earnest.adapters.store.tables.base import (
    Address,
    Amount,
    Moment,
    UtcDateTime,
    metadata,
    schema_version,
    upsert,
)
from earnest.adapters.store.tables.money import (
    batches,
    bonuses,
    deposits,
    journal,
    ledger_accounts,
    lookup_tables,
    payouts,
    postings,
    receipts,
)
from earnest.adapters.store.tables.people import (
    api_keys,
    devices,
    idempotency,
    nonces,
    parties,
    rate_counts,
    revocations,
    sessions,
    worker_lists,
)
from earnest.adapters.store.tables.quality import (
    appeal_votes,
    appeals,
    confusions,
    peer_reviews,
    reputation_events,
    worker_limits,
    worker_stats,
)
from earnest.adapters.store.tables.webhooks import webhook_deliveries, webhook_endpoints
from earnest.adapters.store.tables.work import assignments, campaigns, facts, fetch_bodies, tasks

__all__ = [
    "Address",
    "Amount",
    "Moment",
    "UtcDateTime",
    "api_keys",
    "appeal_votes",
    "appeals",
    "assignments",
    "batches",
    "bonuses",
    "campaigns",
    "confusions",
    "deposits",
    "devices",
    "facts",
    "fetch_bodies",
    "idempotency",
    "journal",
    "ledger_accounts",
    "lookup_tables",
    "metadata",
    "nonces",
    "parties",
    "payouts",
    "peer_reviews",
    "postings",
    "rate_counts",
    "receipts",
    "reputation_events",
    "revocations",
    "schema_version",
    "sessions",
    "tasks",
    "upsert",
    "webhook_deliveries",
    "webhook_endpoints",
    "worker_limits",
    "worker_lists",
    "worker_stats",
]
