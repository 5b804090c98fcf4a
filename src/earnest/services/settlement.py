"""Settlement: turn owed payouts into batched SPL transfers, exactly once.

Order of events for a batch, each step durable before the next:
1. sign the transaction and record it with its signature (status `signed`), payouts attached;
2. send the signed bytes;
3. once a group of batches is sent, read their statuses and record them in one transaction:
   landed ones paid (one ledger entry per batch), lost ones dropped, the rest `sent`.
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
from earnest.domain.transfer_fee import NO_FEE, TransferFee
from earnest.services.chain_port import (
    MAX_TRANSACTION_BYTES,
    Chain,
    SignedTransaction,
    Transfer,
    TxState,
)
from earnest.services.common import new_id
from earnest.services.ports import BatchRecord, Clock, MoneyStore, MoneyUnit, PayoutRecord, Random

MAX_PAYOUTS_PER_ROUND = 5000
# Batches sent one after another (each recorded before it is sent) whose outcomes are then
# recorded in one database transaction: one ledger entry per batch, one statement marking
# their payouts paid. On a cluster each send waits for its batch to land, so a group also
# bounds how long a landed batch waits to be recorded paid.
BATCHES_PER_GROUP = 8
# Transfers a v0 payout holds in 1,232 bytes when its recipients come from one or two
# lookup tables: ~430 bytes of signature, static keys (market, token, memo and compute-budget
# programs), blockhash, budget, memo and two table lookups, then 18 bytes per TransferChecked
# whose accounts are table indexes: 44 fit. The packer starts its search there.
_SURELY_FITS = 40
# Bytes one more transfer adds when its token account is in a table the batch already
# uses: a 17-byte TransferChecked (program, four account indexes, amount, decimals) and
# the account's index in the table lookup.
_TRANSFER_BYTES = 18


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
    """One transfer of a batch: a recipient and the payouts it pays.

    With a transfer-fee mint it sends the smallest amount that arrives as their sum whole
    (`sent`); the difference, what the mint withholds, the fee reserve pays (docs/money.md).
    A recipient whose token account requires a memo gets one right before the transfer.
    """

    recipient: str
    payouts: tuple[PayoutRecord, ...]
    fee: TransferFee = NO_FEE
    memo: bool = False

    @property
    def amount(self) -> int:
        return sum(p.amount for p in self.payouts)

    @property
    def sent(self) -> int:
        return self.fee.gross(self.amount)

    def transfer(self) -> Transfer:
        sent = self.sent
        return Transfer(self.recipient, sent, sent - self.amount, self.memo)


def settle_once(
    *,
    store: MoneyStore,
    chain: Chain,
    clock: Clock,
    rand: Random,
    faults: Faults | None = None,
) -> SettleReport:
    """Recover unfinished batches, then pay everything pending in as few transactions as fit."""
    faults = faults or NoFaults()
    report = recover(store=store, chain=chain, clock=clock)
    with store.uow(readonly=True) as uow:
        pending = uow.payouts.pending_with_digests(MAX_PAYOUTS_PER_ROUND)
        known = uow.payouts.lookup_tables()
    digest_of = {p.receipt_id: d for p, d in pending if p.receipt_id and d is not None}
    lines = _group([p for p, _ in pending])
    tables = _prepare(store=store, chain=chain, clock=clock, lines=lines, known=known)
    if lines:
        # Read once a round: a fee may change at an epoch, a payee may start requiring memos.
        fee = chain.transfer_fee()
        memos = chain.memo_required([line.recipient for line in lines])
        lines = [_Line(ln.recipient, ln.payouts, fee, ln.recipient in memos) for ln in lines]
    # Recipients of one table side by side: each table a batch uses costs 34 bytes, so a
    # batch drawn from one or two tables holds 44 to 48 transfers, from forty tables ~15.
    place = chain.lookup_positions([line.recipient for line in lines])
    lines.sort(key=lambda line: place.get(line.recipient, -1))
    while lines:
        lines = _pay_group(
            lines,
            tables,
            digest_of,
            store=store,
            chain=chain,
            clock=clock,
            rand=rand,
            faults=faults,
            report=report,
        )
    return report


def _pay_group(
    lines: list[_Line],
    tables: list[str],
    digest_of: dict[str, str],
    *,
    store: MoneyStore,
    chain: Chain,
    clock: Clock,
    rand: Random,
    faults: Faults,
    report: SettleReport,
) -> list[_Line]:
    """Pack, record and send batches off the front of `lines` (each recorded before it is
    sent), then record what became of them together; the lines left to pay."""
    group: list[BatchRecord] = []
    sent: dict[str, SignedTransaction] = {}
    while lines and len(group) < BATCHES_PER_GROUP:
        tx, taken, digests = _pack(chain, lines, tables, digest_of)
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
            sum(line.sent - line.amount for line in taken),
        )
        try:
            with store.uow() as uow:
                uow.payouts.add_batch(batch, [p.id for line in taken for p in line.payouts])
                uow.commit()
        except AlreadyDone:
            lines = []  # another settler took the lead and these payouts: ours is never sent
            break
        lines = lines[len(taken) :]
        group.append(batch)
        if _send(batch, tx, chain=chain, faults=faults, report=report):
            sent[batch.id] = tx
    # Sent one after another, awaited together: a group costs one confirmation on a
    # cluster, not one per batch.
    chain.await_landing(list(sent.values()))
    _resolve(group, set(sent), store=store, chain=chain, clock=clock, report=report)
    if sent:
        faults.hit("after_confirm")
    return lines


def _group(pending: Sequence[PayoutRecord]) -> list[_Line]:
    """One transfer per recipient, in order of their oldest payout."""
    by_recipient: dict[str, list[PayoutRecord]] = {}
    for payout in pending:
        by_recipient.setdefault(payout.recipient, []).append(payout)
    return [_Line(r, tuple(ps)) for r, ps in by_recipient.items()]


def _prepare(
    *, store: MoneyStore, chain: Chain, clock: Clock, lines: list[_Line], known: list[str]
) -> list[str]:
    """Create new recipients' token accounts and list them in lookup tables, before paying.

    Both are idempotent and move no money, so they run outside the outbox: a crash here
    leaves at worst an empty table nobody remembers, never a payout sent twice.
    """
    if not lines:
        return []
    recipients = [line.recipient for line in lines]
    missing = chain.missing_token_accounts(recipients)
    chain.create_token_accounts([r for r in recipients if r in missing])
    tables = chain.extend_lookup(recipients, known)
    new = [address for address in tables if address not in known]
    if new:
        with store.uow() as uow:
            for address in new:
                uow.payouts.add_lookup_table(address, clock.now())
            uow.commit()
    return tables


def _pack(
    chain: Chain, lines: list[_Line], tables: list[str], digest_of: dict[str, str]
) -> tuple[SignedTransaction, list[_Line], list[str]]:
    """The longest prefix of `lines` whose transaction fits the size limit, signed.

    The chain adapter refuses any transaction over 1,232 bytes, and a longer prefix is
    never smaller, so trying prefixes finds the largest batch (48 transfers in a v0
    transaction whose token accounts come from lookup tables); a lone transfer always fits.
    The search tries 40 (fits unless the recipients are spread over many tables), then as
    many more as the bytes left hold at 18 a transfer, then one more to see it refused,
    and halves the gap between what fits and what was refused when the guess was wrong: a
    full batch is signed 3 times rather than the ~10 of growing it one transfer at a time.
    """

    def attempt(n: int) -> tuple[SignedTransaction, list[_Line], list[str]] | None:
        try:
            return _build(chain, lines[:n], tables, digest_of)
        except TransactionTooLarge:
            return None

    fits, refused = min(len(lines), _SURELY_FITS), len(lines) + 1
    best = attempt(fits)
    if best is None:
        fits, refused, best = 1, fits, _build(chain, lines[:1], tables, digest_of)
    guess = fits + (MAX_TRANSACTION_BYTES - best[0].size) // _TRANSFER_BYTES
    for n in (guess, guess + 1):
        if not fits < n < refused:
            continue
        found = attempt(n)
        if found is None:
            refused = n
            break
        fits, best = n, found
    while refused - fits > 1:
        n = (fits + refused) // 2
        found = attempt(n)
        if found is None:
            refused = n
        else:
            fits, best = n, found
    return best


def _build(
    chain: Chain, taken: list[_Line], tables: list[str], digest_of: dict[str, str]
) -> tuple[SignedTransaction, list[_Line], list[str]]:
    digests = [_leaf(p, digest_of) for line in taken for p in line.payouts]
    tx = chain.build_payout(
        [line.transfer() for line in taken],
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


def _send(
    batch: BatchRecord, tx: SignedTransaction, *, chain: Chain, faults: Faults, report: SettleReport
) -> bool:
    """Send a recorded batch; whether the chain took it (if not, `_resolve` finds out why)."""
    faults.hit("before_send")
    try:
        chain.send(tx)
    except ChainError:
        return False
    faults.hit("after_send")
    report.sent += 1
    report.transfers += batch.transfers
    report.signatures.append(batch.signature)
    return True


def recover(*, store: MoneyStore, chain: Chain, clock: Clock) -> SettleReport:
    """Settle what an earlier run left signed or sent, asking the chain first."""
    report = SettleReport()
    with store.uow(readonly=True) as uow:
        unfinished = uow.payouts.unfinished_batches()
    resent = []
    for batch in unfinished:
        tx = SignedTransaction(batch.signature, batch.raw, batch.blockhash, batch.last_valid_height)
        if chain.status(batch.signature).state is TxState.UNKNOWN and chain.blockhash_valid(tx):
            with contextlib.suppress(ChainError):
                chain.send(tx)  # the same bytes: it lands at most once
                resent.append(tx)
    chain.await_landing(resent)
    _resolve(unfinished, set(), store=store, chain=chain, clock=clock, report=report)
    return report


def _resolve(
    batches: Sequence[BatchRecord],
    sent: set[str],
    *,
    store: MoneyStore,
    chain: Chain,
    clock: Clock,
    report: SettleReport,
) -> None:
    """Ask the chain about each batch, then record them all in one transaction: landed ones
    paid, failed or expired ones dropped (their payouts queued again), the rest as `sent`
    if this round sent them (the next round looks again)."""
    confirmed: list[str] = []
    dropped: list[str] = []
    for batch in batches:
        tx = SignedTransaction(batch.signature, batch.raw, batch.blockhash, batch.last_valid_height)
        # Expiry is read before the status: on a cluster a transaction may land between two
        # reads, and only "unknown after expiry" proves it never will (re-paying is then safe).
        expired = not chain.blockhash_valid(tx)
        state = chain.status(batch.signature).state
        if state is TxState.CONFIRMED:
            confirmed.append(batch.id)
        elif state is TxState.FAILED or expired:
            dropped.append(batch.id)
    in_flight = [b.id for b in batches if b.id in sent and b.id not in confirmed + dropped]
    if not (confirmed or dropped or in_flight):
        return
    fees = {b.id: b.transfer_fees or 0 for b in batches}
    with store.uow() as uow:
        report.confirmed += _record_paid(uow, confirmed, fees, clock.now())
        uow.payouts.drop(dropped)
        uow.payouts.set_batches_status(in_flight, "sent")
        uow.commit()
    report.dropped += len(dropped)


def _record_paid(uow: MoneyUnit, batch_ids: list[str], fees: dict[str, int], now: datetime) -> int:
    """Mark landed batches paid and post one payout entry per batch; how many were new."""
    paid = uow.payouts.mark_paid(batch_ids, now)
    for batch_id, settled in sorted(paid.items()):
        entry = ledger.batch_confirmed(f"paid:{batch_id}", settled, fees.get(batch_id, 0))
        uow.ledger.post(entry, now)
    return len(paid)
