"""Sign-in and API keys: request and response bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from earnest.api.schemas.common import Body
from earnest.services.ports import ApiKeyRecord


class ChallengeIn(Body):
    address: str = Field(min_length=32, max_length=44)


class ChallengeOut(BaseModel):
    message: str
    nonce: str
    expires_at: datetime


class SessionIn(Body):
    message: str = Field(max_length=2000)
    signature: str = Field(min_length=64, max_length=100)
    kind: str = Field(
        "person",
        description="'person', 'agent' for an AI agent working as a worker, or 'node' for a "
        "bandwidth node (fetch jobs only); fixed at an address's first sign-in",
    )


class SessionOut(BaseModel):
    token: str
    address: str
    expires_at: datetime


class ApiKeyIn(Body):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=10)


class ApiKeyOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None = None
    key: str | None = Field(None, description="the secret, shown only once, at creation")

    @classmethod
    def of(cls, r: ApiKeyRecord, key: str | None = None) -> ApiKeyOut:
        return cls(
            id=r.id,
            name=r.name,
            scopes=list(r.scopes),
            created_at=r.created_at,
            revoked_at=r.revoked_at,
            key=key,
        )
