"""Verifiers and aggregation. Each verifier is pure: same inputs, same verdicts."""

from earnest.domain.errors import InvalidInput
from earnest.domain.verification import Verifier
from earnest.quality.consensus import GoldMajorityVerifier

_VERIFIERS: dict[str, Verifier] = {"majority": GoldMajorityVerifier()}

__all__ = ["GoldMajorityVerifier", "verifier_for", "verifier_names"]


def verifier_for(name: str) -> Verifier:
    """The registered verifier called `name`."""
    try:
        return _VERIFIERS[name]
    except KeyError:
        known = ", ".join(sorted(_VERIFIERS))
        raise InvalidInput(f"unknown verifier {name!r}; known: {known}") from None


def verifier_names() -> list[str]:
    return sorted(_VERIFIERS)
