"""Repositories for parties, sign-in, API keys, worker history and idempotency records."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    Table,
    and_,
    delete,
    insert,
    select,
    tuple_,
    update,
)

from earnest.adapters.store.tables import (
    api_keys,
    idempotency,
    nonces,
    parties,
    rate_counts,
    revocations,
    sessions,
    upsert,
    worker_lists,
    worker_stats,
)
from earnest.domain.criteria import WorkerProfile
from earnest.domain.verification import WorkerHistory
from earnest.services.ports import IDEMPOTENCY_LEASE, ApiKeyRecord, IdempotencyRecord


class Parties:
    def __init__(self, conn: Connection) -> None:
        self.c = conn

    def ensure(self, address: str, kind: str, now: datetime) -> None:
        """Create the party on first sign-in (one statement: it runs on every sign-in and claim)."""
        self.c.execute(
            _insert_new(self.c, parties, "address").values(
                address=address, kind=kind, created_at=now
            )
        )

    def kind(self, address: str) -> str | None:
        return self.c.scalar(select(parties.c.kind).where(parties.c.address == address))

    def profile(self, address: str) -> WorkerProfile:
        """What the worker declared (languages, region); an empty profile if nothing."""
        row = self.c.execute(
            select(parties.c.languages, parties.c.region).where(parties.c.address == address)
        ).first()
        if row is None:
            return WorkerProfile()
        return WorkerProfile(tuple(row.languages or ()), row.region or "")

    def set_profile(self, address: str, profile: WorkerProfile, now: datetime) -> None:
        self.ensure(address, "person", now)
        self.c.execute(
            update(parties)
            .where(parties.c.address == address)
            .values(languages=list(profile.languages), region=profile.region)
        )

    def listing(self, requester: str, worker: str) -> str | None:
        """ "block", "allow" or None: where the requester put the worker."""
        return self.c.scalar(
            select(worker_lists.c.kind).where(
                worker_lists.c.requester == requester, worker_lists.c.worker == worker
            )
        )

    def set_listing(self, requester: str, worker: str, kind: str | None, now: datetime) -> None:
        """Put the worker on one of the requester's lists (None: on neither)."""
        self.c.execute(
            delete(worker_lists).where(
                worker_lists.c.requester == requester, worker_lists.c.worker == worker
            )
        )
        if kind is not None:
            self.c.execute(
                insert(worker_lists).values(
                    requester=requester, worker=worker, kind=kind, created_at=now
                )
            )

    def listings(self, requester: str) -> dict[str, str]:
        rows = self.c.execute(
            select(worker_lists.c.worker, worker_lists.c.kind)
            .where(worker_lists.c.requester == requester)
            .order_by(worker_lists.c.worker)
        )
        return {r.worker: r.kind for r in rows}


class Auth:
    def __init__(self, conn: Connection) -> None:
        self.c = conn

    def add_nonce(self, nonce: str, address: str, message: str, expires_at: datetime) -> None:
        self.c.execute(
            insert(nonces).values(
                nonce=nonce, address=address, message=message, expires_at=expires_at
            )
        )

    def consume_nonce(self, nonce: str, now: datetime) -> tuple[str, str, datetime] | None:
        """Mark the nonce used; return (address, message, expiry) only if this call used it."""
        row = self.c.execute(
            update(nonces)
            .where(and_(nonces.c.nonce == nonce, nonces.c.used_at.is_(None)))
            .values(used_at=now)
            .returning(nonces.c.address, nonces.c.message, nonces.c.expires_at)
        ).first()
        return (row.address, row.message, row.expires_at) if row is not None else None

    def add_session(
        self, token_hash: str, address: str, now: datetime, expires_at: datetime
    ) -> None:
        self.c.execute(
            insert(sessions).values(
                token_hash=token_hash, address=address, created_at=now, expires_at=expires_at
            )
        )

    def session(self, token_hash: str, now: datetime) -> tuple[str, datetime] | None:
        """The live session's (address, expiry), or None if unknown or expired."""
        row = self.c.execute(
            select(sessions.c.address, sessions.c.expires_at).where(
                and_(sessions.c.token_hash == token_hash, sessions.c.expires_at > now)
            )
        ).first()
        return (row.address, row.expires_at) if row is not None else None

    def add_api_key(self, record: ApiKeyRecord, key_hash: str) -> None:
        self.c.execute(
            insert(api_keys).values(
                id=record.id,
                address=record.address,
                name=record.name,
                key_hash=key_hash,
                scopes=" ".join(record.scopes),
                created_at=record.created_at,
            )
        )

    def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        row = self.c.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).first()
        return _key(row) if row else None

    def api_keys_of(self, address: str) -> list[ApiKeyRecord]:
        rows = self.c.execute(
            select(api_keys).where(api_keys.c.address == address).order_by(api_keys.c.created_at)
        )
        return [_key(r) for r in rows]

    def revoke_api_key(self, key_id: str, address: str, now: datetime) -> str | None:
        """Revoke the owner's live key; its hash if this call revoked it, else None."""
        return self.c.execute(
            update(api_keys)
            .where(and_(api_keys.c.id == key_id, api_keys.c.address == address))
            .where(api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(api_keys.c.key_hash)
        ).scalar()

    def end_session(self, token_hash: str) -> bool:
        """Delete the session; True if it existed."""
        gone = self.c.execute(delete(sessions).where(sessions.c.token_hash == token_hash))
        return gone.rowcount == 1

    def add_revocation(self, credential_hash: str, now: datetime) -> None:
        """Tell every API process that this credential ended (they poll revoked_since)."""
        self.c.execute(
            _insert_new(self.c, revocations, "credential_hash").values(
                credential_hash=credential_hash, revoked_at=now
            )
        )

    def revoked_since(self, since: datetime) -> list[str]:
        """Digests of the credentials revoked after `since`."""
        rows = self.c.execute(
            select(revocations.c.credential_hash).where(revocations.c.revoked_at > since)
        )
        return list(rows.scalars())

    def drop_old_revocations(self, before: datetime, limit: int) -> int:
        return _delete_some(self.c, revocations, revocations.c.revoked_at < before, limit)

    def drop_expired_sessions(self, now: datetime, limit: int) -> int:
        return _delete_some(self.c, sessions, sessions.c.expires_at <= now, limit)

    def drop_expired_nonces(self, now: datetime, limit: int) -> int:
        """Challenges past their expiry, used or not: one found missing is refused as one
        found expired is, so removing them changes no answer."""
        return _delete_some(self.c, nonces, nonces.c.expires_at <= now, limit)


def _key(row: object) -> ApiKeyRecord:
    r = row._mapping  # type: ignore[attr-defined]
    return ApiKeyRecord(
        r["id"],
        r["address"],
        r["name"],
        tuple(r["scopes"].split()),
        r["created_at"],
        r["revoked_at"],
    )


class Workers:
    """Per-worker counts, remembered for the transaction: a suite of answers reads a worker's
    history and counts a decision once per answer; the counts are written at commit, one
    increment per worker however many answers."""

    def __init__(self, conn: Connection, pg: bool) -> None:
        self.c = conn
        self.pg = pg
        self._read: dict[str, WorkerHistory | None] = {}
        self._delta: dict[str, list[int]] = {}  # accepted, rejected, gold_total, gold_correct

    def history(self, workers: Iterable[str]) -> dict[str, WorkerHistory]:
        wanted = sorted(set(workers))
        missing = [w for w in wanted if w not in self._read]
        if missing:
            rows = self.c.execute(
                select(
                    worker_stats.c.worker, worker_stats.c.gold_correct, worker_stats.c.gold_total
                ).where(worker_stats.c.worker.in_(missing))
            )
            found = {r.worker: WorkerHistory(r.gold_correct, r.gold_total) for r in rows}
            for w in missing:
                self._read[w] = found.get(w)
        out = {}
        for w in wanted:
            stored, delta = self._read[w], self._delta.get(w)
            if stored is None and delta is None:
                continue
            correct = (stored.gold_correct if stored else 0) + (delta[3] if delta else 0)
            total = (stored.gold_total if stored else 0) + (delta[2] if delta else 0)
            out[w] = WorkerHistory(correct, total)
        return out

    def record(self, worker: str, *, accepted: bool, gold: bool) -> None:
        """Count one decided answer (and a gold outcome) in the worker's history."""
        delta = self._delta.setdefault(worker, [0, 0, 0, 0])
        delta[0] += int(accepted)
        delta[1] += int(not accepted)
        delta[2] += int(gold)
        delta[3] += int(gold and accepted)

    def flush(self) -> None:
        pending, self._delta = self._delta, {}
        if not pending:
            return
        rows = []
        for worker, (accepted, rejected, gold_total, gold_correct) in sorted(pending.items()):
            stored = self._read.get(worker)
            if stored is not None:
                self._read[worker] = WorkerHistory(
                    stored.gold_correct + gold_correct, stored.gold_total + gold_total
                )
            else:
                self._read.pop(worker, None)  # read it again if asked
            rows.append(
                {
                    "worker": worker,
                    "accepted": accepted,
                    "rejected": rejected,
                    "gold_total": gold_total,
                    "gold_correct": gold_correct,
                }
            )
        # One upsert for every worker counted (in name order: concurrent transactions take
        # the rows' locks in one order); a worker's first decision creates its row.
        stmt = upsert(worker_stats, self.pg).values(rows)
        self.c.execute(
            stmt.on_conflict_do_update(
                index_elements=[worker_stats.c.worker],
                set_={
                    name: worker_stats.c[name] + stmt.excluded[name]
                    for name in ("accepted", "rejected", "gold_total", "gold_correct")
                },
            )
        )


class Idempotency:
    def __init__(self, conn: Connection) -> None:
        self.c = conn

    def get(self, scope: str) -> IdempotencyRecord | None:
        row = self.c.execute(select(idempotency).where(idempotency.c.scope == scope)).first()
        return IdempotencyRecord(row.fingerprint, row.status_code, row.body) if row else None

    def claim(
        self, scope: str, fingerprint: str, now: datetime, lease: timedelta = IDEMPOTENCY_LEASE
    ) -> IdempotencyRecord | None:
        """Start the record in one statement: None if this call started it, else the record
        found (one that vanished meanwhile, its request failed, reads as still in progress).

        A record still in progress past its lease (its request died with its process: no
        request runs that long) is taken over in one statement too, and this call starts
        afresh: the in-progress record carries its start (`created_at`) as its lease."""
        started = self.c.execute(
            _insert_new(self.c, idempotency, "scope")
            .values(scope=scope, fingerprint=fingerprint, created_at=now)
            .returning(idempotency.c.scope)  # INSERT's rowcount is not reliable here
        ).first()
        if started is not None:
            return None
        taken = self.c.execute(
            update(idempotency)
            .where(
                idempotency.c.scope == scope,
                idempotency.c.status_code.is_(None),
                idempotency.c.created_at < now - lease,
            )
            .values(fingerprint=fingerprint, created_at=now)
            .returning(idempotency.c.scope)
        ).first()
        if taken is not None:
            return None
        return self.get(scope) or IdempotencyRecord(fingerprint, None, None)

    def finish(self, scope: str, status_code: int, body: bytes) -> None:
        self.c.execute(
            update(idempotency)
            .where(idempotency.c.scope == scope)
            .values(status_code=status_code, body=body)
        )

    def forget(self, scope: str) -> None:
        self.c.execute(delete(idempotency).where(idempotency.c.scope == scope))

    def drop_older(self, before: datetime, limit: int) -> int:
        return _delete_some(self.c, idempotency, idempotency.c.created_at < before, limit)


class RateCounts:
    """Rate-limit hits per (name, window slot), added to by every API process."""

    def __init__(self, conn: Connection, pg: bool) -> None:
        self.c, self.pg = conn, pg

    def add(self, hits: dict[tuple[str, int], tuple[int, int]]) -> dict[tuple[str, int], int]:
        """Add {(name, slot): (hits, ends)} in one upsert; return each row's total after it."""
        if not hits:
            return {}
        # In key order: concurrent upserts take the rows' locks in one order (no deadlock).
        rows = [
            {"name": name, "slot": slot, "hits": n, "ends": ends}
            for (name, slot), (n, ends) in sorted(hits.items())
        ]
        stmt = upsert(rate_counts, self.pg).values(rows)
        totals = self.c.execute(
            stmt.on_conflict_do_update(
                index_elements=[rate_counts.c.name, rate_counts.c.slot],
                set_={"hits": rate_counts.c.hits + stmt.excluded.hits},
            ).returning(rate_counts.c.name, rate_counts.c.slot, rate_counts.c.hits)
        )
        return {(row.name, row.slot): row.hits for row in totals}

    def drop_ended(self, now_epoch: int, limit: int) -> int:
        """Delete at most `limit` rows whose window no longer counts."""
        key = tuple_(rate_counts.c.name, rate_counts.c.slot)
        chosen = (
            select(rate_counts.c.name, rate_counts.c.slot)
            .where(rate_counts.c.ends < now_epoch)
            .limit(limit)
        )
        return self.c.execute(delete(rate_counts).where(key.in_(chosen))).rowcount


def _delete_some(conn: Connection, table: Table, where: ColumnElement[bool], limit: int) -> int:
    """Delete at most `limit` rows matching `where` (one bounded batch); return how many."""
    (key,) = table.primary_key.columns
    chosen = select(key).where(where).limit(limit)
    return conn.execute(delete(table).where(key.in_(chosen))).rowcount


def _insert_new(conn: Connection, table: Table, key: str) -> Insert:
    """INSERT that does nothing when a row with the same `key` exists (both dialects)."""
    pg = conn.dialect.name == "postgresql"
    return upsert(table, pg).on_conflict_do_nothing(index_elements=[key])
