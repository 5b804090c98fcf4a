"""`earnest chain serve`'s JSON-RPC, method by method, with solana-py's client as the consumer.

solana-py parses every answer with solders' own response types (the Rust RPC types), so an
answer it accepts has Solana's shape; error codes and messages are checked on the raw JSON.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.core import RPCException
from solana.rpc.models import TokenAccountOpts, TxOpts
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.rpc.errors import SendTransactionPreflightFailureMessage
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_PROGRAM_ID

from earnest.adapters.chain import Wallet, base58
from tests.rpc_helpers import Node, running_node

T = TypeVar("T")
LAMPORTS = 10**9


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    with running_node(tmp_path) as served:
        yield served


def client(node: Node, work: Callable[[AsyncClient], Awaitable[T]]) -> T:
    """Run `work` with a solana-py AsyncClient on the node, closed afterwards."""

    async def run() -> T:
        async with AsyncClient(node.url, commitment="confirmed") as rpc:
            return await work(rpc)

    return asyncio.run(run())


Call = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as shared:  # one client: each new one loads TLS roots
        yield shared


def caller(node: Node, http: httpx.Client) -> Call:
    """One JSON-RPC call as plain JSON, for error codes and shapes solana-py hides."""

    def raw_call(method: str, params: Any = None) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": 7, "method": method}
        if params is not None:
            body["params"] = params
        answer: dict[str, Any] = http.post(node.url, json=body).json()
        return answer

    return raw_call


@pytest.fixture
def call(node: Node, http: httpx.Client) -> Call:
    return caller(node, http)


@pytest.fixture(scope="module")
def shared_call(tmp_path_factory: pytest.TempPathFactory, http: httpx.Client) -> Iterator[Call]:
    """`call` on one node for the module, for tests that change nothing on chain."""
    with running_node(tmp_path_factory.mktemp("node")) as served:
        yield caller(served, http)


def key(address: str) -> Pubkey:
    return Pubkey.from_string(address)


def funded_wallet(node: Node, tokens: int = 5_000) -> Wallet:
    wallet = Wallet.generate()
    node.local.faucet(wallet.address, tokens, lamports=LAMPORTS)
    return wallet


def deposit(node: Node, wallet: Wallet, amount: int, blockhash: str | None = None) -> bytes:
    return wallet.deposit_transaction(
        mint=node.local.mint,
        decimals=node.local.decimals,
        vault=node.local.vault,
        amount=amount,
        blockhash=blockhash or node.local.latest_blockhash(),
    )


def test_blockhash_height_slot_version_and_health(node: Node, call: Call) -> None:
    async def work(rpc: AsyncClient) -> tuple[Any, ...]:
        return (
            await rpc.get_latest_blockhash(),
            await rpc.get_block_height(),
            await rpc.get_slot(),
            await rpc.get_version(),
            await rpc.is_connected(),
        )

    latest, height, slot, version, healthy = client(node, work)
    assert str(latest.value.blockhash) == node.local.latest_blockhash()
    assert latest.context.slot == height.value == slot.value == node.local.slot()
    assert height.value < latest.value.last_valid_block_height <= height.value + 150
    assert version.value.solana_core.count(".") == 2
    assert healthy
    assert call("getHealth")["result"] == "ok"
    assert call("getLatestBlockhash")["result"]["context"]["apiVersion"]


def test_an_expired_blockhash_is_past_its_last_valid_height(node: Node, call: Call) -> None:
    before = call("getLatestBlockhash")["result"]["value"]
    node.local.expire_blockhash()
    after = call("getLatestBlockhash")["result"]["value"]
    assert call("getBlockHeight")["result"] > before["lastValidBlockHeight"]
    assert after["blockhash"] != before["blockhash"]
    assert after["lastValidBlockHeight"] > before["lastValidBlockHeight"]
    valid = call("isBlockhashValid", [before["blockhash"]])["result"]["value"]
    assert valid is False


def test_accounts_in_each_encoding(node: Node, call: Call) -> None:
    wallet = funded_wallet(node)
    ata = key(node.local.token_account(wallet.address))

    async def work(rpc: AsyncClient) -> tuple[Any, ...]:
        return (
            await rpc.get_balance(key(wallet.address)),
            await rpc.get_account_info(key(node.local.mint)),
            await rpc.get_account_info_json_parsed(ata),
            await rpc.get_multiple_accounts([ata, key(Wallet.generate().address)]),
            await rpc.get_minimum_balance_for_rent_exemption(165),
        )

    lamports, mint, parsed, many, rent = client(node, work)
    assert lamports.value == LAMPORTS
    assert mint.value.owner == TOKEN_PROGRAM_ID and len(mint.value.data) == 82
    info = parsed.value.data.parsed["info"]
    assert info["owner"] == wallet.address and info["tokenAmount"]["amount"] == "5000"
    assert many.value[1] is None and many.value[0].lamports == rent.value == 2_039_280
    as58 = call("getAccountInfo", [node.local.mint, {"encoding": "base58"}])
    assert base58.decode(as58["result"]["value"]["data"][0]) == bytes(mint.value.data)
    assert as58["result"]["value"]["space"] == 82
    too_long = call("getAccountInfo", [str(ata), {"encoding": "base58"}])
    assert too_long["error"]["code"] == -32602
    mint_json = call("getAccountInfo", [node.local.mint, {"encoding": "jsonParsed"}])
    assert mint_json["result"]["value"]["data"]["parsed"]["info"]["decimals"] == 6


def test_token_balances_and_token_accounts_of_an_owner(node: Node, call: Call) -> None:
    wallet = funded_wallet(node, 1_234_500)
    ata = key(node.local.token_account(wallet.address))
    by_mint = TokenAccountOpts(mint=key(node.local.mint))
    by_program = TokenAccountOpts(program_id=TOKEN_PROGRAM_ID)

    async def work(rpc: AsyncClient) -> tuple[Any, ...]:
        return (
            await rpc.get_token_account_balance(ata),
            await rpc.get_token_accounts_by_owner(key(wallet.address), by_mint),
            await rpc.get_token_accounts_by_owner_json_parsed(key(wallet.address), by_program),
        )

    amount, accounts, parsed = client(node, work)
    assert (amount.value.amount, amount.value.decimals) == ("1234500", 6)
    assert amount.value.ui_amount_string == "1.2345"
    assert [a.pubkey for a in accounts.value] == [ata]
    assert [a.pubkey for a in parsed.value] == [ata]
    assert parsed.value[0].account.data.parsed["info"]["mint"] == node.local.mint
    missing = call("getTokenAccountBalance", [Wallet.generate().address])
    assert missing["error"] == {"code": -32602, "message": "Invalid param: could not find account"}
    not_token = call("getTokenAccountBalance", [wallet.address])
    assert not_token["error"]["message"] == "Invalid param: not a Token account"
    other = call("getTokenAccountsByOwner", [wallet.address, {"programId": wallet.address}])
    assert other["error"]["code"] == -32602


def test_airdrop_lands_as_a_transaction(node: Node) -> None:
    wallet = Wallet.generate()

    async def work(rpc: AsyncClient) -> tuple[Any, ...]:
        sent = await rpc.request_airdrop(key(wallet.address), 3 * LAMPORTS)
        statuses = await rpc.get_signature_statuses([sent.value])
        return sent, statuses, await rpc.get_balance(key(wallet.address))

    sent, statuses, lamports = client(node, work)
    [status] = statuses.value
    assert status is not None and status.err is None
    assert str(status.confirmation_status) == "TransactionConfirmationStatus.Finalized"
    assert lamports.value == 3 * LAMPORTS
    assert node.local.status(str(sent.value)).state.value == "confirmed"


def test_simulate_send_and_read_back_a_deposit(node: Node, call: Call) -> None:
    wallet = funded_wallet(node)
    raw = deposit(node, wallet, 1_500)
    signature = Signature.from_string(str(VersionedTransaction.from_bytes(raw).signatures[0]))

    async def work(rpc: AsyncClient) -> tuple[Any, ...]:
        simulated = await rpc.simulate_transaction(VersionedTransaction.from_bytes(raw))
        sent = await rpc.send_raw_transaction(raw, TxOpts(preflight_commitment="confirmed"))
        as_json = await rpc.get_transaction(signature, max_supported_transaction_version=0)
        as_bytes = await rpc.get_transaction(signature, encoding="base64")
        return simulated, sent, as_json, as_bytes

    simulated, sent, as_json, as_bytes = client(node, work)
    assert simulated.value.err is None and simulated.value.logs
    assert sent.value == signature
    meta = as_json.value.transaction.meta
    assert meta.err is None and meta.fee == 5000 and meta.log_messages
    vault_index = [str(k) for k in VersionedTransaction.from_bytes(raw).message.account_keys]
    post = {
        vault_index[b.account_index]: b.ui_token_amount.amount for b in meta.post_token_balances
    }
    assert post[node.local.vault] == "1500"
    assert as_json.value.transaction.version is not None
    assert bytes(as_bytes.value.transaction.transaction) == raw
    shaped = call("getTransaction", [str(signature), {"encoding": "json"}])["result"]
    assert shaped["meta"]["status"] == {"Ok": None} and "version" not in shaped
    assert shaped["transaction"]["message"]["recentBlockhash"] == node.local.latest_blockhash()


def test_send_accepts_base58_the_default_encoding(node: Node, call: Call) -> None:
    wallet = funded_wallet(node)
    raw = deposit(node, wallet, 10)
    answer = call("sendTransaction", [base58.encode(raw)])
    assert answer["result"] == str(VersionedTransaction.from_bytes(raw).signatures[0])
    assert node.local.token_balance(node.local.vault) == 10


def test_preflight_failures_answer_32002_with_the_simulation(node: Node, call: Call) -> None:
    wallet = funded_wallet(node, 100)
    too_much = deposit(node, wallet, 1_000)

    async def refused(rpc: AsyncClient) -> Any:
        with pytest.raises(RPCException) as caught:
            await rpc.send_raw_transaction(too_much)
        return caught.value.args[0]

    error = client(node, refused)
    assert isinstance(error, SendTransactionPreflightFailureMessage)
    assert "custom program error: 0x1" in error.message
    wire = call("sendTransaction", [base64.b64encode(too_much).decode(), {"encoding": "base64"}])
    assert wire["error"]["code"] == -32002
    assert wire["error"]["data"]["err"] == {"InstructionError": [0, {"Custom": 1}]}
    assert (
        node.local.status(str(VersionedTransaction.from_bytes(too_much).signatures[0])).state.value
        == "unknown"
    )

    # Without preflight it lands, fails, and says so in its status.
    skipped = call(
        "sendTransaction",
        [base64.b64encode(too_much).decode(), {"encoding": "base64", "skipPreflight": True}],
    )
    status = call("getSignatureStatuses", [[skipped["result"]]])["result"]["value"][0]
    assert status["err"] == {"InstructionError": [0, {"Custom": 1}]}
    assert status["status"] == {"Err": status["err"]}

    again = call("sendTransaction", [base64.b64encode(too_much).decode(), {"encoding": "base64"}])
    assert again["error"]["data"]["err"] == "AlreadyProcessed"


def test_an_expired_or_forged_transaction_is_refused(node: Node, call: Call) -> None:
    wallet = funded_wallet(node)
    stale = deposit(node, wallet, 5)
    node.local.expire_blockhash()
    b64 = {"encoding": "base64"}
    expired = call("sendTransaction", [base64.b64encode(stale).decode(), b64])
    assert expired["error"]["code"] == -32002
    assert expired["error"]["message"] == "Transaction simulation failed: Blockhash not found"
    skipped = call(
        "sendTransaction", [base64.b64encode(stale).decode(), {**b64, "skipPreflight": True}]
    )
    assert call("getSignatureStatuses", [[skipped["result"]]])["result"]["value"] == [None]

    forged = bytearray(deposit(node, wallet, 5))
    forged[10] ^= 0xFF  # inside the signature
    bad = call("sendTransaction", [base64.b64encode(bytes(forged)).decode(), b64])
    assert bad["error"] == {"code": -32003, "message": "Transaction signature verification failure"}


@pytest.mark.parametrize(
    ("method", "params", "code", "message"),
    [
        ("getBalance", ["not-an-address"], -32602, "Invalid param: Invalid"),
        ("getBalance", ["1111"], -32602, "Invalid param: WrongSize"),
        ("getBalance", None, -32602, "`params` should have at least 1 argument(s)"),
        ("getSlot", [{"commitment": "max"}], -32602, "unknown variant `max`"),
        ("getAccountInfo", [str(Pubkey.default()), {"encoding": "base64+zstd"}], -32602, "zstd"),
        ("getMultipleAccounts", [[str(Pubkey.default())] * 101], -32602, "max 100"),
        ("getTransaction", ["1" * 64, {"commitment": "processed"}], -32602, "below `confirmed`"),
        ("getSlot", [{"minContextSlot": 10**12}], -32016, "Minimum context slot"),
        ("sendTransaction", ["A" * 2000, {"encoding": "base64"}], -32602, "too large"),
        ("sendTransaction", ["AAAA", {"encoding": "base64"}], -32602, "failed to deserialize"),
        ("getConfirmedBlock", [1], -32601, "Method not found"),  # removed from Solana 2.0
        ("requestAirdrop", [str(Pubkey.default()), 2**64 - 1], -32602, "airdrop lamports"),
    ],
)
def test_bad_calls_get_solanas_error_codes(
    shared_call: Call, method: str, params: Any, code: int, message: str
) -> None:
    answer = shared_call(method, params)
    assert answer["id"] == 7
    assert answer["error"]["code"] == code
    assert message in answer["error"]["message"]


def test_envelope_errors_batches_and_notifications(node: Node, http: httpx.Client) -> None:
    post = lambda body: http.post(node.url, content=body)  # noqa: E731
    assert post(b"{nope").json()["error"]["code"] == -32700
    deep = post(b"[" * 100_000 + b"]" * 100_000)  # past the parser's recursion limit
    assert deep.status_code == 200 and deep.json()["error"]["code"] == -32700
    assert (
        post(b'{"jsonrpc": "1.0", "id": 1, "method": "getSlot"}').json()["error"]["code"] == -32600
    )
    assert post(b"[]").json()["error"]["code"] == -32600
    batch = post(
        b'[{"jsonrpc":"2.0","id":1,"method":"getSlot"},{"jsonrpc":"2.0","id":"b","method":"nope"}]'
    ).json()
    assert [a["id"] for a in batch] == [1, "b"]
    assert "result" in batch[0] and batch[1]["error"]["code"] == -32601
    assert post(b'{"jsonrpc":"2.0","method":"getSlot"}').status_code == 204


def test_statuses_leave_the_cache_but_stay_in_history(node: Node, call: Call) -> None:
    signature = node.local.faucet(Wallet.generate().address, 1)
    for _ in range(3):  # 3 x 150 blocks pass: beyond the 300-block status cache
        node.local.expire_blockhash()
    recent = call("getSignatureStatuses", [[signature]])["result"]["value"]
    searched = call("getSignatureStatuses", [[signature], {"searchTransactionHistory": True}])[
        "result"
    ]["value"]
    assert recent == [None]
    assert searched[0]["confirmationStatus"] == "finalized"
    assert call("getTransaction", [signature])["result"]["slot"] == searched[0]["slot"]
    unknown = str(Signature.default())
    assert call("getTransaction", [unknown])["result"] is None
    assert Hash.default() != Hash.from_string(node.local.latest_blockhash())
