"""One exception tree for the whole product.

EarnestError
├── InvalidInput              bad request data (schema, range, format)         → 422
│   └── SchemaViolation       a task or answer does not match its JSON Schema  → 422
├── Unauthenticated           no or bad credentials, bad signature, nonce used → 401
├── Forbidden                 authenticated, but not allowed (scope, owner)    → 403
├── NotFound                  no such object, or not yours to see              → 404
├── Conflict                  the object is not in a state that allows this    → 409
│   ├── LeaseExpired          the claim's deadline has passed                  → 409
│   ├── AlreadyDone           the action already happened (double submit, reused deposit)
│   └── IdempotencyConflict   same Idempotency-Key, different request, or in progress
├── InsufficientFunds         a balance would go below zero                    → 409
├── NoWorkAvailable           nothing to claim right now                       → 404
├── RateLimited               too many requests                                → 429
└── ChainError                the chain refused or could not be reached        → 502
    └── TransactionTooLarge   a transaction would exceed Solana's size limit
"""

from __future__ import annotations


class EarnestError(Exception):
    """Base of every error Earnest raises on purpose."""

    title = "Earnest error"
    code = "earnest_error"

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(EarnestError):
    title = "Invalid input"
    code = "invalid_input"


class SchemaViolation(InvalidInput):
    title = "Does not match the schema"
    code = "schema_violation"


class Unauthenticated(EarnestError):
    title = "Not authenticated"
    code = "unauthenticated"


class Forbidden(EarnestError):
    title = "Forbidden"
    code = "forbidden"


class NotFound(EarnestError):
    title = "Not found"
    code = "not_found"


class Conflict(EarnestError):
    title = "Conflict"
    code = "conflict"


class LeaseExpired(Conflict):
    title = "Lease expired"
    code = "lease_expired"


class AlreadyDone(Conflict):
    title = "Already done"
    code = "already_done"


class IdempotencyConflict(Conflict):
    title = "Idempotency-Key conflict"
    code = "idempotency_conflict"


class InsufficientFunds(EarnestError):
    title = "Insufficient funds"
    code = "insufficient_funds"


class NoWorkAvailable(EarnestError):
    title = "No work available"
    code = "no_work_available"


class RateLimited(EarnestError):
    title = "Too many requests"
    code = "rate_limited"


class Unavailable(EarnestError):
    """The database cannot be reached (restarting, connection lost, pool exhausted): the
    request did not happen, or rolled back whole; the same request may be sent again."""

    title = "Service unavailable"
    code = "unavailable"


class ChainError(EarnestError):
    title = "Chain error"
    code = "chain_error"


class TransactionTooLarge(ChainError):
    title = "Transaction too large"
    code = "transaction_too_large"
