"""Real-world tasks: evidence checked by rule, then judged by a qualified, paid peer.

An answer is evidence: {"photo_sha256": 64 hex digits, "lat", "lon", "at", "note"?} for a
task with a `place` and a `window` (as local reports). Evidence from outside the area or
the window, dated after it was sent, or without a photo hash is rejected at once; the rest
is held for peer review (`quality.review = "peer"`), where a reviewer who sees the task
and the evidence accepts or rejects it (services.peer_review).
"""

from __future__ import annotations

import re

from earnest.domain.verification import Decision, Outcome, Verdict, VerificationInput
from earnest.quality.local import check_place

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class FieldEvidenceVerifier:
    """Rejects evidence that breaks the task's rules; holds the rest for a peer reviewer."""

    name = "field_evidence"

    def verify(self, given: VerificationInput) -> Outcome:
        verdicts = []
        for s in given.pending():
            where = check_place(s, given.task.data)
            photo = s.answer.get("photo_sha256") if isinstance(s.answer, dict) else None
            if isinstance(where, Verdict):
                verdicts.append(where)
            elif not isinstance(photo, str) or not _SHA256.match(photo):
                why = "the evidence needs the SHA-256 of its photo (64 lowercase hex digits)"
                verdicts.append(Verdict(s.assignment_id, Decision.REJECT, why, {"yours": s.answer}))
            else:
                why = "evidence in the area and the window; held for review by a qualified peer"
                verdicts.append(Verdict(s.assignment_id, Decision.ACCEPT, why))
        return Outcome(tuple(verdicts))
