"""Housekeeping: rows that matter only for a while are removed once their time is over.

Expired sessions and sign-in challenges, revocations past their use, rate-limit counts of
windows gone by (their windows are wall-clock epoch seconds: time.time), and Idempotency-Key
records older than their retention (24 hours by default: a retry within a day is answered
from the record, a key reused after that runs as a new request). Left alone, 50,000 contributors signing in
every day and posting twice per task suite add millions of such rows a day.

Each kind goes in batches of `batch` rows, one short transaction each, at most
`max_batches` a round: a backlog (a market started after long downtime) drains over a
few rounds instead of in one long transaction that holds SQLite's writer. Several API
processes may sweep at once; a row deleted by one is simply not found by another.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from earnest.services.loop import Every
from earnest.services.ports import Clock, PeopleStore, PeopleUnit

log = logging.getLogger("earnest.housekeeping")

BATCH = 1_000
MAX_BATCHES = 50  # per kind and round: at most 50,000 rows of each kind
# API processes read the last seconds of revocations (identity.read_revocations); the
# revoked session is gone from the store and a revoked key stays marked, so older rows
# only serve a process whose reads stalled that long.
REVOCATIONS_KEPT = timedelta(minutes=10)


def sweep(
    *,
    store: PeopleStore,
    clock: Clock,
    idempotency_ttl: timedelta,
    batch: int = BATCH,
    max_batches: int = MAX_BATCHES,
) -> dict[str, int]:
    """One round: remove what has expired; return how many rows of each kind went."""
    now = clock.now()
    kinds: dict[str, Callable[[PeopleUnit], int]] = {
        "sessions": lambda uow: uow.auth.drop_expired_sessions(now, batch),
        "challenges": lambda uow: uow.auth.drop_expired_nonces(now, batch),
        "idempotency_keys": lambda uow: uow.idempotency.drop_older(now - idempotency_ttl, batch),
        "revocations": lambda uow: uow.auth.drop_old_revocations(now - REVOCATIONS_KEPT, batch),
        "rate_counts": lambda uow: uow.rates.drop_ended(int(time.time()), batch),
    }
    removed = dict.fromkeys(kinds, 0)
    for kind, drop in kinds.items():
        for _ in range(max_batches):
            with store.uow(single=True) as uow:
                gone = drop(uow)
                uow.commit()
            removed[kind] += gone
            if gone < batch:
                break
    return removed


def housekeeping_loop(
    store: PeopleStore, clock: Clock, interval: float, idempotency_ttl: timedelta
) -> Every:
    """`sweep` every `interval` seconds once started, logging what went."""

    def round_() -> None:
        removed = sweep(store=store, clock=clock, idempotency_ttl=idempotency_ttl)
        if any(removed.values()):
            log.info("housekeeping removed %s", ", ".join(f"{n} {k}" for k, n in removed.items()))

    return Every("earnest-housekeeping", interval, round_, log)
