"""The transactions both chains sign: payouts, faucet mints, and Solana's size limit."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction, VersionedTransaction
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import get_associated_token_address

from earnest.adapters.chain import instructions
from earnest.adapters.chain.keys import parse_address
from earnest.domain.errors import InvalidInput, TransactionTooLarge
from earnest.services.chain_port import MAX_TRANSACTION_BYTES, SignedTransaction, Transfer


def ata(owner: str, mint: Pubkey, program: Pubkey = TOKEN_PROGRAM_ID) -> Pubkey:
    """The associated token account of wallet `owner` for `mint` (of token `program`)."""
    return get_associated_token_address(parse_address(owner), mint, program)


@dataclass(frozen=True)
class Token:
    """The mint a payout moves: its address, decimals, program, and whether it charges a
    transfer fee (then every transfer states the fee, TransferCheckedWithFee)."""

    mint: Pubkey
    decimals: int
    program: Pubkey = TOKEN_PROGRAM_ID
    has_fee: bool = False


def payout_instructions(
    *,
    market: Pubkey,
    token: Token,
    transfers: Sequence[Transfer],
    memo: bytes,
    create_for: Sequence[str] = (),
) -> list[Instruction]:
    """Idempotent ATA creates, one transfer_checked from the vault per line (a memo right
    before it when its account requires one), then the batch's memo."""
    if not transfers:
        raise InvalidInput("a payout needs at least one transfer")
    mint, program = token.mint, token.program
    vault = get_associated_token_address(market, mint, program)
    ixs = [
        instructions.create_token_account(market, parse_address(o), mint, program)
        for o in create_for
    ]
    for line in transfers:
        if line.memo:
            # Token-2022's MemoTransfer looks only at the instruction just before the transfer.
            ixs.append(instructions.PAYEE_MEMO)
        ixs.append(
            instructions.transfer(
                source=vault,
                mint=mint,
                dest=ata(line.owner, mint, program),
                owner=market,
                amount=line.amount,
                decimals=token.decimals,
                program=program,
                fee=line.fee if token.has_fee else None,
            )
        )
    ixs.append(instructions.memo(market, memo))
    return ixs


def faucet_instructions(
    *, market: Pubkey, token: Token, owner: str, amount: int
) -> list[Instruction]:
    """Create `owner`'s token account if needed and mint `amount` (0 allowed) into it."""
    wallet = parse_address(owner)
    ixs = [instructions.create_token_account(market, wallet, token.mint, token.program)]
    if amount:
        ixs.append(
            instructions.mint_to(
                mint=token.mint,
                dest=ata(owner, token.mint, token.program),
                authority=market,
                amount=amount,
                decimals=token.decimals,
                program=token.program,
            )
        )
    # A nonce memo keeps two equal faucet calls from being one deduplicated transaction.
    ixs.append(instructions.memo(market, f"earnest:faucet:{secrets.token_hex(8)}".encode()))
    return ixs


def sign(
    ixs: list[Instruction], signers: Sequence[Keypair], blockhash: Hash
) -> VersionedTransaction:
    """A legacy transaction of `ixs`, paid by the first signer."""
    try:
        message = Message(ixs, signers[0].pubkey())
        tx = Transaction(list(signers), message, blockhash)
    except ValueError as exc:
        raise InvalidInput(f"cannot build the transaction: {exc}") from exc
    return VersionedTransaction.from_bytes(bytes(tx))


def check_size(raw: bytes, what: str = "transaction") -> None:
    """Refuse a transaction over Solana's 1,232 bytes (LiteSVM would accept it)."""
    if len(raw) > MAX_TRANSACTION_BYTES:
        raise TransactionTooLarge(
            f"{what} is {len(raw)} bytes, over Solana's limit of {MAX_TRANSACTION_BYTES}",
            size=len(raw),
        )


def signed_payout(
    tx: VersionedTransaction, last_valid_height: int, transfers: int, creates: int
) -> SignedTransaction:
    """The port's view of a signed payout; TransactionTooLarge if it would not fit."""
    raw = bytes(tx)
    check_size(raw, f"payout transaction ({transfers} transfers, {creates} account creations)")
    return SignedTransaction(
        signature=str(tx.signatures[0]),
        raw=raw,
        blockhash=str(tx.message.recent_blockhash),
        last_valid_height=last_valid_height,
    )
