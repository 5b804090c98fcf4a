"""Storage tables (SQLAlchemy Core). The same schema runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
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

parties = Table(
    "parties",
    metadata,
    Column("address", Address, primary_key=True),
    Column("kind", String(16), nullable=False, default="person"),
    Column("created_at", Moment, nullable=False),
)

nonces = Table(
    "nonces",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("address", Address, nullable=False),
    Column("message", Text, nullable=False),
    Column("expires_at", Moment, nullable=False, index=True),  # housekeeping drops expired
    Column("used_at", Moment),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("address", Address, ForeignKey("parties.address"), nullable=False),
    Column("created_at", Moment, nullable=False),
    Column("expires_at", Moment, nullable=False, index=True),  # housekeeping drops expired
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("address", Address, ForeignKey("parties.address"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("scopes", String(400), nullable=False),
    Column("created_at", Moment, nullable=False),
    Column("revoked_at", Moment),
)

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("name", String(120), primary_key=True),
    Column("balance", Amount, nullable=False),
)

journal = Table(
    "journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("memo", Text, nullable=False, default=""),
    Column("created_at", Moment, nullable=False),
)

postings = Table(
    "postings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", Integer, ForeignKey("journal.id"), nullable=False, index=True),
    Column("account", String(120), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
)

deposits = Table(
    "deposits",
    metadata,
    Column("signature", String(100), primary_key=True),
    Column("requester", Address, nullable=False, index=True),
    Column("amount", Amount, nullable=False),
    Column("created_at", Moment, nullable=False),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("requester", Address, ForeignKey("parties.address"), nullable=False, index=True),
    Column("type", String(40), nullable=False),
    Column("title", String(200), nullable=False),
    Column("instructions", Text, nullable=False),
    Column("input_schema", JSON, nullable=False),
    Column("output_schema", JSON, nullable=False),
    Column("reward", Amount, nullable=False),
    Column("fee_bps", Integer, nullable=False),
    Column("overlap", Integer, nullable=False),
    Column("gold_share", Float, nullable=False),
    Column("lease_seconds", Integer, nullable=False),
    Column("deadline", Moment),
    Column("verifier", String(40), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Moment, nullable=False),
    Column("quality", JSON),  # the QualityPolicy; NULL = defaults (campaigns before v2)
    Column("terms", JSON),  # a labor kind's own terms (bandwidth); NULL = none (before v4)
    Column("max_leases", Integer),  # a worker's live leases at most; NULL = 20 (before v9)
)

tasks = Table(
    "tasks",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("campaign_id", String(32), ForeignKey("campaigns.id"), nullable=False),
    Column("external_id", String(200)),
    Column("data", JSON, nullable=False),
    Column("gold", JSON),
    Column("is_gold", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("filled", Integer, nullable=False, default=0),
    Column("result", JSON),
    Column("confidence", Float),
    Column("resolved_at", Moment),
    Column("prediction", JSON),  # {"answer", "confidence", "model"}: a model's vote
    Column("uncertainty", Float),  # 1 - confidence so far; routes effort to unsure tasks
    Index("ix_tasks_claim", "campaign_id", "status", "is_gold", "id"),
    Index("ix_tasks_breadth", "campaign_id", "status", "is_gold", "filled", "id"),
    Index("ix_tasks_resolved", "campaign_id", "resolved_at"),
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "task_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("tasks.id"),
        nullable=False,
    ),
    Column("campaign_id", String(32), nullable=False),
    Column("worker", Address, nullable=False),
    Column("status", String(16), nullable=False),
    Column("leased_at", Moment, nullable=False),
    Column("expires_at", Moment, nullable=False),
    Column("answer", JSON),
    Column("submitted_at", Moment),
    Column("decided_at", Moment),
    Column("reason", Text),
    Column("reward", Amount, nullable=False, default=0),
    Column("evidence", JSON),  # what a decision was based on, shown to the worker
    Column("review_due", Moment),  # requester review: accepted automatically after this
    UniqueConstraint("task_id", "worker", name="uq_assignment_task_worker"),
    Index("ix_assignments_task", "task_id", "status"),
    Index("ix_assignments_lease", "campaign_id", "status", "expires_at"),
    Index("ix_assignments_worker", "worker", "status"),
)

worker_stats = Table(
    "worker_stats",
    metadata,
    Column("worker", Address, primary_key=True),
    Column("gold_correct", Integer, nullable=False, default=0),
    Column("gold_total", Integer, nullable=False, default=0),
    Column("accepted", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
)

# Learned Dawid-Skene state per campaign: each voter's confusion counts (row = true class),
# and the class counts under the voter name "*".
confusions = Table(
    "confusions",
    metadata,
    Column("campaign_id", String(32), primary_key=True),
    Column("voter", String(80), primary_key=True),
    Column("counts", JSON, nullable=False),
    Column("updated_at", Moment, nullable=False),
)

reputation_events = Table(
    "reputation_events",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("worker", Address, nullable=False),
    Column("skill", String(40), nullable=False),
    Column("kind", String(16), nullable=False),  # gold | consensus | review | appeal
    Column("good", Boolean, nullable=False),
    Column("requester", Address, nullable=False),
    Column("campaign_id", String(32), nullable=False),
    Column("assignment_id", String(32)),
    Column("reason", Text, nullable=False),
    Column("reversed", Boolean, nullable=False, default=False),
    Column("at", Moment, nullable=False),
    Index("ix_reputation_worker", "worker", "skill", "at"),
    Index("ix_reputation_assignment", "assignment_id"),
)

worker_limits = Table(
    "worker_limits",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("worker", Address, nullable=False),
    Column("campaign_id", String(32), nullable=False),
    Column("rule", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("created_at", Moment, nullable=False),
    Column("until", Moment, nullable=False),
    Index("ix_limits_worker", "worker", "campaign_id", "until"),
)

appeals = Table(
    "appeals",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("assignment_id", String(32), nullable=False, unique=True),
    Column("worker", Address, nullable=False, index=True),
    Column("campaign_id", String(32), nullable=False, index=True),
    Column("requester", Address, nullable=False, index=True),
    Column("mode", String(16), nullable=False),  # requester | panel
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),  # open | upheld | overturned
    Column("decision_reason", Text),
    Column("decided_by", String(200)),
    Column("created_at", Moment, nullable=False),
    Column("decided_at", Moment),
)

appeal_votes = Table(
    "appeal_votes",
    metadata,
    Column("appeal_id", String(32), primary_key=True),
    Column("reviewer", Address, primary_key=True),
    Column("overturn", Boolean),  # NULL until the panelist votes
    Column("reason", Text),
    Column("voted_at", Moment),
    Index("ix_votes_reviewer", "reviewer", "voted_at"),
)

# Peer review: one row per review lease. `assignment_id` is the answer under review, or
# NULL for a gold review (a control with a known verdict, from a gold task's `gold`).
peer_reviews = Table(
    "peer_reviews",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("campaign_id", String(32), nullable=False),
    Column("task_id", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("assignment_id", String(32)),
    Column("reviewer", Address, nullable=False),
    Column("status", String(16), nullable=False),  # leased | done | expired
    Column("leased_at", Moment, nullable=False),
    Column("expires_at", Moment, nullable=False),
    Column("accept", Boolean),
    Column("reason", Text),
    Column("correct", Boolean),  # gold reviews: did the verdict match the known one
    Column("reward", Amount, nullable=False, default=0),
    Column("decided_at", Moment),
    UniqueConstraint("task_id", "reviewer", "assignment_id", name="uq_peer_review"),
    Index("ix_peer_reviews_campaign", "campaign_id", "status", "expires_at"),
    Index("ix_peer_reviews_reviewer", "reviewer", "campaign_id"),
    Index("ix_peer_reviews_assignment", "assignment_id", "status"),
)

# What the market measured about an answer outside its verifier (a sandbox run).
facts = Table(
    "facts",
    metadata,
    Column("assignment_id", String(32), primary_key=True),
    Column("task_id", BigInteger().with_variant(Integer, "sqlite"), nullable=False, index=True),
    Column("campaign_id", String(32), nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", Moment, nullable=False),
)

# Devices (meters) registered to a party, each with its own Ed25519 key (its address).
devices = Table(
    "devices",
    metadata,
    Column("address", Address, primary_key=True),
    Column("owner", Address, nullable=False, index=True),
    Column("label", String(100), nullable=False),
    Column("registered_at", Moment, nullable=False),
)

# The market's address lookup tables, in the order they were created: the settler extends
# the last one until it holds 256 entries (see adapters/chain/lookup.py).
lookup_tables = Table(
    "lookup_tables",
    metadata,
    Column("address", Address, primary_key=True),
    Column("created_at", Moment, nullable=False),
)

receipts = Table(
    "receipts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("assignment_id", String(32), nullable=False, unique=True),
    Column("worker", Address, nullable=False, index=True),
    Column("campaign_id", String(32), nullable=False, index=True),
    Column("body", JSON, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("signature", String(100), nullable=False),
    Column("created_at", Moment, nullable=False),
)

payouts = Table(
    "payouts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account", String(120), nullable=False),  # the ledger account the payout settles
    Column("recipient", Address, nullable=False),
    Column("amount", Amount, nullable=False),
    Column("receipt_id", String(32)),  # withdrawals carry no receipt
    Column("status", String(16), nullable=False),  # pending | batched | paid
    Column("batch_id", String(32), index=True),
    Column("created_at", Moment, nullable=False),
    Column("paid_at", Moment),
    Index("ix_payouts_status", "status", "created_at"),
)

batches = Table(
    "batches",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("status", String(16), nullable=False),  # signed | sent | confirmed | dropped
    Column("signature", String(100), nullable=False, unique=True),
    Column("raw", LargeBinary, nullable=False),
    Column("blockhash", String(64), nullable=False),
    Column("last_valid_height", BigInteger, nullable=False),
    Column("merkle_root", String(64), nullable=False),
    Column("receipt_digests", JSON, nullable=False),  # ordered: the Merkle leaves
    Column("transfers", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("created_at", Moment, nullable=False),
    Column("confirmed_at", Moment),
    Index("ix_batches_status", "status"),
)

# Bodies fetched by bandwidth nodes, stored once per content hash: the k honest nodes of a
# URL usually send the same bytes, and the requester downloads the agreed body by its hash.
# An altered body stays too: it is the evidence behind a rejection.
fetch_bodies = Table(
    "fetch_bodies",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", Moment, nullable=False),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("scope", String(64), primary_key=True),  # sha256 of credential + key
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", Integer),
    Column("body", LargeBinary),
    Column("created_at", Moment, nullable=False, index=True),  # housekeeping drops old ones
)

# Sign-outs and revoked API keys, by credential digest: every API process reads the last
# few seconds of them twice a second and forgets what it had cached (docs/security.md,
# "Requests and sign-in"); housekeeping drops rows older than that window.
revocations = Table(
    "revocations",
    metadata,
    Column("credential_hash", String(64), primary_key=True),
    Column("revoked_at", Moment, nullable=False, index=True),
)

# Rate-limit counts shared by every API process: requests per key (a wallet, a client IP)
# in one fixed window of time; `ends` (epoch seconds) is when the row stops counting.
rate_counts = Table(
    "rate_counts",
    metadata,
    Column("name", String(120), primary_key=True),
    Column("slot", BigInteger, primary_key=True),  # which window: epoch seconds // its length
    Column("hits", BigInteger, nullable=False),
    Column("ends", BigInteger, nullable=False, index=True),  # housekeeping drops old ones
)

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Moment, nullable=False),
)
