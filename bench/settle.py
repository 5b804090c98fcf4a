"""Benchmark: payout packing on the real Solana runtime (LiteSVM), side by side in one run.

(a) legacy: the settler's former packing, a legacy transaction grown until 1,232 bytes;
(b) v0+ALT: a v0 transaction loading token accounts from the market's lookup tables;
(c) raw: the same v0 transactions, signed beforehand, executed on bare LiteSVM without
    LocalChain's persistence and with signing not timed (the ceiling of the runtime).
Every recipient already holds a token account (account creation is measured apart).
Progress to stderr, a table to stdout, and the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from solders.keypair import Keypair
from solders.transaction import VersionedTransaction

from earnest.adapters.chain import LocalChain
from earnest.domain.errors import TransactionTooLarge
from earnest.domain.receipts import memo_for
from earnest.services.chain_port import SignedTransaction, Transfer

Build = Callable[[list[Transfer], bytes], SignedTransaction]


def _chain(root: Path, recipients: int) -> tuple[LocalChain, list[str], list[str], float]:
    """A LocalChain whose vault is funded and whose recipients hold token accounts and
    sit in lookup tables; the seconds the tables took to build."""
    chain = LocalChain.open(root / "chain.sqlite", Keypair())
    chain.faucet(chain.vault_owner, 10**15)
    owners = [str(Keypair().pubkey()) for _ in range(recipients)]
    chain.create_token_accounts(owners)
    started = time.perf_counter()
    tables = chain.extend_lookup(owners, [])
    return chain, owners, tables, time.perf_counter() - started


def _largest(build: Build, owners: list[str], memo: bytes, start: int) -> SignedTransaction:
    """The largest prefix of `owners` whose payout fits, grown from `start` as the settler
    packs (the legacy settler from 1, the v0 one from 40)."""
    start = min(start, len(owners))
    best = build([Transfer(o, 1) for o in owners[:start]], memo)
    for n in range(start + 1, len(owners) + 1):
        try:
            best = build([Transfer(o, 1) for o in owners[:n]], memo)
        except TransactionTooLarge:
            break
    return best


def _run(
    build: Build, send: Callable[[SignedTransaction], object], owners: list[str], start: int
) -> dict[str, float]:
    """Pay every owner once, packing as much as fits; transfers per tx and per second."""
    started, left = time.perf_counter(), list(owners)
    sent: list[SignedTransaction] = []
    while left:
        tx = _largest(build, left, memo_for(f"{len(sent) + 1:064x}"), start)
        send(tx)
        sent.append(tx)
        left = left[_count(tx) :]
    return _figures(sent, time.perf_counter() - started)


def _figures(sent: list[SignedTransaction], seconds: float) -> dict[str, float]:
    counts = [_count(tx) for tx in sent]
    return {
        "transactions": len(sent),
        "transfers_per_tx": round(sum(counts) / len(sent), 1),
        "max_transfers_per_tx": max(counts),
        "transfers_per_s": round(sum(counts) / seconds, 1),
        "max_bytes": max(tx.size for tx in sent),
    }


def _raw(chain: LocalChain, owners: list[str], tables: list[str]) -> dict[str, float]:
    """The v0 payouts signed first, then only their execution timed, on bare LiteSVM."""
    svm = chain.runtime._svm  # bench only: bypass persistence to find the runtime's ceiling
    signed, left = [], list(owners)
    while left:
        memo = memo_for(f"{len(signed) + 1:064x}")
        tx = _largest(lambda t, m: chain.build_payout(t, m, tables=tables), left, memo, 40)
        signed.append(tx)
        left = left[_count(tx) :]
    started = time.perf_counter()
    for tx in signed:
        svm.send_transaction(VersionedTransaction.from_bytes(tx.raw))
    return _figures(signed, time.perf_counter() - started)


def _count(tx: SignedTransaction) -> int:
    """The TransferChecked instructions (tag 12) in a signed transaction."""
    message = VersionedTransaction.from_bytes(tx.raw).message
    return sum(1 for ix in message.instructions if bytes(ix.data)[:1] == b"\x0c")


def main() -> None:
    """Measure the three packings and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=960, help="workers paid per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure(Path(tmp), args.recipients)
    print(f"{'packing':12} {'tx':>5} {'transfers/tx':>13} {'max':>4} {'transfers/s':>12}")
    packings: dict[str, dict[str, float]] = figures["packings"]  # type: ignore[assignment]
    for name, row in packings.items():
        print(
            f"{name:12} {row['transactions']:>5} {row['transfers_per_tx']:>13} "
            f"{row['max_transfers_per_tx']:>4} {row['transfers_per_s']:>12}"
        )
    print(json.dumps(figures, sort_keys=True))


def measure(root: Path, recipients: int) -> dict[str, object]:
    """The three packings measured on fresh chains; the figures, as main prints them."""
    print(f"setting up {recipients} recipients ...", file=sys.stderr)
    legacy_chain, owners, _, _ = _chain(root / "a", recipients)
    v0_chain, v0_owners, tables, table_seconds = _chain(root / "b", recipients)
    raw_chain, raw_owners, raw_tables, _ = _chain(root / "c", recipients)
    try:
        print("(a) legacy ...", file=sys.stderr)
        legacy = _run(lambda t, m: legacy_chain.build_payout(t, m), legacy_chain.send, owners, 1)
        print("(b) v0+ALT ...", file=sys.stderr)
        v0 = _run(
            lambda t, m: v0_chain.build_payout(t, m, tables=tables), v0_chain.send, v0_owners, 40
        )
        print("(c) raw LiteSVM ...", file=sys.stderr)
        raw = _raw(raw_chain, raw_owners, raw_tables)
    finally:
        for chain in (legacy_chain, v0_chain, raw_chain):
            chain.close()
    return {
        "bench": "settle",
        "recipients": recipients,
        "lookup_tables": len(tables),
        "lookup_table_setup_s": round(table_seconds, 3),
        "packings": {"legacy": legacy, "v0_alt": v0, "raw_litesvm": raw},
        "ratio_v0_to_legacy_transfers_per_tx": round(
            v0["transfers_per_tx"] / legacy["transfers_per_tx"], 2
        ),
        "ratio_v0_to_legacy_transfers_per_s": round(
            v0["transfers_per_s"] / legacy["transfers_per_s"], 2
        ),
    }


if __name__ == "__main__":
    main()
