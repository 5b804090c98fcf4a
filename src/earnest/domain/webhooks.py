"""Webhook signatures and the retry schedule: pure rules the market and receivers share.

A delivery carries `Earnest-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
HMAC-SHA256 under the endpoint's secret of `<t>.<body>` (Stripe's scheme): the receiver
recomputes it over the raw body, compares in constant time, and refuses a timestamp further
than its tolerance from its clock, so a captured delivery cannot be replayed later. Several
`v1=` values may appear (a secret being rotated); any one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from earnest.domain.errors import Forbidden

SIGNATURE_HEADER = "Earnest-Signature"
TOLERANCE_S = 300  # how far a delivery's timestamp may be from the receiver's clock
RETRY_FOR = timedelta(days=3)  # a delivery not accepted by then is given up
# Waits before each retry (then the last one again, until RETRY_FOR is over): a receiver
# down for a minute gets its events within seconds of coming back, one down for a day
# within hours, and a dead one costs the market about 40 attempts in three days.
BACKOFF_S = (5, 30, 120, 600, 1800, 3600, 7200)


class SignatureError(Forbidden):
    """A webhook delivery's signature does not verify (wrong secret, altered, or stale)."""

    title = "Bad webhook signature"
    code = "bad_signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The Earnest-Signature value of a delivery sent at `timestamp`."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    body: bytes, header: str, secret: str, *, now: float, tolerance: float = TOLERANCE_S
) -> int:
    """The delivery's timestamp, if `header` signs `body` under `secret` within `tolerance`
    seconds of `now`; SignatureError otherwise."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit():
        raise SignatureError("the signature header has no timestamp (t=...)")
    timestamp = int(stamps[0])
    expected = signature(secret, timestamp, body)
    if not any(k.strip() == "v1" and hmac.compare_digest(v.strip(), expected) for k, v in parts):
        raise SignatureError("no v1 signature matches the body under this secret")
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"the delivery is {abs(now - timestamp):.0f} s from now (stale)")
    return timestamp


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt (1-based) before the next."""
    return timedelta(seconds=BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1])
