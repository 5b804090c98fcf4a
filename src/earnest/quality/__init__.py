"""Verifiers and aggregation. Each verifier is pure: same inputs, same verdicts."""

from earnest.domain.errors import InvalidInput
from earnest.domain.verification import Verifier
from earnest.quality.bandwidth import BandwidthVerifier
from earnest.quality.boxes import BoxVerifier
from earnest.quality.bugs import BugReproducerVerifier
from earnest.quality.categorical import DawidSkeneVerifier
from earnest.quality.consensus import GoldMajorityVerifier
from earnest.quality.energy import EnergyVerifier
from earnest.quality.field import FieldEvidenceVerifier
from earnest.quality.local import LocalReportVerifier
from earnest.quality.multilabel import MultiLabelVerifier
from earnest.quality.numeric import NumericVerifier
from earnest.quality.pairwise import PairwiseVerifier
from earnest.quality.peer_review import PeerReviewVerifier
from earnest.quality.ratings import RatingVerifier

_VERIFIERS: dict[str, Verifier] = {
    v.name: v
    for v in (
        GoldMajorityVerifier(),
        DawidSkeneVerifier(),
        NumericVerifier(),
        BoxVerifier(),
        PairwiseVerifier(),
        MultiLabelVerifier(),
        RatingVerifier(),
        PeerReviewVerifier(),
        LocalReportVerifier(),
        FieldEvidenceVerifier(),
        BugReproducerVerifier(),
        EnergyVerifier(),
        BandwidthVerifier(),
    )
}

# Verifiers that judge what the market measured about an answer (VerificationInput.facts).
MEASURED = frozenset({"bug_reproducer", "energy"})
# ... measured by the sandbox loop, in the background (the others are measured on submit).
SANDBOXED = frozenset({"bug_reproducer"})

__all__ = [
    "MEASURED",
    "SANDBOXED",
    "DawidSkeneVerifier",
    "GoldMajorityVerifier",
    "verifier_for",
    "verifier_names",
]


def verifier_for(name: str) -> Verifier:
    """The registered verifier called `name`."""
    try:
        return _VERIFIERS[name]
    except KeyError:
        known = ", ".join(sorted(_VERIFIERS))
        raise InvalidInput(f"unknown verifier {name!r}; known: {known}") from None


def verifier_names() -> list[str]:
    return sorted(_VERIFIERS)
