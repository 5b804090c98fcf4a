"""The market's address lookup tables on LocalChain: 256 entries each, reused after restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from earnest.adapters.chain import LocalChain, Wallet, lookup
from earnest.adapters.chain.lookup import TABLE_CAPACITY
from earnest.domain.errors import TransactionTooLarge
from earnest.domain.receipts import memo_for
from earnest.services.chain_port import MAX_TRANSACTION_BYTES, Transfer, TxState

MEMO = memo_for("ab" * 32)


def _owners(n: int) -> list[str]:
    return [Wallet.generate().address for _ in range(n)]


def _entries(chain: LocalChain, table: str) -> list[Pubkey]:
    account = chain.runtime.account(Pubkey.from_string(table))
    found = None if account is None else lookup.decode(bytes(account.data))
    assert found is not None
    return list(found.addresses)


def test_a_full_table_is_followed_by_a_new_one_and_44_transfers_across_both_fit(
    tmp_path: Path,
) -> None:
    market = Keypair()
    with LocalChain.open(tmp_path / "chain.sqlite", market) as chain:
        chain.faucet(chain.vault_owner, 10**9)
        owners = _owners(300)
        chain.create_token_accounts(owners)
        assert chain.missing_token_accounts(owners) == set()
        tables = chain.extend_lookup(owners, [])
        assert len(tables) == 2
        assert chain.extend_lookup(owners[:10], tables) == tables  # nothing new: no change
        sizes = [len(_entries(chain, t)) for t in tables]
        place = chain.lookup_positions([owners[299], owners[0], Wallet.generate().address])
        assert place == {owners[0]: 2, owners[299]: 301}  # after the vault and the mint
        assert sizes == [TABLE_CAPACITY, 300 + 2 - TABLE_CAPACITY]  # + the vault and the mint

        # Recipients from both tables in one transaction; usable at once (a slot has passed).
        paid = owners[230:274]  # 44: the most that surely fit, two tables used
        tx = chain.build_payout([Transfer(o, 3) for o in paid], MEMO, tables=tables)
        assert tx.size <= MAX_TRANSACTION_BYTES
        assert VersionedTransaction.from_bytes(tx.raw).version() == 0
        chain.send(tx)
        assert chain.status(tx.signature).state is TxState.CONFIRMED
        assert [t.amount for t in chain.token_transfers(tx.signature) or []] == [3] * 44
        with pytest.raises(TransactionTooLarge):
            chain.build_payout([Transfer(o, 1) for o in owners[:60]], MEMO, tables=tables)

    # A restarted LocalChain keeps its slot, so the tables stay active and are extended on.
    with LocalChain.open(tmp_path / "chain.sqlite", market) as chain:
        more = _owners(3)
        chain.create_token_accounts(more)
        assert chain.extend_lookup(more, tables) == tables
        tx = chain.build_payout([Transfer(o, 1) for o in more + paid[:5]], MEMO, tables=tables)
        chain.send(tx)
        assert chain.token_balance(chain.token_account(paid[0])) == 4
        assert chain.token_balance(chain.token_account(more[0])) == 1
