"""What makes two uploaded tasks the same task: the requester's id, or else the data.

A task's key is a sha256 hex digest: of its external id when the requester gave one (the
same id is the same task, whatever else the row says), otherwise of its data's canonical
JSON (the same data is the same task). A campaign holds one task per key, so uploading a
file again adds nothing and pays for nothing twice (services/uploads.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

from earnest.domain.verification import canonical_json


def task_key(external_id: str | None, data: Any, *, text: str | None = None) -> str:
    """The key a campaign holds one task of (`text`: the data's canonical JSON, if known)."""
    if external_id is None:
        canonical = canonical_json(data) if text is None else text
        return hashlib.sha256(b"data:" + canonical.encode()).hexdigest()
    return hashlib.sha256(b"id:" + external_id.encode()).hexdigest()


def content_digest(data: Any, gold: Any, *, text: str | None = None) -> str:
    """Whether two rows of one key say the same thing: the digest of their data and gold.
    Rows of one key that differ are refused, not merged: which one did the requester mean?"""
    canonical = canonical_json(data) if text is None else text
    return hashlib.sha256(f"{canonical}\n{canonical_json(gold)}".encode()).hexdigest()
