"""Work tables: campaigns, tasks, assignments, what was measured about them, fetched bodies."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from earnest.adapters.store.tables.base import Address, Amount, Moment, metadata
from earnest.domain.work import CampaignSpec

# The columns of a campaign's spec are its fields (tests/unit/test_field_bounds.py), and
# their text lengths are the domain's bounds.
_SPEC = CampaignSpec.BOUNDS

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("requester", Address, ForeignKey("parties.address"), nullable=False, index=True),
    Column("type", String(_SPEC["type"].max_length), nullable=False),
    Column("title", String(_SPEC["title"].max_length), nullable=False),
    Column("instructions", Text, nullable=False),
    Column("input_schema", JSON, nullable=False),
    Column("output_schema", JSON, nullable=False),
    Column("reward", Amount, nullable=False),
    Column("fee_bps", Integer, nullable=False),
    Column("overlap", Integer, nullable=False),
    Column("gold_share", Float, nullable=False),
    Column("lease_seconds", Integer, nullable=False),
    Column("deadline", Moment),
    Column("verifier", String(_SPEC["verifier"].max_length), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Moment, nullable=False),
    Column("quality", JSON),  # the QualityPolicy; NULL = defaults (campaigns before v2)
    Column("terms", JSON),  # a labor kind's own terms (bandwidth); NULL = none (before v4)
    Column("max_leases", Integer),  # a worker's live leases at most; NULL = 20 (before v9)
    # The mint's transfer fee the escrow pays per unit ({"bps", "maximum"}); NULL = none.
    Column("transfer_fee", JSON),
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
    # domain.task_keys: one task per key in a campaign (NULL only for duplicates uploaded
    # before keys existed, v15)
    Column("task_key", String(64)),
    Index("ix_tasks_claim", "campaign_id", "status", "is_gold", "id"),
    Index("ux_tasks_key", "campaign_id", "task_key", unique=True),
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
