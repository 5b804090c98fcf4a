"""The account filters of `getProgramAccounts` and `programSubscribe`: dataSize and memcmp."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from solders.account import Account

from earnest.adapters.chain import base58, history
from earnest.adapters.chain.rpc_server import invalid

MAX_FILTERS = 4  # Solana's MAX_GET_PROGRAM_ACCOUNT_FILTERS
_MAX_MEMCMP_BYTES = 128  # MEMCMP_MAX_ENCODED_BYTES decoded

Filter = Callable[[Account], bool]


def parse(raw: Any) -> list[Filter]:
    """The filters of a config's `filters` (absent: none), checked as Solana checks them."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid("Invalid params: invalid type: map, expected a sequence.")
    if len(raw) > MAX_FILTERS:
        raise invalid(f"Too many filters provided; max {MAX_FILTERS}")
    return [_one(item) for item in raw]


def matches(filters: list[Filter], account: Account) -> bool:
    """Whether `account` passes every filter."""
    return all(keep(account) for keep in filters)


def _one(item: Any) -> Filter:
    if not isinstance(item, dict) or len(item) != 1:
        raise invalid("Invalid params: expected one of `dataSize`, `memcmp`, `tokenAccountState`.")
    if "dataSize" in item:
        size = item["dataSize"]
        if type(size) is not int or size < 0:
            raise invalid("Invalid params: invalid type: expected u64 dataSize.")
        return lambda account: len(account.data) == size
    if "memcmp" in item:
        return _memcmp(item["memcmp"])
    if "tokenAccountState" in item:
        return lambda account: history.token_account(account) is not None
    raise invalid("Invalid params: expected one of `dataSize`, `memcmp`, `tokenAccountState`.")


def _memcmp(spec: Any) -> Filter:
    if not isinstance(spec, dict) or type(spec.get("offset")) is not int or spec["offset"] < 0:
        raise invalid("Invalid params: memcmp needs a non-negative offset and bytes.")
    text, encoding = spec.get("bytes"), spec.get("encoding") or "base58"
    if not isinstance(text, str):
        raise invalid("Invalid params: memcmp needs a non-negative offset and bytes.")
    try:
        if encoding == "base58":
            wanted = base58.decode(text)
        elif encoding == "base64":
            wanted = base64.b64decode(text, validate=True)
        else:
            raise invalid(f"Invalid params: unknown memcmp encoding `{encoding}`.")
    except (ValueError, binascii.Error) as exc:
        raise invalid(f"Invalid param: invalid {encoding} memcmp bytes") from exc
    if len(wanted) > _MAX_MEMCMP_BYTES:
        raise invalid("Invalid param: memcmp bytes too long")
    offset = spec["offset"]
    return lambda account: bytes(account.data[offset : offset + len(wanted)]) == wanted
