"""The SPL instructions the market signs: mint setup, payout lines, faucet mints."""

from __future__ import annotations

from collections.abc import Sequence

from solders.instruction import Instruction
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account
from spl.memo.constants import MEMO_PROGRAM_ID
from spl.memo.instructions import create_memo
from spl.memo.models import MemoParams
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import (
    create_idempotent_associated_token_account,
    initialize_mint2,
    mint_to_checked,
    transfer_checked,
)
from spl.token.models import InitializeMint2Params, MintToCheckedParams, TransferCheckedParams

from earnest.adapters.chain import token2022
from earnest.domain.errors import InvalidInput

MINT_SIZE = 82  # bytes of an SPL Token mint account
_U64_LIMIT = 2**64


def check_amount(amount: int, what: str) -> None:
    """Refuse amounts an SPL u64 cannot carry (and zero, which pays nobody)."""
    if type(amount) is not int or not 0 < amount < _U64_LIMIT:
        raise InvalidInput(f"{what} must be an integer between 1 and 2**64-1, got {amount!r}")


def create_mint(
    market: Pubkey,
    mint: Pubkey,
    decimals: int,
    rent: int,
    *,
    program: Pubkey = TOKEN_PROGRAM_ID,
    size: int = MINT_SIZE,
    extensions: Sequence[Instruction] = (),
    freeze_authority: Pubkey | None = None,
) -> list[Instruction]:
    """Create `mint` with the market as mint authority, and the market's vault for it.

    A Token-2022 mint's `extensions` are initialized between its creation and
    InitializeMint, as the program requires; `size` counts their bytes.
    """
    return [
        create_account(
            CreateAccountParams(
                from_pubkey=market, to_pubkey=mint, lamports=rent, space=size, owner=program
            )
        ),
        *extensions,
        initialize_mint2(
            InitializeMint2Params(
                decimals=decimals,
                program_id=program,
                mint=mint,
                mint_authority=market,
                freeze_authority=freeze_authority,
            )
        ),
        create_token_account(market, market, mint, program),
    ]


def create_token_account(
    payer: Pubkey, owner: Pubkey, mint: Pubkey, program: Pubkey = TOKEN_PROGRAM_ID
) -> Instruction:
    """Create `owner`'s associated token account unless it exists (idempotent)."""
    return create_idempotent_associated_token_account(payer, owner, mint, program)


def transfer(
    *,
    source: Pubkey,
    mint: Pubkey,
    dest: Pubkey,
    owner: Pubkey,
    amount: int,
    decimals: int,
    program: Pubkey = TOKEN_PROGRAM_ID,
    fee: int | None = None,
) -> Instruction:
    """A TransferChecked of `amount` base units, authorized by `owner`; with `fee`, Token-2022's
    TransferCheckedWithFee, which fails unless the mint withholds exactly `fee` of it."""
    check_amount(amount, "a transfer amount")
    if fee is not None:
        return token2022.transfer_checked_with_fee(source, mint, dest, owner, amount, decimals, fee)
    return transfer_checked(
        TransferCheckedParams(
            program_id=program,
            source=source,
            mint=mint,
            dest=dest,
            owner=owner,
            amount=amount,
            decimals=decimals,
        )
    )


def mint_to(
    *,
    mint: Pubkey,
    dest: Pubkey,
    authority: Pubkey,
    amount: int,
    decimals: int,
    program: Pubkey = TOKEN_PROGRAM_ID,
) -> Instruction:
    """A MintToChecked of `amount` new base units into `dest`."""
    check_amount(amount, "a mint amount")
    return mint_to_checked(
        MintToCheckedParams(
            program_id=program,
            mint=mint,
            dest=dest,
            mint_authority=authority,
            amount=amount,
            decimals=decimals,
        )
    )


def memo(signer: Pubkey, text: bytes) -> Instruction:
    """A Memo instruction signed by `signer`; the Memo program accepts only UTF-8."""
    try:
        text.decode("utf-8")
    except (UnicodeDecodeError, AttributeError) as exc:
        raise InvalidInput("a memo must be UTF-8 text given as bytes") from exc
    return create_memo(MemoParams(program_id=MEMO_PROGRAM_ID, signer=signer, message=text))


# What a memo-required payee's transfer is preceded by: no signer, a few bytes.
PAYEE_MEMO = Instruction(MEMO_PROGRAM_ID, b"earnest payout", [])
