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
from earnest.services.identity import Challenge, CreateApiKey, RevokeApiKey, SignIn, SignOut

router = APIRouter(tags=["identity"])


@router.post("/auth/challenge", response_model=ChallengeOut)
def challenge(body: ChallengeIn, m: MarketDep) -> ChallengeOut:
    """A one-use Sign-In-With-Solana message for the wallet to sign."""
    msg = m.identity.challenge(Challenge(body.address))
    return ChallengeOut(message=msg.text(), nonce=msg.nonce, expires_at=msg.expires_at)


@router.post("/auth/session", response_model=SessionOut)
def session(body: SessionIn, m: MarketDep, cache: SessionsDep) -> SessionOut:
    """Exchange a signed challenge for a session token (bearer)."""
    cmd = SignIn(body.message, body.signature, body.kind)
    token, who, expires = m.identity.sign_in(cmd, sessions=cache)
    return SessionOut(token=token, address=who.address, expires_at=expires)


@router.delete("/auth/session", status_code=204)
def sign_out(who: Caller, creds: Bearer, m: MarketDep, cache: SessionsDep) -> None:
    """End this session token: every API process refuses it within a second."""
    if who.credential != "session" or creds is None:
        raise InvalidInput("only a session token signs out; revoke an API key instead")
    m.identity.sign_out(SignOut(creds.credentials), sessions=cache)


@router.post("/api-keys", response_model=ApiKeyOut, status_code=201)
def create_key(body: ApiKeyIn, who: Caller, m: MarketDep) -> ApiKeyOut:
    """Create a scoped API key; its secret is in this answer only."""
    secret, record = m.identity.create_api_key(CreateApiKey(who, body.name, tuple(body.scopes)))
    return ApiKeyOut.of(record, secret)


@router.get("/api-keys", response_model=list[ApiKeyOut])
def list_keys(who: Caller, m: MarketDep) -> list[ApiKeyOut]:
    return [ApiKeyOut.of(r) for r in m.identity.api_keys(who)]


@router.post("/api-keys/{key_id}/revoke", status_code=204)
def revoke_key(key_id: str, who: Caller, m: MarketDep, cache: SessionsDep) -> None:
    """Revoke one of my keys: every API process refuses it within a second."""
    m.identity.revoke_api_key(RevokeApiKey(who, key_id), sessions=cache)
