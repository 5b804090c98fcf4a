"""Money tables: the double-entry ledger, deposits, receipts, payouts and their batches."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from earnest.adapters.store.tables.base import Address, Amount, Moment, metadata

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
    # What the mint withheld on top of the rewards sent whole (transfer-fee mints); NULL: 0.
    Column("transfer_fees", Amount),
    Index("ix_batches_status", "status"),
)


# Bonuses a requester paid workers of a campaign, beyond rewards: each owed through the
# ledger and paid by the settler from its payout row (`payout_id`), as rewards are.
bonuses = Table(
    "bonuses",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("campaign_id", String(32), nullable=False, index=True),
    Column("requester", Address, nullable=False),
    Column("worker", Address, nullable=False),
    Column("amount", Amount, nullable=False),
    Column("fee", Amount, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("payout_id", String(32), nullable=False),
    Column("created_at", Moment, nullable=False),
)
