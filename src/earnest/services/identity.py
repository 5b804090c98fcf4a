"""Identity use cases: wallet sign-in, sessions, and requester API keys."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from earnest.domain import siws
from earnest.domain.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from earnest.services.chain_port import Crypto
from earnest.services.ports import ApiKeyRecord, Clock, PeopleStore, Random

CHALLENGE_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=24)
API_KEY_PREFIX = "ek_"
SCOPES = frozenset(
    {
        "campaigns:read",
        "campaigns:write",
        "tasks:write",
        "results:read",
        "funds:write",
        "work",
        "operator",  # only counts for an address listed in the operators setting
    }
)
SESSION_SCOPES = tuple(sorted(SCOPES))
PARTY_KINDS = ("person", "agent", "node")  # node: a bandwidth node (earnest node)


@dataclass(frozen=True)
class SiteIdentity:
    """How this market names itself in sign-in messages."""

    domain: str
    uri: str
    chain_id: str


@dataclass(frozen=True)
class Principal:
    """Who is calling, and what the credential allows."""

    address: str
    scopes: tuple[str, ...]
    credential: str  # "session" or "api_key:<id>"

    def require(self, scope: str) -> None:
        """Raise Forbidden unless the credential carries `scope`."""
        if scope not in self.scopes:
            raise Forbidden(f"this credential lacks the {scope!r} scope")


def require_operator(who: Principal, operators: Collection[str]) -> None:
    """Raise Forbidden unless the caller is one of the market's operators, with the scope."""
    who.require("operator")
    if who.address not in operators:
        raise Forbidden("only the market's operators may do this")


def digest(secret: str) -> str:
    """How secrets are stored: sha256 hex (they carry 256 bits of entropy; no salt needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class SessionCache:
    """Sessions this process has resolved: token digest -> (address, expiry), LRU-bounded.

    A session ends by expiring (checked on every use) or by signing out, which deletes it
    from the store and writes its digest to the revocation list that every API process
    reads twice a second (`revoke`, `synced`). An entry is trusted only while the store or
    that list was read within `lag` seconds of now, so a sign-out anywhere stops the token
    here within `lag` plus one read of the list (under 1 s), even if the reader stalls;
    after `ttl` it is re-read from the store anyway (docs/security.md, "Requests and
    sign-in"). The owners of API keys are kept too, but only to key rate limits by
    (`owner`): a key is always checked in the store. Only digests are kept, never tokens.
    """

    def __init__(
        self,
        *,
        ttl: float = 60.0,
        lag: float = 0.75,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl, self.lag, self.max_entries, self.clock = ttl, lag, max_entries, clock
        self._entries: OrderedDict[str, tuple[str, datetime, float]] = OrderedDict()
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._revoked: OrderedDict[str, None] = OrderedDict()
        self._synced = float("-inf")
        self._lock = threading.Lock()  # routes run in a thread pool

    def get(self, token_hash: str, now: datetime) -> str | None:
        """The owner of a live session known recently enough to trust, else None (ask the
        store)."""
        with self._lock:
            entry = self._entries.get(token_hash)
            if entry is None:
                return None
            address, expires_at, seen = entry
            tick = self.clock()
            if now >= expires_at or tick - seen > self.ttl:
                del self._entries[token_hash]
                return None
            if tick - max(seen, self._synced) > self.lag:
                return None  # no news of sign-outs lately: ask the store, keep the entry
            self._entries.move_to_end(token_hash)
            return address

    def put(self, token_hash: str, address: str, expires_at: datetime) -> None:
        """Remember a session just read from (or written to) the store."""
        with self._lock:
            if token_hash in self._revoked:
                return  # read before its sign-out reached the store: never trust it again
            self._entries[token_hash] = (address, expires_at, self.clock())
            self._entries.move_to_end(token_hash)
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            self._remember_owner(token_hash, address)

    def put_owner(self, credential_hash: str, address: str) -> None:
        """Remember whose API key this is (for rate limits only; never trusted to sign in)."""
        with self._lock:
            if credential_hash not in self._revoked:
                self._remember_owner(credential_hash, address)

    def owner(self, credential_hash: str) -> str | None:
        """Whose credential this is, as last verified here (no I/O): rate limits' key."""
        with self._lock:
            return self._owners.get(credential_hash)

    def revoke(self, credential_hashes: Collection[str]) -> None:
        """Forget these credentials and refuse to remember them again."""
        with self._lock:
            for credential_hash in credential_hashes:
                self._entries.pop(credential_hash, None)
                self._owners.pop(credential_hash, None)
                self._revoked[credential_hash] = None
                self._revoked.move_to_end(credential_hash)
            while len(self._revoked) > self.max_entries:
                self._revoked.popitem(last=False)

    def synced(self, at: float) -> None:
        """The revocation list was read completely as of `at` (this cache's clock, taken
        before the read began)."""
        with self._lock:
            self._synced = max(self._synced, at)

    def _remember_owner(self, credential_hash: str, address: str) -> None:
        self._owners[credential_hash] = address
        self._owners.move_to_end(credential_hash)
        if len(self._owners) > self.max_entries:
            self._owners.popitem(last=False)


@dataclass(frozen=True)
class Challenge:
    """Issue a one-use sign-in message for the wallet `address` to sign."""

    address: str


@dataclass(frozen=True)
class SignIn:
    """Exchange a signed challenge for a session of a party of `kind`."""

    message: str
    signature: str
    kind: str = "person"


@dataclass(frozen=True)
class CreateApiKey:
    who: Principal
    name: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class RevokeApiKey:
    who: Principal
    key_id: str


@dataclass(frozen=True)
class SignOut:
    """End the session whose token is `credential` (an API key is revoked instead)."""

    credential: str


def create_challenge(
    cmd: Challenge,
    *,
    site: SiteIdentity,
    store: PeopleStore,
    crypto: Crypto,
    clock: Clock,
    rand: Random,
) -> siws.SignInMessage:
    """Issue a one-use sign-in message for `address` to sign."""
    address = cmd.address
    if not crypto.is_address(address):
        raise InvalidInput("address is not a valid Solana address")
    now = clock.now().replace(microsecond=0)
    message = siws.SignInMessage(
        domain=site.domain,
        address=address,
        statement=siws.STATEMENT,
        uri=site.uri,
        chain_id=site.chain_id,
        nonce=rand.token(16).replace("-", "a").replace("_", "b"),
        issued_at=now,
        expires_at=now + CHALLENGE_TTL,
    )
    with store.uow() as uow:
        uow.auth.add_nonce(message.nonce, address, message.text(), message.expires_at)
        uow.commit()
    return message


def sign_in(
    cmd: SignIn,
    *,
    site: SiteIdentity,
    store: PeopleStore,
    crypto: Crypto,
    clock: Clock,
    rand: Random,
    sessions: SessionCache | None = None,
) -> tuple[str, Principal, datetime]:
    """Check a signed challenge, consume its nonce, and open a session: (token, who, expiry).

    The new session goes into `sessions` too, so the contributor's next request (to this
    process) needs no lookup."""
    message, signature, kind = cmd.message, cmd.signature, cmd.kind
    parsed = siws.parse(message)
    if parsed.domain != site.domain or parsed.uri != site.uri or parsed.chain_id != site.chain_id:
        raise Unauthenticated("the message was issued for another site")
    if kind not in PARTY_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(PARTY_KINDS)}")
    if not crypto.verify(parsed.address, message.encode(), signature):
        raise Unauthenticated("the signature does not match the address")
    now = clock.now()
    token = rand.token(32)
    expires = now + SESSION_TTL
    with store.uow() as uow:
        consumed = uow.auth.consume_nonce(parsed.nonce, now)
        if consumed is None:
            raise Unauthenticated("unknown or already used sign-in nonce")
        address, issued_text, nonce_expiry = consumed
        if issued_text != message or address != parsed.address:
            raise Unauthenticated("the message differs from the one issued")
        if now >= nonce_expiry:
            uow.commit()  # the nonce stays spent
            raise Unauthenticated("the sign-in message has expired")
        uow.parties.ensure(address, kind, now)
        token_hash = digest(token)
        uow.auth.add_session(token_hash, address, now, expires)
        uow.commit()
    if sessions is not None:
        sessions.put(token_hash, address, expires)
    return token, Principal(address, SESSION_SCOPES, "session"), expires


def cached_session(credential: str, *, clock: Clock, sessions: SessionCache) -> Principal | None:
    """The session's principal if `sessions` knows it (no I/O: safe on the event loop)."""
    if not credential or credential.startswith(API_KEY_PREFIX):
        return None
    owner = sessions.get(digest(credential), clock.now())
    return Principal(owner, SESSION_SCOPES, "session") if owner is not None else None


def authenticate(
    credential: str, *, store: PeopleStore, clock: Clock, sessions: SessionCache | None = None
) -> Principal:
    """Resolve a bearer credential (session token or API key) to a principal.

    Sessions are looked up in `sessions` first; API keys always in the store (they can be
    revoked, and a revoked key must stop working at once)."""
    if not credential:
        raise Unauthenticated("missing credentials")
    token_hash, now = digest(credential), clock.now()
    is_key = credential.startswith(API_KEY_PREFIX)
    owner = None if is_key or sessions is None else sessions.get(token_hash, now)
    if owner is not None:
        return Principal(owner, SESSION_SCOPES, "session")
    with store.uow(readonly=True) as uow:
        if is_key:
            key = uow.auth.api_key_by_hash(token_hash)
            if key is None or key.revoked_at is not None:
                raise Unauthenticated("unknown or revoked API key")
            if sessions is not None:
                sessions.put_owner(token_hash, key.address)
            return Principal(key.address, key.scopes, f"api_key:{key.id}")
        found = uow.auth.session(token_hash, now)
    if found is None:
        raise Unauthenticated("unknown or expired session")
    if sessions is not None:
        sessions.put(token_hash, *found)
    return Principal(found[0], SESSION_SCOPES, "session")


def create_api_key(
    cmd: CreateApiKey, *, store: PeopleStore, clock: Clock, rand: Random
) -> tuple[str, ApiKeyRecord]:
    """Create a scoped API key; the secret is returned once and stored only as a hash."""
    who, name, scopes = cmd.who, cmd.name, cmd.scopes
    if who.credential != "session":
        raise Forbidden("API keys are created from a wallet session, not from another key")
    unknown = sorted(set(scopes) - SCOPES)
    if unknown or not scopes:
        raise InvalidInput(
            f"scopes must be a non-empty subset of {sorted(SCOPES)}; unknown: {unknown}"
        )
    if not name.strip() or len(name) > 100:
        raise InvalidInput("name must be 1 to 100 characters")
    key_id = "key_" + rand.token(9)
    secret = f"{API_KEY_PREFIX}{rand.token(32)}"
    record = ApiKeyRecord(key_id, who.address, name, tuple(sorted(set(scopes))), clock.now(), None)
    with store.uow() as uow:
        uow.auth.add_api_key(record, digest(secret))
        uow.commit()
    return secret, record


def list_api_keys(who: Principal, *, store: PeopleStore) -> list[ApiKeyRecord]:
    with store.uow(readonly=True) as uow:
        return uow.auth.api_keys_of(who.address)


def revoke_api_key(
    cmd: RevokeApiKey,
    *,
    store: PeopleStore,
    clock: Clock,
    sessions: SessionCache | None = None,
) -> None:
    """Revoke one of the caller's keys (someone else's key is simply not found); every
    process hears of it through the revocation list."""
    who, key_id = cmd.who, cmd.key_id
    now = clock.now()
    with store.uow() as uow:
        key_hash = uow.auth.revoke_api_key(key_id, who.address, now)
        if key_hash is None:
            raise NotFound("no such active API key")
        uow.auth.add_revocation(key_hash, now)
        uow.commit()
    if sessions is not None:
        sessions.revoke([key_hash])


def sign_out(
    cmd: SignOut, *, store: PeopleStore, clock: Clock, sessions: SessionCache | None = None
) -> bool:
    """End a session token everywhere: deleted from the store, and on the revocation list
    every API process reads (docs/security.md). True if the session was live."""
    credential = cmd.credential
    if not credential or credential.startswith(API_KEY_PREFIX):
        return False
    token_hash = digest(credential)
    with store.uow() as uow:
        ended = uow.auth.end_session(token_hash)
        if ended:
            uow.auth.add_revocation(token_hash, clock.now())
        uow.commit()
    if sessions is not None:
        sessions.revoke([token_hash])
    return ended


def read_revocations(
    *, store: PeopleStore, clock: Clock, sessions: SessionCache, window: timedelta
) -> int:
    """Apply the credentials revoked within the last `window` to `sessions`; how many."""
    started = sessions.clock()
    with store.uow(readonly=True) as uow:
        revoked = uow.auth.revoked_since(clock.now() - window)
    sessions.revoke(revoked)
    sessions.synced(started)
    return len(revoked)
