"""What both chains know alike: the market key, the mint, its decimals and the vault."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Self

from solders.address_lookup_table_account import AddressLookupTable, AddressLookupTableAccount
from solders.compute_budget import set_compute_unit_limit
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction, VersionedTransaction
from spl.token.constants import TOKEN_PROGRAM_ID

from earnest.adapters.chain import instructions, lookup, payout, token2022
from earnest.adapters.chain.history import TOKEN_ACCOUNT_SIZE
from earnest.adapters.chain.keys import parse_address
from earnest.domain.errors import ChainError, InvalidInput
from earnest.domain.transfer_fee import NO_FEE, TransferFee
from earnest.services.chain_port import MintTerms, SignedTransaction, Transfer

# Compute units of a v0 payout as LiteSVM reports them (bench/settle.py): 150 for the
# compute-budget instruction, ~530 for the memo, ~105 per TransferChecked. The limit asks
# for 25% more than measured, and at least 5,000, so a slower token program still fits
# while the block scheduler sees a tight figure.
_UNITS_FIXED = 700
_UNITS_PER_TRANSFER = 105
# Token-2022 runs more per transfer: TransferCheckedWithFee with a payee memo before it.
_UNITS_PER_2022 = 5_000
_UNITS_MARGIN = 1.25
_UNITS_FLOOR = 5_000
_CREATES_PER_TRANSACTION = 8
_SIGNATURE_FEE = 5000  # lamports per signature (Solana's, and LiteSVM's default)  # idempotent ATA creates: 8 fit 1,232 bytes with room to spare


class MarketMint:
    """The market's wallet, its mint and its vault; the base of LocalChain and RpcChain."""

    def __init__(
        self, market: Keypair, mint: Pubkey, decimals: int, program: Pubkey = TOKEN_PROGRAM_ID
    ) -> None:
        self._market = market
        self._mint = mint
        self._decimals = decimals
        self._program = program
        self._vault = payout.ata(str(market.pubkey()), mint, program)
        # Whether transfers must state the mint's fee; a mint gains no extension later.
        self._has_fee = False
        # Entries of the tables as the last extend_lookup left them: a batch is signed ~10
        # times while packing, and over RPC each read of the tables is a request.
        self._entries: dict[str, list[Pubkey]] = {}

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

    @property
    def token_program(self) -> str:
        """The token program that owns the mint (SPL Token or Token-2022)."""
        return str(self._program)

    def token_account(self, owner: str) -> str:
        """The associated token account address of `owner` for the mint."""
        return str(self._ata(owner))

    def transfer_fee(self) -> TransferFee:
        """The mint's transfer fee now (NO_FEE for a classic mint, without a read)."""
        if self._program == TOKEN_PROGRAM_ID:
            return NO_FEE
        return token2022.mint_extensions(self._mint_data(), self._epoch()).fee

    def mint_terms(self) -> MintTerms:
        """The mint's program, fee now, refusal reason and a new payee account's rent."""
        found = self._mint_data()
        classic = self._program == TOKEN_PROGRAM_ID
        ext = token2022.mint_extensions(found, self._epoch()) if not classic else None
        self._has_fee = ext is not None and ext.has_fee
        size = token2022.account_size(ext.account_extensions) if ext else TOKEN_ACCOUNT_SIZE
        return MintTerms(
            program="spl-token" if classic else "spl-token-2022",
            decimals=self._decimals,
            transfer_fee=ext.fee if ext else NO_FEE,
            fee_ceiling=ext.fee_ceiling if ext else NO_FEE,
            refused=ext.refused if ext else None,
            account_rent=self._rent(size),
            account_size=size,
            signature_fee=self._signature_fee(),
        )

    def memo_required(self, owners: Sequence[str]) -> set[str]:
        """The owners whose token account requires a memo before an incoming transfer (only
        Token-2022 accounts can: a classic mint costs no read)."""
        if self._program == TOKEN_PROGRAM_ID or not owners:
            return set()
        unique = list(dict.fromkeys(owners))
        found = self._account_data([self._ata(o) for o in unique])
        return {
            owner
            for owner, data in zip(unique, found, strict=True)
            if data is not None and token2022.memo_required(data)
        }

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
        self,
        transfers: Sequence[Transfer],
        memo: bytes,
        create_for: Sequence[str] = (),
        tables: Sequence[str] = (),
    ) -> SignedTransaction:
        """Sign one payout: idempotent ATA creates, transfer_checked each, a memo.

        With `tables` it is a v0 transaction loading token accounts from those lookup
        tables, under a tight compute-unit limit; without, a legacy one (after a compute
        budget, on chains that set one). Raises TransactionTooLarge, never returns a
        transaction over MAX_TRANSACTION_BYTES: LiteSVM accepts oversized transactions, a
        cluster would not, so both refuse here.
        """
        blockhash, last_valid = self._blockhash()
        body = self._payout_instructions(transfers, memo, create_for)
        if tables:
            ixs = self._v0_budget(len(transfers)) + body
            accounts = [
                AddressLookupTableAccount(parse_address(key), entries)
                for key, entries in self._table_entries(tables).items()
            ]
            signed = lookup.sign_v0(ixs, self._market, blockhash, accounts)
        else:
            ixs = self._budget(len(transfers), len(create_for)) + body
            signed = payout.sign(ixs, [self._market], blockhash)
        return payout.signed_payout(signed, last_valid, len(transfers), len(create_for))

    def build_transfer(
        self, owner: str, to: str, amount: int, *, create: bool, blockhash: str
    ) -> bytes:
        """The message of a worker's own transfer: `owner` sends `amount` from their token
        account to `to`'s (created first when `create`), the market paying the network fee.

        The same inputs always give the same bytes, so the message the worker signed in the
        browser is rebuilt, not trusted, when it comes back (`send_transfer`)."""
        sender, recipient = parse_address(owner), parse_address(to)
        if not recipient.is_on_curve():
            # A token account or a program's address: its own token account would strand
            # the tokens. Exchanges list the wallet (owner) address for Solana tokens.
            raise InvalidInput(
                "that address is a token account or a program's, not a wallet: "
                "give the wallet address the tokens are for"
            )
        payer, program = self._market.pubkey(), self._program
        ixs = [instructions.create_token_account(payer, recipient, self._mint, program)]
        ixs = ixs if create else []
        ixs.append(
            instructions.transfer(
                source=self._ata(owner),
                mint=self._mint,
                dest=self._ata(to),
                owner=sender,
                amount=amount,
                decimals=self._decimals,
                program=program,
            )
        )
        try:
            message = Message.new_with_blockhash(
                ixs, self._market.pubkey(), Hash.from_string(blockhash)
            )
        except ValueError as exc:
            raise InvalidInput(f"cannot build the transfer: {exc}") from exc
        return bytes(message)

    def send_transfer(self, message: bytes, owner_signature: str) -> str:
        """Co-sign a message from `build_transfer` as its fee payer and send it; its signature.

        The caller has checked `owner_signature` against the message it rebuilt."""
        parsed = Message.from_bytes(message)
        by_key = {
            self._market.pubkey(): self._market.sign_message(message),
        }
        signers = parsed.account_keys[: parsed.header.num_required_signatures]
        signatures = [by_key.get(k) or Signature.from_string(owner_signature) for k in signers]
        tx = Transaction.populate(parsed, signatures)
        return self.submit(bytes(VersionedTransaction.from_legacy(tx)))

    def fresh_blockhash(self) -> str:
        """A blockhash for a transaction a client signs (a worker's transfer, a deposit)."""
        return str(self._blockhash()[0])

    def submit(self, raw: bytes) -> str:
        """Send a signed transaction and return its signature once it landed."""
        raise NotImplementedError

    def create_token_accounts(self, owners: Sequence[str]) -> None:
        """Create the owners' token accounts, a few per transaction (idempotent creates)."""
        market = self._market.pubkey()
        self._run_all(
            [
                [
                    instructions.create_token_account(
                        market, parse_address(o), self._mint, self._program
                    )
                    for o in owners[start : start + _CREATES_PER_TRANSACTION]
                ]
                for start in range(0, len(owners), _CREATES_PER_TRANSACTION)
            ]
        )

    def extend_lookup(self, owners: Sequence[str], tables: Sequence[str]) -> list[str]:
        """Put the owners' token accounts in the market's lookup tables; every table after.

        The last of `tables` is extended up to 256 entries, then a new table is created
        (its first entries the vault and the mint). Entries added are usable only from the
        next slot: this waits until the chain has passed the slot of the last extension.
        """
        # A table the chain no longer holds (a reset local chain) is left out, not extended.
        found = [
            (parse_address(k), t)
            for k, t in zip(tables, self._read_tables(tables), strict=True)
            if t
        ]
        keys = [key for key, _ in found]
        entries = [list(table.addresses) for _, table in found]
        known = {a for found in entries for a in found}
        wanted = [self._vault, self._mint, *(self._ata(o) for o in owners)]
        todo = [a for a in dict.fromkeys(wanted) if a not in known]
        while todo:
            if not keys or len(entries[-1]) >= lookup.TABLE_CAPACITY:
                ix, key = lookup.create(self._market.pubkey(), self._recent_slot())
                self._run([ix])
                keys.append(key)
                entries.append([])
            room = lookup.TABLE_CAPACITY - len(entries[-1])
            for chunk in lookup.chunks(todo[:room]):
                self._run([lookup.extend(self._market.pubkey(), keys[-1], chunk)])
                entries[-1] += chunk
            todo = todo[room:]
            self._await_active(keys[-1])
        self._entries = {str(k): e for k, e in zip(keys, entries, strict=True)}
        return [str(k) for k in keys]

    def lookup_positions(self, owners: Sequence[str]) -> dict[str, int]:
        """Where each owner's token account sits across the tables the last `extend_lookup`
        returned (table number * 256 + index); owners not in them are left out."""
        where = {
            address: number * lookup.TABLE_CAPACITY + index
            for number, entries in enumerate(self._entries.values())
            for index, address in enumerate(entries)
        }
        found = {owner: where.get(self._ata(owner)) for owner in owners}
        return {owner: at for owner, at in found.items() if at is not None}

    def _table_entries(self, tables: Sequence[str]) -> dict[str, list[Pubkey]]:
        """The entries of `tables`, from the cache, else from the chain (missing ones left out).

        Tables only grow, so cached entries are a valid prefix even if another settler has
        extended a table since: an account beyond it would only be spelled out in full.
        """
        unknown = [t for t in tables if t not in self._entries]
        for key, table in zip(unknown, self._read_tables(unknown), strict=True):
            if table is not None:
                self._entries[key] = list(table.addresses)
        return {t: self._entries[t] for t in tables if t in self._entries}

    def _read_tables(self, tables: Sequence[str]) -> list[AddressLookupTable | None]:
        """The lookup tables at these addresses, as the chain holds them now."""
        raise NotImplementedError

    def _run(self, ixs: list[Instruction]) -> None:
        """Sign `ixs` as the market in a legacy transaction and wait until it lands."""
        raise NotImplementedError

    def _run_all(self, transactions: Sequence[list[Instruction]]) -> None:
        """`_run` each, in order; a chain that waits for landing sends them all first. Only
        for transactions that do not depend on each other (idempotent creates)."""
        for ixs in transactions:
            self._run(ixs)

    def _recent_slot(self) -> int:
        """A slot the chain still lists among its recent slot hashes (to derive a table)."""
        raise NotImplementedError

    def _await_active(self, table: Pubkey) -> None:
        """Return once the chain's slot has passed the table's last extension."""
        raise NotImplementedError

    def _v0_budget(self, transfers: int) -> list[Instruction]:
        """A compute-unit limit just above what LiteSVM measures for this many transfers."""
        each = _UNITS_PER_TRANSFER if self._program == TOKEN_PROGRAM_ID else _UNITS_PER_2022
        measured = _UNITS_FIXED + transfers * each
        return [set_compute_unit_limit(max(_UNITS_FLOOR, int(measured * _UNITS_MARGIN)))]

    def _blockhash(self) -> tuple[Hash, int]:
        """The blockhash to sign with and the last block height it can land at."""
        raise NotImplementedError

    def _budget(self, transfers: int, creates: int) -> list[Instruction]:
        """Compute-budget instructions to put first; none unless a chain sets a fee."""
        return []

    def _fee_of(self, mint: Pubkey, amount: int) -> int:
        """What the market's mint withholds from `amount` now (other mints: not priced)."""
        return self.transfer_fee().of(amount) if mint == self._mint and self._has_fee else 0

    def _mint_data(self) -> bytes:
        """The mint account's bytes as the chain holds them now."""
        (found,) = self._account_data([self._mint])
        if found is None:
            raise ChainError(f"the mint {self._mint} is gone from the chain")
        return found

    def _account_data(self, keys: Sequence[Pubkey]) -> list[bytes | None]:
        """The data of these accounts (None where one does not exist)."""
        raise NotImplementedError

    def _epoch(self) -> int:
        """The chain's current epoch (a transfer fee may change at an epoch)."""
        raise NotImplementedError

    def _rent(self, size: int) -> int:
        """Lamports an account of `size` bytes needs to be rent-exempt, by the chain's rent."""
        raise NotImplementedError

    def _signature_fee(self) -> int:
        return _SIGNATURE_FEE

    @property
    def _token(self) -> payout.Token:
        return payout.Token(self._mint, self._decimals, self._program, self._has_fee)

    def _ata(self, owner: str) -> Pubkey:
        return payout.ata(owner, self._mint, self._program)

    def _payout_instructions(
        self, transfers: Sequence[Transfer], memo: bytes, create_for: Sequence[str]
    ) -> list[Instruction]:
        if self._program != TOKEN_PROGRAM_ID and any(t.fee for t in transfers):
            self._has_fee = True  # a fee stated means the mint has one, even before mint_terms
        return payout.payout_instructions(
            market=self._market.pubkey(),
            token=self._token,
            transfers=transfers,
            memo=memo,
            create_for=create_for,
        )

    def _faucet_instructions(self, owner: str, amount: int) -> list[Instruction]:
        return payout.faucet_instructions(
            market=self._market.pubkey(), token=self._token, owner=owner, amount=amount
        )
