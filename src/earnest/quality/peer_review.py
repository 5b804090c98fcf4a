"""The verifier of free text: nothing to compute, so every answer goes to a peer reviewer.

It only suggests acceptance (the answer passed its schema); a qualified reviewer decides
(services.peer_review). A campaign may use it only with `quality.review = "peer"`.
"""

from __future__ import annotations

from earnest.domain.verification import Decision, Outcome, Verdict, VerificationInput


class PeerReviewVerifier:
    """Holds each valid answer for review by a qualified, paid peer."""

    name = "peer_review"

    def verify(self, given: VerificationInput) -> Outcome:
        return Outcome(
            tuple(
                Verdict(s.assignment_id, Decision.ACCEPT, "held for review by a qualified peer")
                for s in given.pending()
            )
        )
