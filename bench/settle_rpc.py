"""Benchmark: settlement over JSON-RPC against a node that makes blocks, as a cluster does.

`earnest chain serve --slot-ms` (a block every 400 ms by default, as solana-test-validator
makes them) holds each transaction sent until its next block, so a settler that waits for
every transaction before sending the next pays one block per transaction. The market
(SQLite, RpcChain on that node) owes `--workers` new workers a payout each, settles, then
owes and settles the same workers again (their token accounts and lookup table entries then
exist). Each is timed twice, on fresh workers: with the market's settler, which sends a
group of batches (and of token account creations) and awaits them together, and, as the
baseline of the same run, with the same settler on a chain that awaits each transaction
before the next is sent. The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from earnest.adapters.chain import RpcChain
from earnest.adapters.chain.market import _CREATES_PER_TRANSACTION as CREATES
from earnest.adapters.chain.wallet import Wallet
from earnest.services.chain_port import SignedTransaction
from earnest.services.identity import SESSION_SCOPES, Principal
from earnest.services.settlement import settle_once

sys.path.insert(0, str(Path(__file__).parent))
from chain_limits import _owe, bench_market, chain_node, stop_process


class OneAtATime:
    """The baseline: the chain, but each transaction awaited before the next is sent."""

    def __init__(self, chain: RpcChain) -> None:
        self._chain = chain

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chain, name)

    def send(self, tx: SignedTransaction) -> None:
        self._chain.send(tx)
        self._chain.await_landing([tx])

    def await_landing(self, txs: Sequence[SignedTransaction]) -> None:
        """Each was awaited when sent."""

    def create_token_accounts(self, owners: Sequence[str]) -> None:
        for start in range(0, len(owners), CREATES):  # a transaction each, as the chain packs
            self._chain.create_token_accounts(owners[start : start + CREATES])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--workers", type=int, default=500, help="new workers paid per way")
    p.add_argument("--slot-ms", type=int, default=400, help="the node's block time")
    args = p.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="earnest-bench-rpc-"))
    node, url = chain_node(data_dir, slot_ms=args.slot_ms)
    try:
        mint = _mint(data_dir)
        settings = {
            "chain": "rpc",
            "chain_url": url,
            "mint": mint,
            "market_keypair": data_dir / "market-keypair.json",
        }
        with bench_market(None, 4 * args.workers, **settings) as (m, campaign_id):
            out: dict[str, Any] = {"workers": args.workers, "slot_ms": args.slot_ms}
            for way, chain in (("one_at_a_time", OneAtATime(m.chain)), ("together", m.chain)):
                crew = [
                    Principal(Wallet.generate().address, SESSION_SCOPES, "session")
                    for _ in range(args.workers)
                ]
                for phase in ("new", "again"):
                    _owe(m, campaign_id, crew, args.workers)
                    started = time.perf_counter()
                    transfers = _drain(m, chain, args.workers)
                    out[f"{way}_{phase}_s"] = round(time.perf_counter() - started, 2)
                    out[f"{way}_{phase}_transfers"] = transfers
                    print(f"{way}, {phase} workers: {out[f'{way}_{phase}_s']} s", file=sys.stderr)
    finally:
        stop_process(node)
    for phase in ("new", "again"):
        out[f"speedup_{phase}"] = round(
            out[f"one_at_a_time_{phase}_s"] / out[f"together_{phase}_s"], 2
        )
    print(json.dumps(out))


def _mint(data_dir: Path) -> str:
    """The mint the node printed (`earnest chain serve` logs it first)."""
    for line in (data_dir / "chain.log").read_text().splitlines():
        if "mint " in line:
            return line.rsplit("mint ", 1)[1].split()[0]
    raise SystemExit(f"the node printed no mint; see {data_dir / 'chain.log'}")


def _drain(m: Any, chain: Any, bound: int) -> int:
    """Settle rounds until nothing is owed; the transfers paid."""
    paid = 0
    for _ in range(bound):  # bounded: each round pays at least one batch or stops
        report = settle_once(store=m.store, chain=chain, clock=m.clock, rand=m.rand)
        if not report.transfers:
            break
        paid += report.transfers
    return paid


if __name__ == "__main__":
    main()
