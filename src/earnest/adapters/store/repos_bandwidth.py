"""The bodies bandwidth nodes fetched, stored once per content hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from earnest.adapters.store.tables import fetch_bodies, upsert


class Bodies:
    def __init__(self, conn: Connection, pg: bool) -> None:
        self.c = conn
        self.pg = pg

    def put(self, sha256: str, body: bytes, now: datetime) -> None:
        """Keep `body` under its hash; a body already kept is left as it is."""
        # Two nodes sending the same page at once must not fail each other's submission.
        self.c.execute(
            upsert(fetch_bodies, self.pg)
            .values(sha256=sha256, size=len(body), body=body, created_at=now)
            .on_conflict_do_nothing(index_elements=["sha256"])
        )

    def get(self, sha256: str) -> bytes | None:
        found = self.c.scalar(select(fetch_bodies.c.body).where(fetch_bodies.c.sha256 == sha256))
        return None if found is None else bytes(found)
