"""Double-entry ledger rules: balanced entries, signs by normal side, and a property test."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earnest.domain import ledger
from earnest.domain.errors import InsufficientFunds, InvalidInput
from earnest.domain.ledger import FEES, VAULT, JournalEntry, Posting

REQ = "requester:R:available"
ESCROW = "campaign:C:escrow"


def test_entry_must_balance() -> None:
    with pytest.raises(InvalidInput, match="does not balance"):
        JournalEntry("k", "x", (Posting(VAULT, 10), Posting(REQ, -9)))


def test_balanced_entry_is_accepted() -> None:
    entry = JournalEntry("k", "x", (Posting(VAULT, 10), Posting(REQ, -10)))
    assert sum(p.amount for p in entry.postings) == 0


@pytest.mark.parametrize("amount", [0, 1.5, 10.0, True, False, "10", None])
def test_entry_rejects_non_integer_or_zero_amounts(amount: object) -> None:
    with pytest.raises(InvalidInput):
        JournalEntry("k", "x", (Posting(VAULT, amount), Posting(REQ, -10)))  # type: ignore[arg-type]


def test_entry_needs_a_key() -> None:
    with pytest.raises(InvalidInput, match="idempotency key"):
        JournalEntry("", "x", (Posting(VAULT, 10), Posting(REQ, -10)))


def test_entry_needs_two_postings() -> None:
    with pytest.raises(InvalidInput, match="two postings"):
        JournalEntry("k", "x", (Posting(VAULT, 0),))


def test_deltas_sign_by_normal_side() -> None:
    entry = ledger.deposit("dep:1", "R", 500)
    assert entry.deltas() == {VAULT: 500, REQ: 500}
    paid = ledger.payout_confirmed("pay:1", ledger.worker_payable("W"), 200)
    assert paid.deltas() == {VAULT: -200, "worker:W:payable": -200}


def test_a_landed_batch_is_one_entry_with_a_posting_per_payout() -> None:
    w, r = ledger.worker_payable("W"), ledger.requester_payable("R")
    entry = ledger.batch_confirmed("paid:bat_1", [(w, 200), (w, 50), (r, 1_000)])
    assert (entry.key, entry.kind, len(entry.postings)) == (
        "paid:bat_1",
        "payout",
        3,
    )  # w once: 250
    assert entry.deltas() == {VAULT: -1_250, w: -250, r: -1_000}
    for bad in ([], [(w, 0)], [(w, -5)]):
        with pytest.raises(InvalidInput):
            ledger.batch_confirmed("paid:bat_2", bad)


def test_vault_is_debit_normal_everything_else_credit_normal() -> None:
    assert ledger.normal_side(VAULT) is ledger.Side.DEBIT
    for account in (REQ, ESCROW, FEES, ledger.worker_payable("W"), ledger.requester_payable("R")):
        assert ledger.normal_side(account) is ledger.Side.CREDIT
    assert Posting(VAULT, 7).balance_delta() == 7
    assert Posting(REQ, -7).balance_delta() == 7


def test_transfer_moves_between_liabilities() -> None:
    entry = ledger.transfer("f:1", "fund", REQ, ESCROW, 300)
    assert entry.deltas() == {REQ: -300, ESCROW: 300}


@pytest.mark.parametrize("amount", [0, -5])
def test_transfer_and_deposit_reject_non_positive(amount: int) -> None:
    with pytest.raises(InvalidInput):
        ledger.transfer("f:1", "fund", REQ, ESCROW, amount)
    with pytest.raises(InvalidInput):
        ledger.deposit("d:1", "R", amount)


def test_accept_unit_moves_reward_and_fee_out_of_escrow() -> None:
    entry = ledger.accept_unit("accept:a1", "C", "W", reward=1000, fee=25)
    assert entry.kind == "accept"
    assert entry.deltas() == {ESCROW: -1025, "worker:W:payable": 1000, FEES: 25}


def test_accept_unit_without_fee_has_no_fee_posting() -> None:
    entry = ledger.accept_unit("accept:a1", "C", "W", reward=1000, fee=0)
    assert entry.deltas() == {ESCROW: -1000, "worker:W:payable": 1000}


def test_merged_accepts_move_balances_as_the_entries_would_in_one_posting_per_account() -> None:
    entries = [
        ledger.accept_unit("accept:a1", "C", "W1", 100, 7),
        ledger.accept_unit("accept:a2", "C", "W2", 100, 7),
        ledger.accept_unit("accept:a3", "C", "W1", 50, 0),
    ]
    one = ledger.merged(entries)
    summed: dict[str, int] = {}
    for e in entries:
        for account, delta in e.deltas().items():
            summed[account] = summed.get(account, 0) + delta
    assert one.deltas() == summed
    assert one.kind == "accept" and one.memo == "3 accept entries"
    assert sorted(p.account for p in one.postings) == sorted(summed)  # one posting each
    # The same entries in any order make the same key; other entries another one.
    assert ledger.merged(entries[::-1]).key == one.key and one.key.startswith("accepts:")
    assert ledger.merged(entries[:2]).key != one.key
    assert ledger.merged(entries[:1]) is entries[0]


def test_merging_refuses_nothing_and_mixed_kinds() -> None:
    with pytest.raises(InvalidInput, match="nothing"):
        ledger.merged([])
    mixed = [ledger.accept_unit("accept:a1", "C", "W", 100, 7), ledger.deposit("d1", "R", 5)]
    with pytest.raises(InvalidInput, match="kinds"):
        ledger.merged(mixed)


def test_check_balances_raises_on_negative() -> None:
    ledger.check_balances({REQ: 0, VAULT: 5}, [REQ, VAULT])
    with pytest.raises(InsufficientFunds) as info:
        ledger.check_balances({REQ: -1}, [REQ])
    assert info.value.extra["account"] == REQ


# --- property: random valid movements keep the books square --------------------------------

LIABILITIES = [
    "requester:A:available",
    "requester:B:available",
    "requester:A:payable",
    "campaign:C1:escrow",
    "campaign:C2:escrow",
    "worker:W1:payable",
    "worker:W2:payable",
    FEES,
]

amounts = st.integers(min_value=1, max_value=10**12)
operation = st.one_of(
    st.tuples(st.just("deposit"), st.sampled_from(["A", "B"]), amounts),
    st.tuples(
        st.just("transfer"), st.sampled_from(LIABILITIES), st.sampled_from(LIABILITIES), amounts
    ),
    st.tuples(
        st.just("accept"),
        st.sampled_from(["C1", "C2"]),
        st.sampled_from(["W1", "W2"]),
        amounts,
        st.integers(min_value=0, max_value=10**9),
    ),
    st.tuples(
        st.just("payout"),
        st.sampled_from(["worker:W1:payable", "worker:W2:payable", "requester:A:payable"]),
        amounts,
    ),
)


def _entry(i: int, op: tuple[object, ...]) -> JournalEntry:
    kind = op[0]
    if kind == "deposit":
        return ledger.deposit(f"d:{i}", str(op[1]), int(op[2]))  # type: ignore[call-overload]
    if kind == "transfer":
        return ledger.transfer(f"t:{i}", "move", str(op[1]), str(op[2]), int(op[3]))  # type: ignore[call-overload]
    if kind == "accept":
        return ledger.accept_unit(f"a:{i}", str(op[1]), str(op[2]), int(op[3]), int(op[4]))  # type: ignore[call-overload]
    return ledger.payout_confirmed(f"p:{i}", str(op[1]), int(op[2]))  # type: ignore[call-overload]


@settings(max_examples=300, deadline=None)
@given(st.lists(operation, max_size=60))
def test_random_movements_keep_vault_equal_to_liabilities(ops: list[tuple[object, ...]]) -> None:
    balances: dict[str, int] = {}
    for i, op in enumerate(ops):
        entry = _entry(i, op)
        candidate = dict(balances)
        for account, delta in entry.deltas().items():
            candidate[account] = candidate.get(account, 0) + delta
        # Independently of check_balances: the entry overdraws iff some account it moves
        # would end below zero (there are no contra accounts).
        overdrawn = sorted(a for a, delta in entry.deltas().items() if candidate[a] < 0)
        try:
            ledger.check_balances(candidate, entry.deltas())
        except InsufficientFunds as refused:
            assert refused.extra["account"] in overdrawn, (refused.extra, candidate)
            continue  # refused: the books stay as they were
        assert not overdrawn, f"{entry.key} overdraws {overdrawn} and was allowed"
        balances = candidate
        liabilities = sum(
            v for k, v in balances.items() if k.startswith(ledger.liability_accounts_prefixes())
        )
        assert balances.get(VAULT, 0) == liabilities
