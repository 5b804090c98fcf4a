"""Transactions in Solana's `jsonParsed` encoding: account keys with their roles, and the
instructions of the programs a payout and a wallet use (System, SPL Token and Token-2022,
Associated Token Account, Memo) parsed; any other instruction partially decoded, as Solana
shows an instruction it cannot parse (program id, account addresses, base58 data)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.transaction import VersionedTransaction
from spl.token.constants import ASSOCIATED_TOKEN_PROGRAM_ID

from earnest.adapters.chain import base58, history

Json = dict[str, Any]
_MEMO_PROGRAMS = {
    "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr",
    "Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo",
}
_TOKEN_PROGRAMS = {str(p) for p in history.TOKEN_PROGRAMS}


def account_keys(tx: VersionedTransaction, meta: Json) -> list[Json]:
    """Every key the transaction loads, with signer, writable and source (its message or a
    lookup table), as `jsonParsed` lists them."""
    message = tx.message
    header = message.header
    static = list(message.account_keys)
    signed = header.num_required_signatures
    writable_signed = signed - header.num_readonly_signed_accounts
    writable_unsigned = len(static) - header.num_readonly_unsigned_accounts
    keys = []
    for index, key in enumerate(static):
        writable = index < writable_signed if index < signed else index < writable_unsigned
        keys.append(
            {
                "pubkey": str(key),
                "signer": index < signed,
                "writable": writable,
                "source": "transaction",
            }
        )
    loaded = meta.get("loadedAddresses") or {}
    for kind, writable in (("writable", True), ("readonly", False)):
        for key in loaded.get(kind, []):
            keys.append(
                {"pubkey": key, "signer": False, "writable": writable, "source": "lookupTable"}
            )
    return keys


def transaction(tx: VersionedTransaction, meta: Json) -> Json:
    """The `transaction` of a jsonParsed `getTransaction`; also parses `meta`'s inner
    instructions in place."""
    message = tx.message
    keys = account_keys(tx, meta)
    names = [key["pubkey"] for key in keys]
    body: Json = {
        "accountKeys": keys,
        "recentBlockhash": str(message.recent_blockhash),
        "instructions": [
            instruction(names, ix.program_id_index, list(bytes(ix.accounts)), bytes(ix.data), None)
            for ix in message.instructions
        ],
    }
    lookups = table_lookups(message)
    if lookups is not None:
        body["addressTableLookups"] = lookups
    for group in meta.get("innerInstructions") or []:
        group["instructions"] = [
            instruction(
                names,
                inner["programIdIndex"],
                inner["accounts"],
                base58.decode(inner["data"]),
                inner.get("stackHeight"),
            )
            for inner in group["instructions"]
        ]
    return {"signatures": [str(s) for s in tx.signatures], "message": body}


def table_lookups(message: Any) -> list[Json] | None:
    """A v0 message's `addressTableLookups`; None for a legacy message."""
    lookups = getattr(message, "address_table_lookups", None)
    if lookups is None:
        return None
    return [
        {
            "accountKey": str(lookup.account_key),
            "writableIndexes": list(bytes(lookup.writable_indexes)),
            "readonlyIndexes": list(bytes(lookup.readonly_indexes)),
        }
        for lookup in lookups
    ]


def instruction(
    names: list[str], program_index: int, accounts: list[int], data: bytes, stack: Any
) -> Json:
    """One instruction, parsed if its program is known here, else partially decoded."""
    program = names[program_index]
    addresses = [names[i] for i in accounts]
    parsed: Any = None
    name = ""
    try:
        if program in _MEMO_PROGRAMS:
            name, parsed = "spl-memo", data.decode("utf-8")
        elif program == str(SYSTEM_PROGRAM_ID):
            name, parsed = "system", _system(addresses, data)
        elif program in _TOKEN_PROGRAMS:
            token = "spl-token" if program == str(history.TOKEN_PROGRAMS[0]) else "spl-token-2022"
            name, parsed = token, _token(addresses, data)
        elif program == str(ASSOCIATED_TOKEN_PROGRAM_ID):
            name, parsed = "spl-associated-token-account", _ata(addresses, data)
    except (IndexError, UnicodeDecodeError, ValueError):
        parsed = None
    if parsed is None:
        return {
            "programId": program,
            "accounts": addresses,
            "data": base58.encode(data),
            "stackHeight": stack,
        }
    return {"program": name, "programId": program, "parsed": parsed, "stackHeight": stack}


def _u64(data: bytes, at: int) -> int:
    if len(data) < at + 8:
        raise ValueError("short instruction data")
    return int.from_bytes(data[at : at + 8], "little")


def _kind(kind: str, info: Json) -> Json:
    return {"type": kind, "info": info}


def _system(accounts: list[str], data: bytes) -> Json | None:
    tag = int.from_bytes(data[:4], "little") if len(data) >= 4 else -1
    if tag == 2:
        info = {"source": accounts[0], "destination": accounts[1], "lamports": _u64(data, 4)}
        return _kind("transfer", info)
    if tag == 0:
        owner = str(Pubkey.from_bytes(data[20:52]))
        info = {
            "source": accounts[0],
            "newAccount": accounts[1],
            "lamports": _u64(data, 4),
            "space": _u64(data, 12),
            "owner": owner,
        }
        return _kind("createAccount", info)
    return None


def _token(accounts: list[str], data: bytes) -> Json | None:
    tag = data[0]
    parsers: dict[int, Callable[[], Json]] = {
        3: lambda: _kind(
            "transfer",
            {
                "source": accounts[0],
                "destination": accounts[1],
                "authority": accounts[2],
                "amount": str(_u64(data, 1)),
            },
        ),
        12: lambda: _kind(
            "transferChecked",
            {
                "source": accounts[0],
                "mint": accounts[1],
                "destination": accounts[2],
                "authority": accounts[3],
                "tokenAmount": history.ui_token_amount(_u64(data, 1), data[9]),
            },
        ),
        7: lambda: _kind(
            "mintTo",
            {
                "mint": accounts[0],
                "account": accounts[1],
                "mintAuthority": accounts[2],
                "amount": str(_u64(data, 1)),
            },
        ),
        4: lambda: _kind(
            "approve",
            {
                "source": accounts[0],
                "delegate": accounts[1],
                "owner": accounts[2],
                "amount": str(_u64(data, 1)),
            },
        ),
        10: lambda: _kind(
            "freezeAccount",
            {"account": accounts[0], "mint": accounts[1], "freezeAuthority": accounts[2]},
        ),
        20: lambda: _kind("initializeMint2", _mint_info(accounts, data)),
        0: lambda: _kind(
            "initializeMint", {**_mint_info(accounts, data), "rentSysvar": accounts[1]}
        ),
        18: lambda: _kind(
            "initializeAccount3",
            {
                "account": accounts[0],
                "mint": accounts[1],
                "owner": str(Pubkey.from_bytes(data[1:33])),
            },
        ),
    }
    multisig = {3: 3, 12: 4, 7: 3, 4: 3, 10: 3}
    if tag in multisig and len(accounts) > multisig[tag]:
        return None  # a multisig authority: left partially decoded
    found = parsers.get(tag)
    return None if found is None else found()


def _mint_info(accounts: list[str], data: bytes) -> Json:
    info: Json = {
        "mint": accounts[0],
        "decimals": data[1],
        "mintAuthority": str(Pubkey.from_bytes(data[2:34])),
    }
    if len(data) >= 67 and data[34] == 1:
        info["freezeAuthority"] = str(Pubkey.from_bytes(data[35:67]))
    return info


def _ata(accounts: list[str], data: bytes) -> Json | None:
    kinds = {b"": "create", b"\x00": "create", b"\x01": "createIdempotent"}
    kind = kinds.get(data)
    if kind is None:
        return None
    names = ("source", "account", "wallet", "mint", "systemProgram", "tokenProgram")
    return _kind(kind, dict(zip(names, accounts, strict=False)))
