"""Webhook tables: the endpoints requesters registered, and the outbox of deliveries."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from earnest.adapters.store.tables.base import Address, Moment, metadata

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", Address, nullable=False),
    Column("campaign_id", String(32)),  # NULL: every campaign of the owner
    Column("url", String(2000), nullable=False),
    Column("secret", String(80), nullable=False),  # HMAC key: the market must sign with it
    Column("events", JSON, nullable=False),
    Column("created_at", Moment, nullable=False),
    Column("disabled_at", Moment),
    # resolutions up to (scanned_to, scanned_task), in (resolved_at, id) order, are queued
    Column("scanned_to", Moment),
    Column("scanned_task", BigInteger().with_variant(Integer, "sqlite")),
    Index("ix_webhook_endpoints_owner", "owner"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("endpoint_id", String(32), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", String(120), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("body", Text, nullable=False),  # the exact bytes signed and sent, every attempt
    Column("status", String(12), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("next_at", Moment, nullable=False),
    Column("created_at", Moment, nullable=False),
    Column("delivered_at", Moment),
    Column("last_status", Integer),
    Column("last_error", String(300)),
    UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_delivery_event"),
    Index("ix_webhook_deliveries_due", "status", "next_at"),
)
