"""Money rules: integers of base units, fees in basis points."""

from __future__ import annotations

from earnest.domain.errors import InvalidInput

BPS = 10_000
# SPL amounts are u64, but the store keeps i64 columns; no real supply comes near 2**63.
MAX_AMOUNT = 2**63 - 1


def fee_for(reward: int, fee_bps: int) -> int:
    """The market fee on a reward, rounded down (the requester is never charged a fraction)."""
    return reward * fee_bps // BPS


def unit_cost(reward: int, fee_bps: int) -> int:
    """What escrow pays for one accepted unit: the reward plus the market fee."""
    return reward + fee_for(reward, fee_bps)


def parse_amount(value: object, what: str = "amount") -> int:
    """Validate an integer amount of base units (never a float, never negative, fits i64)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an integer number of base units")
    if value < 0 or value > MAX_AMOUNT:
        raise InvalidInput(f"{what} must be between 0 and {MAX_AMOUNT}")
    return value


def format_units(amount: int, decimals: int) -> str:
    """Human form of a base-unit amount, e.g. 1500000 with 6 decimals -> '1.5'."""
    if amount < 0:
        return "-" + format_units(-amount, decimals)
    whole, frac = divmod(amount, 10**decimals)
    if not frac:
        return str(whole)
    return f"{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"


def parse_units(text: str, decimals: int, what: str = "amount") -> int:
    """Base units from a human amount such as '1.5' (6 decimals -> 1500000); exact, no floats."""
    cleaned = text.strip().replace("_", "")
    whole, _, frac = cleaned.partition(".")
    if not (whole or frac) or not (whole or "0").isdigit() or (frac and not frac.isdigit()):
        raise InvalidInput(f"{what} must be a number such as 12 or 0.5")
    if len(frac) > decimals:
        raise InvalidInput(f"{what} has more than {decimals} decimal places")
    return parse_amount(
        int(whole or "0") * 10**decimals + int(frac.ljust(decimals, "0") or "0"), what
    )
