"""A seeded, randomized fault soak of a whole market, in the spirit of TigerBeetle's VOPR.

One run serves a market as in production: `earnest serve --workers N` on a PostgreSQL
cluster of its own (initdb and pg_ctl under a temporary directory, on a free port: never a
shared server), paying on `earnest chain serve` reached through a TCP proxy. Contributor
threads claim suites and answer them with the SDK for `--seconds`. Meanwhile a schedule
drawn from `--seed` alone (printed first; the same seed gives the same schedule) strikes:

- kill_api      SIGKILL one API process (the supervisor replaces it);
- kill_leader   SIGKILL the API process whose settler leads;
- kill_server   SIGKILL the whole server (supervisor and workers), then start it again;
- kill_chain    SIGKILL the chain server, then start it again (with `expire`: its blockhash
                expired meanwhile, so signed batches in flight can never land);
- pg_restart    restart PostgreSQL in immediate mode (a crash for its clients);
- rpc_stall     the proxy holds the chain's traffic for a few seconds: RPC timeouts.

Afterwards every contributor resends, under their first Idempotency-Key, the answers it
never heard back about; the settler drains; then the soak checks and prints:

- reconcile is clean (the ledger, the payouts and the chain agree, nothing in flight);
- no lost pay and no double pay: every contributor holds on chain exactly the rewards of
  its accepted units;
- no stuck idempotency record: no answer request left "in progress" whose effect committed;
- every accepted unit is known to its client (heard in an answer, or in the replay);
- the client-visible errors, counted by kind.

Progress lines go to stderr every 10 s; the last stdout line is one JSON object.

    .venv/bin/python bench/soak.py --seed 1 --seconds 600
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text

from earnest.adapters.chain import LocalChain, Wallet, load_or_create_keypair
from earnest.adapters.store.tables import assignments
from earnest.bootstrap import build_market
from earnest.client import ApiError, Earnest
from earnest.config import Settings
from earnest.demo.funds import faucet_deposit
from earnest.demo.server import ServerProcess, free_port
from earnest.services.ports import IDEMPOTENCY_LEASE
from earnest.services.reconcile import reconcile

sys.path.insert(0, str(Path(__file__).parent))
import contextlib

from chain_limits import chain_node, stop_process

REWARD = 1_000
OUTPUT = {"type": "object", "properties": {"label": {"enum": ["a", "b"]}}, "required": ["label"]}
KINDS = {  # kind: weight in the schedule
    "kill_api": 3,
    "kill_leader": 3,
    "kill_server": 2,
    "kill_chain": 2,
    "pg_restart": 2,
    "rpc_stall": 2,
}
START_TIMEOUT = 180.0  # seconds for the server to answer after a start (a loaded machine)
RPC_TIMEOUT = 2.0  # the market's seconds per RPC request, so that a stall times out


def main() -> None:
    args = _args()
    # Stopped from outside (a test's timeout): the finally blocks stop what the soak started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    schedule = plan(args.seed, args.seconds, args.mean_gap)
    _say(f"soak seed {args.seed}, {args.seconds} s, {len(schedule)} faults:")
    for fault in schedule:
        _say(f"  {fault}")
    summary = Soak(args, schedule).run()
    print(json.dumps(summary, sort_keys=True))
    raise SystemExit(0 if summary["ok"] else 1)


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=600, help="how long the load runs")
    parser.add_argument("--mean-gap", type=float, default=15, help="mean seconds between faults")
    parser.add_argument("--contributors", type=int, default=12)
    parser.add_argument("--suite", type=int, default=10, help="tasks per claimed suite")
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=0, help="0: enough for the whole run")
    return parser.parse_args()


@dataclass(frozen=True)
class Fault:
    at: float  # seconds into the load
    kind: str
    pick: float  # which process, how long, whether the blockhash expires: drawn with it

    def __str__(self) -> str:
        return f"{self.at:7.1f} s  {self.kind:<12} pick {self.pick:.3f}"


def plan(seed: int, seconds: float, mean_gap: float) -> list[Fault]:
    """The faults of a run: from the seed alone, so a seed always gives the same schedule."""
    rng = random.Random(seed)
    kinds, weights = list(KINDS), list(KINDS.values())
    faults, at = [], 5.0
    while True:
        at += rng.expovariate(1 / mean_gap)
        if at > seconds - 5:
            return faults
        faults.append(Fault(round(at, 1), rng.choices(kinds, weights)[0], rng.random()))


class PrivatePostgres:
    """A PostgreSQL cluster of the soak's own, under `root`, on a free port (trust auth)."""

    def __init__(self, root: Path) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        bindir = found[-1].parent if found else Path(shutil.which("pg_ctl") or "pg_ctl").parent
        self.pg_ctl, self.initdb = str(bindir / "pg_ctl"), str(bindir / "initdb")
        self.dir, self.port = root / "pg", free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._as: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)
            self._as = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}"]
            self._as += ["--init-groups"]

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run(self.initdb, "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._ctl("start")

    def _ctl(self, action: str, *more: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.dir / "server.log")
        self._run(self.pg_ctl, "-D", str(self.dir), "-l", log, "-o", options, "-w", action, *more)

    def restart(self) -> None:
        self._ctl("restart", "-m", "immediate")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._ctl("stop", "-m", "fast")


class RpcProxy:
    """A TCP proxy from the market to the chain server: its upstream changes when the chain
    server restarts, and `stall(s)` holds every byte for s seconds (RPC timeouts)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.upstream = 0
        self.stalled_until = 0.0
        threading.Thread(target=self._accept, daemon=True, name="soak-proxy").start()

    def stall(self, seconds: float) -> None:
        self.stalled_until = time.monotonic() + seconds

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pair, args=(client,), daemon=True).start()

    def _pair(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
        except OSError:
            client.close()
            return
        for a, b in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(None)
        try:
            while data := source.recv(65536):
                while time.monotonic() < self.stalled_until:
                    time.sleep(0.05)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


@dataclass
class Contributor:
    """One contributor's view: what it heard accepted, and the answers it never heard of."""

    wallet: Wallet
    api: Earnest | None = None
    heard: dict[str, str] = field(default_factory=dict)  # accepted assignment: by which key
    unheard: list[tuple[str, list[tuple[str, Any]]]] = field(default_factory=list)  # key, answers


class Soak:
    def __init__(self, args: argparse.Namespace, schedule: list[Fault]) -> None:
        self.args, self.schedule = args, schedule
        self.root = Path(tempfile.mkdtemp(prefix="earnest-soak-"))
        self.data_dir = self.root / "market"
        self.pg = PrivatePostgres(self.root)
        self.proxy = RpcProxy()
        self.errors: Counter[str] = Counter()
        self.struck: Counter[str] = Counter()
        self.accepted = 0
        self.lock = threading.Lock()
        self.chain: subprocess.Popen[bytes] | None = None
        self.server: ServerProcess | None = None
        self.stop_load = threading.Event()

    # -- the run -------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        try:
            self.pg.start()
            self.db = self.pg.url.rsplit("/", 1)[0] + "/earnest"
            admin = create_engine(self.pg.url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text("CREATE DATABASE earnest"))
            admin.dispose()
            return self._run()
        finally:
            stop_process(self.chain)
            if self.server is not None:
                self._kill_server()
            self.pg.stop()
            if os.environ.get("SOAK_KEEP"):
                _say(f"kept {self.root}")
            else:
                shutil.rmtree(self.root, ignore_errors=True)

    def _run(self) -> dict[str, Any]:
        tasks = self.args.tasks or int(max(2_000, self.args.seconds * 60))
        requester, signature, budget, mint = self._deposit(tasks)
        self._start_chain()
        env = {
            "EARNEST_DATABASE_URL": self.db,
            "EARNEST_CHAIN": "rpc",
            "EARNEST_CHAIN_URL": self.proxy.url,
            "EARNEST_MINT": mint,
            "EARNEST_RPC_TIMEOUT": str(RPC_TIMEOUT),
            "EARNEST_SETTLE_INTERVAL": "0.2",
            "EARNEST_RATE_PER_SECOND": "0",
            "EARNEST_ANONYMOUS_RATE_PER_SECOND": "0",
        }
        self.server = ServerProcess(
            self.data_dir, env=env, args=["--workers", str(self.args.api_workers)]
        )
        url = self.server.start(timeout=START_TIMEOUT)
        _say(f"market on {url} ({self.args.api_workers} API processes), {tasks} tasks")
        cid = self._campaign(url, requester, signature, budget, tasks)
        crowd = [Contributor(Wallet.generate()) for _ in range(self.args.contributors)]
        threads = [
            threading.Thread(target=self._work, args=(url, cid, c), daemon=True) for c in crowd
        ]
        started = time.monotonic()
        for t in threads:
            t.start()
        self._strike(started)
        self.stop_load.set()
        for t in threads:
            t.join(timeout=120)
        _say("load stopped; contributors resend what they never heard about")
        resent = self._resend(crowd)
        self._wait_paid()
        self.server.stop(timeout=60)
        stop_process(self.chain)
        self.chain = None
        return self._check(cid, crowd, resent, time.monotonic() - started)

    def _deposit(self, tasks: int) -> tuple[Wallet, str, int, str]:
        """Before the chain server owns the chain file: the requester's tokens in the vault."""
        settings = Settings(data_dir=self.data_dir, database_url=self.db)
        market = build_market(settings)
        try:
            budget = tasks * (REWARD + REWARD * settings.fee_bps // 10_000)
            wallet = Wallet.generate()
            return wallet, faucet_deposit(market, wallet, budget), budget, str(market.chain.mint)
        finally:
            market.close()

    def _campaign(self, url: str, wallet: Wallet, signature: str, budget: int, tasks: int) -> str:
        with Earnest.sign_in(url, wallet, timeout=300) as api:
            api.deposit(signature)
            cid: str = api.create_campaign(
                type="labeling",
                title="Which?",
                input_schema={"type": "object"},
                output_schema=OUTPUT,
                reward=REWARD,
                overlap=1,
                gold_share=0.0,
                lease_seconds=120,
                max_leases=self.args.suite,
            )["id"]
            per_upload = Settings().max_tasks_per_upload
            for start in range(0, tasks, per_upload):
                end = min(start + per_upload, tasks)
                api.upload_tasks(cid, ({"id": str(n), "data": {"n": n}} for n in range(start, end)))
            api.fund(cid, budget)
        return cid

    # -- the load ------------------------------------------------------------------------

    def _error(self, where: str, exc: BaseException) -> None:
        kind = f"{exc.status} {exc.code}" if isinstance(exc, ApiError) else type(exc).__name__
        with self.lock:
            self.errors[f"{where}: {kind}"] += 1

    def _work(self, url: str, cid: str, me: Contributor) -> None:
        while not self.stop_load.is_set():
            if me.api is None:
                try:
                    me.api = Earnest.sign_in(url, me.wallet, timeout=10)
                except Exception as exc:  # counted by kind: what a client sees
                    self._error("sign-in", exc)
                    time.sleep(0.5)
                    continue
            try:
                got = me.api.claim_suite(cid, count=self.args.suite)
            except ApiError as exc:
                self._error("claim", exc)
                if exc.code == "conflict":  # it holds the most leases: claims whose answer
                    self._answer_open(me)  # was lost are found again, and answered
                time.sleep(0.2)
                continue
            except Exception as exc:
                self._error("claim", exc)
                time.sleep(0.2)
                continue
            if got is None:
                time.sleep(0.5)  # nothing free now: leases lost with a process expire later
                continue
            answers = [(lease["assignment"]["id"], {"label": "a"}) for lease in got["leases"]]
            self._answer(me, answers)

    def _answer_open(self, me: Contributor) -> None:
        assert me.api is not None
        try:
            leases = me.api.open_leases()
        except Exception as exc:
            self._error("open leases", exc)
            return
        if leases:
            self._answer(me, [(a["id"], {"label": "a"}) for a in leases])

    def _answer(self, me: Contributor, answers: list[tuple[str, Any]]) -> None:
        key = uuid.uuid4().hex
        try:
            results = self._send(me, key, answers)
        except Exception as exc:
            self._error("answers", exc)
            me.unheard.append((key, answers))
            return
        self._heard(me, key, answers, results)

    def _send(self, me: Contributor, key: str, answers: list[tuple[str, Any]]) -> Any:
        assert me.api is not None
        body = {"answers": [{"assignment_id": a, "answer": x} for a, x in answers]}
        headers = {"idempotency-key": key}  # the SDK resends under it; so do we, later
        return me.api._call("POST", "/v1/answers", json_body=body, headers=headers)["results"]

    def _heard(
        self, me: Contributor, key: str, answers: list[tuple[str, Any]], results: Any
    ) -> None:
        for (assignment, _), r in zip(answers, results, strict=True):
            if r["decision"] == "accept":
                me.heard[assignment] = key
            elif r["problem"] is not None:
                with self.lock:
                    self.errors[f"answer: {r['problem']['code']}"] += 1
        with self.lock:
            self.accepted += sum(r["decision"] == "accept" for r in results)

    def _resend(self, crowd: list[Contributor]) -> dict[str, int]:
        """Each unheard answer request again, under its first key: a replay, a fresh run
        (its first attempt left no record), or 409 while a dead attempt's lease runs."""
        out: Counter[str] = Counter()
        for me in crowd:
            for key, answers in me.unheard:
                try:
                    if me.api is None:
                        raise RuntimeError("never signed in")
                    self._heard(me, key, answers, self._send(me, key, answers))
                    out["answered"] += 1
                except ApiError as exc:
                    out[f"{exc.status} {exc.code}"] += 1
                except (httpx.TransportError, RuntimeError) as exc:
                    out[type(exc).__name__] += 1
        return dict(out)

    # -- the faults ----------------------------------------------------------------------

    def _strike(self, started: float) -> None:
        pending = list(self.schedule)
        next_report = started + 10
        end = started + self.args.seconds
        while time.monotonic() < end:
            now = time.monotonic()
            if pending and now - started >= pending[0].at:
                fault = pending.pop(0)
                try:
                    self._faults()[fault.kind](fault.pick)
                    self.struck[fault.kind] += 1
                except Exception as exc:  # a fault that could not be struck is reported
                    self.struck[f"{fault.kind} failed: {type(exc).__name__}"] += 1
                    _say(f"  {fault.kind} failed: {exc}")
                    if self.server is not None and self.server.log_path.exists():
                        _say(self.server.log_path.read_text()[-3000:])
            if now >= next_report:
                next_report += 10
                errors = sum(self.errors.values())
                _say(
                    f"{now - started:6.0f} s  accepted {self.accepted}  client errors {errors}"
                    f"  faults {sum(self.struck.values())}/{len(self.schedule)}"
                )
            time.sleep(0.05)

    def _faults(self) -> dict[str, Any]:
        return {
            "kill_api": self._kill_api,
            "kill_leader": self._kill_leader,
            "kill_server": self._restart_server,
            "kill_chain": self._kill_chain,
            "pg_restart": self._pg_restart,
            "rpc_stall": self._rpc_stall,
        }

    def _pids(self) -> list[int]:
        assert self.server is not None and self.server.proc is not None
        parent = self.server.proc.pid
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            return []
        return sorted(int(c) for c in children)

    def _serving(self, leader: bool) -> int | None:
        """The pid of an API process answering (the leading one if `leader`)."""
        assert self.server is not None
        for _ in range(20):
            try:
                health = httpx.get(f"{self.server.url}/v1/health", timeout=2).json()
            except (httpx.TransportError, ValueError):
                time.sleep(0.1)
                continue
            if not leader or health["settler"] == "leader":
                return int(health["process"])
        return None

    def _kill_api(self, pick: float) -> None:
        pids = self._pids()
        if pids:
            os.kill(pids[int(pick * len(pids))], signal.SIGKILL)

    def _kill_leader(self, pick: float) -> None:
        pid = self._serving(leader=True)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)

    def _kill_server(self) -> None:
        assert self.server is not None and self.server.proc is not None
        pids = [self.server.proc.pid, *self._pids()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.server.proc.wait()
        for pid in pids[1:]:  # the workers are the supervisor's children, not ours
            while Path(f"/proc/{pid}").exists() and _alive(pid):
                time.sleep(0.02)

    def _restart_server(self, pick: float) -> None:
        self._kill_server()
        time.sleep(pick * 2)  # down for up to 2 s
        assert self.server is not None
        self.server.start(timeout=START_TIMEOUT)

    def _kill_chain(self, pick: float) -> None:
        assert self.chain is not None
        self.chain.kill()
        self.chain.wait()
        if pick < 0.5:  # its blockhash expired while it was down
            self._expire_blockhash()
            self.struck["expire"] += 1
        self._start_chain()

    def _pg_restart(self, pick: float) -> None:
        self.pg.restart()

    def _rpc_stall(self, pick: float) -> None:
        self.proxy.stall(RPC_TIMEOUT + pick * 6)

    def _start_chain(self) -> None:
        self.chain, url = chain_node(self.data_dir, timeout=START_TIMEOUT)
        self.proxy.upstream = int(url.rsplit(":", 1)[1])

    def _expire_blockhash(self) -> None:
        settings = Settings(data_dir=self.data_dir)
        keypair = load_or_create_keypair(settings.resolved_keypair)
        with LocalChain.open(settings.chain_state, keypair) as chain:
            chain.expire_blockhash()

    # -- afterwards ----------------------------------------------------------------------

    def _wait_paid(self, timeout: float = 300) -> None:
        engine = create_engine(self.db)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    left = conn.scalar(text("SELECT count(*) FROM payouts WHERE status <> 'paid'"))
                if not left:
                    return
                time.sleep(1)
            _say(f"payouts still unconfirmed after {timeout:.0f} s")
        finally:
            engine.dispose()

    def _check(
        self, cid: str, crowd: list[Contributor], resent: dict[str, int], seconds: float
    ) -> dict[str, Any]:
        market = build_market(Settings(data_dir=self.data_dir, database_url=self.db))
        try:
            for _ in range(20):  # a settler beside the stopped server drains what is left
                market.settler.round()
                with market.store.uow(readonly=True) as uow:
                    if not uow.payouts.pending(1) and not uow.payouts.unfinished_batches():
                        break
            report = reconcile(store=market.store, chain=market.chain)
            with market.store.engine.connect() as conn:
                rows = conn.execute(
                    select(assignments.c.worker, assignments.c.id, assignments.c.reward)
                    .where(assignments.c.campaign_id == cid)
                    .where(assignments.c.status == "accepted")
                ).all()
                in_progress = conn.execute(
                    text("SELECT scope, created_at FROM idempotency WHERE status_code IS NULL")
                ).all()
            accepted: dict[str, set[str]] = {}
            earned: Counter[str] = Counter()
            for worker, assignment, reward in rows:
                accepted.setdefault(worker, set()).add(assignment)
                earned[worker] += reward
            lost = double = unknown = 0
            for me in crowd:
                held = market.chain.token_balance(market.chain.token_account(me.wallet.address))
                lost += max(0, earned[me.wallet.address] - held)
                double += max(0, held - earned[me.wallet.address])
                unknown += len(accepted.get(me.wallet.address, set()) - set(me.heard))
            stuck = self._stuck(crowd, {r.scope for r in in_progress}, accepted)
        finally:
            market.close()
        old = sum(1 for r in in_progress if _aware(r.created_at) < _now() - IDEMPOTENCY_LEASE)
        summary = {
            "seed": self.args.seed,
            "seconds": round(seconds, 1),
            "contributors": self.args.contributors,
            "api_workers": self.args.api_workers,
            "faults": dict(self.struck),
            "accepted_units": len(rows),
            "reconcile_ok": report.ok and report.in_flight == 0,
            "reconcile_problems": list(report.problems)[:5],
            "lost_pay": lost,
            "double_pay": double,
            "stuck_idempotency_records": stuck,
            "records_in_progress": len(in_progress),
            "records_past_lease": old,
            "accepted_unknown_to_client": unknown,
            "resent_after_run": resent,
            "client_errors": sum(self.errors.values()),
            "client_errors_by_kind": dict(self.errors.most_common()),
        }
        summary["ok"] = bool(
            summary["reconcile_ok"] and not lost and not double and not stuck and not unknown
        )
        return summary

    def _stuck(
        self, crowd: list[Contributor], in_progress: set[str], accepted: dict[str, set[str]]
    ) -> int:
        """Answer requests whose record is still "in progress" although their effect (an
        accepted answer) committed: the stuck record a crash used to leave. An answer
        accepted through another request does not count: a lease found again with
        open_leases() after its first request died (leaving no effect) is answered anew."""
        stuck = 0
        for me in crowd:
            mine = accepted.get(me.wallet.address, set())
            for key, answers in me.unheard:
                slot = hashlib.sha256(f"{me.wallet.address} session\n{key}".encode()).hexdigest()
                ours = [a for a, _ in answers if a in mine and me.heard.get(a) in (None, key)]
                if slot in in_progress and ours:
                    stuck += 1
        return stuck


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _aware(moment: Any) -> Any:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
