"""A Token-2022 transfer fee: what the mint withholds from a transfer, and the gross-up.

A mint with the TransferFee extension withholds `ceil(amount * bps / 10,000)`, at most
`maximum`, from each transfer, in the recipient's account. The market owes a worker an
exact reward, so it sends the smallest gross amount whose fee leaves exactly the reward
(`gross`); that fee is part of what the campaign's escrow pays per unit (docs/money.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from earnest.domain.errors import InvalidInput

BPS = 10_000
_U64 = 2**64 - 1


@dataclass(frozen=True)
class TransferFee:
    """The mint's fee in basis points (0..10,000) and its cap in base units."""

    bps: int = 0
    maximum: int = 0

    def __post_init__(self) -> None:
        if type(self.bps) is not int or not 0 <= self.bps <= BPS:
            raise InvalidInput(f"a transfer fee is 0..{BPS} basis points, not {self.bps!r}")
        if type(self.maximum) is not int or not 0 <= self.maximum <= _U64:
            raise InvalidInput(f"a transfer fee's maximum is a u64, not {self.maximum!r}")

    @property
    def charged(self) -> bool:
        """Whether any transfer pays a fee."""
        return self.bps > 0 and self.maximum > 0

    def of(self, gross: int) -> int:
        """What the mint withholds from a transfer of `gross` (Token-2022's calculate_fee)."""
        if not self.charged or gross <= 0:
            return 0
        return min(-(-gross * self.bps // BPS), self.maximum)

    def gross(self, net: int) -> int:
        """The smallest amount to send so that the recipient receives exactly `net`."""
        if net <= 0 or not self.charged:
            return max(net, 0)
        if self.bps == BPS:
            return net + self.maximum
        # net = g - ceil(g*bps/BPS) is non-decreasing in g and grows by at most 1 a step,
        # so exactly `net` is reached; start just below the uncapped inverse and step up.
        guess = max(net * BPS // (BPS - self.bps) - 1, net)
        guess = min(guess, net + self.maximum)
        while guess - self.of(guess) < net:
            guess += 1
        return guess

    def on(self, net: int) -> int:
        """The fee the market adds so that `net` arrives whole: gross(net) - net."""
        return self.gross(net) - max(net, 0)

    def as_dict(self) -> dict[str, int]:
        return {"bps": self.bps, "maximum": self.maximum}


NO_FEE = TransferFee()
