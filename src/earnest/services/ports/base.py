"""What every area's ports share: the clock, randomness, and the shape of a unit of work."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, TypeVar


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, UTC."""
        ...


class Random(Protocol):
    def random(self) -> float: ...

    def token(self, nbytes: int) -> str:
        """A URL-safe random string with `nbytes` bytes of entropy."""
        ...


class Unit(Protocol):
    """One transaction: `with store.uow() as uow: ...; uow.commit()`; nothing is written
    without `commit()`. Each area's unit adds its repositories as read-only properties, so
    an adapter's more specific repository types satisfy them (a mutable attribute would be
    invariant)."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


U_co = TypeVar("U_co", bound=Unit, covariant=True)


class StoreOf(Protocol[U_co]):
    """A store whose units of work show (at least) the repositories of `U_co`: a use case
    asks for `StoreOf[MoneyUnit]` and is handed the SQL store or an in-memory fake."""

    def uow(self, *, readonly: bool = False, single: bool = False) -> U_co:
        """A unit of work; `readonly` writes nothing, `single` writes one statement."""
        ...
