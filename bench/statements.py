"""Benchmark: database statements and time per answered unit, one task at a time or in suites.

In-process, no HTTP: new workers claim and answer every task of a funded labeling campaign,
first one task per claim and per submit (the baseline), then in suites of `--suite` tasks
(`claim_suite` + `submit_answers`), on SQLite or PostgreSQL (a scratch database on
`EARNEST_TEST_POSTGRES_URL`'s server, dropped afterwards). It counts every statement sent to
the database and prints the ratios; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).parent))
from chain_limits import bench_market, scratch_database

from earnest.adapters.chain.wallet import Wallet
from earnest.services import answers, work
from earnest.services.identity import SESSION_SCOPES, Principal

PG = os.environ.get(
    "EARNEST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--units", type=int, default=1_000, help="answered units per way")
    p.add_argument("--suite", type=int, default=20)
    args = p.parse_args()
    single, suites = _measure(args, 1), _measure(args, args.suite)
    out = {
        "store": args.store,
        "suite": args.suite,
        "statements_per_unit_single": single["statements"],
        "statements_per_unit_suite": suites["statements"],
        "ms_per_unit_single": single["ms"],
        "ms_per_unit_suite": suites["ms"],
        "statements_ratio": round(single["statements"] / suites["statements"], 2),
        "speedup": round(single["ms"] / suites["ms"], 2),
    }
    print(
        f"{args.store}: {out['statements_per_unit_single']} → "
        f"{out['statements_per_unit_suite']} statements and {out['ms_per_unit_single']} → "
        f"{out['ms_per_unit_suite']} ms per unit (suites of {args.suite})"
    )
    print(json.dumps(out))


def _measure(args: argparse.Namespace, size: int) -> dict[str, float]:
    """Claim and answer `args.units` units, `size` at a time, by workers in turn."""
    url = None if args.store == "sqlite" else PG
    with scratch_database(url) as db, bench_market(db, args.units) as (m, campaign_id):
        deps: dict[str, Any] = {"store": m.store, "clock": m.clock, "rand": m.rand}
        crew = [Principal(Wallet.generate().address, SESSION_SCOPES, "session") for _ in range(50)]
        count = [0]
        event.listen(m.store.engine, "before_cursor_execute", lambda *_: _bump(count))
        done, turn, started = 0, 0, time.perf_counter()
        while done < args.units:  # bounded: every round answers at least one unit
            who = crew[turn % len(crew)]
            turn += 1
            n = min(size, args.units - done)
            if size == 1:
                lease = work.claim_task(work.ClaimTask(who, campaign_id), **deps)
                answer = answers.SubmitAnswer(who, lease.assignment.id, {"x": 1})
                answers.submit_work(answer, crypto=m.crypto, **deps)
            else:
                got = work.claim_suite(work.ClaimSuite(who, campaign_id, n), **deps)
                given = [(c.assignment.id, {"x": 1}) for c in got]
                answers.submit_answers(answers.SubmitAnswers(who, given), crypto=m.crypto, **deps)
                n = len(got)
            done += n
        elapsed = time.perf_counter() - started
    return {"statements": round(count[0] / done, 1), "ms": round(elapsed / done * 1000, 2)}


def _bump(count: list[int]) -> None:
    count[0] += 1


if __name__ == "__main__":
    main()
