"""What both chains know alike: the market key, the mint, its decimals and the vault."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Self

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from earnest.adapters.chain import payout
from earnest.services.chain_port import SignedTransaction, Transfer


class MarketMint:
    """The market's wallet, its mint and its vault; the base of LocalChain and RpcChain."""

    def __init__(self, market: Keypair, mint: Pubkey, decimals: int) -> None:
        self._market = market
        self._mint = mint
        self._decimals = decimals
        self._vault = payout.ata(str(market.pubkey()), mint)

    @property
    def mint(self) -> str:
        """The mint's address."""
        return str(self._mint)

    @property
    def decimals(self) -> int:
        """The mint's decimals, as the chain states them."""
        return self._decimals

    @property
    def vault_owner(self) -> str:
        """The market's wallet address, owner of the vault token account."""
        return str(self._market.pubkey())

    @property
    def vault(self) -> str:
        """The market wallet's associated token account for the mint."""
        return str(self._vault)

    def token_account(self, owner: str) -> str:
        """The associated token account address of `owner` for the mint."""
        return str(self._ata(owner))

    def close(self) -> None:
        """Release what the chain holds open (a file, connections)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def build_payout(
        self, transfers: Sequence[Transfer], memo: bytes, create_for: Sequence[str] = ()
    ) -> SignedTransaction:
        """Sign one legacy transaction: idempotent ATA creates, transfer_checked each, a memo
        (after a compute budget, on chains that set one).

        Raises TransactionTooLarge, never returns a transaction over MAX_TRANSACTION_BYTES:
        LiteSVM accepts oversized transactions, a cluster would not, so both refuse here.
        """
        ixs = self._budget(len(transfers), len(create_for))
        ixs += self._payout_instructions(transfers, memo, create_for)
        blockhash, last_valid = self._blockhash()
        signed = payout.sign(ixs, [self._market], blockhash)
        return payout.signed_payout(signed, last_valid, len(transfers), len(create_for))

    def _blockhash(self) -> tuple[Hash, int]:
        """The blockhash to sign with and the last block height it can land at."""
        raise NotImplementedError

    def _budget(self, transfers: int, creates: int) -> list[Instruction]:
        """Compute-budget instructions to put first; none unless a chain sets a fee."""
        return []

    def _ata(self, owner: str) -> Pubkey:
        return payout.ata(owner, self._mint)

    def _payout_instructions(
        self, transfers: Sequence[Transfer], memo: bytes, create_for: Sequence[str]
    ) -> list[Instruction]:
        return payout.payout_instructions(
            market=self._market.pubkey(),
            mint=self._mint,
            decimals=self._decimals,
            transfers=transfers,
            memo=memo,
            create_for=create_for,
        )

    def _faucet_instructions(self, owner: str, amount: int) -> list[Instruction]:
        return payout.faucet_instructions(
            market=self._market.pubkey(),
            mint=self._mint,
            decimals=self._decimals,
            owner=owner,
            amount=amount,
        )
