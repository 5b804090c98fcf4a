"""A client-side Solana wallet for the SDK, the demo and tests."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.transaction import Transaction
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import get_associated_token_address

from earnest.adapters.chain import instructions, token2022
from earnest.adapters.chain.keys import parse_address, read_keypair, write_keypair
from earnest.domain.errors import InvalidInput


class Wallet:
    """An Ed25519 keypair that signs sign-in messages and deposit transactions."""

    def __init__(self, keypair: Keypair) -> None:
        self.keypair = keypair

    @classmethod
    def generate(cls) -> Wallet:
        """A wallet with a fresh random key."""
        return cls(Keypair())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Wallet:
        """The wallet stored in a Solana-CLI keypair file (a path or its name as text)."""
        return cls(read_keypair(Path(path)))

    def save(self, path: Path) -> None:
        """Store the key in a new Solana-CLI keypair file with mode 0600."""
        write_keypair(path, self.keypair)

    @property
    def address(self) -> str:
        """The wallet's base58 address."""
        return str(self.keypair.pubkey())

    def sign_message(self, message: bytes) -> str:
        """The wallet's Ed25519 signature of `message`, base58."""
        return str(self.keypair.sign_message(message))

    def token_account(self, mint: str, program: str = str(TOKEN_PROGRAM_ID)) -> str:
        """The wallet's associated token account for `mint` (of token `program`)."""
        key = parse_address(program)
        return str(get_associated_token_address(self.keypair.pubkey(), parse_address(mint), key))

    def require_memos_transaction(self, *, mint: str, program: str, blockhash: str) -> bytes:
        """A signed transaction making the wallet's (existing) Token-2022 account for `mint`
        refuse incoming transfers without a memo right before them (MemoTransfer)."""
        owner = self.keypair.pubkey()
        account = parse_address(self.token_account(mint, program))
        ixs = token2022.require_memos(account, owner)
        return bytes(Transaction([self.keypair], Message(ixs, owner), _blockhash(blockhash)))

    def deposit_transaction(
        self,
        *,
        mint: str,
        decimals: int,
        vault: str,
        amount: int,
        blockhash: str,
        program: str = str(TOKEN_PROGRAM_ID),
    ) -> bytes:
        """A signed legacy transaction moving `amount` from the wallet's token account to
        `vault` (a transfer-fee mint withholds its fee from it on the way)."""
        owner = self.keypair.pubkey()
        mint_key = parse_address(mint)
        move = instructions.transfer(
            source=parse_address(self.token_account(mint, program)),
            mint=mint_key,
            dest=parse_address(vault),
            owner=owner,
            amount=amount,
            decimals=decimals,
            program=parse_address(program),
        )
        recent = _blockhash(blockhash)
        # A nonce memo makes two equal deposits two transactions: with the same blockhash
        # they would otherwise share a signature, and the chain would run only the first.
        nonce = instructions.memo(owner, f"earnest:deposit:{secrets.token_hex(8)}".encode())
        return bytes(Transaction([self.keypair], Message([move, nonce], owner), recent))


def _blockhash(text: str) -> Hash:
    try:
        return Hash.from_string(text)
    except ValueError as exc:
        raise InvalidInput(f"not a blockhash: {text!r}") from exc
