"""In-memory people repositories: parties, sign-in (nonces, sessions, API keys, revocations),
rate counts and Idempotency-Key records, by the SQL repositories' rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TypeVar

from earnest.domain.criteria import WorkerProfile
from earnest.domain.errors import Conflict
from earnest.services.ports import IDEMPOTENCY_LEASE, ApiKeyRecord, IdempotencyRecord


@dataclass
class PeopleRows:
    """Everything the people area stores (one copy per unit of work, see FakeStore)."""

    parties: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    profiles: dict[str, WorkerProfile] = field(default_factory=dict)
    lists: dict[tuple[str, str], str] = field(default_factory=dict)  # (requester, worker)
    # nonce -> (address, message, expires_at, used_at)
    nonces: dict[str, tuple[str, str, datetime, datetime | None]] = field(default_factory=dict)
    sessions: dict[str, tuple[str, datetime, datetime]] = field(default_factory=dict)
    api_keys: dict[str, tuple[ApiKeyRecord, str]] = field(default_factory=dict)  # id -> + hash
    revocations: dict[str, datetime] = field(default_factory=dict)
    rates: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)  # hits, ends
    # scope -> (fingerprint, status_code, body, created_at)
    idempotency: dict[str, tuple[str, int | None, bytes | None, datetime]] = field(
        default_factory=dict
    )


def _unique(table: Mapping[str, object], key: str) -> None:
    if key in table:  # a primary key: the SQL store refuses it at commit
        raise Conflict("a concurrent request changed the same object; retry")


class FakeParties:
    def __init__(self, rows: PeopleRows) -> None:
        self.rows = rows

    def ensure(self, address: str, kind: str, now: datetime) -> None:
        self.rows.parties.setdefault(address, (kind, now))

    def kind(self, address: str) -> str | None:
        found = self.rows.parties.get(address)
        return found[0] if found else None

    def profile(self, address: str) -> WorkerProfile:
        return self.rows.profiles.get(address, WorkerProfile())

    def set_profile(self, address: str, profile: WorkerProfile, now: datetime) -> None:
        self.ensure(address, "person", now)
        self.rows.profiles[address] = profile

    def listing(self, requester: str, worker: str) -> str | None:
        return self.rows.lists.get((requester, worker))

    def set_listing(self, requester: str, worker: str, kind: str | None, now: datetime) -> None:
        if kind is None:
            self.rows.lists.pop((requester, worker), None)
        else:
            self.rows.lists[(requester, worker)] = kind

    def listings(self, requester: str) -> dict[str, str]:
        return {w: k for (r, w), k in sorted(self.rows.lists.items()) if r == requester}


class FakeAuth:
    def __init__(self, rows: PeopleRows) -> None:
        self.rows = rows

    def add_nonce(self, nonce: str, address: str, message: str, expires_at: datetime) -> None:
        _unique(self.rows.nonces, nonce)
        self.rows.nonces[nonce] = (address, message, expires_at, None)

    def consume_nonce(self, nonce: str, now: datetime) -> tuple[str, str, datetime] | None:
        found = self.rows.nonces.get(nonce)
        if found is None or found[3] is not None:
            return None
        address, message, expires_at, _ = found
        self.rows.nonces[nonce] = (address, message, expires_at, now)
        return address, message, expires_at

    def add_session(
        self, token_hash: str, address: str, now: datetime, expires_at: datetime
    ) -> None:
        _unique(self.rows.sessions, token_hash)
        self.rows.sessions[token_hash] = (address, now, expires_at)

    def session(self, token_hash: str, now: datetime) -> tuple[str, datetime] | None:
        found = self.rows.sessions.get(token_hash)
        if found is None or found[2] <= now:
            return None
        return found[0], found[2]

    def add_api_key(self, record: ApiKeyRecord, key_hash: str) -> None:
        _unique(self.rows.api_keys, record.id)
        self.rows.api_keys[record.id] = (record, key_hash)

    def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        return next((r for r, h in self.rows.api_keys.values() if h == key_hash), None)

    def api_keys_of(self, address: str) -> list[ApiKeyRecord]:
        mine = [r for r, _ in self.rows.api_keys.values() if r.address == address]
        return sorted(mine, key=lambda r: r.created_at)

    def revoke_api_key(self, key_id: str, address: str, now: datetime) -> str | None:
        found = self.rows.api_keys.get(key_id)
        if found is None or found[0].address != address or found[0].revoked_at is not None:
            return None
        record, key_hash = found
        self.rows.api_keys[key_id] = (replace(record, revoked_at=now), key_hash)
        return key_hash

    def end_session(self, token_hash: str) -> bool:
        return self.rows.sessions.pop(token_hash, None) is not None

    def add_revocation(self, credential_hash: str, now: datetime) -> None:
        self.rows.revocations.setdefault(credential_hash, now)

    def revoked_since(self, since: datetime) -> list[str]:
        return [h for h, at in self.rows.revocations.items() if at > since]

    def drop_old_revocations(self, before: datetime, limit: int) -> int:
        return _drop(self.rows.revocations, lambda at: at < before, limit)

    def drop_expired_sessions(self, now: datetime, limit: int) -> int:
        return _drop(self.rows.sessions, lambda s: s[2] <= now, limit)

    def drop_expired_nonces(self, now: datetime, limit: int) -> int:
        return _drop(self.rows.nonces, lambda n: n[2] <= now, limit)


class FakeRateCounts:
    def __init__(self, rows: PeopleRows) -> None:
        self.rows = rows

    def add(self, hits: dict[tuple[str, int], tuple[int, int]]) -> dict[tuple[str, int], int]:
        totals = {}
        for key, (n, ends) in sorted(hits.items()):
            had, had_ends = self.rows.rates.get(key, (0, ends))
            self.rows.rates[key] = (had + n, had_ends)
            totals[key] = had + n
        return totals

    def drop_ended(self, now_epoch: int, limit: int) -> int:
        return _drop(self.rows.rates, lambda r: r[1] < now_epoch, limit)


class FakeIdempotency:
    def __init__(self, rows: PeopleRows) -> None:
        self.rows = rows

    def get(self, scope: str) -> IdempotencyRecord | None:
        found = self.rows.idempotency.get(scope)
        return IdempotencyRecord(found[0], found[1], found[2]) if found else None

    def claim(
        self, scope: str, fingerprint: str, now: datetime, lease: timedelta = IDEMPOTENCY_LEASE
    ) -> IdempotencyRecord | None:
        found = self.rows.idempotency.get(scope)
        if found is None or (found[1] is None and found[3] < now - lease):
            self.rows.idempotency[scope] = (fingerprint, None, None, now)
            return None
        return IdempotencyRecord(found[0], found[1], found[2])

    def finish(self, scope: str, status_code: int, body: bytes) -> None:
        found = self.rows.idempotency.get(scope)
        if found is not None:
            self.rows.idempotency[scope] = (found[0], status_code, body, found[3])

    def forget(self, scope: str) -> None:
        self.rows.idempotency.pop(scope, None)

    def drop_older(self, before: datetime, limit: int) -> int:
        return _drop(self.rows.idempotency, lambda r: r[3] < before, limit)


K = TypeVar("K")
V = TypeVar("V")


def _drop(table: dict[K, V], due: Callable[[V], bool], limit: int) -> int:
    """Delete at most `limit` rows that are due (one bounded batch); return how many."""
    chosen = [k for k, v in table.items() if due(v)][:limit]
    for k in chosen:
        del table[k]
    return len(chosen)
