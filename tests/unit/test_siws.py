"""Sign-In-With-Solana messages: build, text, parse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from earnest.domain import siws
from earnest.domain.errors import Unauthenticated

ADDRESS = "C2mkcasgndihRNoraq9qtCyGRmEtgHVP9j1mjED3nGz7"
ISSUED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def _message(**changes: object) -> siws.SignInMessage:
    fields: dict[str, object] = {
        "domain": "market.example:8000",
        "address": ADDRESS,
        "statement": siws.STATEMENT,
        "uri": "https://market.example:8000",
        "chain_id": "localnet",
        "nonce": "Vtj02xPoHmDukzameb6ncQ",
        "issued_at": ISSUED,
        "expires_at": ISSUED + timedelta(minutes=10),
    }
    return siws.SignInMessage(**(fields | changes))  # type: ignore[arg-type]


def test_round_trip() -> None:
    msg = _message()
    assert siws.parse(msg.text()) == msg


def test_text_has_the_expected_lines() -> None:
    lines = _message().text().split("\n")
    assert lines[0] == "market.example:8000 wants you to sign in with your Solana account:"
    assert lines[1] == ADDRESS
    assert "Nonce: Vtj02xPoHmDukzameb6ncQ" in lines
    assert "Issued At: 2025-03-01T12:00:00Z" in lines
    assert lines[-1] == "Expiration Time: 2025-03-01T12:10:00Z"


def test_times_are_rendered_in_utc() -> None:
    other_zone = ISSUED.astimezone(__import__("datetime").timezone(timedelta(hours=5)))
    assert _message(issued_at=other_zone).text() == _message().text()


def _replace_line(text: str, prefix: str, new: str) -> str:
    return "\n".join(new if line.startswith(prefix) else line for line in text.split("\n"))


GOOD = _message().text()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        GOOD.replace("wants you to sign in", "asks you to sign in"),
        GOOD.replace(ADDRESS, "not-an-address"),
        GOOD.replace(ADDRESS, "0OIl" * 10),  # not base58
        _replace_line(GOOD, "Version:", "Version: 2"),
        _replace_line(GOOD, "Nonce:", "Nonce: short"),
        _replace_line(GOOD, "Nonce:", "Nonce: has-dash-chars"),
        _replace_line(GOOD, "Issued At:", "Issued At: yesterday"),
        _replace_line(GOOD, "Issued At:", "Issued At: 2025-13-01T00:00:00Z"),
        _replace_line(GOOD, "Expiration Time:", "Expiration Time: 2025-02-30T00:00:00Z"),
        "\n".join(line for line in GOOD.split("\n") if not line.startswith("Chain ID:")),
        GOOD + "\nResources: x",
        "x" + "\n" + GOOD,
    ],
)
def test_malformed_messages_are_unauthenticated(text: str) -> None:
    with pytest.raises(Unauthenticated):
        siws.parse(text)


def test_trailing_newline_is_malformed() -> None:
    with pytest.raises(Unauthenticated):
        siws.parse(GOOD + "\n")
