"""In-memory money repositories: the ledger, deposits, receipts, payouts and batches.

They keep the SQL repositories' rules (an entry applied once per key, no overdraft of a
non-contra account, a deposit credited once, a batch attaching only pending payouts), not
their statements; tests/integration keeps the SQL honest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from earnest.domain.errors import AlreadyDone, Conflict
from earnest.domain.ledger import JournalEntry, check_balances, merged
from earnest.services.ports import BatchRecord, BonusRecord, PayoutRecord, ReceiptRecord

_UNFINISHED = ("signed", "sent")


@dataclass
class MoneyRows:
    """Everything the money area stores (one copy per unit of work, see FakeStore)."""

    journal: dict[str, JournalEntry] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)
    deposits: dict[str, tuple[str, int, datetime]] = field(default_factory=dict)
    receipts: dict[str, tuple[ReceiptRecord, str]] = field(default_factory=dict)  # + slot id
    payouts: dict[str, PayoutRecord] = field(default_factory=dict)
    batches: dict[str, BatchRecord] = field(default_factory=dict)
    lookup_tables: list[str] = field(default_factory=list)
    bonuses: dict[str, BonusRecord] = field(default_factory=dict)


class FakeLedger:
    def __init__(self, rows: MoneyRows) -> None:
        self.rows = rows
        self._deferred: list[tuple[JournalEntry, datetime, bool]] = []

    def post(self, entry: JournalEntry, now: datetime) -> bool:
        """Apply the entry once; False if its key was applied before. Refuses overdrafts."""
        self.flush()
        if entry.key in self.rows.journal:
            return False
        self._apply([entry])
        return True

    def defer(self, entry: JournalEntry, now: datetime, *, merge: bool = False) -> None:
        self._deferred.append((entry, now, merge))

    def flush(self) -> None:
        pending, self._deferred = self._deferred, []
        fresh: dict[str, JournalEntry] = {}
        together: dict[tuple[datetime, str], dict[str, JournalEntry]] = {}
        for entry, now, merge in pending:
            if merge:
                together.setdefault((now, entry.kind), {}).setdefault(entry.key, entry)
            elif entry.key not in self.rows.journal:
                fresh.setdefault(entry.key, entry)
        for entries in together.values():
            one = merged(list(entries.values()))
            fresh.setdefault(one.key, one)
        self._apply(list(fresh.values()))

    def _apply(self, entries: list[JournalEntry]) -> None:
        after = dict(self.rows.balances)
        touched: set[str] = set()
        for e in entries:
            for account, delta in e.deltas().items():
                after[account] = after.get(account, 0) + delta
                touched.add(account)
        check_balances(after, touched)  # raises before anything is kept, as the savepoint
        self.rows.balances = after
        for e in entries:
            self.rows.journal[e.key] = e

    def balance(self, account: str) -> int:
        self.flush()
        return self.rows.balances.get(account, 0)

    def balances(self, prefix: str = "") -> dict[str, int]:
        self.flush()
        return {a: b for a, b in sorted(self.rows.balances.items()) if a.startswith(prefix)}

    def entry_exists(self, key: str) -> bool:
        self.flush()
        return key in self.rows.journal


class FakeDeposits:
    def __init__(self, rows: MoneyRows) -> None:
        self.rows = rows

    def add(self, signature: str, requester: str, amount: int, now: datetime) -> None:
        if signature in self.rows.deposits:
            raise AlreadyDone("this deposit transaction was already credited", signature=signature)
        self.rows.deposits[signature] = (requester, amount, now)


class FakeReceipts:
    def __init__(self, rows: MoneyRows) -> None:
        self.rows = rows

    def add(self, record: ReceiptRecord, now: datetime, *, slot: str = "") -> None:
        assignment = record.body["assignment_id"] + (f":{slot}" if slot else "")
        if any(a == assignment for _, a in self.rows.receipts.values()):  # a unique column
            raise Conflict("a concurrent request changed the same object; retry")
        self.rows.receipts[record.id] = (record, assignment)

    def get(self, receipt_id: str) -> ReceiptRecord | None:
        found = self.rows.receipts.get(receipt_id)
        return found[0] if found else None

    def digests(self, receipt_ids: list[str]) -> dict[str, str]:
        return {i: self.rows.receipts[i][0].digest for i in receipt_ids if i in self.rows.receipts}


class FakePayouts:
    """The outbox and its batches, by the SQL repository's state rules."""

    def __init__(self, rows: MoneyRows) -> None:
        self.rows = rows

    def _sorted(self, status: str | None = None) -> list[PayoutRecord]:
        found = (p for p in self.rows.payouts.values() if status is None or p.status == status)
        return sorted(found, key=lambda p: (p.created_at, p.id))

    def add_bonus(self, bonus: BonusRecord) -> None:
        if bonus.id in self.rows.bonuses:
            raise Conflict(f"bonus {bonus.id} exists")  # the primary key
        self.rows.bonuses[bonus.id] = bonus

    def bonuses(self, campaign_id: str, limit: int = 500) -> list[BonusRecord]:
        mine = [b for b in self.rows.bonuses.values() if b.campaign_id == campaign_id]
        return sorted(mine, key=lambda b: (b.created_at, b.id), reverse=True)[:limit]

    def add(self, record: PayoutRecord) -> None:
        self.rows.payouts[record.id] = record

    def pending(self, limit: int) -> list[PayoutRecord]:
        return self._sorted("pending")[:limit]

    def pending_with_digests(self, limit: int) -> list[tuple[PayoutRecord, str | None]]:
        def digest(p: PayoutRecord) -> str | None:
            found = self.rows.receipts.get(p.receipt_id) if p.receipt_id else None
            return found[0].digest if found else None

        return [(p, digest(p)) for p in self.pending(limit)]

    def of_batch(self, batch_id: str) -> list[PayoutRecord]:
        return sorted(
            (p for p in self.rows.payouts.values() if p.batch_id == batch_id), key=lambda p: p.id
        )

    def by_receipt(self, receipt_id: str) -> PayoutRecord | None:
        return next((p for p in self.rows.payouts.values() if p.receipt_id == receipt_id), None)

    def of_recipient(self, recipient: str, limit: int = 200) -> list[PayoutRecord]:
        mine = [p for p in self._sorted() if p.recipient == recipient]
        return list(reversed(mine))[:limit]

    def add_batch(self, batch: BatchRecord, payout_ids: list[str]) -> None:
        ids = set(payout_ids)
        pending = {
            i for i in ids if i in self.rows.payouts and self.rows.payouts[i].status == "pending"
        }
        if pending != ids:
            raise AlreadyDone("payouts of this batch were batched by another settler")
        self.rows.batches[batch.id] = batch
        for i in ids:
            self.rows.payouts[i] = replace(
                self.rows.payouts[i], status="batched", batch_id=batch.id
            )

    def batch(self, batch_id: str) -> BatchRecord | None:
        return self.rows.batches.get(batch_id)

    def unfinished_batches(self) -> list[BatchRecord]:
        return self._batches(*_UNFINISHED)

    def confirmed_batches(self) -> list[BatchRecord]:
        return self._batches("confirmed")

    def _batches(self, *statuses: str) -> list[BatchRecord]:
        found = (b for b in self.rows.batches.values() if b.status in statuses)
        return sorted(found, key=lambda b: b.created_at)

    def set_batches_status(self, batch_ids: list[str], status: str) -> None:
        for i in batch_ids:
            b = self.rows.batches.get(i)
            if b is not None and b.status in _UNFINISHED:
                self.rows.batches[i] = replace(b, status=status)

    def mark_paid(self, batch_ids: list[str], now: datetime) -> dict[str, list[tuple[str, int]]]:
        confirmed = [
            i
            for i in batch_ids
            if i in self.rows.batches and self.rows.batches[i].status in _UNFINISHED
        ]
        paid: dict[str, list[tuple[str, int]]] = {}
        for i in dict.fromkeys(confirmed):
            self.rows.batches[i] = replace(
                self.rows.batches[i], status="confirmed", confirmed_at=now
            )
            paid[i] = []
            for p in self.of_batch(i):
                self.rows.payouts[p.id] = replace(p, status="paid", paid_at=now)
                paid[i].append((p.account, p.amount))
        return paid

    def drop(self, batch_ids: list[str]) -> None:
        for i in batch_ids:
            b = self.rows.batches.get(i)
            if b is None or b.status not in _UNFINISHED:
                continue
            self.rows.batches[i] = replace(b, status="dropped")
            for p in self.of_batch(i):
                self.rows.payouts[p.id] = replace(p, status="pending", batch_id=None)

    def backlog(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.rows.payouts.values():
            out[f"{p.status}_count"] = out.get(f"{p.status}_count", 0) + 1
            out[f"{p.status}_amount"] = out.get(f"{p.status}_amount", 0) + p.amount
        return out

    def lookup_tables(self) -> list[str]:
        return list(self.rows.lookup_tables)

    def add_lookup_table(self, address: str, now: datetime) -> None:
        if address not in self.rows.lookup_tables:
            self.rows.lookup_tables.append(address)

    def latencies(self) -> list[float]:
        return [
            (p.paid_at - p.created_at).total_seconds()
            for p in self.rows.payouts.values()
            if p.status == "paid" and p.paid_at is not None
        ]

    def stats(self) -> dict[str, Any]:
        confirmed = self.confirmed_batches()
        paid = sum(p.amount for p in self.rows.payouts.values() if p.status == "paid")
        return {
            "transactions": len(confirmed),
            "transfers": sum(b.transfers for b in confirmed),
            "paid_amount": paid,
        }
