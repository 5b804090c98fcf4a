"""Parties and their credentials: sign-in, sessions, API keys, devices, request limits."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from earnest.adapters.store.tables.base import Address, Moment, metadata

parties = Table(
    "parties",
    metadata,
    Column("address", Address, primary_key=True),
    Column("kind", String(16), nullable=False, default="person"),
    Column("created_at", Moment, nullable=False),
    # What a worker declares, for campaigns' criteria (domain/criteria.py); NULL = nothing.
    Column("languages", JSON),
    Column("region", String(2)),
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

# Devices (meters) registered to a party, each with its own Ed25519 key (its address).
devices = Table(
    "devices",
    metadata,
    Column("address", Address, primary_key=True),
    Column("owner", Address, nullable=False, index=True),
    Column("label", String(100), nullable=False),
    Column("registered_at", Moment, nullable=False),
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


# A requester's lists of workers: "block" (never given their tasks) or "allow" (the only
# ones given the tasks of campaigns with quality.allowlist_only).
worker_lists = Table(
    "worker_lists",
    metadata,
    Column("requester", Address, primary_key=True),
    Column("worker", Address, primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("created_at", Moment, nullable=False),
)
