"""Ed25519 keys as Solana wallets: key files and the market's `Crypto` port."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from earnest.domain.errors import InvalidInput

# The Solana CLI stores a keypair as a JSON array of 64 integers: secret seed, then public key.
_KEYPAIR_LENGTH = 64


def read_keypair(path: Path) -> Keypair:
    """Read a Solana-CLI keypair file; InvalidInput if it is missing or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidInput(f"no keypair file at {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read keypair file {path}: {exc}") from exc
    try:
        numbers = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"keypair file {path} is not JSON") from exc
    if (
        not isinstance(numbers, list)
        or len(numbers) != _KEYPAIR_LENGTH
        or not all(type(n) is int and 0 <= n <= 255 for n in numbers)
    ):
        raise InvalidInput(
            f"keypair file {path} must hold a JSON array of {_KEYPAIR_LENGTH} integers 0-255"
        )
    try:
        # from_bytes also checks that the public half matches the secret half.
        return Keypair.from_bytes(bytes(numbers))
    except ValueError as exc:
        raise InvalidInput(f"keypair file {path} holds an inconsistent keypair") from exc


def write_keypair(path: Path, keypair: Keypair) -> None:
    """Write `keypair` to a new file readable by its owner only; never overwrite a key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: overwriting a key file could lose the only copy of a funded wallet.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise InvalidInput(f"refusing to overwrite the existing key file {path}") from exc
    os.fchmod(fd, 0o600)  # whatever the umask
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(list(bytes(keypair)), file)


def load_or_create_keypair(path: Path) -> Keypair:
    """The keypair stored at `path`, created (mode 0600) if the file does not exist.

    An existing file that its group or others may read or write is refused: on a real
    cluster this key holds the vault, and ssh treats private keys the same way.
    """
    if not path.exists():
        keypair = Keypair()
        try:
            write_keypair(path, keypair)
            return keypair
        except InvalidInput:
            pass  # another process created it first: use theirs
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InvalidInput(
            f"the market key file {path} is open to other users (mode {mode:04o}); "
            f"run: chmod 600 {path}"
        )
    return read_keypair(path)


def parse_address(text: str) -> Pubkey:
    """A base58 Solana address as a Pubkey; InvalidInput if it is not one."""
    try:
        return Pubkey.from_string(text)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"not a Solana address: {text!r}") from exc


class MarketCrypto:
    """The `Crypto` port: verify wallet signatures, sign as the market."""

    def __init__(self, keypair: Keypair) -> None:
        self._keypair = keypair

    @property
    def market_address(self) -> str:
        """The market wallet's address."""
        return str(self._keypair.pubkey())

    def is_address(self, text: str) -> bool:
        """Whether `text` is a base58 Solana address (32 bytes)."""
        try:
            Pubkey.from_string(text)
        except (ValueError, TypeError):
            return False
        return True

    def verify(self, address: str, message: bytes, signature: str) -> bool:
        """Whether `signature` (base58) is `address`'s Ed25519 signature of `message`."""
        # Input comes straight from the network: anything malformed is simply "not valid".
        try:
            return bool(
                Signature.from_string(signature).verify(Pubkey.from_string(address), message)
            )
        except Exception:
            return False

    def sign(self, message: bytes) -> str:
        """The market key's signature of `message`, base58."""
        return str(self._keypair.sign_message(message))
