"""Bandwidth terms, URL checks, normalization, metering records, and the pure verifier."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from earnest.domain.bandwidth import (
    BandwidthTerms,
    MeteringRecord,
    campaign_spec,
    check_spec,
    normalize,
    normalized_sha256,
    sha256_hex,
)
from earnest.domain.errors import InvalidInput
from earnest.domain.verification import Decision, Submission, VerificationInput
from earnest.domain.work import AssignmentStatus, QualityPolicy, TaskStatus
from earnest.quality import verifier_for
from tests.unit.verifier_cases import decisions, submission, task, verdict

URL = "https://news.example.com/a/1"
TERMS = BandwidthTerms(price_per_kb=50, allowlist=("example.com",), max_bytes=4096)
PAGE = b"<html>\n  <body>hello   world</body>\n</html>\n"


def test_terms_validate_and_round_trip() -> None:
    terms = BandwidthTerms.of({"price_per_kb": 5, "allowlist": ["Example.COM.", "10.1.2.3"]})
    assert terms.allowlist == ("example.com", "10.1.2.3")
    assert BandwidthTerms.of(terms.as_dict()) == terms
    for bad in (
        {"price_per_kb": 0, "allowlist": ["a.com"]},
        {"price_per_kb": 1.5, "allowlist": ["a.com"]},
        {"price_per_kb": 1, "allowlist": []},
        {"price_per_kb": 1, "allowlist": ["https://a.com/x"]},
        {"price_per_kb": 1, "allowlist": ["a.com"], "max_bytes": 2 << 20},
        {"price_per_kb": 1, "allowlist": ["a.com"], "surprise": 1},
        {"allowlist": ["a.com"]},
    ):
        with pytest.raises(InvalidInput):
            BandwidthTerms.of(bad)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://example.com/", None),
        ("http://news.example.com/x?q=1", None),
        ("https://notexample.com/", "not in the campaign's allowlist"),
        ("https://example.com.evil.org/", "not in the campaign's allowlist"),
        ("ftp://example.com/file", "must start with http"),
        ("https://user:pw@example.com/", "carries credentials"),
        ("https://example.com:99999/", "malformed"),
        ("https://10.0.0.1/", "not in the campaign's allowlist"),
        (42, "must be a string"),
    ],
)
def test_url_problems_name_the_reason(url: Any, problem: str | None) -> None:
    found = TERMS.url_problem(url)
    assert found is None if problem is None else problem in (found or "")


def test_ip_allowlist_entries_match_exactly() -> None:
    terms = BandwidthTerms(price_per_kb=1, allowlist=("127.0.0.1",))
    assert terms.url_problem("http://127.0.0.1:8080/page") is None
    assert terms.url_problem("http://127.0.0.2/page") is not None


def test_reward_is_price_per_thousand_bytes_rounded_down() -> None:
    assert TERMS.reward_for(0) == 0
    assert TERMS.reward_for(999) == 49
    assert TERMS.reward_for(2_000) == 100


def test_normalization_ignores_volatile_whitespace_only() -> None:
    assert normalize(b"  a \r\n\t b  ") == b"a b"
    assert normalized_sha256(PAGE) == normalized_sha256(PAGE.replace(b"\n", b"\r\n  "))
    assert normalized_sha256(PAGE) != normalized_sha256(PAGE.replace(b"hello", b"hell0"))


def test_the_template_passes_its_own_checks_and_refuses_gold() -> None:
    spec = campaign_spec(title="Scrape", terms=TERMS, reward=500)
    assert spec.is_bandwidth and check_spec(spec) == TERMS
    with pytest.raises(InvalidInput, match="no gold"):
        check_spec(dataclasses.replace(spec, gold_share=0.1))
    with pytest.raises(InvalidInput, match="no gold"):
        check_spec(dataclasses.replace(spec, quality=QualityPolicy(review="requester")))  # type: ignore[arg-type]


def record(n: int, body: bytes = PAGE, **changes: Any) -> MeteringRecord:
    """Node Wn's record of its fetch of URL for assignment an."""
    fields: dict[str, Any] = {
        "assignment": f"a{n}",
        "url": URL,
        "final_url": URL,
        "status": 200,
        "bytes": len(body),
        "sha256": sha256_hex(body),
        "truncated": False,
        "content_type": "text/html",
        "fetched_at": "2025-01-01T00:00:00+00:00",
        "node": f"W{n}",
    }
    return MeteringRecord(**(fields | changes))


def fetch_answer(n: int, body: bytes = PAGE, *, signed: bool = True, **changes: Any) -> Any:
    """The answer the market stores for node Wn: its record and the market's observations."""
    r = record(n, body, **changes)
    market = {
        "bytes": len(body),
        "sha256": sha256_hex(body),
        "normalized_sha256": normalized_sha256(body),
        "signature_valid": signed,
    }
    return {"record": r.as_dict(), "signature": "sig", "market": market}


def test_record_round_trips_and_rejects_bad_fields() -> None:
    r = record(1)
    assert MeteringRecord.of(r.as_dict()) == r
    assert r.canonical() == MeteringRecord.of(r.as_dict()).canonical()
    for bad in ({"status": "200"}, {"bytes": -1}, {"sha256": "xyz"}, {"truncated": 1}):
        with pytest.raises(InvalidInput):
            MeteringRecord.of(r.as_dict() | bad)
    with pytest.raises(InvalidInput):
        MeteringRecord.of({"url": URL})


def run(subs: list[Submission], *, status: TaskStatus = TaskStatus.OPEN, result: Any = None) -> Any:
    t = task(status=status, result=result, data={"url": URL})
    given = VerificationInput(t, 3, tuple(subs), terms=TERMS.as_dict())
    return verifier_for("bandwidth").verify(given)


def test_waits_for_k_fetches_then_pays_agreeing_nodes_per_byte() -> None:
    first = run([submission(1, fetch_answer(1))])
    assert decisions(first) == {"a1": Decision.WAIT} and not first.resolved
    reindented = PAGE.replace(b"\n  ", b"\n\t\t")
    subs = [submission(n, fetch_answer(n, reindented if n == 2 else PAGE)) for n in (1, 2, 3)]
    out = run(subs)
    assert decisions(out) == {f"a{n}": Decision.ACCEPT for n in (1, 2, 3)}
    assert out.resolved and out.confidence == 1.0
    assert out.result["agreed"] and out.result["sha256"] == sha256_hex(PAGE)
    assert verdict(out, "a2").reward == TERMS.reward_for(len(reindented))
    assert verdict(out, "a1").evidence == {}  # a plain acceptance counts for reputation


def test_altered_content_is_rejected_with_evidence() -> None:
    altered = PAGE.replace(b"world", b"w0rld, buy now")
    subs = [submission(1, fetch_answer(1, altered))] + [
        submission(n, fetch_answer(n)) for n in (2, 3)
    ]
    out = run(subs)
    assert decisions(out) == {"a1": Decision.REJECT, "a2": Decision.ACCEPT, "a3": Decision.ACCEPT}
    bad = verdict(out, "a1")
    assert "differs from what 2 of 3 nodes fetched" in bad.reason
    assert bad.evidence["yours"]["normalized_sha256"] == normalized_sha256(altered)
    assert bad.evidence["agreed"]["normalized_sha256"] == normalized_sha256(PAGE)
    assert bad.reward is None and out.result["nodes"] == 2


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (fetch_answer(1, signed=False), "signature does not verify"),
        (fetch_answer(1, node="W9"), "names another node"),
        (fetch_answer(1, assignment="a9"), "signed for another job"),
        (fetch_answer(1, url="https://example.com/other"), "another URL"),
        (fetch_answer(1, sha256="0" * 64), "is not the one the metering record states"),
        ({"label": "x"}, "could not be read"),
    ],
)
def test_a_bad_record_is_rejected_at_once_and_never_votes(answer: Any, reason: str) -> None:
    out = run([submission(1, answer)])
    assert decisions(out) == {"a1": Decision.REJECT}
    assert reason in verdict(out, "a1").reason and "problem" in verdict(out, "a1").evidence
    rejected = submission(1, answer, AssignmentStatus.REJECTED)
    full = run([rejected, submission(2, fetch_answer(2)), submission(3, fetch_answer(3))])
    assert decisions(full) == {"a2": Decision.ACCEPT, "a3": Decision.ACCEPT}  # 2 of 3 slots


def test_without_a_majority_everyone_valid_is_paid_in_good_faith() -> None:
    subs = [submission(n, fetch_answer(n, PAGE + bytes([65 + n]))) for n in (1, 2, 3)]
    out = run(subs)
    assert set(decisions(out).values()) == {Decision.ACCEPT}
    assert out.result == {"url": URL, "agreed": False, "answers": 3}
    assert verdict(out, "a1").evidence["good_faith"] is True


def test_a_late_fetch_is_held_against_the_agreed_result() -> None:
    agreed = run([submission(n, fetch_answer(n)) for n in (1, 2, 3)]).result
    late = [submission(4, fetch_answer(4)), submission(5, fetch_answer(5, PAGE + b"!"))]
    out = run(late, status=TaskStatus.RESOLVED, result=agreed)
    assert decisions(out) == {"a4": Decision.ACCEPT, "a5": Decision.REJECT}
