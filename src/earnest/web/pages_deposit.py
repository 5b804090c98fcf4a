"""Deposits from a connected Wallet Standard wallet (static/wallet.js): the market quotes
the transfer, the wallet signs it, the market sends and credits it (services/wallet_deposit)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from earnest.domain.errors import InsufficientFunds
from earnest.domain.money import format_units, parse_units
from earnest.services.wallet_deposit import WalletDeposit
from earnest.web.session import MarketDep, SignedIn, same_origin

router = APIRouter(
    prefix="/dashboard", include_in_schema=False, dependencies=[Depends(same_origin)]
)


class QuoteIn(BaseModel):
    amount: str = Field(max_length=40)  # tokens, as typed


class SignedDeposit(BaseModel):
    amount: int
    blockhash: str = Field(max_length=64)
    signature: str = Field(max_length=100)


@router.post("/deposits/quote")
def quote(body: QuoteIn, who: SignedIn, m: MarketDep) -> JSONResponse:
    """The transfer of the typed tokens to the vault, for the wallet to sign."""
    decimals = m.chain.decimals
    units = parse_units(body.amount, decimals, positive=True)
    try:
        found = m.money.deposit_quote(who, units)
    except InsufficientFunds as exc:
        held = exc.extra.get("available")
        shown = format_units(held, decimals) if isinstance(held, int) else "less"
        raise InsufficientFunds(
            f"your wallet holds {shown} tokens, less than {body.amount.strip()}"
        ) from exc
    return JSONResponse(
        {"amount": found.amount, "blockhash": found.blockhash, "transaction": found.transaction}
    )


@router.post("/deposits/wallet")
def deposit(body: SignedDeposit, who: SignedIn, m: MarketDep) -> JSONResponse:
    """Send the signed transfer and credit it once it landed."""
    credited = m.money.wallet_deposit(
        WalletDeposit(who, body.amount, body.blockhash, body.signature)
    )
    return JSONResponse({"credited": credited, "shown": format_units(credited, m.chain.decimals)})
