"""Token-2022 as the market meets it: mint extensions read, the few instructions it signs.

solana-py builds the classic SPL instructions only, so the Token-2022 ones the market and
its tests need (transfer fee, memo-required accounts, the extensions a mint is refused
for) are packed here from the program's instruction layout (spl-token-2022's
`TokenInstruction`). Extensions are read from the TLV area after a mint's or an account's
first 165 bytes and its account-type byte.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from spl.token.constants import TOKEN_2022_PROGRAM_ID

from earnest.domain.transfer_fee import NO_FEE, TransferFee

BASE_SIZE = 165  # an SPL token account; Token-2022 pads a mint to it before extensions
_MINT_TYPE, _ACCOUNT_TYPE = 1, 2
# ExtensionType numbers (spl-token-2022 extension/mod.rs).
TRANSFER_FEE_CONFIG = 1
TRANSFER_FEE_AMOUNT = 2
MINT_CLOSE_AUTHORITY = 3
CONFIDENTIAL_TRANSFER_MINT = 4
DEFAULT_ACCOUNT_STATE = 6
IMMUTABLE_OWNER = 7
MEMO_TRANSFER = 8
NON_TRANSFERABLE = 9
INTEREST_BEARING = 10
PERMANENT_DELEGATE = 12
NON_TRANSFERABLE_ACCOUNT = 13
TRANSFER_HOOK = 14
TRANSFER_HOOK_ACCOUNT = 15
CONFIDENTIAL_TRANSFER_FEE = 16
METADATA_POINTER = 18
TOKEN_METADATA = 19
GROUP_POINTER = 20
TOKEN_GROUP = 21
GROUP_MEMBER_POINTER = 22
TOKEN_GROUP_MEMBER = 23
CONFIDENTIAL_MINT_BURN = 24
SCALED_UI_AMOUNT = 25
PAUSABLE = 26
PAUSABLE_ACCOUNT = 27
_FROZEN = 2  # AccountState::Frozen
# What each extension the market cannot honour would do to a payout, in a requester's words.
_REFUSED = {
    NON_TRANSFERABLE: "its tokens are non-transferable, so nobody could be paid",
    PERMANENT_DELEGATE: "a permanent delegate could move or burn the escrow in the vault",
    CONFIDENTIAL_TRANSFER_MINT: (
        "it has confidential transfers, whose amounts the market can neither read nor prove"
    ),
    CONFIDENTIAL_TRANSFER_FEE: "its fees are confidential, so payouts cannot be priced",
    CONFIDENTIAL_MINT_BURN: "its supply is confidential, so the vault cannot be reconciled",
    PAUSABLE: "its authority can pause every transfer, payouts included",
    SCALED_UI_AMOUNT: "its amounts are rescaled by its authority, so rewards would drift",
}
# Extensions that change nothing a payout relies on: display, metadata, authorities.
_HARMLESS = {
    TRANSFER_FEE_CONFIG,
    MINT_CLOSE_AUTHORITY,
    INTEREST_BEARING,
    METADATA_POINTER,
    TOKEN_METADATA,
    GROUP_POINTER,
    TOKEN_GROUP,
    GROUP_MEMBER_POINTER,
    TOKEN_GROUP_MEMBER,
}
# Token-2022 instruction tags (TokenInstruction) and sub-instructions.
_TRANSFER_FEE_EXTENSION = 26  # 0 InitializeTransferFeeConfig, 1 TransferCheckedWithFee
_DEFAULT_ACCOUNT_STATE_EXTENSION = 28  # 0 Initialize
_REALLOCATE = 29
_MEMO_TRANSFER_EXTENSION = 30  # 0 Enable
_INITIALIZE_NON_TRANSFERABLE = 32
_INITIALIZE_PERMANENT_DELEGATE = 35
_TRANSFER_HOOK_EXTENSION = 36  # 0 Initialize
_PAUSABLE_EXTENSION = 44  # 0 Initialize


@dataclass(frozen=True)
class MintExtensions:
    """What a Token-2022 mint's extensions mean for payouts."""

    fee: TransferFee  # the fee now (the current epoch's)
    fee_ceiling: TransferFee  # the higher of the older and newer fees: what may apply soon
    has_fee: bool  # TransferFeeConfig present: transfers must state the fee
    refused: str | None  # why the market cannot pay in this mint; None: it can
    account_extensions: tuple[int, ...]  # what a new token account for it carries


def extensions(data: bytes, account_type: int) -> Iterator[tuple[int, bytes]]:
    """The (type, value) entries of a Token-2022 account's TLV area (none if classic)."""
    if len(data) <= BASE_SIZE or data[BASE_SIZE] != account_type:
        return
    at = BASE_SIZE + 1
    while at + 4 <= len(data):
        kind, length = struct.unpack_from("<HH", data, at)
        if kind == 0:  # Uninitialized: the rest is padding
            return
        yield kind, data[at + 4 : at + 4 + length]
        at += 4 + length


def _fee(value: bytes, offset: int) -> tuple[int, TransferFee]:
    epoch, maximum, bps = struct.unpack_from("<QQH", value, offset)
    return epoch, TransferFee(bps, maximum)


def mint_extensions(data: bytes, epoch: int) -> MintExtensions:
    """Read a mint's extensions: its fee at `epoch`, and why it is refused, if it is."""
    fee = ceiling = NO_FEE
    has_fee = False
    refused: list[str] = []
    account: list[int] = [IMMUTABLE_OWNER]  # the associated token account program adds it
    for kind, value in extensions(data, _MINT_TYPE):
        if kind == TRANSFER_FEE_CONFIG:
            has_fee = True
            _, older = _fee(value, 72)
            newer_epoch, newer = _fee(value, 90)
            fee = newer if epoch >= newer_epoch else older
            ceiling = TransferFee(max(older.bps, newer.bps), max(older.maximum, newer.maximum))
            account.append(TRANSFER_FEE_AMOUNT)
        elif kind == DEFAULT_ACCOUNT_STATE and value[:1] == bytes([_FROZEN]):
            refused.append("new token accounts start frozen, so new payees could not receive")
        elif kind == TRANSFER_HOOK and any(value[32:64]):
            refused.append("a transfer hook runs a program of its own on every transfer")
        elif kind in _REFUSED:
            refused.append(_REFUSED[kind])
        elif kind not in _HARMLESS and kind not in (DEFAULT_ACCOUNT_STATE, TRANSFER_HOOK):
            refused.append(f"it has extension {kind}, which this market does not know")
    return MintExtensions(fee, ceiling, has_fee, "; ".join(refused) or None, tuple(account))


def memo_required(data: bytes) -> bool:
    """Whether a token account requires a memo right before each incoming transfer."""
    return any(
        kind == MEMO_TRANSFER and value[:1] == b"\x01"
        for kind, value in extensions(data, _ACCOUNT_TYPE)
    )


_EXTENSION_SIZES = {TRANSFER_FEE_AMOUNT: 8, IMMUTABLE_OWNER: 0, MEMO_TRANSFER: 1}


def account_size(extension_types: tuple[int, ...]) -> int:
    """Bytes of a Token-2022 token account with these extensions (rent is paid on them)."""
    return BASE_SIZE + 1 + sum(4 + _EXTENSION_SIZES[k] for k in extension_types)


def mint_size(extension_sizes: list[int]) -> int:
    """Bytes of a Token-2022 mint whose extensions' values have these sizes."""
    return BASE_SIZE + 1 + sum(4 + n for n in extension_sizes)


def _ix(data: bytes, *accounts: AccountMeta) -> Instruction:
    return Instruction(TOKEN_2022_PROGRAM_ID, data, list(accounts))


def _w(key: Pubkey, signer: bool = False) -> AccountMeta:
    return AccountMeta(key, is_signer=signer, is_writable=True)


def _r(key: Pubkey, signer: bool = False) -> AccountMeta:
    return AccountMeta(key, is_signer=signer, is_writable=False)


def _option(key: Pubkey | None) -> bytes:
    return b"\x00" if key is None else b"\x01" + bytes(key)


def transfer_checked_with_fee(
    source: Pubkey, mint: Pubkey, dest: Pubkey, owner: Pubkey, amount: int, decimals: int, fee: int
) -> Instruction:
    """TransferCheckedWithFee: it fails unless the mint withholds exactly `fee`."""
    data = struct.pack("<BBQBQ", _TRANSFER_FEE_EXTENSION, 1, amount, decimals, fee)
    return _ix(data, _w(source), _r(mint), _w(dest), _r(owner, True))


# Instructions only the market's own mint setup and the tests' payees and mints sign.


def initialize_transfer_fee(
    mint: Pubkey, authority: Pubkey | None, fee: TransferFee
) -> Instruction:
    """InitializeTransferFeeConfig (before InitializeMint)."""
    data = (
        bytes([_TRANSFER_FEE_EXTENSION, 0])
        + _option(authority)
        + _option(authority)
        + struct.pack("<HQ", fee.bps, fee.maximum)
    )
    return _ix(data, _w(mint))


def initialize_default_frozen(mint: Pubkey) -> Instruction:
    return _ix(bytes([_DEFAULT_ACCOUNT_STATE_EXTENSION, 0, _FROZEN]), _w(mint))


def initialize_non_transferable(mint: Pubkey) -> Instruction:
    return _ix(bytes([_INITIALIZE_NON_TRANSFERABLE]), _w(mint))


def initialize_permanent_delegate(mint: Pubkey, delegate: Pubkey) -> Instruction:
    return _ix(bytes([_INITIALIZE_PERMANENT_DELEGATE]) + bytes(delegate), _w(mint))


def initialize_transfer_hook(mint: Pubkey, authority: Pubkey, program: Pubkey) -> Instruction:
    return _ix(bytes([_TRANSFER_HOOK_EXTENSION, 0]) + bytes(authority) + bytes(program), _w(mint))


def initialize_pausable(mint: Pubkey, authority: Pubkey) -> Instruction:
    return _ix(bytes([_PAUSABLE_EXTENSION, 0]) + bytes(authority), _w(mint))


def require_memos(account: Pubkey, owner: Pubkey) -> list[Instruction]:
    """Grow `owner`'s token account for MemoTransfer (owner pays), then require memos."""
    grow = _ix(
        bytes([_REALLOCATE]) + struct.pack("<H", MEMO_TRANSFER),
        _w(account),
        _w(owner, True),
        _r(SYSTEM_PROGRAM_ID),
        _r(owner, True),
    )
    return [grow, _ix(bytes([_MEMO_TRANSFER_EXTENSION, 0]), _w(account), _r(owner, True))]


# The value sizes of the mint extensions above, for the mint account's size.
SIZES = {
    TRANSFER_FEE_CONFIG: 108,
    DEFAULT_ACCOUNT_STATE: 1,
    NON_TRANSFERABLE: 0,
    PERMANENT_DELEGATE: 32,
    TRANSFER_HOOK: 64,
    PAUSABLE: 33,
}


@dataclass(frozen=True)
class MintSetup:
    """The mint a new local chain creates: SPL Token by default; Token-2022 with a transfer
    fee, or with an extension the market refuses (for tests and demos of the refusal)."""

    token_2022: bool = False
    transfer_fee: TransferFee | None = None
    # Among "non-transferable", "permanent-delegate", "default-frozen", "transfer-hook",
    # "pausable": extensions a market refuses to pay in.
    refused: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.refused) - set(_SETUP)
        if unknown:
            raise ValueError(f"unknown mint extensions {sorted(unknown)}; known: {sorted(_SETUP)}")
        if (self.transfer_fee or self.refused) and not self.token_2022:
            raise ValueError("mint extensions need a Token-2022 mint")

    def build(self, mint: Pubkey, market: Pubkey) -> tuple[int, list[Instruction], bool]:
        """The mint account's size, the extension instructions to run before
        InitializeMint, and whether it needs a freeze authority."""
        ixs: list[Instruction] = []
        sizes: list[int] = []
        if self.transfer_fee is not None:
            ixs.append(initialize_transfer_fee(mint, market, self.transfer_fee))
            sizes.append(SIZES[TRANSFER_FEE_CONFIG])
        for name in self.refused:
            kind, make = _SETUP[name]
            ixs.append(make(mint, market))
            sizes.append(SIZES[kind])
        return mint_size(sizes) if self.token_2022 else 82, ixs, "default-frozen" in self.refused


# Any non-zero program id makes a hook; the memo program stands in (it is never invoked
# because the market refuses the mint before any transfer).
_HOOK_PROGRAM = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")


def _hook(mint: Pubkey, market: Pubkey) -> Instruction:
    return initialize_transfer_hook(mint, market, _HOOK_PROGRAM)


def _no_authority(make: Callable[[Pubkey], Instruction]) -> Callable[[Pubkey, Pubkey], Instruction]:
    return lambda mint, _market: make(mint)


_SETUP: dict[str, tuple[int, Callable[[Pubkey, Pubkey], Instruction]]] = {
    "non-transferable": (NON_TRANSFERABLE, _no_authority(initialize_non_transferable)),
    "permanent-delegate": (PERMANENT_DELEGATE, initialize_permanent_delegate),
    "default-frozen": (DEFAULT_ACCOUNT_STATE, _no_authority(initialize_default_frozen)),
    "transfer-hook": (TRANSFER_HOOK, _hook),
    "pausable": (PAUSABLE, initialize_pausable),
}
