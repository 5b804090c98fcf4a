"""What a landed transaction did, kept in the shape of Solana's `getTransaction` meta.

LiteSVM reports fee, logs, compute units and the error of a transaction, but not the
balances around it; `Runtime` snapshots the accounts before and after, and this module
turns both into the JSON object an RPC node returns as `meta`, stored with the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey
from solders.token.state import Mint, TokenAccount
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

from earnest.adapters.chain import base58

TOKEN_ACCOUNT_SIZE = 165  # bytes of an SPL Token account without extensions
MINT_SIZE = 82  # bytes of a mint without extensions
TOKEN_PROGRAMS = (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID)
_ACCOUNT_TYPE_MINT, _ACCOUNT_TYPE_ACCOUNT = 1, 2  # Token-2022's byte after the base layout
Json = dict[str, Any]


def error_json(result: FailedTransactionMetadata) -> Any:
    """The transaction error as Solana's JSON writes it, e.g. {"InstructionError": [0, ...]}."""
    return json.loads(result.to_json())["err"]


def ui_token_amount(amount: int, decimals: int) -> Json:
    """Solana's `uiTokenAmount`: the integer amount as a string, and its decimal forms."""
    text = format(Decimal(amount).scaleb(-decimals), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    # uiAmount is a float only because Solana's wire format has one; Earnest never reads it.
    return {
        "amount": str(amount),
        "decimals": decimals,
        "uiAmount": float(text),
        "uiAmountString": text,
    }


def token_account(account: Account | None) -> TokenAccount | None:
    """The token account (SPL Token or Token-2022) held in `account`, or None if it is not one.

    A Token-2022 account with extensions starts with the classic 165 bytes, then an account
    type byte (2) and the extensions; only the classic part is read here.
    """
    data = _base_layout(account, TOKEN_ACCOUNT_SIZE, _ACCOUNT_TYPE_ACCOUNT)
    try:
        return None if data is None else TokenAccount.from_bytes(data)
    except ValueError:
        return None


def mint_state(account: Account | None) -> Mint | None:
    """The mint (SPL Token or Token-2022, extensions aside) held in `account`, or None."""
    data = _base_layout(account, MINT_SIZE, _ACCOUNT_TYPE_MINT)
    try:
        mint = None if data is None else Mint.from_bytes(data)
    except ValueError:
        return None
    return mint if mint is not None and mint.is_initialized else None


def _base_layout(account: Account | None, size: int, account_type: int) -> bytes | None:
    """The classic bytes of a token program's account of `size`, or of a Token-2022 one
    with extensions whose type byte (after the first 165 bytes) is `account_type`."""
    if account is None or account.owner not in TOKEN_PROGRAMS:
        return None
    data = bytes(account.data)
    if len(data) == size:
        return data
    extended = account.owner == TOKEN_2022_PROGRAM_ID and len(data) > TOKEN_ACCOUNT_SIZE
    return data[:size] if extended and data[TOKEN_ACCOUNT_SIZE] == account_type else None


def token_balances(
    accounts: Sequence[Account | None], decimals_of: Callable[[Pubkey], int | None]
) -> list[Json]:
    """`preTokenBalances`/`postTokenBalances`: one entry per token account of the message."""
    found = []
    for index, account in enumerate(accounts):
        parsed = token_account(account)
        decimals = None if parsed is None else decimals_of(parsed.mint)
        if parsed is None or decimals is None:
            continue
        found.append(
            {
                "accountIndex": index,
                "mint": str(parsed.mint),
                "owner": str(parsed.owner),
                "programId": str(account.owner) if account else str(TOKEN_PROGRAM_ID),
                "uiTokenAmount": ui_token_amount(parsed.amount, decimals),
            }
        )
    return found


def status_meta(
    result: TransactionMetadata | FailedTransactionMetadata,
    before: Sequence[Account | None],
    after: Sequence[Account | None],
    decimals_of: Callable[[Pubkey], int | None],
    loaded: Sequence[Sequence[Pubkey]] = ((), ()),
) -> Json:
    """The `meta` object of `getTransaction` for a transaction that landed.

    `before` and `after` cover the static keys, then the (writable, readonly) accounts
    `loaded` from lookup tables, in the order Solana indexes them.
    """
    if isinstance(result, FailedTransactionMetadata):
        meta, err = result.meta(), error_json(result)
        status: Json = {"Err": err}
    else:
        meta, err, status = result, None, {"Ok": None}
    return {
        "err": err,
        "status": status,
        "fee": meta.fee(),
        "preBalances": [a.lamports if a else 0 for a in before],
        "postBalances": [a.lamports if a else 0 for a in after],
        "innerInstructions": _inner(meta),
        "logMessages": list(meta.logs()),
        "preTokenBalances": token_balances(before, decimals_of),
        "postTokenBalances": token_balances(after, decimals_of),
        "rewards": [],
        "loadedAddresses": {
            "writable": [str(k) for k in loaded[0]],
            "readonly": [str(k) for k in loaded[1]],
        },
        "computeUnitsConsumed": meta.compute_units_consumed(),
    }


def _inner(meta: TransactionMetadata) -> list[Json]:
    groups = []
    for index, group in enumerate(meta.inner_instructions()):
        if not group:
            continue
        compiled = [(inner.instruction(), inner.stack_height()) for inner in group]
        instructions = [
            {
                "programIdIndex": ix.program_id_index,
                "accounts": list(bytes(ix.accounts)),
                "data": base58.encode(bytes(ix.data)),
                "stackHeight": height,
            }
            for ix, height in compiled
        ]
        groups.append({"index": index, "instructions": instructions})
    return groups
