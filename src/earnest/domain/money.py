"""Money rules: integers of base units, fees in basis points, tokens read and shown exactly.

Amounts arrive as base units (the API, the SDK) or as tokens typed by a person (the web
forms, the CLI). `parse_amount` and `parse_units` are the one check of each, called once
at the edge; `tokens` and `format_units` are the one way back. No amount is ever a float.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import cast

from earnest.domain.bounds import Bound
from earnest.domain.errors import InvalidInput
from earnest.domain.transfer_fee import NO_FEE, TransferFee

BPS = 10_000
# SPL amounts are u64, but the store keeps i64 columns; no real supply comes near 2**63.
MAX_AMOUNT = 2**63 - 1
AMOUNT = Bound(0, MAX_AMOUNT, base_units=True)
POSITIVE_AMOUNT = Bound(1, MAX_AMOUNT, base_units=True)
# Decimal digits (\d: any script's, which int() reads); str.isdigit() also took "²", which
# int() refuses with a ValueError instead of the InvalidInput a form shows.
_TOKENS = re.compile(r"(?P<whole>\d*)(?:\.(?P<frac>\d*))?")


def fee_for(reward: int, fee_bps: int) -> int:
    """The market fee on a reward, rounded down (the requester is never charged a fraction)."""
    return reward * fee_bps // BPS


def unit_cost(reward: int, fee_bps: int, transfer_fee: TransferFee = NO_FEE) -> int:
    """What escrow pays for one accepted unit: the reward, the market fee and what sending
    the reward whole costs in a transfer-fee mint."""
    return reward + fee_for(reward, fee_bps) + transfer_fee.on(reward)


def parse_amount(value: object, what: str = "amount", *, positive: bool = False) -> int:
    """Validate an integer amount of base units (never a float, never negative, fits i64);
    `positive` also refuses 0."""
    (POSITIVE_AMOUNT if positive else AMOUNT).check(what, value)
    return cast("int", value)


def tokens(amount: int, decimals: int) -> Decimal:
    """A base-unit amount in tokens, exactly: 1500000 with 6 decimals -> Decimal('1.5').

    Exact because an amount has at most 19 digits, within Decimal's default 28."""
    return Decimal(amount) / Decimal(10) ** decimals


def format_units(amount: int, decimals: int) -> str:
    """Human form of a base-unit amount, e.g. 1500000 with 6 decimals -> '1.5'."""
    if amount < 0:
        return "-" + format_units(-amount, decimals)
    whole, frac = divmod(amount, 10**decimals)
    if not frac:
        return str(whole)
    return f"{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"


def parse_units(text: str, decimals: int, what: str = "amount", *, positive: bool = False) -> int:
    """Base units from a human amount such as '1.5' (6 decimals -> 1500000); exact, no floats.

    `positive` also refuses 0 (a payment of nothing)."""
    found = _TOKENS.fullmatch(text.strip().replace("_", ""))
    if found is None or not (found["whole"] or found["frac"]):
        raise InvalidInput(f"{what} must be a number of tokens such as 12 or 0.5")
    whole, frac = found["whole"], found["frac"] or ""
    if len(frac) > decimals:
        raise InvalidInput(f"{what} has more than {decimals} decimal places")
    units = int(whole or "0") * 10**decimals + int(frac.ljust(decimals, "0") or "0")
    return parse_amount(units, what, positive=positive)
