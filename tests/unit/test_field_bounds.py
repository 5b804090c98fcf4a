"""One source for each campaign field and bound: the domain. These fail when a field or a
bound is added, changed or removed in one place only (the API, the table, the web form)."""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any

import annotated_types as at
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from sqlalchemy import String

from earnest.adapters.store.tables import campaigns
from earnest.api.schemas import AmountIn, BandwidthCampaignIn, CampaignIn, QualityIn
from earnest.domain.bandwidth import BandwidthTerms
from earnest.domain.bounds import Bound
from earnest.domain.errors import InvalidInput
from earnest.domain.money import MAX_AMOUNT, POSITIVE_AMOUNT
from earnest.domain.work import (
    AppealMode,
    Campaign,
    CampaignSpec,
    QualityPolicy,
    ReviewMode,
    Routing,
)
from earnest.web import render

# Fields the API does not take on POST /v1/campaigns, with the reason.
NOT_IN_CAMPAIGN_IN = {"terms"}  # a labor kind's own terms: set by its own endpoint (bandwidth)
# Fields of a Campaign kept in the row around its spec.
CAMPAIGN_ROW = {f.name for f in dataclasses.fields(Campaign)} - {"spec"}
# Where each field of POST /v1/bandwidth/campaigns takes its bound from.
BANDWIDTH_SOURCES: dict[str, type] = {
    "title": CampaignSpec,
    "instructions": CampaignSpec,
    "reward": CampaignSpec,
    "overlap": CampaignSpec,
    "lease_seconds": CampaignSpec,
    "deadline": CampaignSpec,
    "price_per_kb": BandwidthTerms,
    "allowlist": BandwidthTerms,
    "max_bytes": BandwidthTerms,
    "min_reputation": QualityPolicy,
}


def names(entity: type) -> set[str]:
    return {f.name for f in dataclasses.fields(entity)}


def constraints(info: FieldInfo) -> dict[str, Any]:
    """The limits pydantic enforces on a field, in the words of `Bound`."""
    found: dict[str, Any] = {}
    for item in info.metadata:
        if isinstance(item, at.Ge):
            found["low"] = item.ge
        if isinstance(item, at.Le):
            found["high"] = item.le
        if isinstance(item, at.MinLen):
            found["min_length"] = item.min_length
        if isinstance(item, at.MaxLen):
            found["max_length"] = item.max_length
        if isinstance(item, at.Gt | at.Lt):
            found["exclusive"] = item
        if getattr(item, "strict", None):
            found["base_units"] = True
    return found


def expected(bound: Bound | None) -> dict[str, Any]:
    if bound is None:
        return {}
    return {k: v for k, v in dataclasses.asdict(bound).items() if v is not None and v is not False}


def check_model(model: type[BaseModel], entity: type, fields: set[str]) -> None:
    """Each field of `model` has the bound and the default of `entity`'s field of that name."""
    defaults = {
        f.name: f.default
        for f in dataclasses.fields(entity)
        if f.default is not dataclasses.MISSING
    }
    for name in fields:
        info = model.model_fields[name]
        bound = entity.BOUNDS.get(name)  # type: ignore[attr-defined]
        assert constraints(info) == expected(bound), f"{model.__name__}.{name}"
        if name in defaults and model is not BandwidthCampaignIn:
            assert info.default == defaults[name], f"{model.__name__}.{name} default"


def test_every_campaign_field_is_in_the_api_with_the_domains_bounds() -> None:
    spec_fields = names(CampaignSpec) - NOT_IN_CAMPAIGN_IN
    assert set(CampaignIn.model_fields) == spec_fields
    check_model(CampaignIn, CampaignSpec, spec_fields - {"quality"})


def test_every_quality_field_is_in_the_api_with_the_domains_bounds() -> None:
    assert set(QualityIn.model_fields) == names(QualityPolicy)
    check_model(QualityIn, QualityPolicy, names(QualityPolicy))


@pytest.mark.parametrize(
    ("field", "kind"), [("review", ReviewMode), ("appeals", AppealMode), ("routing", Routing)]
)
def test_the_api_offers_exactly_the_domains_choices(field: str, kind: type) -> None:
    annotation = QualityIn.model_fields[field].annotation
    assert set(typing.get_args(annotation)) == {k.value for k in kind}  # type: ignore[attr-defined]


def test_every_bandwidth_field_takes_its_bound_from_the_domain() -> None:
    assert set(BandwidthCampaignIn.model_fields) == set(BANDWIDTH_SOURCES)
    for name, entity in BANDWIDTH_SOURCES.items():
        assert name in names(entity)
        check_model(BandwidthCampaignIn, entity, {name})
    assert set(BandwidthTerms.BOUNDS) <= set(BANDWIDTH_SOURCES)


def test_an_amount_in_the_api_is_a_positive_amount_of_the_domain() -> None:
    assert constraints(AmountIn.model_fields["amount"]) == expected(POSITIVE_AMOUNT)
    assert expected(POSITIVE_AMOUNT) == {"low": 1, "high": MAX_AMOUNT, "base_units": True}


@pytest.mark.parametrize("entity", [CampaignSpec, QualityPolicy, BandwidthTerms])
def test_every_bound_names_a_field(entity: type) -> None:
    assert set(entity.BOUNDS) <= names(entity)  # type: ignore[attr-defined]


def test_every_persisted_field_has_a_column_and_every_column_a_field() -> None:
    assert set(campaigns.c.keys()) == names(CampaignSpec) | CAMPAIGN_ROW


def test_text_columns_are_as_long_as_the_domain_allows() -> None:
    for name, bound in CampaignSpec.BOUNDS.items():
        column_type = campaigns.c[name].type
        if isinstance(column_type, String) and column_type.length is not None:
            assert column_type.length == bound.max_length, name


def test_the_new_campaign_form_repeats_no_bound() -> None:
    form = (render.TEMPLATES / "requester" / "new.html").read_text()
    for name in ("title", "instructions", "overlap"):
        [tag] = re.findall(rf'<(?:input|textarea)[^>]*name="{name}"[^>]*>', form)
        assert not re.search(r'(maxlength|min|max)="\d', tag), tag
        assert "bounds.campaign." + name in tag
    assert render.templates.env.globals["bounds"]["campaign"] is CampaignSpec.BOUNDS


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"type": ""}, "type must have 1 to 40 characters"),
        ({"type": "x" * 41}, "type"),
        ({"title": "x" * 201}, "title must have 1 to 200 characters"),
        ({"instructions": "x" * 20_001}, "instructions must have at most 20000 characters"),
        ({"verifier": "v" * 41}, "verifier"),
        ({"max_leases": 0}, "max_leases"),
        ({"overlap": "3"}, "overlap must be a number"),
        ({"gold_share": float("nan")}, "gold_share"),
        ({"title": 7}, "title must be text"),
    ],
)
def test_campaign_bounds_refuse(changes: dict[str, object], message: str) -> None:
    fields: dict[str, Any] = {
        "type": "labeling",
        "title": "Label it",
        "instructions": "",
        "input_schema": {"type": "object"},
        "output_schema": {"type": "object"},
        "reward": 1000,
    }
    with pytest.raises(InvalidInput, match=message):
        CampaignSpec(**(fields | changes))


def test_the_longest_texts_the_domain_allows_are_accepted() -> None:
    CampaignSpec(
        type="t" * 40,
        title="x" * 200,
        instructions="x" * 20_000,
        input_schema={},
        output_schema={},
        reward=1,
        verifier="v" * 40,
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"skill": "s" * 41}, "skill must have at most 40 characters"),
        ({"predictor": "p" * 61}, "predictor"),
        ({"predictor_options": []}, "predictor_options must be an object"),
        ({"confidence": "0.5"}, "confidence must be a number"),
        ({"review_reward": 1.0}, "review_reward must be an integer number of base units"),
        ({"review_reward": -1}, "review_reward must be between 0 and"),
    ],
)
def test_quality_bounds_refuse(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        QualityPolicy(**changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"price_per_kb": 0}, "price_per_kb must be positive"),
        ({"price_per_kb": MAX_AMOUNT + 1}, "price_per_kb must be between 1 and"),
        ({"allowlist": ()}, "allowlist must have 1 to 1000 entries"),
        ({"allowlist": "a.com"}, "allowlist must be a list"),
        ({"max_bytes": 0}, "max_bytes must be between 1 and"),
    ],
)
def test_bandwidth_bounds_refuse(changes: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {"price_per_kb": 1, "allowlist": ("a.com",)}
    with pytest.raises(InvalidInput, match=message):
        BandwidthTerms(**(fields | changes))
