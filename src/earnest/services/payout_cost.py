"""What paying a campaign's workers costs on chain, shown before it is funded.

Tokens: the campaign's unit cost (reward, market fee and, in a transfer-fee mint, the fee
that sends the reward whole) times its units; that is what funding it takes. SOL, paid by
the market's wallet: each payout transaction's signature fee (transfers per transaction
from the packing below), the rent of each new payee's token account (the associated
account of the mint's program, its size and rent read from the chain), the transactions
creating those accounts, and the payee's entry in the market's lookup tables (32 bytes of
rent, and the extend transactions). A payee whose destination already holds a token
account for the mint (an exchange deposit address, a wallet paid before) costs only its
transfer. Payees not named are counted as new: the most they can cost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from earnest.domain import escrow
from earnest.domain.errors import InvalidInput
from earnest.services.chain_port import MAX_TRANSACTION_BYTES, Chain
from earnest.services.common import owned_campaign
from earnest.services.identity import Principal
from earnest.services.ports import StoreOf, WorkUnit

MAX_DESTINATIONS = 10_000
# The byte model of a v0 payout (docs/money.md, "Packing"): 355 bytes of signature, static
# keys, blockhash, budget, Merkle memo and two table lookups, then 18 bytes per transfer
# (its TransferChecked and a table index: 48 a transaction); TransferCheckedWithFee adds
# its u64 fee and a byte (32 a transaction), a payee that requires a memo a 17-byte memo
# instruction before its transfer. Those are the counts LiteSVM batches measured.
_FIXED_BYTES = 355
_TRANSFER_BYTES = 18
_FEE_BYTES = 9
_MEMO_BYTES = 17
_CREATES_PER_TRANSACTION = 8  # what the settler creates per transaction (adapters/chain)
_ENTRIES_PER_EXTEND = 28  # lookup-table addresses per extend transaction
_ENTRY_BYTES = 32
_ACCOUNT_OVERHEAD = 128  # bytes Solana's rent counts for every account besides its data


@dataclass(frozen=True)
class EstimatePayoutCost:
    """The cost of paying `campaign_id`'s units to `payees` distinct workers (None: one per
    unit, the most), of whom the wallets `destinations` are known."""

    who: Principal
    campaign_id: str
    payees: int | None = None
    destinations: tuple[str, ...] = ()


@dataclass(frozen=True)
class PayoutCost:
    token_program: str
    units: int
    unit_cost: int  # tokens (base units) escrow pays per unit, transfer fee included
    budget: int  # tokens funding every unit takes: units x unit_cost
    token_transfer_fees: int  # of the budget, what the mint's transfer fee takes at most
    payees: int
    new_accounts: int  # payees whose token account the market creates
    existing_accounts: int  # named destinations that already hold one: transfer only
    memo_payees: int  # named destinations that require a memo before each transfer
    transfers_per_transaction: int
    transactions: int  # payout transactions
    signature_fee: int  # lamports per transaction
    network_fees: int  # lamports: payouts, account creations and table extensions
    account_size: int  # bytes of a new payee's token account
    account_rent: int  # lamports each
    rent: int  # lamports: new accounts, and their lookup-table entries
    total_lamports: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def transfers_per_transaction(*, fee: bool, memo_share: float = 0.0) -> int:
    """How many payout transfers fit one 1,232-byte v0 transaction (at least 1)."""
    each = _TRANSFER_BYTES + (_FEE_BYTES if fee else 0) + _MEMO_BYTES * memo_share
    return max(1, int((MAX_TRANSACTION_BYTES - _FIXED_BYTES) // each))


def estimate_payout_cost(
    cmd: EstimatePayoutCost, *, store: StoreOf[WorkUnit], chain: Chain
) -> PayoutCost:
    """The campaign's payout cost in tokens and in SOL, before it is funded."""
    who = cmd.who
    who.require("campaigns:read")
    if len(cmd.destinations) > MAX_DESTINATIONS:
        raise InvalidInput(f"at most {MAX_DESTINATIONS} destinations, got {len(cmd.destinations)}")
    with store.uow(readonly=True) as uow:
        campaign = owned_campaign(uow, cmd.campaign_id, who.address)
        tasks = uow.tasks.counts(cmd.campaign_id)["tasks"]
    if cmd.payees is not None and cmd.payees < 0:
        raise InvalidInput("payees must not be negative")
    units = tasks * campaign.spec.overlap
    named = list(dict.fromkeys(cmd.destinations))
    payees = max(min(units, units if cmd.payees is None else cmd.payees), len(named))
    terms = chain.mint_terms()
    missing = chain.missing_token_accounts(named) if named else set()
    memos = chain.memo_required([d for d in named if d not in missing]) if named else set()
    new = payees - (len(named) - len(missing))
    fit = transfers_per_transaction(
        fee=terms.transfer_fee.charged or terms.fee_ceiling.charged,
        memo_share=len(memos) / payees if payees else 0.0,
    )
    # One transfer per payee per round at best, one per unit at worst: price the worst.
    transactions = -(-units // fit)
    setup = -(-new // _CREATES_PER_TRANSACTION) + -(-new // _ENTRIES_PER_EXTEND)
    network = (transactions + setup) * terms.signature_fee
    byte_rent = terms.account_rent // (_ACCOUNT_OVERHEAD + terms.account_size)
    rent = new * (terms.account_rent + _ENTRY_BYTES * byte_rent)
    reward_fee = campaign.transfer_fee.on(campaign.spec.reward)
    return PayoutCost(
        token_program=terms.program,
        units=units,
        unit_cost=campaign.unit_cost,
        budget=escrow.funding_for(units, campaign.unit_cost),
        token_transfer_fees=units * reward_fee,
        payees=payees,
        new_accounts=new,
        existing_accounts=len(named) - len(missing),
        memo_payees=len(memos),
        transfers_per_transaction=fit,
        transactions=transactions,
        signature_fee=terms.signature_fee,
        network_fees=network,
        account_size=terms.account_size,
        account_rent=terms.account_rent,
        rent=rent,
        total_lamports=network + rent,
    )
