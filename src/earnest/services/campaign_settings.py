"""A campaign's settings after creation: edit what can still change, pause, resume, clone.

What may change when is the domain's rule (domain/editing.py); these use cases load the
campaign under its lock, apply the rule and save. Pausing stops new claims only: live
leases may still be answered and are paid as usual, so pausing never strands a worker.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from earnest.domain.editing import cloned_title, edited
from earnest.domain.work import (
    MAX_TITLE,
    Campaign,
    CampaignSpec,
    CampaignStatus,
    check_campaign_transition,
)
from earnest.services.campaigns import CampaignUnit, CreateCampaign, check_spec
from earnest.services.common import owned_campaign
from earnest.services.identity import Principal
from earnest.services.ports import Clock, Sandbox, StoreOf


@dataclass(frozen=True)
class UpdateCampaign:
    """Change settings of the caller's campaign: spec fields, and `quality` as a mapping of
    its own fields. Only what the campaign's state still allows (domain/editing.py)."""

    who: Principal
    campaign_id: str
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class SetCampaignStatus:
    """Pause (`paused`) or resume (`active`) the caller's campaign."""

    who: Principal
    campaign_id: str
    status: CampaignStatus


@dataclass(frozen=True)
class CloneCampaign:
    """A new draft with the settings of the caller's campaign (no tasks, no money)."""

    who: Principal
    campaign_id: str
    title: str | None = None


def update_campaign(
    cmd: UpdateCampaign,
    *,
    store: StoreOf[CampaignUnit],
    clock: Clock,
    sandbox: Sandbox | None = None,
) -> Campaign:
    """Apply the changes the campaign still allows; refuse the rest with the reason."""
    cmd.who.require("campaigns:write")
    now = clock.now()
    with store.uow() as uow:
        campaign = owned_campaign(uow, cmd.campaign_id, cmd.who.address)
        uow.campaigns.lock(campaign.id)
        has_tasks = uow.tasks.counts(campaign.id)["tasks"] > 0
        spec = edited(campaign, cmd.changes, has_tasks=has_tasks, now=now)
        if shape_of(spec) != shape_of(campaign.spec):  # the checks creating a campaign makes
            check_spec(spec, sandbox)
        uow.campaigns.update_spec(campaign.id, spec)
        uow.commit()
    return dataclasses.replace(campaign, spec=spec)


def shape_of(spec: CampaignSpec) -> tuple[Any, ...]:
    """The settings `check_spec` reads (domain/editing.SHAPE)."""
    q = spec.quality
    return (
        spec.type,
        spec.input_schema,
        spec.output_schema,
        spec.verifier,
        spec.terms,
        q.predictor,
        q.predictor_options,
    )


def set_campaign_status(
    cmd: SetCampaignStatus, *, store: StoreOf[CampaignUnit], clock: Clock
) -> Campaign:
    """Pause or resume: a paused campaign offers no new leases; its escrow stays."""
    cmd.who.require("campaigns:write")
    if cmd.status not in (CampaignStatus.PAUSED, CampaignStatus.ACTIVE):
        raise ValueError(f"set_campaign_status takes paused or active, not {cmd.status}")
    with store.uow() as uow:
        campaign = owned_campaign(uow, cmd.campaign_id, cmd.who.address)
        uow.campaigns.lock(campaign.id)
        check_campaign_transition(campaign.status, cmd.status)
        uow.campaigns.set_status(campaign.id, cmd.status)
        uow.commit()
    return dataclasses.replace(campaign, status=cmd.status)


def clone_command(
    cmd: CloneCampaign, *, store: StoreOf[CampaignUnit], clock: Clock
) -> CreateCampaign:
    """The creation of a draft with the same settings (`create_campaign` makes it); a
    deadline already past is dropped."""
    cmd.who.require("campaigns:write")
    with store.uow(readonly=True) as uow:
        source = owned_campaign(uow, cmd.campaign_id, cmd.who.address)
    spec = source.spec
    deadline = spec.deadline if spec.deadline and spec.deadline > clock.now() else None
    title = (cmd.title or "").strip() or cloned_title(spec.title, MAX_TITLE)
    return CreateCampaign(cmd.who, dataclasses.replace(spec, title=title, deadline=deadline))
