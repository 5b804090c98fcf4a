"""What a requester may still change in a campaign, and why the rest is fixed.

A campaign's settings fall in three groups. Its shape (kind, schemas, verifier, the
model that pre-answers tasks) is fixed once tasks exist, because every task was checked
against it at upload. Its price and its judging (reward, overlap, review, appeals,
qualification, practice, dynamic overlap) are fixed once it is funded, because the escrow
reserves each answer at that price and workers were judged by those rules. Everything else
(texts, deadline, lease time, suites, control share, worker criteria, the rules that limit
workers) applies to the claims that come next, so it may change until the campaign closes.
To change a fixed setting, clone the campaign: the clone is a draft with the same settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from earnest.domain.errors import Conflict, InvalidInput
from earnest.domain.work import Campaign, CampaignSpec, CampaignStatus, QualityPolicy

SHAPE = frozenset(
    {"type", "input_schema", "output_schema", "verifier", "terms", "predictor", "predictor_options"}
)
PRICED = frozenset(
    {
        "reward",
        "overlap",
        "review",
        "review_reward",
        "appeals",
        "skill",
        "qualification_tasks",
        "qualification_accuracy",
        "practice_tasks",
        "reviewer_tasks",
        "confidence",
        "min_overlap",
    }
)
SHAPE_WHY = "the uploaded tasks were checked against it"
PRICED_WHY = (
    "the escrow reserves each answer at the campaign's price and workers were judged by its "
    "rules since it was funded"
)


def fixed_reason(campaign: Campaign, field: str, has_tasks: bool) -> str | None:
    """Why `field` (a spec or quality field name) can no longer change, or None if it can."""
    if campaign.status is CampaignStatus.CLOSED:
        return "the campaign is closed; clone it to run it again"
    if field in SHAPE and has_tasks:
        return f"{field} is fixed once tasks are uploaded: {SHAPE_WHY}; clone the campaign"
    if field in PRICED and campaign.status is not CampaignStatus.DRAFT:
        return f"{field} is fixed once the campaign is funded: {PRICED_WHY}; clone the campaign"
    return None


def edited(
    campaign: Campaign, changes: Mapping[str, Any], *, has_tasks: bool, now: datetime
) -> CampaignSpec:
    """The campaign's spec with `changes` applied (quality: a mapping of its own fields),
    refused with Conflict naming the first setting that can no longer change."""
    spec = campaign.spec
    top = {name: value for name, value in changes.items() if name != "quality"}
    quality_changes = changes.get("quality") or {}
    if not isinstance(quality_changes, Mapping):
        raise InvalidInput("quality must be an object")
    unknown = (set(top) - _names(CampaignSpec)) | (set(quality_changes) - _names(QualityPolicy))
    if unknown:
        raise InvalidInput(f"no such setting: {', '.join(sorted(unknown))}")
    current = {**dataclasses.asdict(spec), **spec.quality.__dict__}
    for name, value in (*top.items(), *quality_changes.items()):
        if value == current.get(name) or _same(value, current.get(name)):
            continue
        why = fixed_reason(campaign, name, has_tasks)
        if why is not None:
            raise Conflict(why, setting=name)
    if "deadline" in top and top["deadline"] is not None and top["deadline"] <= now:
        raise InvalidInput("deadline must be in the future")
    quality = dataclasses.replace(spec.quality, **quality_changes)
    return dataclasses.replace(spec, **top, quality=quality)


def _same(value: object, current: object) -> bool:
    """Lists of codes compare equal to the tuples the domain keeps."""
    return isinstance(current, tuple) and isinstance(value, list) and tuple(value) == current


def _names(entity: type) -> set[str]:
    return {f.name for f in dataclasses.fields(entity)}


def cloned_title(title: str, limit: int) -> str:
    """The title a clone gets unless given one: the original's, marked as a copy."""
    suffix = " (copy)"
    return title[: limit - len(suffix)] + suffix
