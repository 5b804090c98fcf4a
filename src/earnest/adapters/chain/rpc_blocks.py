"""Block and history reads of `earnest chain serve`: getBlock, getBlocks, getBlockTime and
getSignaturesForAddress, from the blocks and the address index the state file keeps.

Every block is kept from the slot the state file first recorded blocks at; with the slot
clock a block is a slot (empty ones too), without it each transaction is a block.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from earnest.adapters.chain import rpc_encode
from earnest.adapters.chain.rpc_server import Handler, Params, RpcError, invalid
from earnest.adapters.chain.rpc_tokens import address
from earnest.adapters.chain.runtime import Runtime
from earnest.adapters.chain.state import ChainState, StoredTransaction

Json = dict[str, Any]
Context = Callable[[Json, Any], Json]
BLOCK_NOT_AVAILABLE = -32004
SLOT_SKIPPED = -32009
_MAX_SLOT_RANGE = 500_000  # getBlocks, getBlocksWithLimit
_MAX_SIGNATURES = 1000  # getSignaturesForAddress
_MEMO_PROGRAMS = {
    Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"),
    Pubkey.from_string("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo"),
}
_DETAILS = ("full", "accounts", "signatures", "none")


class BlockMethods:
    """Blocks and signature history over one runtime's state file."""

    def __init__(self, runtime: Runtime, context: Context, identity: str) -> None:
        self._runtime = runtime
        self._context = context
        self._identity = identity  # the node's, which leads every slot

    def handlers(self) -> dict[str, Handler]:
        return {
            "getBlock": self.get_block,
            "getBlockTime": self.get_block_time,
            "getBlocks": self.get_blocks,
            "getBlocksWithLimit": self.get_blocks_with_limit,
            "getFirstAvailableBlock": lambda params: self._first(),
            "minimumLedgerSlot": lambda params: self._first(),
            "getBlockCommitment": lambda params: {"commitment": None, "totalStake": 0},
            "getBlockProduction": self.get_block_production,
            "getSignaturesForAddress": self.get_signatures_for_address,
        }

    def _first(self) -> int:
        first = self._runtime.read(ChainState.first_block)
        return self._runtime.height if first is None else first

    def _kept(self, slot: int) -> Any:
        if slot > self._runtime.height:
            raise RpcError(BLOCK_NOT_AVAILABLE, f"Block not available for slot {slot}")
        block = self._runtime.read(lambda state: state.block(slot))
        if block is None:
            raise RpcError(
                SLOT_SKIPPED, f"Slot {slot} was skipped, or missing in long-term storage"
            )
        return block

    def get_block(self, params: Params) -> Json:
        """A block with its transactions in full, their signatures, their accounts, or none."""
        slot, config = params.integer(0), params.config(1)
        if config.get("commitment") == "processed":
            raise invalid("Method does not support commitment below `confirmed`")
        details = config.get("transactionDetails") or "full"
        if details not in _DETAILS:
            raise invalid(
                f"Invalid params: unknown variant `{details}`, expected one of `full`, "
                "`accounts`, `signatures`, `none`."
            )
        block = self._kept(slot)
        found = self._runtime.read(lambda state: state.transactions_in(slot))
        value: Json = {
            "blockHeight": block.slot,
            "blockTime": block.block_time,
            "blockhash": block.blockhash,
            "parentSlot": max(block.slot - 1, 0),
            "previousBlockhash": block.previous_blockhash,
        }
        if details == "signatures":
            value["signatures"] = [stored.signature for stored in found]
        elif details != "none":
            value["transactions"] = [_in_block(stored, config, details) for stored in found]
        if config.get("rewards", True):
            value["rewards"] = []
        return value

    def get_block_time(self, params: Params) -> int:
        block = self._kept(params.integer(0))
        return int(block.block_time)

    def get_blocks(self, params: Params) -> list[int]:
        start = params.integer(0)
        given = params.optional(1)  # an end slot, or the config in its place
        end = (
            self._runtime.height if given is None or isinstance(given, dict) else params.integer(1)
        )
        if end - start > _MAX_SLOT_RANGE:
            raise invalid(f"Slot range too large; max {_MAX_SLOT_RANGE}")
        return self._runtime.read(lambda state: state.block_slots(start, end, _MAX_SLOT_RANGE))

    def get_blocks_with_limit(self, params: Params) -> list[int]:
        start, limit = params.integer(0), params.integer(1)
        if limit > _MAX_SLOT_RANGE:
            raise invalid(f"Limit too large; max {_MAX_SLOT_RANGE}")
        end = self._runtime.height
        return self._runtime.read(lambda state: state.block_slots(start, end, limit))

    def get_block_production(self, params: Params) -> Json:
        """Every kept block was made by this node (`range` defaults to all of them)."""
        config = params.config(0)
        wanted = config.get("range") or {}
        first = wanted.get("firstSlot", self._first())
        last = wanted.get("lastSlot", self._runtime.height)
        if type(first) is not int or type(last) is not int or last < first:
            raise invalid("Invalid params: lastSlot must be greater than or equal to firstSlot")
        made = len(self._runtime.read(lambda state: state.block_slots(first, last, 1 << 62)))
        value = {
            "byIdentity": {self._identity: [last - first + 1, made]},
            "range": {"firstSlot": first, "lastSlot": last},
        }
        return self._context(config, value)

    def get_signatures_for_address(self, params: Params) -> list[Json]:
        """The transactions that referenced an address, newest first (`before`, `until`,
        `limit` up to 1,000), with their error, memo and block time."""
        key, config = address(params.string(0)), params.config(1)
        limit = config.get("limit", _MAX_SIGNATURES)
        if limit is None:
            limit = _MAX_SIGNATURES
        if type(limit) is not int or not 1 <= limit <= _MAX_SIGNATURES:
            raise invalid(f"Invalid limit; max {_MAX_SIGNATURES}")
        before, until = (_signature(config.get(k)) for k in ("before", "until"))
        found = self._runtime.read(
            lambda state: state.signatures_for(str(key), limit, before, until)
        )
        return [_signature_info(stored) for stored in found]


def _signature(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return str(Signature.from_string(value))
    except (ValueError, TypeError) as exc:
        raise invalid("Invalid param: Invalid") from exc


def _in_block(stored: StoredTransaction, config: Json, details: str) -> Json:
    found = rpc_encode.transaction(stored, config)
    entry = {k: v for k, v in found.items() if k not in ("slot", "blockTime")}
    if details == "accounts":
        tx = VersionedTransaction.from_bytes(stored.raw)
        entry["transaction"] = {
            "signatures": [str(s) for s in tx.signatures],
            "accountKeys": rpc_encode.parsed_account_keys(tx, found["meta"]),
        }
        meta = entry["meta"]
        entry["meta"] = {k: meta[k] for k in meta if k not in ("innerInstructions", "logMessages")}
    return entry


def _signature_info(stored: StoredTransaction) -> Json:
    err = json.loads(stored.details).get("err") if stored.details else None
    if not stored.ok and err is None:
        err = rpc_encode.UNKNOWN_FAILURE
    return {
        "signature": stored.signature,
        "slot": stored.slot,
        "err": err,
        "memo": _memo(stored),
        "blockTime": stored.block_time,
        "confirmationStatus": "finalized",
    }


def _memo(stored: StoredTransaction) -> str | None:
    """Solana's memo column: each memo instruction's text as "[length] text", joined."""
    message = VersionedTransaction.from_bytes(stored.raw).message
    keys = list(message.account_keys)
    memos = []
    for ix in message.instructions:
        if ix.program_id_index < len(keys) and keys[ix.program_id_index] in _MEMO_PROGRAMS:
            text = bytes(ix.data).decode("utf-8", errors="replace")
            memos.append(f"[{len(text)}] {text}")
    return "; ".join(memos) or None
