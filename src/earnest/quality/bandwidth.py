"""The bandwidth verifier: k nodes fetched the same URL, and their bodies must agree.

An answer is first checked on its own, from facts the market observed when the node sent
it (the answer's `market` part): the metering record's signature verifies against the
node's key, the record names this node, this job and this URL, and it states the body the
market received (bytes, sha256). An answer failing any of these is rejected at once, with
the record and the observed facts as evidence, and never votes.

The task waits for `overlap` (k) answers. Then valid answers vote by their fetch key
(origin status, normalized sha256, truncated); a key held by a strict majority of the k
slots wins. Agreeing answers are accepted, the others rejected with both hashes as
evidence. Without a majority (a page that changes at every request) nobody is rejected:
every valid answer is accepted in good faith and the result says `agreed: false`. An
answer arriving after the task resolved is checked against the result.

An accepted answer earns `price_per_kb` per 1,000 metered bytes (`Verdict.reward`); the
market caps it at the campaign's reward, the unit its escrow reserves per fetch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from earnest.domain.bandwidth import BANDWIDTH, BandwidthTerms, MeteringRecord
from earnest.domain.errors import InvalidInput
from earnest.domain.verification import Decision, Outcome, Submission, Verdict, VerificationInput
from earnest.domain.work import AssignmentStatus, TaskStatus

_COUNTED = (AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED, AssignmentStatus.REJECTED)

FetchKey = tuple[int, str, bool]


@dataclass(frozen=True)
class Fetch:
    """One node's answer: its signed record and what the market saw arrive."""

    record: MeteringRecord
    signature_valid: bool
    received_bytes: int
    received_sha256: str
    normalized_sha256: str

    @property
    def key(self) -> FetchKey:
        """What the k nodes must agree on."""
        return (self.record.status, self.normalized_sha256, self.record.truncated)

    @classmethod
    def of(cls, answer: Any) -> Fetch:
        """Read a stored answer; InvalidInput if it is not one the market composed."""
        market = answer.get("market") if isinstance(answer, dict) else None
        if not isinstance(market, dict):
            raise InvalidInput("the answer holds no fetch result")
        try:
            return cls(
                MeteringRecord.of(answer.get("record")),
                market["signature_valid"] is True,
                int(market["bytes"]),
                str(market["sha256"]),
                str(market["normalized_sha256"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"the fetch result is incomplete: {exc}") from exc


def integrity_problem(s: Submission, fetch: Fetch, url: str) -> str | None:
    """Why an answer cannot count, judged on the answer alone; None if it can."""
    record = fetch.record
    if not fetch.signature_valid:
        return "the metering record's signature does not verify against your node's key"
    if record.node != s.worker:
        return "the metering record names another node"
    if record.assignment != s.assignment_id:
        return "the metering record was signed for another job"
    if record.url != url:
        return "the metering record is for another URL"
    if (record.bytes, record.sha256) != (fetch.received_bytes, fetch.received_sha256):
        return (
            f"the body sent ({fetch.received_bytes} bytes, sha256 {fetch.received_sha256[:12]}…) "
            f"is not the one the metering record states ({record.bytes} bytes, "
            f"sha256 {record.sha256[:12]}…)"
        )
    return None


class BandwidthVerifier:
    """Signed, metered fetches by k nodes, accepted when their normalized bodies agree."""

    name = BANDWIDTH

    def verify(self, given: VerificationInput) -> Outcome:
        """Verdicts on a URL's pending fetches (module docstring), pay metered per byte."""
        terms = BandwidthTerms.of(given.terms)
        url = str(given.task.data.get("url", ""))
        counted = [s for s in given.submissions if s.status in _COUNTED]
        voters: list[tuple[Submission, Fetch]] = []
        verdicts: list[Verdict] = []
        for s in counted:
            fetch, problem = _read(s, url)
            if fetch is not None and problem is None:
                voters.append((s, fetch))
            elif s.status is AssignmentStatus.SUBMITTED:
                verdicts.append(_invalid(s, fetch, problem or "", terms))
        if given.task.status is TaskStatus.RESOLVED:
            verdicts += _late(given.task.result, voters, terms)
            return Outcome(tuple(verdicts), True, given.task.result, given.task.confidence)
        if len(counted) < given.overlap:
            waiting = "waiting for the other nodes' fetches of this URL"
            verdicts += [
                Verdict(s.assignment_id, Decision.WAIT, waiting) for s, _ in _pending(voters)
            ]
            return Outcome(tuple(verdicts))
        return _resolve(given.overlap, url, voters, verdicts, terms)


def _read(s: Submission, url: str) -> tuple[Fetch | None, str | None]:
    try:
        fetch = Fetch.of(s.answer)
    except InvalidInput as exc:
        return None, f"the fetch result could not be read: {exc.detail}"
    return fetch, integrity_problem(s, fetch, url)


def _pending(voters: list[tuple[Submission, Fetch]]) -> list[tuple[Submission, Fetch]]:
    return [(s, f) for s, f in voters if s.status is AssignmentStatus.SUBMITTED]


def _invalid(s: Submission, fetch: Fetch | None, problem: str, terms: BandwidthTerms) -> Verdict:
    evidence: dict[str, Any] = {
        "problem": problem,
        "answer": s.answer,
        # What the fetch would have earned, should an appeal overturn the rejection.
        "metered_reward": terms.reward_for(fetch.record.bytes) if fetch else 0,
    }
    return Verdict(s.assignment_id, Decision.REJECT, problem, evidence)


def _resolve(
    k: int,
    url: str,
    voters: list[tuple[Submission, Fetch]],
    verdicts: list[Verdict],
    terms: BandwidthTerms,
) -> Outcome:
    votes = Counter(f.key for _, f in voters)
    # Ties go to the key whose first vote came first: `voters` is in submission order.
    top, agreeing = votes.most_common(1)[0] if votes else (None, 0)
    if top is None or 2 * agreeing <= k:
        reason = (
            f"no majority among the {k} nodes' fetches (the page may change at every "
            "request); accepted in good faith"
        )
        verdicts += [_accept(s, f, terms, reason, good_faith=True) for s, f in _pending(voters)]
        result = {"url": url, "agreed": False, "answers": k}
        return Outcome(tuple(verdicts), True, result, 0.0)
    chosen = next(f for _, f in voters if f.key == top)
    result = _result(url, chosen, agreeing, k)
    for s, f in _pending(voters):
        if f.key == top:
            verdicts.append(_accept(s, f, terms, f"agrees with {agreeing} of {k} nodes"))
        else:
            verdicts.append(_altered(s, f, result, terms))
    return Outcome(tuple(verdicts), True, result, round(agreeing / k, 6))


def _result(url: str, f: Fetch, agreeing: int, k: int) -> dict[str, Any]:
    """What the requester receives: the agreed fetch, its body by `sha256`."""
    r = f.record
    return {
        "url": url,
        "agreed": True,
        "status": r.status,
        "final_url": r.final_url,
        "bytes": r.bytes,
        "sha256": r.sha256,
        "normalized_sha256": f.normalized_sha256,
        "truncated": r.truncated,
        "content_type": r.content_type,
        "nodes": agreeing,
        "answers": k,
    }


def _late(
    result: Any, voters: list[tuple[Submission, Fetch]], terms: BandwidthTerms
) -> list[Verdict]:
    """Answers after the task resolved: held against the agreed fetch, if there is one."""
    out = []
    agreed = isinstance(result, dict) and result.get("agreed") is True
    for s, f in _pending(voters):
        if not agreed:
            reason = "the task had resolved without agreement; accepted in good faith"
            out.append(_accept(s, f, terms, reason, good_faith=True))
        elif f.key == (result["status"], result["normalized_sha256"], result["truncated"]):
            out.append(_accept(s, f, terms, "agrees with the fetch the other nodes agreed on"))
        else:
            out.append(_altered(s, f, result, terms))
    return out


def _accept(
    s: Submission, f: Fetch, terms: BandwidthTerms, reason: str, *, good_faith: bool = False
) -> Verdict:
    reward = terms.reward_for(f.record.bytes)
    text = f"{reason}; {f.record.bytes} bytes metered at {terms.price_per_kb} per KB"
    # An acceptance in good faith carries evidence, so it is not counted for reputation.
    evidence = {"good_faith": True, "bytes": f.record.bytes} if good_faith else {}
    return Verdict(s.assignment_id, Decision.ACCEPT, text, evidence, reward)


def _altered(s: Submission, f: Fetch, result: dict[str, Any], terms: BandwidthTerms) -> Verdict:
    agreeing, k = int(result["nodes"]), int(result["answers"])
    reason = (
        f"the content you returned differs from what {agreeing} of {k} nodes fetched "
        f"(normalized sha256 {f.normalized_sha256[:12]}… against "
        f"{result['normalized_sha256'][:12]}…)"
    )
    compared = ("status", "normalized_sha256", "truncated", "bytes")
    yours = {"status": f.record.status, "normalized_sha256": f.normalized_sha256}
    yours |= {"truncated": f.record.truncated, "bytes": f.record.bytes}
    evidence = {
        "yours": yours,
        "agreed": {name: result[name] for name in compared},
        "agreeing": agreeing,
        "answers": k,
        "metered_reward": terms.reward_for(f.record.bytes),
    }
    return Verdict(s.assignment_id, Decision.REJECT, reason, evidence)
