"""Sign-in with a wallet, and requester API keys."""

from __future__ import annotations

from fastapi import APIRouter

from earnest.api.deps import Bearer, Caller, MarketDep, SessionsDep
from earnest.api.schemas import (
    ApiKeyIn,
    ApiKeyOut,
    ChallengeIn,
    ChallengeOut,
    SessionIn,
    SessionOut,
)
from earnest.domain.errors import InvalidInput
from earnest.services import identity

router = APIRouter(tags=["identity"])


@router.post("/auth/challenge", response_model=ChallengeOut)
def challenge(body: ChallengeIn, m: MarketDep) -> ChallengeOut:
    """A one-use Sign-In-With-Solana message for the wallet to sign."""
    msg = identity.create_challenge(
        body.address, site=m.site, store=m.store, crypto=m.crypto, clock=m.clock, rand=m.rand
    )
    return ChallengeOut(message=msg.text(), nonce=msg.nonce, expires_at=msg.expires_at)


@router.post("/auth/session", response_model=SessionOut)
def session(body: SessionIn, m: MarketDep, cache: SessionsDep) -> SessionOut:
    """Exchange a signed challenge for a session token (bearer)."""
    token, who, expires = identity.sign_in(
        body.message,
        body.signature,
        kind=body.kind,
        site=m.site,
        store=m.store,
        crypto=m.crypto,
        clock=m.clock,
        rand=m.rand,
        sessions=cache,
    )
    return SessionOut(token=token, address=who.address, expires_at=expires)


@router.delete("/auth/session", status_code=204)
def sign_out(who: Caller, creds: Bearer, m: MarketDep, cache: SessionsDep) -> None:
    """End this session token: every API process refuses it within a second."""
    if who.credential != "session" or creds is None:
        raise InvalidInput("only a session token signs out; revoke an API key instead")
    identity.sign_out(creds.credentials, store=m.store, clock=m.clock, sessions=cache)


@router.post("/api-keys", response_model=ApiKeyOut, status_code=201)
def create_key(body: ApiKeyIn, who: Caller, m: MarketDep) -> ApiKeyOut:
    """Create a scoped API key; its secret is in this answer only."""
    secret, record = identity.create_api_key(
        who, body.name, body.scopes, store=m.store, clock=m.clock, rand=m.rand
    )
    return ApiKeyOut.of(record, secret)


@router.get("/api-keys", response_model=list[ApiKeyOut])
def list_keys(who: Caller, m: MarketDep) -> list[ApiKeyOut]:
    return [ApiKeyOut.of(r) for r in identity.list_api_keys(who, store=m.store)]


@router.post("/api-keys/{key_id}/revoke", status_code=204)
def revoke_key(key_id: str, who: Caller, m: MarketDep, cache: SessionsDep) -> None:
    """Revoke one of my keys: every API process refuses it within a second."""
    identity.revoke_api_key(who, key_id, store=m.store, clock=m.clock, sessions=cache)
