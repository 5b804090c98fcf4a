"""LocalChain against the real SPL programs in solders.litesvm, persisted to a temp file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import transfer
from spl.token.models import TransferParams

from earnest.adapters.chain import LocalChain, MarketCrypto, Wallet, load_or_create_keypair
from earnest.domain.errors import ChainError, InvalidInput, TransactionTooLarge
from earnest.services.chain_port import MAX_TRANSACTION_BYTES, Transfer, TxState

MEMO = b"m" * 75  # the size of a Merkle-root memo the settler writes
VAULT_FUNDS = 10_000_000


@pytest.fixture
def market(tmp_path: Path) -> Keypair:
    return load_or_create_keypair(tmp_path / "market.json")


@pytest.fixture
def chain(tmp_path: Path, market: Keypair) -> Iterator[LocalChain]:
    local = LocalChain.open(tmp_path / "chain.sqlite", market)
    local.faucet(local.vault_owner, VAULT_FUNDS)
    yield local
    local.close()


def workers(n: int) -> list[Wallet]:
    return [Wallet.generate() for _ in range(n)]


def test_open_creates_mint_and_vault(chain: LocalChain, market: Keypair) -> None:
    assert chain.decimals == 6
    assert chain.vault_owner == str(market.pubkey())
    assert chain.vault == chain.token_account(chain.vault_owner)
    assert chain.token_balance(chain.vault) == VAULT_FUNDS
    assert chain.missing_token_accounts([chain.vault_owner]) == set()


def test_faucet_funds_a_wallet(chain: LocalChain) -> None:
    wallet = Wallet.generate()
    assert chain.token_balance(chain.token_account(wallet.address)) == 0
    chain.faucet(wallet.address, 1_234)
    chain.faucet(wallet.address, 1_000)
    assert chain.token_balance(chain.token_account(wallet.address)) == 2_234


def test_deposit_is_read_back_as_a_token_transfer(chain: LocalChain) -> None:
    requester = Wallet.generate()
    chain.faucet(requester.address, 5_000)
    raw = requester.deposit_transaction(
        mint=chain.mint,
        decimals=chain.decimals,
        vault=chain.vault,
        amount=3_000,
        blockhash=chain.latest_blockhash(),
    )
    signature = chain.submit(raw)
    assert chain.status(signature).state is TxState.CONFIRMED
    [move] = chain.token_transfers(signature) or []
    assert move.source == chain.token_account(requester.address)
    assert move.destination == chain.vault
    assert move.authority == requester.address
    assert move.mint == chain.mint
    assert move.amount == 3_000
    assert chain.token_balance(chain.vault) == VAULT_FUNDS + 3_000
    assert chain.token_balance(move.source) == 2_000


def test_plain_transfer_is_read_back_with_its_mint(chain: LocalChain) -> None:
    requester = Wallet.generate()
    chain.faucet(requester.address, 800)
    owner = requester.keypair.pubkey()
    move = transfer(
        TransferParams(
            program_id=TOKEN_PROGRAM_ID,
            source=Pubkey.from_string(chain.token_account(requester.address)),
            dest=Pubkey.from_string(chain.vault),
            owner=owner,
            amount=750,
        )
    )
    blockhash = Hash.from_string(chain.latest_blockhash())
    signature = chain.submit(
        bytes(Transaction([requester.keypair], Message([move], owner), blockhash))
    )
    [seen] = chain.token_transfers(signature) or []
    assert (seen.mint, seen.amount, seen.authority) == (chain.mint, 750, requester.address)
    assert chain.token_balance(chain.vault) == VAULT_FUNDS + 750


def test_failed_deposit_raises_and_is_recorded_failed(chain: LocalChain) -> None:
    requester = Wallet.generate()
    chain.faucet(requester.address, 100)
    raw = requester.deposit_transaction(
        mint=chain.mint,
        decimals=6,
        vault=chain.vault,
        amount=101,
        blockhash=chain.latest_blockhash(),
    )
    with pytest.raises(ChainError, match="insufficient funds"):
        chain.submit(raw)
    signature = str(Transaction.from_bytes(raw).signatures[0])
    status = chain.status(signature)
    assert status.state is TxState.FAILED
    assert status.error
    assert chain.token_transfers(signature) is None
    assert chain.token_balance(chain.token_account(requester.address)) == 100
    assert chain.token_balance(chain.vault) == VAULT_FUNDS


def test_payout_of_18_fits_and_lands_with_memo(chain: LocalChain) -> None:
    paid = workers(18)
    for w in paid:
        chain.faucet(w.address, 0)
    transfers = [Transfer(w.address, 1_000 + i) for i, w in enumerate(paid)]
    tx = chain.build_payout(transfers, MEMO)
    assert tx.size == 341 + 49 * 18 <= MAX_TRANSACTION_BYTES
    chain.send(tx)
    assert chain.status(tx.signature).state is TxState.CONFIRMED
    for i, w in enumerate(paid):
        assert chain.token_balance(chain.token_account(w.address)) == 1_000 + i
    assert chain.token_balance(chain.vault) == VAULT_FUNDS - sum(1_000 + i for i in range(18))
    moves = chain.token_transfers(tx.signature) or []
    assert [m.amount for m in moves] == [t.amount for t in transfers]
    assert {m.authority for m in moves} == {chain.vault_owner}
    message = Transaction.from_bytes(tx.raw).message
    memo_ix = message.instructions[-1]
    assert str(message.account_keys[memo_ix.program_id_index]).startswith("MemoSq4gq")
    assert bytes(memo_ix.data) == MEMO


def test_oversized_payout_is_refused_and_nothing_moves(chain: LocalChain) -> None:
    paid = workers(19)
    slot = chain.slot()
    with pytest.raises(TransactionTooLarge, match=str(341 + 49 * 19)):
        chain.build_payout([Transfer(w.address, 10) for w in paid], MEMO, create_for=[])
    assert chain.token_balance(chain.vault) == VAULT_FUNDS
    assert chain.slot() == slot


def test_empty_payout_is_invalid(chain: LocalChain) -> None:
    with pytest.raises(InvalidInput):
        chain.build_payout([], MEMO)


def test_create_for_creates_missing_token_accounts(chain: LocalChain) -> None:
    new, known = Wallet.generate(), Wallet.generate()
    chain.faucet(known.address, 0)
    owners = [new.address, known.address]
    assert chain.missing_token_accounts(owners) == {new.address}
    tx = chain.build_payout(
        [Transfer(new.address, 70), Transfer(known.address, 30)], MEMO, create_for=[new.address]
    )
    chain.send(tx)
    assert chain.missing_token_accounts(owners) == set()
    assert chain.token_balance(chain.token_account(new.address)) == 70
    assert chain.token_balance(chain.token_account(known.address)) == 30


def test_payout_to_missing_account_fails_without_moving(chain: LocalChain) -> None:
    stranger = Wallet.generate()
    tx = chain.build_payout([Transfer(stranger.address, 5)], MEMO)
    with pytest.raises(ChainError):
        chain.send(tx)
    assert chain.status(tx.signature).state is TxState.FAILED
    assert chain.token_balance(chain.vault) == VAULT_FUNDS


def test_resending_the_same_bytes_pays_once(chain: LocalChain) -> None:
    worker = Wallet.generate()
    tx = chain.build_payout([Transfer(worker.address, 500)], MEMO, create_for=[worker.address])
    chain.send(tx)
    chain.send(tx)
    chain.send(tx)
    assert chain.token_balance(chain.token_account(worker.address)) == 500
    assert chain.token_balance(chain.vault) == VAULT_FUNDS - 500


def test_status_survives_a_restart(tmp_path: Path, market: Keypair) -> None:
    path = tmp_path / "restart.sqlite"
    worker = Wallet.generate()
    with LocalChain.open(path, market, decimals=9) as first:
        first.faucet(first.vault_owner, 1_000)
        never_sent = first.build_payout([Transfer(worker.address, 1)], b"other")
        tx = first.build_payout([Transfer(worker.address, 400)], MEMO, create_for=[worker.address])
        assert first.status(tx.signature).state is TxState.UNKNOWN
        first.send(tx)
        confirmed = first.status(tx.signature)
        assert confirmed.state is TxState.CONFIRMED
        before = {
            a: first.token_balance(a) for a in (first.vault, first.token_account(worker.address))
        }
        mint, slot = first.mint, first.slot()
    with LocalChain.open(path, market) as second:
        assert (second.mint, second.decimals, second.slot()) == (mint, 9, slot)
        assert second.status(tx.signature) == confirmed
        assert second.status(never_sent.signature).state is TxState.UNKNOWN
        assert (
            {a: second.token_balance(a) for a in before}
            == before
            == {
                second.vault: 600,
                second.token_account(worker.address): 400,
            }
        )
        second.send(tx)  # already landed before the restart: must not pay again
        assert second.token_balance(second.vault) == 600
        [move] = second.token_transfers(tx.signature) or []
        assert move.amount == 400


def test_state_file_of_another_market_is_refused(tmp_path: Path, market: Keypair) -> None:
    path = tmp_path / "chain.sqlite"
    LocalChain.open(path, market).close()
    with pytest.raises(InvalidInput, match="belongs to market"):
        LocalChain.open(path, Keypair())


def test_expired_blockhash_cannot_land(tmp_path: Path, market: Keypair) -> None:
    path = tmp_path / "expire.sqlite"
    worker = Wallet.generate()
    with LocalChain.open(path, market) as local:
        local.faucet(local.vault_owner, 100)
        local.faucet(worker.address, 0)
        tx = local.build_payout([Transfer(worker.address, 10)], MEMO)
        assert local.blockhash_valid(tx)
        local.expire_blockhash()
        assert not local.blockhash_valid(tx)
        with pytest.raises(ChainError, match="BlockhashNotFound"):
            local.send(tx)
        assert local.status(tx.signature).state is TxState.UNKNOWN
    with LocalChain.open(path, market) as reopened:  # a restart must not revive the old blockhash
        assert not reopened.blockhash_valid(tx)
        with pytest.raises(ChainError):
            reopened.send(tx)
        fresh = reopened.build_payout([Transfer(worker.address, 10)], MEMO)
        assert reopened.blockhash_valid(fresh)
        reopened.send(fresh)
        assert reopened.token_balance(reopened.token_account(worker.address)) == 10


def test_keypair_file_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "market.json"
    created = load_or_create_keypair(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_keypair(path) == created
    path.write_text("[1, 2, 3]")
    with pytest.raises(InvalidInput, match="64 integers"):
        load_or_create_keypair(path)


def test_a_market_key_is_created_private_and_refused_when_open_to_others(
    tmp_path: Path,
) -> None:
    path = tmp_path / "market.json"
    previous = os.umask(0)  # even with nothing masked, the file is created 0600
    try:
        key = load_or_create_keypair(path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o640)
    with pytest.raises(InvalidInput, match="chmod 600") as refused:
        load_or_create_keypair(path)
    assert str(key) not in refused.value.detail  # the message names the file, never the key
    path.chmod(0o600)
    assert load_or_create_keypair(path) == key


def test_wallet_save_and_load(tmp_path: Path) -> None:
    wallet = Wallet.generate()
    path = tmp_path / "wallet.json"
    wallet.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Wallet.load(path).address == wallet.address
    with pytest.raises(InvalidInput, match="overwrite"):
        Wallet.generate().save(path)


def test_market_crypto_verifies_signatures(market: Keypair) -> None:
    crypto = MarketCrypto(market)
    wallet = Wallet.generate()
    signature = wallet.sign_message(b"sign in to earnest")
    assert crypto.verify(wallet.address, b"sign in to earnest", signature)
    assert not crypto.verify(wallet.address, b"sign in to evil", signature)
    assert not crypto.verify(crypto.market_address, b"sign in to earnest", signature)
    assert not crypto.verify("not-an-address", b"x", signature)
    assert not crypto.verify(wallet.address, b"x", "garbage!!")
    assert not crypto.verify(wallet.address, b"x", "")
    assert crypto.verify(crypto.market_address, b"receipt", crypto.sign(b"receipt"))
    assert crypto.is_address(wallet.address)
    assert not crypto.is_address("0OIl")
    assert not crypto.is_address("")


def test_another_process_sees_identical_balances(tmp_path: Path, market: Keypair) -> None:
    path = tmp_path / "shared.sqlite"
    worker = Wallet.generate()
    with LocalChain.open(path, market) as local:
        local.faucet(local.vault_owner, 9_000)
        local.send(local.build_payout([Transfer(worker.address, 2_500)], MEMO, [worker.address]))
        ata = local.token_account(worker.address)
    script = (
        "import sys; from pathlib import Path\n"
        "from earnest.adapters.chain import LocalChain, load_or_create_keypair\n"
        "key = load_or_create_keypair(Path(sys.argv[2]))\n"
        "with LocalChain.open(Path(sys.argv[1]), key) as c:\n"
        "    print(c.token_balance(c.vault), c.token_balance(sys.argv[3]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    out = subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "market.json"), ata],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    assert out.stdout.split() == ["6500", "2500"]
