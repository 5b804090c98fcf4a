"""`earnest node`: share bandwidth for AI data collection, within the operator's limits.

The node signs in with its own Ed25519 key (party kind "node"), polls the market's claim
endpoint for fetch jobs, fetches each URL under its limits (fetcher.py) and returns the
body with a metering record it signs. A job it may not or cannot do (robots.txt, a private
address, the byte cap, a network error) is given back at once, so another node takes it.
Every request it carries, every job it declines and every verdict is logged (journal.py).
It talks to the market only through the SDK.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from earnest.adapters.chain.wallet import Wallet
from earnest.client import ApiError, Earnest
from earnest.domain.bandwidth import BandwidthTerms, MeteringRecord, sha256_hex
from earnest.domain.errors import EarnestError, InvalidInput
from earnest.node.fetcher import Fetched, Fetcher, FetchFailed, Limits
from earnest.node.guard import FetchRefused, Guard
from earnest.node.journal import DailyCap, Journal, utc_now


@dataclass(frozen=True)
class NodeOptions:
    """What the operator decides: the market, the key, and every limit (docs/node.md)."""

    market_url: str
    keypair: Path
    log_path: Path
    allow_private: bool = False
    max_bytes_per_day: int = 1 << 30
    max_bytes: int = 1 << 20
    timeout: float = 10.0
    per_domain_rate: float = 1.0
    once: bool = False  # stop when no job is waiting or the day's bytes are spent
    max_jobs: int | None = None
    poll_seconds: float = 5.0
    campaign_id: str | None = None


@dataclass
class NodeReport:
    """What one run did; `earned` counts rewards known when the node stopped."""

    address: str
    jobs: int = 0
    submitted: int = 0
    accepted: int = 0
    rejected: int = 0
    waiting: int = 0
    declined: int = 0
    bytes: int = 0
    earned: int = 0
    stopped: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON values (`earnest node` prints it last)."""
        return asdict(self)


def load_wallet(path: Path) -> Wallet:
    """The node's key: read from `path`, or created there (mode 0600) on the first run."""
    if not path.exists():
        # Another start may have created it meanwhile (save never overwrites): use that one.
        with contextlib.suppress(InvalidInput):
            Wallet.generate().save(path)
    loose = path.stat().st_mode & 0o077
    if loose:
        raise InvalidInput(
            f"the node's key file {path} is readable by others (mode {oct(loose)}); "
            f"run: chmod 600 {path}"
        )
    return Wallet.load(path)


class Node:
    """One bandwidth node: its key, its limits, its log."""

    def __init__(
        self,
        options: NodeOptions,
        *,
        wallet: Wallet | None = None,
        guard: Guard | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options
        self.wallet = wallet or load_wallet(options.keypair)
        self.journal = Journal(options.log_path)
        self.cap = DailyCap(options.max_bytes_per_day, self.journal, per_request=options.max_bytes)
        limits = Limits(
            timeout=options.timeout,
            max_bytes=options.max_bytes,
            per_domain_rate=options.per_domain_rate,
        )
        guard = guard or Guard(allow_private=options.allow_private)
        self.fetcher = Fetcher(limits, guard, self.cap, sleep)
        self.sleep = sleep
        self.report = NodeReport(self.wallet.address)

    def run(self) -> NodeReport:
        """Work until there is reason to stop: `once` and nothing to do, or `max_jobs` done."""
        o = self.options
        self.journal.write(
            "start",
            node=self.wallet.address,
            market=o.market_url,
            limits={k: v for k, v in asdict(o).items() if k not in ("keypair", "log_path")},
        )
        try:
            with Earnest.sign_in(o.market_url, self.wallet, kind="node") as api:
                while not self.report.stopped:
                    self._step(api)
        finally:
            self.journal.write("stop", **self.report.as_dict())
            self.fetcher.close()
            self.journal.close()
        return self.report

    def _step(self, api: Earnest) -> None:
        o = self.options
        if o.max_jobs is not None and self.report.jobs >= o.max_jobs:
            self.report.stopped = f"did {o.max_jobs} jobs"
            return
        if self.cap.exhausted:
            self._idle("the day's byte cap is reached")
            return
        try:
            lease = api.claim(o.campaign_id)
        except (ApiError, httpx.TransportError) as exc:
            self.journal.write("error", error=str(exc))
            self._idle(f"the market refused or failed: {exc}")
            return
        if lease is None:
            self._idle("no job waiting")
            return
        self.work(api, lease)

    def _idle(self, why: str) -> None:
        if self.options.once:
            self.report.stopped = why
        else:
            self.sleep(self.options.poll_seconds)

    def work(self, api: Earnest, lease: dict[str, Any]) -> None:
        """Do one leased fetch job: fetch and return it, or give it back with the reason."""
        job, url = lease["assignment"]["id"], str(lease["task"].get("url", ""))
        self.report.jobs += 1
        try:
            fetched = self._fetch(url, lease.get("terms") or {})
        except (FetchRefused, FetchFailed, InvalidInput) as exc:
            self._log_carried(job)
            self._decline(api, job, url, exc)
            return
        self._log_carried(job)
        self._submit(api, job, url, fetched)

    def _fetch(self, url: str, terms: dict[str, Any]) -> Fetched:
        job_terms = BandwidthTerms.of(terms)
        cut = min(self.options.max_bytes, job_terms.max_bytes)
        fetched = self.fetcher.fetch(url, max_bytes=cut, allowed=job_terms.url_problem)
        if fetched.truncated and cut < job_terms.max_bytes:
            # Nodes that cut at the job's limit would agree on a longer body than ours.
            raise FetchRefused(f"the body is larger than this node's --max-bytes ({cut})")
        return fetched

    def returned_body(self, fetched: Fetched) -> bytes:
        """The body this node returns: exactly what it fetched (the demo's cheat alters it)."""
        return fetched.body

    def _submit(self, api: Earnest, job: str, url: str, fetched: Fetched) -> None:
        body = self.returned_body(fetched)
        record = MeteringRecord(
            assignment=job,
            url=url,
            final_url=fetched.final_url,
            status=fetched.status,
            bytes=len(body),
            sha256=sha256_hex(body),
            truncated=fetched.truncated,
            content_type=fetched.content_type,
            fetched_at=utc_now().isoformat(timespec="seconds"),
            node=self.wallet.address,
        )
        signature = self.wallet.sign_message(record.canonical())
        try:
            verdict = api.submit_fetch(job, record.as_dict(), signature, body)
        except ApiError as exc:
            self.journal.write("error", job=job, url=url, error=str(exc))
            return
        self._count(verdict)
        self.journal.write(
            "verdict",
            job=job,
            url=url,
            sha256=record.sha256,
            decision=verdict["decision"],
            reason=verdict["reason"],
            reward=verdict["assignment"]["reward"],
        )

    def _count(self, verdict: dict[str, Any]) -> None:
        self.report.submitted += 1
        decision = verdict["decision"]
        if decision == "accept":
            self.report.accepted += 1
            self.report.earned += int(verdict["assignment"]["reward"])
        elif decision == "reject":
            self.report.rejected += 1
        else:
            self.report.waiting += 1

    def _decline(self, api: Earnest, job: str, url: str, why: EarnestError) -> None:
        self.report.declined += 1
        self.journal.write("declined", job=job, url=url, code=why.code, reason=why.detail)
        try:
            api.release(job)
        except ApiError as exc:  # the lease lapses on its own anyway
            self.journal.write("error", job=job, error=str(exc))

    def _log_carried(self, job: str) -> None:
        for c in self.fetcher.drain():
            self.report.bytes += c.bytes
            self.journal.write(c.kind, job=job, url=c.url, status=c.status, bytes=c.bytes)
