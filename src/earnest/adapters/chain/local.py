"""LocalChain: the real Solana runtime and SPL programs in-process, persisted to SQLite.

solders.litesvm executes the genuine SPL Token, Associated Token Account and Memo programs,
so a payout that works here is byte for byte a payout that works on a cluster. `Runtime`
keeps LiteSVM's accounts and landed transactions on disk. One process owns a state file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from solders.address_lookup_table_account import AddressLookupTable
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

from earnest.adapters.chain import decode, history, instructions, lookup, payout, token2022
from earnest.adapters.chain.keys import parse_address
from earnest.adapters.chain.market import MarketMint
from earnest.adapters.chain.runtime import Runtime
from earnest.adapters.chain.state import ChainState
from earnest.domain.errors import InvalidInput
from earnest.services.chain_port import (
    SignedTransaction,
    TokenTransfer,
    TxState,
    TxStatus,
)

_MARKET_LAMPORTS = 1_000_000 * 10**9  # fees for millions of payouts; SOL is free here
_SIGNATURE_FEE = 5000  # lamports per signature, LiteSVM's default as on Solana


class LocalChain(MarketMint):
    """The `Chain` port on an in-process LiteSVM whose state survives restarts."""

    def __init__(
        self,
        runtime: Runtime,
        market: Keypair,
        mint: Pubkey,
        decimals: int,
        program: Pubkey = TOKEN_PROGRAM_ID,
    ) -> None:
        super().__init__(market, mint, decimals, program)
        self._runtime = runtime

    @classmethod
    def open(
        cls,
        state_path: Path,
        market: Keypair,
        *,
        decimals: int = 6,
        mint: token2022.MintSetup | None = None,
    ) -> LocalChain:
        """Restore the chain kept in `state_path`, or create it with a new mint and vault.

        A restored chain keeps the mint, its program and decimals it was created with;
        `mint` says what a new chain's mint is (SPL Token unless it asks for Token-2022).
        """
        state = ChainState(state_path)
        try:
            settings = state.meta()
            if not settings:
                return cls._create(state, market, decimals, mint or token2022.MintSetup())
            if settings["market"] != str(market.pubkey()):
                raise InvalidInput(
                    f"chain state {state_path} belongs to market {settings['market']}, "
                    f"not {market.pubkey()}"
                )
            runtime = Runtime.restore(state, settings)
            program = Pubkey.from_string(settings.get("program", str(TOKEN_PROGRAM_ID)))
            key = Pubkey.from_string(settings["mint"])
            chain = cls(runtime, market, key, int(settings["decimals"]), program)
            chain.mint_terms()  # learns whether transfers must state a fee
            return chain
        except BaseException:
            state.close()
            raise

    @classmethod
    def _create(
        cls, state: ChainState, market: Keypair, decimals: int, setup: token2022.MintSetup
    ) -> LocalChain:
        if not 0 <= decimals <= 9:
            raise InvalidInput(f"decimals must be between 0 and 9, got {decimals}")
        mint = Keypair()
        program = TOKEN_2022_PROGRAM_ID if setup.token_2022 else TOKEN_PROGRAM_ID
        settings = {
            "market": str(market.pubkey()),
            "mint": str(mint.pubkey()),
            "decimals": str(decimals),
            "program": str(program),
        }
        runtime = Runtime.restore(state, settings)
        chain = cls(runtime, market, mint.pubkey(), decimals, program)
        runtime.credit_lamports(market.pubkey(), _MARKET_LAMPORTS)
        size, extensions, freezes = setup.build(mint.pubkey(), market.pubkey())
        ixs = instructions.create_mint(
            market.pubkey(),
            mint.pubkey(),
            decimals,
            runtime.rent_exempt_minimum(size),
            program=program,
            size=size,
            extensions=extensions,
            freeze_authority=market.pubkey() if freezes else None,
        )
        # The settings reach the file in the same SQLite transaction as the new mint.
        runtime.execute(chain._sign(ixs, mint))
        chain.mint_terms()
        return chain

    def missing_token_accounts(self, owners: Sequence[str]) -> set[str]:
        """The owners among `owners` whose associated token account does not exist yet."""
        return {owner for owner in owners if self._runtime.account(self._ata(owner)) is None}

    def send(self, tx: SignedTransaction) -> None:
        """Send the signed bytes; a re-send of a landed success returns quietly."""
        self.submit(tx.raw)

    def await_landing(self, txs: Sequence[SignedTransaction]) -> None:
        """Nothing to wait for: a transaction sent here has run before `send` returns."""

    def submit(self, raw: bytes) -> str:
        """Send a signed transaction (ours or a client's) and return its signature."""
        # The size limit holds for every transaction on a cluster, not only for payouts.
        payout.check_size(raw)
        try:
            tx = VersionedTransaction.from_bytes(raw)
        except ValueError as exc:
            raise InvalidInput(f"not a serialized Solana transaction: {exc}") from exc
        return self._runtime.execute(tx)

    def status(self, signature: str) -> TxStatus:
        """What the chain knows of a signature, from the persisted history."""
        stored = self._runtime.stored(signature)
        if stored is None:
            return TxStatus(TxState.UNKNOWN)
        state = TxState.CONFIRMED if stored.ok else TxState.FAILED
        return TxStatus(state, slot=stored.slot, error=stored.error)

    def blockhash_valid(self, tx: SignedTransaction) -> bool:
        """Whether `tx` can still land: LiteSVM accepts only its latest blockhash."""
        return tx.blockhash == self.latest_blockhash()

    def token_transfers(self, signature: str) -> list[TokenTransfer] | None:
        """The SPL token transfers of a confirmed transaction; None if unknown or failed."""
        stored = self._runtime.stored(signature)
        if stored is None or not stored.ok:
            return None
        tx = VersionedTransaction.from_bytes(stored.raw)
        loaded = json.loads(stored.details or "{}").get("loadedAddresses") or {}
        keys = [*loaded.get("writable", []), *loaded.get("readonly", [])]
        return decode.token_transfers(
            tx, self._runtime.mint_of, [Pubkey.from_string(k) for k in keys], self._fee_of
        )

    def token_balance(self, token_account: str) -> int:
        """Balance of a token account in base units (0 if it does not exist)."""
        account = self._runtime.account(parse_address(token_account))
        if account is None:
            return 0
        parsed = history.token_account(account)
        if parsed is None:
            raise InvalidInput(f"{token_account} is not a token account")
        return int(parsed.amount)

    def slot(self) -> int:
        """The current slot: one per landed transaction, persisted."""
        return self._runtime.height

    def latest_blockhash(self) -> str:
        """The blockhash new transactions must carry."""
        return str(self._runtime.latest_blockhash())

    def expire_blockhash(self) -> None:
        """Move to a new blockhash, so transactions signed before can never land."""
        self._runtime.expire_blockhash()

    def faucet(self, owner: str, amount: int, lamports: int = 10**9) -> str:
        """Give `owner` SOL for fees and mint `amount` tokens (0 allowed) to its token account."""
        if lamports < 0:
            raise InvalidInput(f"faucet lamports must not be negative, got {lamports}")
        ixs = self._faucet_instructions(owner, amount)
        self._runtime.credit_lamports(parse_address(owner), lamports)
        return self._runtime.execute(self._sign(ixs))

    def airdrop(self, owner: str, lamports: int) -> str:
        """Send `owner` new SOL in a real transfer transaction, as a cluster's faucet does."""
        return self._runtime.execute(self.airdrop_transaction(owner, lamports))

    def airdrop_transaction(self, owner: str, lamports: int) -> VersionedTransaction:
        """The faucet's signed transfer of new SOL to `owner`, not sent yet."""
        if type(lamports) is not int or not 0 < lamports < 2**64 - _SIGNATURE_FEE:
            raise InvalidInput(f"airdrop lamports must be a positive u64, got {lamports!r}")
        # A fresh faucet key per airdrop gives every airdrop its own signature.
        faucet = Keypair()
        self._runtime.credit_lamports(faucet.pubkey(), lamports + _SIGNATURE_FEE)
        move = transfer(
            TransferParams(
                from_pubkey=faucet.pubkey(), to_pubkey=parse_address(owner), lamports=lamports
            )
        )
        return payout.sign([move], [faucet], self._runtime.latest_blockhash())

    @property
    def runtime(self) -> Runtime:
        """The persisted LiteSVM underneath, for the JSON-RPC server."""
        return self._runtime

    def close(self) -> None:
        """Close the state file."""
        self._runtime.close()

    def _blockhash(self) -> tuple[Hash, int]:
        return self._runtime.blockhash()

    def _account_data(self, keys: Sequence[Pubkey]) -> list[bytes | None]:
        found = [self._runtime.account(k) for k in keys]
        return [None if a is None else bytes(a.data) for a in found]

    def _epoch(self) -> int:
        return self._runtime.epoch()

    def _rent(self, size: int) -> int:
        return self._runtime.rent_exempt_minimum(size)

    def _read_tables(self, tables: Sequence[str]) -> list[AddressLookupTable | None]:
        found = [self._runtime.account(parse_address(t)) for t in tables]
        return [None if a is None else lookup.decode(bytes(a.data)) for a in found]

    def _run(self, ixs: list[Instruction]) -> None:
        self._runtime.execute(self._sign(ixs))

    def _recent_slot(self) -> int:
        return self._runtime.recent_slot()

    def _await_active(self, table: Pubkey) -> None:
        # Every landed transaction closes its slot (Runtime), so the extension that just
        # landed is already in the past: LiteSVM's one-slot rule holds without waiting.
        return None

    def _sign(self, ixs: list[Instruction], *extra_signers: Keypair) -> VersionedTransaction:
        return payout.sign(ixs, [self._market, *extra_signers], self._runtime.latest_blockhash())
