"""Editing, pausing, resuming and cloning a campaign, and the worker criteria: the domain's
rule of what may still change, and the use cases over the in-memory stores (tests/fakes)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from earnest.domain.criteria import WorkerProfile
from earnest.domain.editing import edited, fixed_reason
from earnest.domain.errors import Conflict, InvalidInput, NotFound
from earnest.domain.work import Campaign, CampaignStatus, QualityPolicy, check_campaign_transition
from earnest.services import campaign_settings as settings
from earnest.services import profiles
from tests.factories import FakeClock
from tests.unit.test_campaigns import REQUESTER, Requester, spec


def update(r: Requester, campaign_id: str, **changes: Any) -> Campaign:
    cmd = settings.UpdateCampaign(r.who, campaign_id, changes)
    return settings.update_campaign(cmd, store=r.store, clock=r.clock)


def set_status(r: Requester, campaign_id: str, status: CampaignStatus) -> Campaign:
    cmd = settings.SetCampaignStatus(r.who, campaign_id, status)
    return settings.set_campaign_status(cmd, store=r.store, clock=r.clock)


def clone(r: Requester, cmd: settings.CloneCampaign) -> Campaign:
    return r.create(settings.clone_command(cmd, store=r.store, clock=r.clock).spec)


def stored(r: Requester, campaign_id: str) -> Campaign:
    with r.store.uow(readonly=True) as uow:
        found = uow.campaigns.get(campaign_id)
    assert found is not None
    return found


def add_task(r: Requester, campaign_id: str) -> None:
    with r.store.uow() as uow:
        uow.tasks.add_many(
            [{"campaign_id": campaign_id, "external_id": "t", "data": {"text": "x"}, "gold": None}]
        )
        uow.commit()


def test_a_draft_without_tasks_may_change_everything() -> None:
    r = Requester(0)
    made = r.create()
    out = update(
        r,
        made.id,
        reward=2_000,
        overlap=5,
        output_schema={"type": "object"},
        quality={"qualification_tasks": 4, "languages": ["EN", "de"], "regions": ["fr"]},
    )
    assert out == stored(r, made.id)
    assert out.spec.reward == 2_000 and out.spec.overlap == 5
    assert out.spec.quality.qualification_tasks == 4
    assert out.spec.quality.languages == ("en", "de") and out.spec.quality.regions == ("FR",)
    assert out.spec.quality.min_reputation == made.spec.quality.min_reputation  # untouched


def test_the_schemas_are_fixed_once_tasks_exist_and_the_price_once_funded() -> None:
    r = Requester(100_000)
    made = r.create()
    add_task(r, made.id)
    with pytest.raises(Conflict, match="output_schema is fixed once tasks are uploaded") as exc:
        update(r, made.id, output_schema={"type": "object"})
    assert exc.value.extra["setting"] == "output_schema"
    assert update(r, made.id, reward=1_500).spec.reward == 1_500  # a draft: no price yet
    r.fund(made.id, 10_000)
    for changes in ({"reward": 2_000}, {"overlap": 2}, {"quality": {"review": "requester"}}):
        with pytest.raises(Conflict, match="fixed once the campaign is funded"):
            update(r, made.id, **changes)
    assert stored(r, made.id).spec.reward == 1_500
    # Resending the values it has is not a change.
    update(r, made.id, reward=1_500, quality={"review": "auto", "languages": []})


def test_what_applies_to_the_next_claims_changes_until_the_campaign_closes() -> None:
    r = Requester(100_000)
    made = r.create()
    add_task(r, made.id)
    r.fund(made.id, 10_000)
    deadline = r.clock.now() + timedelta(days=2)
    out = update(
        r,
        made.id,
        title="Sentiment, round 2",
        instructions="Read twice.",
        deadline=deadline,
        lease_seconds=900,
        gold_share=0.25,
        max_leases=5,
        quality={"min_reputation": 0.4, "languages": ["pt"], "allow_agents": False},
    )
    assert (out.spec.title, out.spec.deadline, out.spec.lease_seconds) == (
        "Sentiment, round 2",
        deadline,
        900,
    )
    assert out.spec.quality.min_reputation == 0.4 and not out.spec.quality.allow_agents
    with pytest.raises(InvalidInput, match="deadline must be in the future"):
        update(r, made.id, deadline=r.clock.now() - timedelta(seconds=1))
    with pytest.raises(InvalidInput, match="lease_seconds must be between"):
        update(r, made.id, lease_seconds=1)
    with pytest.raises(InvalidInput, match="no such setting: colour"):
        update(r, made.id, colour="red")
    r.close(made.id)
    with pytest.raises(Conflict, match="closed; clone it"):
        update(r, made.id, title="again")


def test_pause_and_resume_follow_the_campaigns_states() -> None:
    r = Requester(100_000)
    made = r.create()
    with pytest.raises(Conflict, match="a draft is not offered yet; fund it first"):
        set_status(r, made.id, CampaignStatus.PAUSED)
    r.fund(made.id, 5_000)
    assert set_status(r, made.id, CampaignStatus.PAUSED).status is CampaignStatus.PAUSED
    with pytest.raises(Conflict, match="already paused"):
        set_status(r, made.id, CampaignStatus.PAUSED)
    r.fund(made.id, 1_000)  # money may go in while paused; it stays paused
    assert stored(r, made.id).status is CampaignStatus.PAUSED
    assert not stored(r, made.id).is_open_for_work(r.clock.now())
    assert set_status(r, made.id, CampaignStatus.ACTIVE).status is CampaignStatus.ACTIVE
    with pytest.raises(Conflict, match="not paused"):
        set_status(r, made.id, CampaignStatus.ACTIVE)
    set_status(r, made.id, CampaignStatus.PAUSED)
    assert r.close(made.id) == 6_000  # a paused campaign closes and refunds
    with pytest.raises(Conflict, match="closed"):
        set_status(r, made.id, CampaignStatus.ACTIVE)


def test_a_clone_is_a_draft_with_the_same_settings_and_no_past_deadline() -> None:
    r = Requester(100_000)
    made = r.create(
        spec(
            deadline=r.clock.now() + timedelta(hours=1),
            quality=QualityPolicy(languages=("en",), practice_tasks=2),
        )
    )
    r.fund(made.id, 5_000)
    r.clock.advance(7200)
    cmd = settings.CloneCampaign(r.who, made.id)
    copy = clone(r, cmd)
    assert copy.id != made.id and copy.status is CampaignStatus.DRAFT
    assert copy.spec == dataclasses.replace(made.spec, title="sentiment (copy)", deadline=None)
    named = settings.CloneCampaign(r.who, made.id, "Second round")
    again = clone(r, named)
    assert again.spec.title == "Second round"


def test_someone_elses_campaign_is_not_found_for_any_setting() -> None:
    r = Requester(0)
    made = r.create()
    other = Requester(0, who=dataclasses.replace(r.who, address="Oth" + REQUESTER[3:]))
    other.store = r.store
    with pytest.raises(NotFound):
        update(other, made.id, title="mine")
    with pytest.raises(NotFound):
        set_status(other, made.id, CampaignStatus.PAUSED)
    with pytest.raises(NotFound):
        clone(r, settings.CloneCampaign(other.who, made.id))


def test_every_spec_and_quality_field_has_a_rule() -> None:
    # A field no group names may change until the campaign closes; check that the fields
    # the escrow and the uploaded tasks depend on are in a fixed group.
    draft = Campaign("c", REQUESTER, spec(), 0, CampaignStatus.ACTIVE, FakeClock().now())
    for name in ("reward", "overlap", "review_reward", "qualification_tasks", "practice_tasks"):
        assert fixed_reason(draft, name, has_tasks=False) is not None, name
    for name in ("input_schema", "output_schema", "verifier", "type", "predictor"):
        assert fixed_reason(draft, name, has_tasks=True) is not None, name
    for name in ("title", "deadline", "lease_seconds", "gold_share", "languages", "regions"):
        assert fixed_reason(draft, name, has_tasks=True) is None, name


@pytest.mark.parametrize(
    ("languages", "region", "refused"),
    [
        (("en",), "DE", None),
        (("pt", "fr"), "FR", "speaks en or de"),
        ((), "FR", "speaks en or de"),
        (("de",), "", "a worker in DE, AT, CH"),
        (("de",), "US", "a worker in DE, AT, CH"),
        (("de",), "AT", None),
    ],
)
def test_worker_criteria_refuse_with_the_reason(
    languages: tuple[str, ...], region: str, refused: str | None
) -> None:
    q = QualityPolicy(languages=("EN", "de"), regions=("de", "AT", "ch"))
    profile = WorkerProfile(languages, region)
    found = q.refusal_for(profile.languages, profile.region)
    assert found is None if refused is None else refused in (found or "")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"languages": ["english"]}, "'english' is not an ISO 639-1"),
        ({"regions": ["Germany"]}, "'Germany' is not an ISO 3166-1"),
        ({"languages": "en"}, "languages must be a list"),
        ({"regions": ["DE"] * 61}, "regions must have at most 60 entries"),
        ({"practice_tasks": 51}, "practice_tasks must be between 0 and 50"),
    ],
)
def test_criteria_are_codes(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        QualityPolicy(**changes)


def test_a_profile_is_saved_and_read_back_normalized() -> None:
    r = Requester(0)
    saved = profiles.set_profile(
        profiles.SetProfile(r.who, WorkerProfile(("EN", "pt", "en"), "br")),
        store=r.store,
        clock=r.clock,
    )
    assert saved == WorkerProfile(("en", "pt"), "BR")
    assert profiles.profile_of(r.who, store=r.store) == saved
    with pytest.raises(InvalidInput):
        WorkerProfile(("en",), "Brazil")


def test_campaign_transitions() -> None:
    check_campaign_transition(CampaignStatus.DRAFT, CampaignStatus.CLOSED)
    with pytest.raises(Conflict, match="the campaign is closed"):
        check_campaign_transition(CampaignStatus.CLOSED, CampaignStatus.ACTIVE)


def test_edited_leaves_the_campaign_itself_unchanged() -> None:
    r = Requester(0)
    made = r.create()
    changed = edited(made, {"title": "new"}, has_tasks=False, now=r.clock.now())
    assert changed.title == "new" and made.spec.title == "sentiment"
