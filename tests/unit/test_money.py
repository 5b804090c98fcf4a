"""Money rules: fees round down, amounts are bounded integers, human formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnest.domain.errors import InvalidInput
from earnest.domain.money import (
    BPS,
    MAX_AMOUNT,
    fee_for,
    format_units,
    parse_amount,
    parse_units,
    tokens,
    unit_cost,
)


@pytest.mark.parametrize(
    ("reward", "bps", "fee"),
    [(1000, 250, 25), (999, 250, 24), (39, 250, 0), (40, 250, 1), (10_000, 0, 0), (7, BPS, 7)],
)
def test_fee_rounds_down(reward: int, bps: int, fee: int) -> None:
    assert fee_for(reward, bps) == fee


@given(st.integers(min_value=0, max_value=10**15), st.integers(min_value=0, max_value=BPS))
def test_fee_never_exceeds_exact_share(reward: int, bps: int) -> None:
    fee = fee_for(reward, bps)
    assert isinstance(fee, int)
    assert fee * BPS <= reward * bps < (fee + 1) * BPS


def test_unit_cost_is_reward_plus_fee() -> None:
    assert unit_cost(1000, 250) == 1025
    assert unit_cost(999, 250) == 1023
    assert unit_cost(1, 250) == 1


@pytest.mark.parametrize("value", [0, 1, 10**9, MAX_AMOUNT])
def test_parse_amount_accepts_bounded_integers(value: int) -> None:
    assert parse_amount(value) == value


@pytest.mark.parametrize("value", [-1, MAX_AMOUNT + 1, 2**64])
def test_parse_amount_rejects_out_of_range(value: int) -> None:
    with pytest.raises(InvalidInput, match="between 0 and"):
        parse_amount(value)


@pytest.mark.parametrize("value", [1.0, 1.5, True, False, "10", None, [1]])
def test_parse_amount_rejects_non_integers(value: object) -> None:
    with pytest.raises(InvalidInput, match="reward must be an integer"):
        parse_amount(value, "reward")


@pytest.mark.parametrize(
    ("amount", "decimals", "text"),
    [
        (1_500_000, 6, "1.5"),
        (1_000_000, 6, "1"),
        (0, 6, "0"),
        (1, 6, "0.000001"),
        (123_456_789, 6, "123.456789"),
        (10_010, 3, "10.01"),
        (42, 0, "42"),
    ],
)
def test_format_units(amount: int, decimals: int, text: str) -> None:
    assert format_units(amount, decimals) == text


def test_format_units_negative() -> None:
    assert format_units(-1, 6) == "-0.000001"


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [
        ("1.5", 6, 1_500_000),
        ("0.000001", 6, 1),
        ("12", 0, 12),
        (" 2_000.25 ", 2, 200_025),
        (".5", 1, 5),
    ],
)
def test_parse_units_is_exact(text: str, decimals: int, units: int) -> None:
    assert parse_units(text, decimals) == units


@pytest.mark.parametrize("text", ["", ".", "-1", "1e3", "0.0000001", "abc", "1.2.3"])
def test_parse_units_refuses_what_is_not_an_amount(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_units(text, 6)


@given(st.integers(min_value=0, max_value=10**15), st.integers(min_value=0, max_value=9))
def test_parse_units_reads_what_format_units_writes(amount: int, decimals: int) -> None:
    assert parse_units(format_units(amount, decimals), decimals) == amount


@pytest.mark.parametrize("text", ["²", "1²", "0.5³", "½"])
def test_parse_units_refuses_digits_int_cannot_read(text: str) -> None:
    """Superscripts pass str.isdigit() but not int(): an InvalidInput, not a ValueError."""
    with pytest.raises(InvalidInput, match=r"must be a number of tokens such as 12 or 0\.5"):
        parse_units(text, 6)


def test_parse_units_reads_decimal_digits_of_any_script() -> None:
    assert parse_units("٣.٥", 6) == 3_500_000


@pytest.mark.parametrize("text", ["0", "0.000", "."])
def test_parse_units_positive_refuses_nothing(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_units(text, 6, positive=True)
    if text != ".":
        assert parse_units(text, 6) == 0


def test_parse_units_positive_names_the_field() -> None:
    with pytest.raises(InvalidInput, match=r"^reward must be positive$"):
        parse_units("0", 6, "reward", positive=True)
    assert parse_units("0.000001", 6, positive=True) == 1


def test_parse_units_refuses_more_than_an_amount_holds() -> None:
    with pytest.raises(InvalidInput, match="between 0 and"):
        parse_units(str(MAX_AMOUNT + 1), 0)


@pytest.mark.parametrize("value", [0, -1])
def test_parse_amount_positive_refuses_zero_and_below(value: int) -> None:
    with pytest.raises(InvalidInput, match="amount must be positive"):
        parse_amount(value, positive=True)


def test_parse_amount_positive_bounds() -> None:
    assert parse_amount(1, positive=True) == 1
    assert parse_amount(MAX_AMOUNT, positive=True) == MAX_AMOUNT
    with pytest.raises(InvalidInput, match="between 1 and"):
        parse_amount(MAX_AMOUNT + 1, positive=True)
    with pytest.raises(InvalidInput, match="integer number of base units"):
        parse_amount(1.0, positive=True)


@pytest.mark.parametrize(
    ("amount", "decimals", "shown"),
    [(1_500_000, 6, "1.5"), (1, 6, "0.000001"), (MAX_AMOUNT, 9, "9223372036.854775807")],
)
def test_tokens_is_exact(amount: int, decimals: int, shown: str) -> None:
    assert tokens(amount, decimals) == Decimal(shown)
    assert str(tokens(amount, decimals)) == format_units(amount, decimals)
