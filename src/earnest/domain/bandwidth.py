"""Bandwidth work: fetch jobs, their terms, and the signed metering record a node returns.

A bandwidth campaign's tasks are URLs. `overlap` (k) independent nodes fetch each one and
send back the body with a metering record signed by their own key; the market keeps the
body and compares the k bodies by their normalized hash (`normalized_sha256`). A node is
paid `price_per_kb` per 1,000 metered bytes, never more than the campaign's reward per
fetch: the unit the escrow reserves for every lease.
"""

from __future__ import annotations

import builtins
import hashlib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import urlsplit

from earnest.domain.bounds import Bound
from earnest.domain.errors import InvalidInput
from earnest.domain.money import POSITIVE_AMOUNT
from earnest.domain.verification import canonical_json
from earnest.domain.work import BANDWIDTH, CampaignSpec, QualityPolicy, ReviewMode, check_bounds

__all__ = ["BANDWIDTH", "BandwidthTerms", "MeteringRecord", "normalize", "normalized_sha256"]

KB = 1000  # bytes in the KB a price is quoted in
# A body travels in one API request, and the API refuses request bodies over 1 MiB.
MAX_FETCH_BYTES = 1 << 20
DEFAULT_FETCH_BYTES = 256 << 10
MAX_URL = 2048
MAX_ALLOWLIST = 1000
MAX_CONTENT_TYPE = 200
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["url"],
    "properties": {"url": {"type": "string", "minLength": 10, "maxLength": MAX_URL}},
    "additionalProperties": False,
}
# What the market stores as a node's answer: the signed record, and what the market itself
# observed (the body it received and whether the signature holds).
OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["record", "signature", "market"],
    "properties": {
        "record": {"type": "object"},
        "signature": {"type": "string"},
        "market": {"type": "object"},
    },
}


def sha256_hex(body: bytes) -> str:
    """The content hash of a body, as it was received."""
    return hashlib.sha256(body).hexdigest()


def normalize(body: bytes) -> bytes:
    """A body with volatile whitespace removed: every run of ASCII whitespace becomes one
    space, none at either end. Servers that re-indent or re-wrap a page between two
    requests still agree; bytes are not decoded, so binary bodies normalize the same way."""
    return b" ".join(body.split())


def normalized_sha256(body: bytes) -> str:
    """The hash the k nodes' bodies are compared by."""
    return sha256_hex(normalize(body))


@dataclass(frozen=True)
class BandwidthTerms:
    """What a requester sets for a scrape: price, where nodes may go, how much to read.

    `allowlist` holds domain names (a name allows its subdomains) or IP literals; every
    uploaded URL must point into it. `max_bytes` is where each node cuts a body.
    """

    price_per_kb: int
    allowlist: tuple[str, ...]
    max_bytes: int = DEFAULT_FETCH_BYTES

    BOUNDS: ClassVar[Mapping[str, Bound]] = MappingProxyType(
        {
            "price_per_kb": POSITIVE_AMOUNT,
            "allowlist": Bound(min_length=1, max_length=MAX_ALLOWLIST),
            "max_bytes": Bound(1, MAX_FETCH_BYTES),
        }
    )

    def __post_init__(self) -> None:
        if isinstance(self.max_bytes, bool) or not isinstance(self.max_bytes, int):
            raise InvalidInput("max_bytes must be an integer")
        if isinstance(self.allowlist, str):
            raise InvalidInput("allowlist must be a list of domains")
        check_bounds(self, self.BOUNDS)
        object.__setattr__(self, "allowlist", tuple(_domain(d) for d in self.allowlist))

    @classmethod
    def of(cls, terms: Mapping[str, Any]) -> BandwidthTerms:
        """Terms from their JSON form; InvalidInput says what is missing or wrong."""
        extra = set(terms) - {"price_per_kb", "allowlist", "max_bytes"}
        if extra or "price_per_kb" not in terms or "allowlist" not in terms:
            raise InvalidInput(
                "a bandwidth campaign's terms are price_per_kb, allowlist and optionally "
                f"max_bytes (got {sorted(terms)}); create one with POST /v1/bandwidth/campaigns"
            )
        allowlist = terms["allowlist"]
        if not isinstance(allowlist, list | tuple):
            raise InvalidInput("allowlist must be a list of domains")
        return cls(
            terms["price_per_kb"], tuple(allowlist), terms.get("max_bytes", DEFAULT_FETCH_BYTES)
        )

    def as_dict(self) -> dict[str, Any]:
        """The terms as plain JSON values (for storage, the API and the nodes)."""
        return {
            "price_per_kb": self.price_per_kb,
            "allowlist": list(self.allowlist),
            "max_bytes": self.max_bytes,
        }

    def reward_for(self, size: int) -> int:
        """The pay for `size` metered bytes, rounded down (before the campaign's cap)."""
        return self.price_per_kb * size // KB

    def url_problem(self, url: object) -> str | None:
        """Why `url` may not be fetched under these terms, or None if it may."""
        return url_problem(url, self.allowlist)


def _domain(entry: object) -> str:
    if not isinstance(entry, str):
        raise InvalidInput("allowlist entries must be strings")
    name = entry.strip().lower().rstrip(".")
    if _is_ip(name) or _DOMAIN.match(name):
        return name
    raise InvalidInput(
        f"allowlist entry {entry!r} is not a domain name or an IP address "
        "(no scheme, path or port; internationalized names in their xn-- form)"
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def url_problem(url: object, allowlist: tuple[str, ...]) -> str | None:
    """Why `url` may not be fetched, or None: http(s), no credentials, host in the allowlist."""
    if not isinstance(url, str) or not 10 <= len(url) <= MAX_URL:
        return f"url must be a string of 10 to {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"url {url!r} is malformed: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"url {url!r} must start with http:// or https://"
    if parts.username is not None or parts.password is not None:
        return f"url {url!r} carries credentials; nodes never send any"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return f"url {url!r} has no host"
    if not host_allowed(host, allowlist):
        shown = ", ".join(allowlist[:5]) + (", ..." if len(allowlist) > 5 else "")
        return f"host {host!r} is not in the campaign's allowlist ({shown})"
    return None


def host_allowed(host: str, allowlist: tuple[str, ...]) -> bool:
    """Whether `host` is an allowlisted IP, domain, or a subdomain of an allowlisted domain."""
    host = host.lower().rstrip(".")
    if _is_ip(host):
        return host in allowlist
    return any(host == d or (not _is_ip(d) and host.endswith("." + d)) for d in allowlist)


@dataclass(frozen=True)
class MeteringRecord:
    """What a node states about one fetch, signed with its key over `canonical()`.

    `bytes` and `sha256` describe the body exactly as sent to the market (cut at the job's
    `max_bytes` when `truncated`); `node` is the node's address, `assignment` the job.
    """

    assignment: str
    url: str
    final_url: str
    status: int
    bytes: int
    sha256: str
    truncated: bool
    content_type: str
    fetched_at: str
    node: str

    def canonical(self) -> builtins.bytes:  # `bytes` is a field here
        """The exact bytes a node signs: the record's canonical JSON."""
        return canonical_json(asdict(self)).encode()

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON values (what the node sends, in the Earnest-Metering header)."""
        return asdict(self)

    @classmethod
    def of(cls, value: Any) -> MeteringRecord:
        """A record from its JSON form; InvalidInput names the first bad field."""
        if not isinstance(value, dict) or set(value) != set(cls.__dataclass_fields__):
            fields = ", ".join(cls.__dataclass_fields__)
            raise InvalidInput(f"a metering record has exactly the fields {fields}")
        for name in ("assignment", "url", "final_url", "sha256", "content_type", "fetched_at"):
            if not isinstance(value[name], str) or len(value[name]) > MAX_URL:
                raise InvalidInput(f"metering record: {name} must be a string")
        for name in ("status", "bytes"):
            if isinstance(value[name], bool) or not isinstance(value[name], int):
                raise InvalidInput(f"metering record: {name} must be an integer")
        if not 100 <= value["status"] <= 599 or not 0 <= value["bytes"] <= MAX_FETCH_BYTES:
            raise InvalidInput("metering record: status or bytes out of range")
        if not isinstance(value["truncated"], bool) or not isinstance(value["node"], str):
            raise InvalidInput("metering record: truncated must be a boolean, node a string")
        if not _SHA256.match(value["sha256"]) or len(value["content_type"]) > MAX_CONTENT_TYPE:
            raise InvalidInput("metering record: sha256 must be 64 hex digits")
        return cls(**value)


def campaign_spec(
    *,
    title: str,
    terms: BandwidthTerms,
    reward: int,
    overlap: int = 3,
    instructions: str = "",
    lease_seconds: int = 120,
    deadline: datetime | None = None,
    min_reputation: float = 0.0,
) -> CampaignSpec:
    """The bandwidth template: URLs as tasks, k = `overlap` nodes each, `reward` the cap.

    `min_reputation` keeps out nodes whose conservative score in the skill "bandwidth"
    (built by agreeing and disagreeing fetches) is lower."""
    return CampaignSpec(
        type=BANDWIDTH,
        title=title,
        instructions=instructions or "Fetch the URL and return its body with a signed record.",
        input_schema=INPUT_SCHEMA,
        output_schema=OUTPUT_SCHEMA,
        reward=reward,
        overlap=overlap,
        gold_share=0.0,
        lease_seconds=lease_seconds,
        deadline=deadline,
        verifier=BANDWIDTH,
        quality=QualityPolicy(min_reputation=min_reputation),
        terms=terms.as_dict(),
    )


def check_spec(spec: CampaignSpec) -> BandwidthTerms:
    """A bandwidth campaign's terms, after checking the campaign is one nodes can work."""
    terms = BandwidthTerms.of(spec.terms)
    if spec.input_schema != INPUT_SCHEMA:
        raise InvalidInput(
            'a bandwidth campaign\'s tasks are {"url": ...}; create it with '
            "POST /v1/bandwidth/campaigns"
        )
    q = spec.quality
    if spec.gold_share or q.review is not ReviewMode.AUTO or q.confidence or q.predictor:
        raise InvalidInput(
            "a bandwidth campaign's nodes are checked by each other: it takes no gold tasks, "
            "review, dynamic overlap or predictor"
        )
    return terms
