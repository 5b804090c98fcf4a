"""Sign-In-With-Solana style challenge messages: build, parse, check.

The message is what the wallet shows its owner and signs; the server only trusts what it
can re-derive from its own nonce record, and checks the rest against its configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from earnest.domain.errors import Unauthenticated

STATEMENT = "Sign in to Earnest. This request will not trigger a blockchain transaction."

_PATTERN = re.compile(
    r"^(?P<domain>[^\s]+) wants you to sign in with your Solana account:\n"
    r"(?P<address>[1-9A-HJ-NP-Za-km-z]{32,44})\n\n"
    r"(?P<statement>[^\n]*)\n\n"
    r"URI: (?P<uri>[^\n]+)\n"
    r"Version: 1\n"
    r"Chain ID: (?P<chain_id>[^\n]+)\n"
    r"Nonce: (?P<nonce>[A-Za-z0-9]{8,64})\n"
    r"Issued At: (?P<issued_at>[^\n]+)\n"
    r"Expiration Time: (?P<expires_at>[^\n]+)\Z"
)


@dataclass(frozen=True)
class SignInMessage:
    domain: str
    address: str
    statement: str
    uri: str
    chain_id: str
    nonce: str
    issued_at: datetime
    expires_at: datetime

    def text(self) -> str:
        """The exact text the wallet signs."""
        return (
            f"{self.domain} wants you to sign in with your Solana account:\n"
            f"{self.address}\n\n{self.statement}\n\n"
            f"URI: {self.uri}\nVersion: 1\nChain ID: {self.chain_id}\n"
            f"Nonce: {self.nonce}\nIssued At: {_iso(self.issued_at)}\n"
            f"Expiration Time: {_iso(self.expires_at)}"
        )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str) -> SignInMessage:
    """Parse a signed challenge; raise Unauthenticated if it is not one of ours in form."""
    match = _PATTERN.match(text)
    if match is None:
        raise Unauthenticated("the signed message is not an Earnest sign-in message")
    try:
        issued = datetime.strptime(match["issued_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        expires = datetime.strptime(match["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise Unauthenticated("the sign-in message has a malformed time") from exc
    return SignInMessage(
        domain=match["domain"],
        address=match["address"],
        statement=match["statement"],
        uri=match["uri"],
        chain_id=match["chain_id"],
        nonce=match["nonce"],
        issued_at=issued,
        expires_at=expires,
    )
