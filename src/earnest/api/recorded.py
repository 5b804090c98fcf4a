"""`@recorded(status)`: a route whose answer commits with its effects (PostgreSQL).

The Idempotency middleware runs each keyed request inside `store.held(slot)`. Around a
marked route, the use case's transaction is held open (adapters/store/uow.HeldCommit); once
the route returns its answer, still in the route's thread, the answer is rendered as FastAPI
renders it and written into the key's record in that same transaction, and both commit. A
crash in between leaves neither. An error raised by the route commits what the use case
committed, as before, and the middleware records the error answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from earnest.services.ports import HELD, HeldCommit

F = TypeVar("F", bound=Callable[..., BaseModel])


def recorded(status: int) -> Callable[[F], F]:
    """Mark a sync route (returning its response model) whose success answers `status`."""

    def mark(route: F) -> F:
        @functools.wraps(route)
        def run(*args: Any, **kwargs: Any) -> BaseModel:
            held: HeldCommit | None = HELD.get()
            if held is None:
                return route(*args, **kwargs)
            held.arm()
            try:
                out = route(*args, **kwargs)
            except BaseException as exc:
                held.settle(exc)
                raise
            held.answer(status, out.model_dump_json(by_alias=True).encode())
            return out

        return run  # type: ignore[return-value]

    return mark
