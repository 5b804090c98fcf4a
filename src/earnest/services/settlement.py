"""Settlement: turn owed payouts into batched SPL transfers, exactly once.

Order of events for a batch, each step durable before the next:
1. sign the transaction and record it with its signature (status `signed`), payouts attached;
2. send the signed bytes; record `sent`;
3. read the signature's status; on confirmation post the ledger entries and mark paid.
After a crash at any point, `recover` asks the chain about every unfinished batch before
anything new is signed: a landed one is recorded, one that can still land is re-sent byte
for byte (Solana deduplicates by signature), and only one whose blockhash has expired
without landing is dropped and its payouts queued again.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from earnest.domain import ledger
from earnest.domain.errors import AlreadyDone, ChainError, TransactionTooLarge
from earnest.domain.receipts import memo_for, merkle_root
from earnest.services.chain_port import Chain, SignedTransaction, Transfer, TxState
from earnest.services.common import new_id
from earnest.services.ports import BatchRecord, Clock, PayoutRecord, Random, Store, UnitOfWork

MAX_PAYOUTS_PER_ROUND = 5000
# Transfers a v0 payout holds in 1,232 bytes when its recipients come from one or two
# lookup tables: ~430 bytes of signature, static keys (market, token, memo and compute-budget
# programs), blockhash, budget, memo and two table lookups, then 18 bytes per TransferChecked
# whose accounts are table indexes: 44 fit. The packer starts its search there.
_SURELY_FITS = 40


class Faults(Protocol):
    """Named points where a test may stop the process (see adapters' fault injection)."""

    def hit(self, point: str) -> None: ...


class NoFaults:
    def hit(self, point: str) -> None:
        return None


@dataclass
class SettleReport:
    sent: int = 0
    confirmed: int = 0
    dropped: int = 0
    transfers: int = 0
    signatures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Line:
    """One transfer of a batch: a recipient and the payouts it pays."""

    recipient: str
    payouts: tuple[PayoutRecord, ...]

    @property
    def amount(self) -> int:
        return sum(p.amount for p in self.payouts)


def settle_once(
    *,
    store: Store,
    chain: Chain,
    clock: Clock,
    rand: Random,
    faults: Faults | None = None,
) -> SettleReport:
    """Recover unfinished batches, then pay everything pending in as few transactions as fit."""
    faults = faults or NoFaults()
    report = recover(store=store, chain=chain, clock=clock)
    with store.uow() as uow:
        pending = uow.payouts.pending(MAX_PAYOUTS_PER_ROUND)
        digest_of = uow.receipts.digests([p.receipt_id for p in pending if p.receipt_id])
    lines = _group(pending)
    tables = _prepare(store=store, chain=chain, clock=clock, lines=lines)
    # Recipients of one table side by side: each table a batch uses costs 34 bytes, so a
    # batch drawn from one or two tables holds 44 to 48 transfers, from forty tables ~15.
    place = chain.lookup_positions([line.recipient for line in lines])
    lines.sort(key=lambda line: place.get(line.recipient, -1))
    while lines:
        tx, taken, digests = _pack(chain, lines, tables, digest_of)
        lines = lines[len(taken) :]
        batch = BatchRecord(
            new_id("bat", rand),
            "signed",
            tx.signature,
            tx.raw,
            tx.blockhash,
            tx.last_valid_height,
            merkle_root(digests),
            digests,
            len(taken),
            tx.size,
            clock.now(),
            None,
        )
        try:
            with store.uow() as uow:
                uow.payouts.add_batch(batch, [p.id for line in taken for p in line.payouts])
                uow.commit()
        except AlreadyDone:
            break  # another settler took the lead and these payouts: ours is never sent
        _send_and_confirm(
            batch, tx, store=store, chain=chain, clock=clock, faults=faults, report=report
        )
    return report


def _group(pending: Sequence[PayoutRecord]) -> list[_Line]:
    """One transfer per recipient, in order of their oldest payout."""
    by_recipient: dict[str, list[PayoutRecord]] = {}
    for payout in pending:
        by_recipient.setdefault(payout.recipient, []).append(payout)
    return [_Line(r, tuple(ps)) for r, ps in by_recipient.items()]


def _prepare(*, store: Store, chain: Chain, clock: Clock, lines: list[_Line]) -> list[str]:
    """Create new recipients' token accounts and list them in lookup tables, before paying.

    Both are idempotent and move no money, so they run outside the outbox: a crash here
    leaves at worst an empty table nobody remembers, never a payout sent twice.
    """
    if not lines:
        return []
    recipients = [line.recipient for line in lines]
    missing = chain.missing_token_accounts(recipients)
    chain.create_token_accounts([r for r in recipients if r in missing])
    with store.uow(readonly=True) as uow:
        known = uow.payouts.lookup_tables()
    tables = chain.extend_lookup(recipients, known)
    with store.uow() as uow:
        for address in tables:
            uow.payouts.add_lookup_table(address, clock.now())
        uow.commit()
    return tables


def _pack(
    chain: Chain, lines: list[_Line], tables: list[str], digest_of: dict[str, str]
) -> tuple[SignedTransaction, list[_Line], list[str]]:
    """The longest prefix of `lines` whose transaction fits the size limit, signed.

    The chain adapter refuses any transaction over 1,232 bytes, so growing the prefix until
    it refuses finds the largest batch (48 transfers in a v0 transaction whose token
    accounts come from lookup tables); a lone transfer always fits. The search starts at
    40, which fits unless the recipients are spread over many tables, so a full batch is
    signed ~10 times rather than ~48.
    """
    start = min(len(lines), _SURELY_FITS)
    try:
        best = _build(chain, lines[:start], tables, digest_of)
    except TransactionTooLarge:
        start, best = 1, _build(chain, lines[:1], tables, digest_of)
    for n in range(start + 1, len(lines) + 1):
        try:
            best = _build(chain, lines[:n], tables, digest_of)
        except TransactionTooLarge:
            break
    return best


def _build(
    chain: Chain, taken: list[_Line], tables: list[str], digest_of: dict[str, str]
) -> tuple[SignedTransaction, list[_Line], list[str]]:
    digests = [_leaf(p, digest_of) for line in taken for p in line.payouts]
    tx = chain.build_payout(
        [Transfer(line.recipient, line.amount) for line in taken],
        memo_for(merkle_root(digests)),
        tables=tables,
    )
    return tx, taken, digests


def _leaf(payout: PayoutRecord, digest_of: dict[str, str]) -> str:
    """A payout's Merkle leaf: its receipt's digest, or for a withdrawal a hash of its id.

    Every batch thus has a distinct memo, so two batches with equal transfers under one
    blockhash never share a signature (which would let the second pass as already paid).
    """
    if payout.receipt_id:
        return digest_of[payout.receipt_id]
    return hashlib.sha256(f"withdrawal:{payout.id}".encode()).hexdigest()


def _send_and_confirm(
    batch: BatchRecord,
    tx: SignedTransaction,
    *,
    store: Store,
    chain: Chain,
    clock: Clock,
    faults: Faults,
    report: SettleReport,
) -> None:
    faults.hit("before_send")
    try:
        chain.send(tx)
    except ChainError:
        _resolve(batch, store=store, chain=chain, clock=clock, report=report)
        return
    faults.hit("after_send")
    with store.uow() as uow:
        uow.payouts.set_batch_status(batch.id, "sent")
        uow.commit()
    report.sent += 1
    report.transfers += batch.transfers
    report.signatures.append(batch.signature)
    _resolve(batch, store=store, chain=chain, clock=clock, report=report)
    faults.hit("after_confirm")


def recover(*, store: Store, chain: Chain, clock: Clock) -> SettleReport:
    """Settle what an earlier run left signed or sent, asking the chain first."""
    report = SettleReport()
    with store.uow(readonly=True) as uow:
        unfinished = uow.payouts.unfinished_batches()
    for batch in unfinished:
        tx = SignedTransaction(batch.signature, batch.raw, batch.blockhash, batch.last_valid_height)
        if chain.status(batch.signature).state is TxState.UNKNOWN and chain.blockhash_valid(tx):
            with contextlib.suppress(ChainError):
                chain.send(tx)  # the same bytes: it lands at most once
        _resolve(batch, store=store, chain=chain, clock=clock, report=report)
    return report


def _resolve(
    batch: BatchRecord, *, store: Store, chain: Chain, clock: Clock, report: SettleReport
) -> None:
    tx = SignedTransaction(batch.signature, batch.raw, batch.blockhash, batch.last_valid_height)
    # Expiry is read before the status: on a cluster a transaction may land between two
    # reads, and only "unknown after expiry" proves it never will (re-paying is then safe).
    expired = not chain.blockhash_valid(tx)
    status = chain.status(batch.signature)
    if status.state is TxState.CONFIRMED:
        with store.uow() as uow:
            _record_paid(uow, batch, clock.now())
            uow.commit()
        report.confirmed += 1
    elif status.state is TxState.FAILED or expired:
        with store.uow() as uow:
            uow.payouts.set_batch_status(batch.id, "dropped")
            uow.payouts.release(batch.id)
            uow.commit()
        report.dropped += 1
    # else: still in flight and able to land; the next round looks again


def _record_paid(uow: UnitOfWork, batch: BatchRecord, now: datetime) -> None:
    for payout in uow.payouts.of_batch(batch.id):
        uow.ledger.post(
            ledger.payout_confirmed(f"paid:{payout.id}", payout.account, payout.amount), now
        )
    uow.payouts.mark_paid(batch.id, now)
    uow.payouts.set_batch_status(batch.id, "confirmed", now)
