"""A worker's profile: the languages they speak and the region they live in, as declared.

Campaigns may ask for some languages or regions (QualityPolicy.languages / .regions); the
claim checks the profile against them (services/work.py). Both are the worker's own word:
a campaign that needs proof tests its workers with qualification tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

from earnest.domain.criteria import WorkerProfile
from earnest.services.identity import Principal
from earnest.services.ports import Clock, PeopleUnit, StoreOf


@dataclass(frozen=True)
class SetProfile:
    """Declare the caller's languages and region (replacing what was declared before)."""

    who: Principal
    profile: WorkerProfile


def set_profile(cmd: SetProfile, *, store: StoreOf[PeopleUnit], clock: Clock) -> WorkerProfile:
    """Save the caller's profile."""
    cmd.who.require("work")
    with store.uow() as uow:
        uow.parties.set_profile(cmd.who.address, cmd.profile, clock.now())
        uow.commit()
    return cmd.profile


def profile_of(who: Principal, *, store: StoreOf[PeopleUnit]) -> WorkerProfile:
    """The caller's declared profile (empty when they declared nothing)."""
    with store.uow(readonly=True) as uow:
        return uow.parties.profile(who.address)
