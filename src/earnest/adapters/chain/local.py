"""LocalChain: the real Solana runtime and SPL programs in-process, persisted to SQLite.

solders.litesvm executes the genuine SPL Token, Associated Token Account and Memo programs,
so a payout that works here is byte for byte a payout that works on a cluster. `Runtime`
keeps LiteSVM's accounts and landed transactions on disk. One process owns a state file.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.token.state import TokenAccount
from solders.transaction import Transaction, VersionedTransaction
from spl.token.instructions import get_associated_token_address

from earnest.adapters.chain import decode, instructions
from earnest.adapters.chain.keys import parse_address
from earnest.adapters.chain.runtime import Runtime
from earnest.adapters.chain.state import ChainState
from earnest.domain.errors import InvalidInput, TransactionTooLarge
from earnest.services.chain_port import (
    MAX_TRANSACTION_BYTES,
    SignedTransaction,
    TokenTransfer,
    Transfer,
    TxState,
    TxStatus,
)

_MARKET_LAMPORTS = 1_000_000 * 10**9  # fees for millions of payouts; SOL is free here
_SIGNATURE_FEE = 5000  # lamports per signature, LiteSVM's default as on Solana


class LocalChain:
    """The `Chain` port on an in-process LiteSVM whose state survives restarts."""

    def __init__(self, runtime: Runtime, market: Keypair, mint: Pubkey, decimals: int) -> None:
        self._runtime = runtime
        self._market = market
        self._mint = mint
        self._decimals = decimals
        self._vault = get_associated_token_address(market.pubkey(), mint)

    @classmethod
    def open(cls, state_path: Path, market: Keypair, *, decimals: int = 6) -> LocalChain:
        """Restore the chain kept in `state_path`, or create it with a new mint and vault.

        A restored chain keeps the mint and decimals it was created with.
        """
        state = ChainState(state_path)
        try:
            settings = state.meta()
            if not settings:
                return cls._create(state, market, decimals)
            if settings["market"] != str(market.pubkey()):
                raise InvalidInput(
                    f"chain state {state_path} belongs to market {settings['market']}, "
                    f"not {market.pubkey()}"
                )
            runtime = Runtime.restore(state, settings)
            mint = Pubkey.from_string(settings["mint"])
            return cls(runtime, market, mint, int(settings["decimals"]))
        except BaseException:
            state.close()
            raise

    @classmethod
    def _create(cls, state: ChainState, market: Keypair, decimals: int) -> LocalChain:
        if not 0 <= decimals <= 9:
            raise InvalidInput(f"decimals must be between 0 and 9, got {decimals}")
        mint = Keypair()
        settings = {"market": str(market.pubkey()), "mint": str(mint.pubkey())}
        runtime = Runtime.restore(state, {**settings, "decimals": str(decimals)})
        chain = cls(runtime, market, mint.pubkey(), decimals)
        runtime.credit_lamports(market.pubkey(), _MARKET_LAMPORTS)
        rent = runtime.rent_exempt_minimum(instructions.MINT_SIZE)
        setup = instructions.create_mint(market.pubkey(), mint.pubkey(), decimals, rent)
        # The settings reach the file in the same SQLite transaction as the new mint.
        runtime.execute(chain._sign(setup, mint))
        return chain

    @property
    def mint(self) -> str:
        """The mint's address."""
        return str(self._mint)

    @property
    def decimals(self) -> int:
        """The mint's decimals."""
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

    def missing_token_accounts(self, owners: Sequence[str]) -> set[str]:
        """The owners among `owners` whose associated token account does not exist yet."""
        return {owner for owner in owners if self._runtime.account(self._ata(owner)) is None}

    def build_payout(
        self, transfers: Sequence[Transfer], memo: bytes, create_for: Sequence[str] = ()
    ) -> SignedTransaction:
        """Sign one legacy transaction: idempotent ATA creates, transfer_checked each, a memo.

        Raises TransactionTooLarge, never returns a transaction over MAX_TRANSACTION_BYTES.
        """
        if not transfers:
            raise InvalidInput("a payout needs at least one transfer")
        market = self._market.pubkey()
        ixs = [
            instructions.create_token_account(market, parse_address(o), self._mint)
            for o in create_for
        ]
        ixs += [self._payout_line(line) for line in transfers]
        ixs.append(instructions.memo(market, memo))
        blockhash, last_valid_height = self._runtime.blockhash()
        signed = self._sign(ixs, blockhash=blockhash)
        raw = bytes(signed)
        # LiteSVM accepts oversized transactions; a cluster would not, so refuse them here.
        if len(raw) > MAX_TRANSACTION_BYTES:
            raise TransactionTooLarge(
                f"payout transaction is {len(raw)} bytes, over Solana's limit of "
                f"{MAX_TRANSACTION_BYTES} ({len(transfers)} transfers, "
                f"{len(create_for)} account creations)",
                size=len(raw),
            )
        return SignedTransaction(
            signature=str(signed.signatures[0]),
            raw=raw,
            blockhash=str(signed.message.recent_blockhash),
            last_valid_height=last_valid_height,
        )

    def send(self, tx: SignedTransaction) -> None:
        """Send the signed bytes; a re-send of a landed success returns quietly."""
        self.submit(tx.raw)

    def submit(self, raw: bytes) -> str:
        """Send a signed transaction (ours or a client's) and return its signature."""
        # The size limit holds for every transaction on a cluster, not only for payouts.
        if len(raw) > MAX_TRANSACTION_BYTES:
            raise TransactionTooLarge(
                f"transaction is {len(raw)} bytes, over Solana's limit of {MAX_TRANSACTION_BYTES}",
                size=len(raw),
            )
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
        return decode.token_transfers(tx, self._runtime.mint_of)

    def token_balance(self, token_account: str) -> int:
        """Balance of a token account in base units (0 if it does not exist)."""
        account = self._runtime.account(parse_address(token_account))
        if account is None:
            return 0
        try:
            return int(TokenAccount.from_bytes(account.data).amount)
        except ValueError as exc:
            raise InvalidInput(f"{token_account} is not a token account") from exc

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
        wallet = parse_address(owner)
        if lamports < 0:
            raise InvalidInput(f"faucet lamports must not be negative, got {lamports}")
        market = self._market.pubkey()
        ixs = [instructions.create_token_account(market, wallet, self._mint)]
        if amount:
            ixs.append(
                instructions.mint_to(
                    mint=self._mint,
                    dest=self._ata(owner),
                    authority=market,
                    amount=amount,
                    decimals=self._decimals,
                )
            )
        # A nonce memo keeps two equal faucet calls from being one deduplicated transaction.
        ixs.append(instructions.memo(market, f"earnest:faucet:{secrets.token_hex(8)}".encode()))
        self._runtime.credit_lamports(wallet, lamports)
        return self._runtime.execute(self._sign(ixs))

    def airdrop(self, owner: str, lamports: int) -> str:
        """Send `owner` new SOL in a real transfer transaction, as a cluster's faucet does."""
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
        message = Message([move], faucet.pubkey())
        tx = Transaction([faucet], message, self._runtime.latest_blockhash())
        return self._runtime.execute(VersionedTransaction.from_bytes(bytes(tx)))

    @property
    def runtime(self) -> Runtime:
        """The persisted LiteSVM underneath, for the JSON-RPC server."""
        return self._runtime

    def close(self) -> None:
        """Close the state file."""
        self._runtime.close()

    def __enter__(self) -> LocalChain:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _ata(self, owner: str) -> Pubkey:
        return get_associated_token_address(parse_address(owner), self._mint)

    def _payout_line(self, line: Transfer) -> Instruction:
        return instructions.transfer(
            source=self._vault,
            mint=self._mint,
            dest=self._ata(line.owner),
            owner=self._market.pubkey(),
            amount=line.amount,
            decimals=self._decimals,
        )

    def _sign(
        self, ixs: list[Instruction], *extra_signers: Keypair, blockhash: Hash | None = None
    ) -> VersionedTransaction:
        blockhash = blockhash or self._runtime.latest_blockhash()
        try:
            message = Message(ixs, self._market.pubkey())
            tx = Transaction([self._market, *extra_signers], message, blockhash)
        except ValueError as exc:
            raise InvalidInput(f"cannot build the transaction: {exc}") from exc
        return VersionedTransaction.from_bytes(bytes(tx))
