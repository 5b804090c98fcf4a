"""Accounts, transactions and statuses in the JSON shapes of Solana's RPC."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey
from solders.token.state import TokenAccount
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata, SimulatedTransactionInfo
from spl.token.constants import TOKEN_PROGRAM_ID

from earnest.adapters.chain import base58, history, rpc_parsed
from earnest.adapters.chain.rpc_server import UNSUPPORTED_TX_VERSION, RpcError, invalid
from earnest.adapters.chain.state import StoredTransaction
from earnest.services.chain_port import MAX_TRANSACTION_BYTES

Json = dict[str, Any]
# Solana refuses base58 for account data over 128 bytes: the encoding is quadratic.
_MAX_BASE58_BYTES = 128
# How long a signature stays in a node's status cache (MAX_RECENT_BLOCKHASHES slots).
STATUS_CACHE_BLOCKS = 300
# Encoded-size limits Solana checks before decoding (MAX_BASE58_SIZE, MAX_BASE64_SIZE).
_MAX_ENCODED = {"base58": 1683, "base64": 1644}
_STATES = {0: "uninitialized", 1: "initialized", 2: "frozen"}  # spl-token's AccountState
# A failure recorded before transactions kept their details: the instruction is unknown.
UNKNOWN_FAILURE = {"InstructionError": [0, "GenericError"]}


DecimalsOf = Callable[[Pubkey], int | None]


def account(acc: Account, config: Json, decimals_of: DecimalsOf) -> Json:
    """An account as `getAccountInfo` returns it, in the requested encoding."""
    encoding = config.get("encoding") or "binary"
    data = bytes(acc.data)
    encoded: Any
    if encoding == "jsonParsed":
        encoded = _parsed(acc, decimals_of) or [base64.b64encode(data).decode(), "base64"]
    else:
        data = _slice(data, config.get("dataSlice"))
        encoded = _binary(data, encoding)
    return {
        "lamports": acc.lamports,
        "data": encoded,
        "owner": str(acc.owner),
        "executable": acc.executable,
        "rentEpoch": acc.rent_epoch,
        "space": len(acc.data),
    }


def check_encoding(config: Json) -> None:
    """Refuse an account encoding Solana does not know, before anything is encoded."""
    encoding = config.get("encoding") or "binary"
    if encoding != "jsonParsed":
        _binary(b"", encoding)


def _slice(data: bytes, spec: Any) -> bytes:
    if spec is None:
        return data
    if not isinstance(spec, dict) or not all(
        type(spec.get(k)) is int and spec[k] >= 0 for k in ("offset", "length")
    ):
        raise invalid("Invalid params: dataSlice needs non-negative integers offset and length.")
    return data[spec["offset"] : spec["offset"] + spec["length"]]


def _binary(data: bytes, encoding: str) -> Any:
    if encoding == "base64":
        return [base64.b64encode(data).decode(), "base64"]
    if encoding in ("base58", "binary"):
        if len(data) > _MAX_BASE58_BYTES:
            raise invalid(
                "Encoded binary (base 58) data should be less than 128 bytes, "
                "please use Base64 encoding."
            )
        text = base58.encode(data)
        return text if encoding == "binary" else [text, "base58"]
    if encoding == "base64+zstd":
        raise invalid("Invalid params: base64+zstd is not supported by this endpoint.")
    raise invalid(
        f"Invalid params: unknown variant `{encoding}`, expected one of `binary`, `base58`, "
        "`base64`, `jsonParsed`, `base64+zstd`."
    )


def _parsed(acc: Account, decimals_of: DecimalsOf) -> Json | None:
    """Token accounts and mints of both token programs as `jsonParsed` shows them (their
    Token-2022 extensions left out); None for anything else."""
    token = history.token_account(acc)
    if token is not None:
        decimals = decimals_of(token.mint)
        if decimals is None:
            return None
        return _spl(acc, token_account_info(token, decimals), "account")
    mint = history.mint_state(acc)
    if mint is None:
        return None
    info = {
        "decimals": mint.decimals,
        "freezeAuthority": str(mint.freeze_authority) if mint.freeze_authority else None,
        "isInitialized": mint.is_initialized,
        "mintAuthority": str(mint.mint_authority) if mint.mint_authority else None,
        "supply": str(mint.supply),
    }
    return _spl(acc, info, "mint")


def token_account_info(token: TokenAccount, decimals: int) -> Json:
    """The `info` of a parsed token account: state, delegation, native reserve, closer."""
    info: Json = {
        "isNative": token.is_native is not None,
        "mint": str(token.mint),
        "owner": str(token.owner),
        "state": _STATES.get(int(token.state), "uninitialized"),
        "tokenAmount": history.ui_token_amount(token.amount, decimals),
    }
    if token.delegate is not None:
        info["delegate"] = str(token.delegate)
        info["delegatedAmount"] = history.ui_token_amount(token.delegated_amount, decimals)
    if token.is_native is not None:
        info["rentExemptReserve"] = history.ui_token_amount(token.is_native, decimals)
    if token.close_authority is not None:
        info["closeAuthority"] = str(token.close_authority)
    return info


def _spl(acc: Account, info: Json, kind: str) -> Json:
    program = "spl-token" if acc.owner == TOKEN_PROGRAM_ID else "spl-token-2022"
    parsed = {"info": info, "type": kind}
    return {"program": program, "parsed": parsed, "space": len(acc.data)}


def _details(stored: StoredTransaction) -> Json:
    if stored.details:
        details: Json = json.loads(stored.details)
        return details
    err = None if stored.ok else UNKNOWN_FAILURE
    return {"err": err, "status": {"Ok": None} if stored.ok else {"Err": err}}


def status(stored: StoredTransaction, height: int, search_history: bool) -> Json | None:
    """A `getSignatureStatuses` entry; None past the status cache unless history is searched."""
    if not search_history and height - stored.slot > STATUS_CACHE_BLOCKS:
        return None
    details = _details(stored)
    # Every landed transaction is final at once here: a single node has no forks.
    return {
        "slot": stored.slot,
        "confirmations": None,
        "err": details["err"],
        "status": details["status"],
        "confirmationStatus": "finalized",
    }


def transaction(stored: StoredTransaction, config: Json) -> Json:
    """A `getTransaction` result in the json, base64 or base58 encoding."""
    tx = VersionedTransaction.from_bytes(stored.raw)
    version = tx.version()
    legacy = not isinstance(version, int)
    supported = config.get("maxSupportedTransactionVersion")
    if not legacy and (supported is None or supported < version):
        raise RpcError(
            UNSUPPORTED_TX_VERSION,
            f"Transaction version ({version}) is not supported by the requesting client. "
            "Please try the request again with the following configuration parameter: "
            '"maxSupportedTransactionVersion": 0',
        )
    encoding = config.get("encoding") or "json"
    meta = _details(stored)
    if encoding == "json":
        encoded: Any = _transaction_json(tx)
    elif encoding == "jsonParsed":
        encoded = rpc_parsed.transaction(tx, meta)
    elif encoding in ("base64", "base58"):
        encoded = [
            base64.b64encode(stored.raw).decode()
            if encoding == "base64"
            else base58.encode(stored.raw),
            encoding,
        ]
    else:
        raise invalid(
            f"Invalid params: encoding `{encoding}` is not supported by this endpoint; "
            "use json, jsonParsed, base64 or base58."
        )
    result: Json = {
        "slot": stored.slot,
        "blockTime": stored.block_time,
        "transaction": encoded,
        "meta": meta,
    }
    if supported is not None:
        result["version"] = "legacy" if legacy else version
    return result


def parsed_account_keys(tx: VersionedTransaction, meta: Json) -> list[Json]:
    """The account keys with their roles, as jsonParsed and `accounts` details show them."""
    return rpc_parsed.account_keys(tx, meta)


def _transaction_json(tx: VersionedTransaction) -> Json:
    message = tx.message
    header = message.header
    body: Json = {
        "accountKeys": [str(k) for k in message.account_keys],
        "header": {
            "numRequiredSignatures": header.num_required_signatures,
            "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
            "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
        },
        "recentBlockhash": str(message.recent_blockhash),
        "instructions": [
            {
                "programIdIndex": ix.program_id_index,
                "accounts": list(bytes(ix.accounts)),
                "data": base58.encode(bytes(ix.data)),
                "stackHeight": None,
            }
            for ix in message.instructions
        ],
    }
    lookups = rpc_parsed.table_lookups(message)
    if lookups is not None:
        body["addressTableLookups"] = lookups
    return {"signatures": [str(s) for s in tx.signatures], "message": body}


def describe(err: Any) -> str:
    """A transaction error in the words Solana's preflight message uses."""
    if err == "BlockhashNotFound":
        return "Blockhash not found"
    if err == "AlreadyProcessed":
        return "This transaction has already been processed"
    if isinstance(err, dict) and "InstructionError" in err:
        index, inner = err["InstructionError"]
        if isinstance(inner, dict) and "Custom" in inner:
            return (
                f"Error processing Instruction {index}: custom program error: {inner['Custom']:#x}"
            )
        return f"Error processing Instruction {index}: {json.dumps(inner)}"
    return json.dumps(err) if not isinstance(err, str) else err


def decode_transaction(text: str, config: Json) -> VersionedTransaction:
    """A transaction parameter (base58 by default, or base64), with Solana's size checks."""
    encoding = config.get("encoding") or "base58"
    if encoding not in _MAX_ENCODED:
        raise invalid(
            f"Invalid params: unknown variant `{encoding}`, expected `base58` or `base64`."
        )
    if len(text) > _MAX_ENCODED[encoding]:
        raise invalid(
            f"{encoding} encoded solana_sdk::transaction::versioned::VersionedTransaction too "
            f"large: {len(text)} bytes (max: encoded/raw {_MAX_ENCODED[encoding]}/"
            f"{MAX_TRANSACTION_BYTES})"
        )
    try:
        raw = base58.decode(text) if encoding == "base58" else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise invalid(f"invalid {encoding} encoding: {exc}") from exc
    if len(raw) > MAX_TRANSACTION_BYTES:
        raise invalid(
            "decoded solana_sdk::transaction::versioned::VersionedTransaction too large: "
            f"{len(raw)} bytes (max: {MAX_TRANSACTION_BYTES} bytes)"
        )
    try:
        return VersionedTransaction.from_bytes(raw)
    except ValueError as exc:
        raise invalid(
            f"failed to deserialize solana_sdk::transaction::versioned::VersionedTransaction: {exc}"
        ) from exc


def simulation(result: SimulatedTransactionInfo | FailedTransactionMetadata) -> Json:
    """A `simulateTransaction` value (also the data of a failed preflight)."""
    meta = result.meta()
    return {
        "err": history.error_json(result)
        if isinstance(result, FailedTransactionMetadata)
        else None,
        "logs": list(meta.logs()),
        "accounts": None,
        "unitsConsumed": meta.compute_units_consumed(),
        "returnData": None,
        "innerInstructions": None,
        "replacementBlockhash": None,
        "fee": meta.fee(),
    }
