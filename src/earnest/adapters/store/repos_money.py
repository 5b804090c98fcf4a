"""Repositories for the ledger, deposits, receipts, and the payout outbox with its batches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from earnest.adapters.store.pending import PendingRows, flushed_first
from earnest.adapters.store.tables import (
    batches,
    bonuses,
    deposits,
    journal,
    ledger_accounts,
    lookup_tables,
    payouts,
    postings,
    receipts,
    upsert,
)
from earnest.domain.errors import AlreadyDone
from earnest.domain.ledger import JournalEntry, check_balances, merged
from earnest.services.ports import BatchRecord, BonusRecord, PayoutRecord, ReceiptRecord

_UNFINISHED = ("signed", "sent")  # batches that may still land: recover asks the chain


UPSERT_CHUNK = 1_000  # accounts per statement: far below both databases' parameter limits


class Ledger:
    def __init__(self, conn: Connection, pg: bool) -> None:
        self.c = conn
        self.pg = pg
        self._deferred: list[tuple[JournalEntry, datetime, bool]] = []

    def post(self, entry: JournalEntry, now: datetime) -> bool:
        """Apply the entry once; False if its key was applied before. Refuses overdrafts.

        The entry runs in a savepoint, so a refused one leaves nothing behind even if the
        caller goes on and commits the rest of its transaction.
        """
        self.flush()
        if self.c.scalar(select(journal.c.id).where(journal.c.key == entry.key)) is not None:
            return False
        savepoint = self.c.begin_nested()
        try:
            self._apply([entry], now)
        except BaseException:
            savepoint.rollback()
            raise
        savepoint.commit()
        return True

    def defer(self, entry: JournalEntry, now: datetime, *, merge: bool = False) -> None:
        """Post the entry with the others deferred in this transaction, before it commits.

        Deferred entries are applied together, set-based: one statement per table and one
        balance update per account however many entries there are. A key applied before is
        skipped, as `post` does. An overdraft refuses the whole transaction (there is no
        savepoint to fall back to): defer only entries the caller has already covered, such
        as an accepted unit paid from the escrow its lease reserved.

        With `merge`, the entry is posted as part of one entry with the others of its kind
        and time deferred with `merge` (`ledger.merged`: a suite's accepts are one journal
        row and one posting per account); its own key is neither looked up nor recorded.
        """
        self._deferred.append((entry, now, merge))

    def flush(self) -> None:
        """Apply the deferred entries now; every read of the ledger does this first."""
        if not self._deferred:
            return
        pending, self._deferred = self._deferred, []
        keys = [entry.key for entry, _, merge in pending if not merge]
        done = (
            set(self.c.scalars(select(journal.c.key).where(journal.c.key.in_(keys))))
            if keys
            else set()
        )
        fresh: dict[str, tuple[JournalEntry, datetime]] = {}
        together: dict[tuple[datetime, str], dict[str, JournalEntry]] = {}
        for entry, now, merge in pending:
            if merge:
                together.setdefault((now, entry.kind), {}).setdefault(entry.key, entry)
            elif entry.key not in done:
                fresh.setdefault(entry.key, (entry, now))
        for (now, _), entries in together.items():
            one = merged(list(entries.values()))
            fresh.setdefault(one.key, (one, now))
        for now in sorted({now for _, now in fresh.values()}):
            self._apply([e for e, at in fresh.values() if at == now], now)

    def _apply(self, entries: list[JournalEntry], now: datetime) -> None:
        if not entries:
            return
        ids = self.c.scalars(
            insert(journal).returning(journal.c.id, sort_by_parameter_order=True),
            [{"key": e.key, "kind": e.kind, "memo": e.memo, "created_at": now} for e in entries],
        ).all()
        self.c.execute(
            insert(postings),
            [
                {"entry_id": entry_id, "account": p.account, "amount": p.amount}
                for entry_id, e in zip(ids, entries, strict=True)
                for p in e.postings
            ],
        )
        deltas: dict[str, int] = {}
        for e in entries:
            for account, delta in e.deltas().items():
                deltas[account] = deltas.get(account, 0) + delta
        after: dict[str, int] = {}
        # One upsert per chunk of accounts, their rows taken in name order, so that
        # concurrent entries lock account rows in one order (no deadlock).
        ordered = sorted(deltas.items())
        for start in range(0, len(ordered), UPSERT_CHUNK):
            chunk = ordered[start : start + UPSERT_CHUNK]
            stmt = upsert(ledger_accounts, self.pg).values(
                [{"name": account, "balance": delta} for account, delta in chunk]
            )
            applied = stmt.on_conflict_do_update(
                index_elements=[ledger_accounts.c.name],
                set_={"balance": ledger_accounts.c.balance + stmt.excluded.balance},
            ).returning(ledger_accounts.c.name, ledger_accounts.c.balance)
            after.update({r.name: int(r.balance) for r in self.c.execute(applied)})
        check_balances(after, after)

    def balance(self, account: str) -> int:
        self.flush()
        value = self.c.scalar(
            select(ledger_accounts.c.balance).where(ledger_accounts.c.name == account)
        )
        return int(value or 0)

    def balances(self, prefix: str = "") -> dict[str, int]:
        self.flush()
        rows = self.c.execute(
            select(ledger_accounts.c.name, ledger_accounts.c.balance)
            .where(ledger_accounts.c.name.startswith(prefix))
            .order_by(ledger_accounts.c.name)
        )
        return {r.name: int(r.balance) for r in rows}

    def entry_exists(self, key: str) -> bool:
        self.flush()
        return self.c.scalar(select(journal.c.id).where(journal.c.key == key)) is not None


class Deposits:
    def __init__(self, conn: Connection) -> None:
        self.c = conn

    def add(self, signature: str, requester: str, amount: int, now: datetime) -> None:
        """Record a credited deposit; AlreadyDone if that signature was credited before."""
        found = self.c.scalar(select(deposits.c.requester).where(deposits.c.signature == signature))
        if found is not None:
            raise AlreadyDone("this deposit transaction was already credited", signature=signature)
        self.c.execute(
            insert(deposits).values(
                signature=signature, requester=requester, amount=amount, created_at=now
            )
        )


@flushed_first("add")
class Receipts:
    def __init__(self, conn: Connection) -> None:
        self.c = conn
        self.later = PendingRows(conn, receipts)

    def add(self, record: ReceiptRecord, now: datetime, *, slot: str = "") -> None:
        """Store a receipt; `slot` keeps an assignment's second receipt (an appeal's) apart."""
        self.later.add(
            {
                "id": record.id,
                "assignment_id": record.body["assignment_id"] + (f":{slot}" if slot else ""),
                "worker": record.worker,
                "campaign_id": record.campaign_id,
                "body": record.body,
                "digest": record.digest,
                "signature": record.signature,
                "created_at": now,
            }
        )

    def get(self, receipt_id: str) -> ReceiptRecord | None:
        row = self.c.execute(select(receipts).where(receipts.c.id == receipt_id)).first()
        if row is None:
            return None
        return ReceiptRecord(
            row.id, row.body, row.digest, row.signature, row.worker, row.campaign_id
        )

    def digests(self, receipt_ids: list[str]) -> dict[str, str]:
        rows = self.c.execute(
            select(receipts.c.id, receipts.c.digest).where(receipts.c.id.in_(receipt_ids))
        )
        return {r.id: r.digest for r in rows}


@flushed_first("add")
class Payouts:
    """The outbox: a payout row is written with the ledger entry that owes it."""

    def __init__(self, conn: Connection, pg: bool) -> None:
        self.c = conn
        self.pg = pg
        self.later = PendingRows(conn, payouts)

    def add(self, record: PayoutRecord) -> None:
        """Owe a payout: written with the rest of the transaction's rows at the next flush
        (commit, or any other call on this repository)."""
        self.later.add(dict(record.__dict__))

    def pending(self, limit: int) -> list[PayoutRecord]:
        stmt = select(payouts).where(payouts.c.status == "pending")
        stmt = stmt.order_by(payouts.c.created_at, payouts.c.id).limit(limit)
        if self.pg:
            stmt = stmt.with_for_update(skip_locked=True)
        return [PayoutRecord(**r._mapping) for r in self.c.execute(stmt)]

    def pending_with_digests(self, limit: int) -> list[tuple[PayoutRecord, str | None]]:
        """The oldest pending payouts, each with its receipt's digest (None for a
        withdrawal): what the settler packs, in one query."""
        stmt = (
            select(payouts, receipts.c.digest.label("receipt_digest"))
            .select_from(payouts.outerjoin(receipts, receipts.c.id == payouts.c.receipt_id))
            .where(payouts.c.status == "pending")
            .order_by(payouts.c.created_at, payouts.c.id)
            .limit(limit)
        )
        found = []
        for row in self.c.execute(stmt):
            values = dict(row._mapping)
            digest = values.pop("receipt_digest")
            found.append((PayoutRecord(**values), digest))
        return found

    def of_batch(self, batch_id: str) -> list[PayoutRecord]:
        rows = self.c.execute(
            select(payouts).where(payouts.c.batch_id == batch_id).order_by(payouts.c.id)
        )
        return [PayoutRecord(**r._mapping) for r in rows]

    def by_receipt(self, receipt_id: str) -> PayoutRecord | None:
        row = self.c.execute(select(payouts).where(payouts.c.receipt_id == receipt_id)).first()
        return PayoutRecord(**row._mapping) if row else None

    def of_recipient(self, recipient: str, limit: int = 200) -> list[PayoutRecord]:
        rows = self.c.execute(
            select(payouts)
            .where(payouts.c.recipient == recipient)
            .order_by(payouts.c.created_at.desc())
            .limit(limit)
        )
        return [PayoutRecord(**r._mapping) for r in rows]

    def add_bonus(self, bonus: BonusRecord) -> None:
        self.c.execute(insert(bonuses).values(**bonus.__dict__))

    def bonuses(self, campaign_id: str, limit: int = 500) -> list[BonusRecord]:
        """A campaign's bonuses, newest first."""
        rows = self.c.execute(
            select(bonuses)
            .where(bonuses.c.campaign_id == campaign_id)
            .order_by(bonuses.c.created_at.desc(), bonuses.c.id)
            .limit(limit)
        )
        return [BonusRecord(**r._mapping) for r in rows]

    def add_batch(self, batch: BatchRecord, payout_ids: list[str]) -> None:
        """Record the signed batch and attach its payouts, before anything is sent.

        AlreadyDone if any of them is no longer pending: a settler that lost the lead
        mid-round must not send what the new leader batched (the row lock orders them).
        """
        self.c.execute(insert(batches).values(**batch.__dict__))
        attached = self.c.execute(
            update(payouts)
            .where(payouts.c.id.in_(payout_ids), payouts.c.status == "pending")
            .values(status="batched", batch_id=batch.id)
        )
        if attached.rowcount != len(set(payout_ids)):
            raise AlreadyDone("payouts of this batch were batched by another settler")

    def batch(self, batch_id: str) -> BatchRecord | None:
        row = self.c.execute(select(batches).where(batches.c.id == batch_id)).first()
        return BatchRecord(**row._mapping) if row else None

    def unfinished_batches(self) -> list[BatchRecord]:
        rows = self.c.execute(
            select(batches).where(batches.c.status.in_(_UNFINISHED)).order_by(batches.c.created_at)
        )
        return [BatchRecord(**r._mapping) for r in rows]

    def set_batches_status(self, batch_ids: list[str], status: str) -> None:
        """Move unfinished batches to `signed` or `sent`, in one statement."""
        if batch_ids:
            self.c.execute(
                update(batches)
                .where(batches.c.id.in_(batch_ids), batches.c.status.in_(_UNFINISHED))
                .values(status=status)
            )

    def mark_paid(self, batch_ids: list[str], now: datetime) -> dict[str, list[tuple[str, int]]]:
        """Record landed batches confirmed and their payouts paid, in two statements; for
        each batch this call confirmed, the (ledger account, amount) of its payouts. A batch
        confirmed before is left out, so its ledger entry is never posted twice."""
        if not batch_ids:
            return {}
        confirmed = self.c.scalars(
            update(batches)
            .where(batches.c.id.in_(batch_ids), batches.c.status.in_(_UNFINISHED))
            .values(status="confirmed", confirmed_at=now)
            .returning(batches.c.id)
        ).all()
        if not confirmed:
            return {}
        rows = self.c.execute(
            update(payouts)
            .where(payouts.c.batch_id.in_(confirmed))
            .values(status="paid", paid_at=now)
            .returning(payouts.c.batch_id, payouts.c.id, payouts.c.account, payouts.c.amount)
        ).all()
        paid: dict[str, list[tuple[str, int]]] = {batch_id: [] for batch_id in confirmed}
        for row in sorted(rows, key=lambda r: r.id):
            paid[row.batch_id].append((row.account, int(row.amount)))
        return paid

    def drop(self, batch_ids: list[str]) -> None:
        """Record batches that can never land dropped and return their payouts to the queue."""
        if not batch_ids:
            return
        dropped = self.c.scalars(
            update(batches)
            .where(batches.c.id.in_(batch_ids), batches.c.status.in_(_UNFINISHED))
            .values(status="dropped")
            .returning(batches.c.id)
        ).all()
        if dropped:
            self.c.execute(
                update(payouts)
                .where(payouts.c.batch_id.in_(dropped))
                .values(status="pending", batch_id=None)
            )

    def backlog(self) -> dict[str, int]:
        """Count and amount of payouts per status (pending, batched, paid)."""
        rows = self.c.execute(
            select(
                payouts.c.status, func.count(), func.coalesce(func.sum(payouts.c.amount), 0)
            ).group_by(payouts.c.status)
        ).all()
        counts = {f"{r[0]}_count": int(r[1]) for r in rows}
        return counts | {f"{r[0]}_amount": int(r[2]) for r in rows}

    def lookup_tables(self) -> list[str]:
        """The market's lookup tables, oldest first."""
        stmt = select(lookup_tables.c.address).order_by(
            lookup_tables.c.created_at, lookup_tables.c.address
        )
        return list(self.c.scalars(stmt))

    def add_lookup_table(self, address: str, now: datetime) -> None:
        """Remember a lookup table the settler created (once)."""
        if address not in self.lookup_tables():
            self.c.execute(insert(lookup_tables).values(address=address, created_at=now))

    def confirmed_batches(self) -> list[BatchRecord]:
        rows = self.c.execute(
            select(batches).where(batches.c.status == "confirmed").order_by(batches.c.created_at)
        )
        return [BatchRecord(**r._mapping) for r in rows]

    def latencies(self) -> list[float]:
        """Seconds from owed to paid, for every paid payout (verification → confirmation)."""
        rows = self.c.execute(
            select(payouts.c.created_at, payouts.c.paid_at).where(payouts.c.status == "paid")
        )
        return [(paid - created).total_seconds() for created, paid in rows]

    def stats(self) -> dict[str, Any]:
        row = self.c.execute(
            select(func.count(), func.coalesce(func.sum(batches.c.transfers), 0)).where(
                batches.c.status == "confirmed"
            )
        ).one()
        paid = self.c.scalar(
            select(func.coalesce(func.sum(payouts.c.amount), 0)).where(payouts.c.status == "paid")
        )
        return {
            "transactions": int(row[0]),
            "transfers": int(row[1]),
            "paid_amount": int(paid or 0),
        }
