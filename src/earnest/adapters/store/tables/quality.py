"""Quality tables: worker statistics, learned confusions, reputation, limits, appeals, peer review."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from earnest.adapters.store.tables.base import Address, Amount, Moment, metadata
from earnest.domain.work import MAX_REPUTATION_SKILL

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
    Column("skill", String(MAX_REPUTATION_SKILL), nullable=False),  # "review:" + a skill
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
