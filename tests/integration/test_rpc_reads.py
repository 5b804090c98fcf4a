"""`earnest chain serve`'s history and token reads: blocks, signatures for an address,
jsonParsed transactions, program accounts with filters, and token accounts of both token
programs (frozen, delegated), parsed by solana-py where it parses them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.models import MemcmpOpts, TokenAccountOpts
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account
from spl.memo.constants import MEMO_PROGRAM_ID
from spl.memo.instructions import create_memo
from spl.memo.models import MemoParams
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID
from spl.token.instructions import (
    approve,
    create_idempotent_associated_token_account,
    freeze_account,
    get_associated_token_address,
    initialize_mint2,
    mint_to,
)
from spl.token.models import ApproveParams, FreezeAccountParams, InitializeMint2Params, MintToParams

from earnest.adapters.chain import payout
from tests.rpc_helpers import Node, running_node


@dataclass
class Minted:
    node: Node
    program: Pubkey
    mint: Pubkey
    owner: Keypair
    delegate: Pubkey
    held: Pubkey  # the owner's token account: 700 tokens, 100 delegated
    frozen: Pubkey  # another owner's, frozen
    signature: str  # the transaction that minted, approved, froze and left a memo


def _setup(node: Node, program: Pubkey) -> Minted:
    payer, mint, owner, other = Keypair(), Keypair(), Keypair(), Keypair()
    delegate = Keypair().pubkey()
    node.local.runtime.credit_lamports(payer.pubkey(), 10**10)
    rent = node.local.runtime.rent_exempt_minimum(82)
    create = [
        create_account(
            CreateAccountParams(
                from_pubkey=payer.pubkey(),
                to_pubkey=mint.pubkey(),
                lamports=rent,
                space=82,
                owner=program,
            )
        ),
        initialize_mint2(
            InitializeMint2Params(
                decimals=2,
                program_id=program,
                mint=mint.pubkey(),
                mint_authority=payer.pubkey(),
                freeze_authority=payer.pubkey(),
            )
        ),
    ]
    held = get_associated_token_address(owner.pubkey(), mint.pubkey(), program)
    frozen = get_associated_token_address(other.pubkey(), mint.pubkey(), program)
    blockhash = node.local.runtime.latest_blockhash()
    node.local.runtime.execute(payout.sign(create, [payer, mint], blockhash))
    work = [
        create_idempotent_associated_token_account(
            payer.pubkey(), owner.pubkey(), mint.pubkey(), program
        ),
        create_idempotent_associated_token_account(
            payer.pubkey(), other.pubkey(), mint.pubkey(), program
        ),
        mint_to(
            MintToParams(
                program_id=program,
                mint=mint.pubkey(),
                dest=held,
                mint_authority=payer.pubkey(),
                amount=700,
            )
        ),
        approve(
            ApproveParams(
                program_id=program,
                source=held,
                delegate=delegate,
                owner=owner.pubkey(),
                amount=100,
            )
        ),
        freeze_account(
            FreezeAccountParams(
                program_id=program, account=frozen, mint=mint.pubkey(), authority=payer.pubkey()
            )
        ),
        create_memo(
            MemoParams(program_id=MEMO_PROGRAM_ID, signer=payer.pubkey(), message=b"hello")
        ),
    ]
    signature = node.local.runtime.execute(payout.sign(work, [payer, owner], blockhash))
    return Minted(node, program, mint.pubkey(), owner, delegate, held, frozen, signature)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with running_node(tmp_path_factory.mktemp("reads")) as served:
        yield served


@pytest.fixture(
    scope="module", params=[TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID], ids=["spl", "2022"]
)
def minted(node: Node, request: pytest.FixtureRequest) -> Minted:
    return _setup(node, request.param)


def _call(node: Node, method: str, params: Any) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    answer = httpx.post(node.url, json=body, timeout=10).json()
    assert "error" not in answer, answer
    return answer["result"]


def _ask(node: Node, work: Any) -> Any:
    async def run() -> Any:
        async with AsyncClient(node.url) as rpc:
            return await work(rpc)

    return asyncio.run(run())


def test_parsed_token_accounts_show_state_and_delegation(minted: Minted) -> None:
    node = minted.node
    config = {"encoding": "jsonParsed"}
    held = _call(node, "getAccountInfo", [str(minted.held), config])["value"]["data"]
    frozen = _call(node, "getAccountInfo", [str(minted.frozen), config])["value"]["data"]
    assert held["program"] == (
        "spl-token" if minted.program == TOKEN_PROGRAM_ID else "spl-token-2022"
    )
    info = held["parsed"]["info"]
    assert info["state"] == "initialized" and info["tokenAmount"]["amount"] == "700"
    assert info["delegate"] == str(minted.delegate)
    assert info["delegatedAmount"]["amount"] == "100"
    assert frozen["parsed"]["info"]["state"] == "frozen"
    assert "delegate" not in frozen["parsed"]["info"]


def test_token_accounts_by_owner_and_delegate_for_either_program(minted: Minted) -> None:
    owner = minted.owner.pubkey()

    async def work(rpc: AsyncClient) -> Any:
        by_program = await rpc.get_token_accounts_by_owner_json_parsed(
            owner, TokenAccountOpts(program_id=minted.program)
        )
        by_mint = await rpc.get_token_accounts_by_owner(owner, TokenAccountOpts(mint=minted.mint))
        delegated = await rpc.get_token_accounts_by_delegate_json_parsed(
            minted.delegate, TokenAccountOpts(program_id=minted.program)
        )
        supply = await rpc.get_token_supply(minted.mint)
        largest = await rpc.get_token_largest_accounts(minted.mint)
        return by_program.value, by_mint.value, delegated.value, supply.value, largest.value

    by_program, by_mint, delegated, supply, largest = _ask(minted.node, work)
    assert [a.pubkey for a in by_program] == [minted.held]
    assert [a.pubkey for a in by_mint] == [minted.held]
    assert [a.pubkey for a in delegated] == [minted.held]
    assert (supply.amount, supply.decimals, supply.ui_amount_string) == ("700", 2, "7")
    assert [(a.address, a.amount.amount) for a in largest] == [
        (minted.held, "700"),
        (minted.frozen, "0"),
    ]


def test_program_accounts_filtered_by_size_and_owner_bytes(minted: Minted) -> None:
    # A Token-2022 associated account carries the ImmutableOwner extension: 170 bytes.
    size = 165 if minted.program == TOKEN_PROGRAM_ID else 170

    async def work(rpc: AsyncClient) -> Any:
        found = await rpc.get_program_accounts(
            minted.program,
            encoding="base64",
            filters=[size, MemcmpOpts(offset=32, bytes=str(minted.owner.pubkey()))],
        )
        return found.value

    assert [a.pubkey for a in _ask(minted.node, work)] == [minted.held]
    mints = _call(
        minted.node,
        "getProgramAccounts",
        [str(minted.program), {"filters": [{"dataSize": 82}], "encoding": "base64"}],
    )
    assert str(minted.mint) in {m["pubkey"] for m in mints}


def test_history_by_address_block_and_parsed_transaction(minted: Minted) -> None:
    node = minted.node

    async def work(rpc: AsyncClient) -> Any:
        signatures = (await rpc.get_signatures_for_address(minted.held, limit=10)).value
        tx = (
            await rpc.get_transaction(
                signatures[0].signature, encoding="jsonParsed", max_supported_transaction_version=0
            )
        ).value
        block = (await rpc.get_block(tx.slot, max_supported_transaction_version=0)).value
        block_time = (await rpc.get_block_time(tx.slot)).value
        return signatures, tx, block, block_time

    signatures, tx, block, block_time = _ask(node, work)
    assert [str(s.signature) for s in signatures] == [minted.signature] + [
        str(s.signature) for s in signatures[1:]
    ]
    assert signatures[0].memo == "[5] hello" and signatures[0].err is None
    assert abs(block_time - time.time()) < 60 and signatures[0].block_time == block_time
    assert [str(t.transaction.signatures[0]) for t in block.transactions] == [minted.signature]
    parsed = _call(node, "getTransaction", [minted.signature, {"encoding": "jsonParsed"}])
    instructions = parsed["transaction"]["message"]["instructions"]
    kinds = [
        ix["parsed"] if isinstance(ix.get("parsed"), str) else ix.get("parsed", {}).get("type")
        for ix in instructions
    ]
    assert kinds == [
        "createIdempotent",
        "createIdempotent",
        "mintTo",
        "approve",
        "freezeAccount",
        "hello",
    ]
    assert instructions[2]["parsed"]["info"]["amount"] == "700"
    assert instructions[-1] == {
        "program": "spl-memo",
        "programId": str(MEMO_PROGRAM_ID),
        "parsed": "hello",
        "stackHeight": None,
    }
    keys = parsed["transaction"]["message"]["accountKeys"]
    assert keys[0]["signer"] and keys[0]["writable"] and keys[0]["source"] == "transaction"
    assert tx.transaction.meta.err is None
    older = _call(node, "getSignaturesForAddress", [str(minted.held), {"before": minted.signature}])
    assert minted.signature not in {s["signature"] for s in older}
