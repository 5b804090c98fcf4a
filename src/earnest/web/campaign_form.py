"""The campaign form's settings: what the new-campaign and settings pages show, and how
their text fields become a spec or a set of changes.

Each setting names its field in the domain (`CampaignSpec` or `QualityPolicy`), whose
`BOUNDS` give the form its min/max/maxlength, so the pages repeat no bound. Amounts are
typed in tokens and turned into base units here (`parse_units`), exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from earnest.domain.bounds import Bound
from earnest.domain.errors import InvalidInput
from earnest.domain.money import format_units, parse_units
from earnest.domain.work import AppealMode, CampaignSpec, QualityPolicy, ReviewMode


@dataclass(frozen=True)
class Setting:
    """One field of the form: its name, its label, how it is typed, and its place."""

    name: str
    label: str
    kind: str  # int | float | tokens | datetime | codes | bool | choice | text
    group: str
    quality: bool = False  # a QualityPolicy field, else a CampaignSpec field
    choices: tuple[str, ...] = ()
    hint: str = ""

    @property
    def bound(self) -> Bound | None:
        table = QualityPolicy.BOUNDS if self.quality else CampaignSpec.BOUNDS
        return table.get(self.name)

    @property
    def step(self) -> str:
        return "1" if self.kind == "int" else "any"


S, Q = False, True
SETTINGS: tuple[Setting, ...] = (
    Setting("gold_share", "Share of control tasks", "float", "Answers and control", S,
            hint="0 to 1: how many claims are control tasks with a known answer"),
    Setting("confidence", "Stop a task at this confidence", "float", "Answers and control", Q,
            hint="0 = always collect every answer; 0.9 = stop early once the result is 90% sure"),
    Setting("min_overlap", "Answers before stopping early", "int", "Answers and control", Q),
    Setting("practice_tasks", "Practice control tasks", "int", "Qualification", Q,
            hint="answered first; they count for nothing"),
    Setting("qualification_tasks", "Qualification control tasks", "int", "Qualification", Q,
            hint="answered next; 0 = no test"),
    Setting("qualification_accuracy", "Accuracy needed to qualify", "float", "Qualification", Q,
            hint="0 to 1"),
    Setting("min_reputation", "Minimum reputation", "float", "Workers", Q, hint="0 to 1"),
    Setting("languages", "Languages", "codes", "Workers", Q,
            hint="ISO 639-1 codes separated by commas (en, de); empty = any"),
    Setting("regions", "Regions", "codes", "Workers", Q,
            hint="ISO 3166-1 codes separated by commas (DE, AT); empty = anywhere"),
    Setting("allow_agents", "AI agents may work", "bool", "Workers", Q),
    Setting("deadline", "Deadline (UTC)", "datetime", "Timing", S, hint="empty = none"),
    Setting("lease_seconds", "Time to answer a task (seconds)", "int", "Timing", S),
    Setting("max_leases", "Tasks one worker may hold at once", "int", "Timing", S),
    Setting("review", "Who decides answers", "choice", "Review", Q,
            tuple(m.value for m in ReviewMode),
            hint="auto: the verifier; requester: you; peer: paid reviewers"),
    Setting("review_reward", "Pay per peer review (tokens)", "tokens", "Review", Q),
    Setting("appeals", "Who decides appeals", "choice", "Review", Q,
            tuple(m.value for m in AppealMode)),
)  # fmt: skip
GROUPS = tuple(dict.fromkeys(s.group for s in SETTINGS))
# The settings at the head of the form, laid out by the pages themselves.
HEAD = (
    Setting("title", "Title", "text", ""),
    Setting("instructions", "Instructions", "text", ""),
    Setting("reward", "Reward", "tokens", ""),
    Setting("overlap", "Answers per task", "int", ""),
)


def shown(setting: Setting, value: Any, decimals: int) -> str:
    """A setting's value as the form shows it."""
    if setting.kind == "tokens":
        return format_units(int(value), decimals)
    if setting.kind == "codes":
        return ", ".join(value)
    if setting.kind == "datetime":
        return value.strftime("%Y-%m-%dT%H:%M") if value else ""
    if setting.kind == "bool":
        return "on" if value else ""
    return str(value.value if hasattr(value, "value") else value)


def form_of(spec: CampaignSpec, decimals: int) -> dict[str, str]:
    """The settings' fields of the form, filled from `spec`."""
    return {s.name: shown(s, _current(spec, s), decimals) for s in SETTINGS}


def _current(spec: CampaignSpec, setting: Setting) -> Any:
    return getattr(spec.quality if setting.quality else spec, setting.name)


def parsed(setting: Setting, text: str, decimals: int) -> Any:
    """A setting's typed value from the form's text; InvalidInput naming it if unreadable."""
    text = text.strip()
    label = setting.label.lower()
    try:
        if setting.kind == "int":
            return int(text)
        if setting.kind == "float":
            return float(text)
    except ValueError:
        raise InvalidInput(f"{label}: {text!r} is not a number") from None
    if setting.kind == "tokens":
        return parse_units(text or "0", decimals, label)
    if setting.kind == "codes":
        return tuple(code for code in (c.strip() for c in text.split(",")) if code)
    if setting.kind == "datetime":
        return _moment(text, label)
    if setting.kind == "bool":
        return text in ("on", "true", "1", "yes")
    return text


def _moment(text: str, label: str) -> datetime | None:
    if not text:
        return None
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{label}: {text!r} is not a date and time") from None
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found


def settings_of(fields: Mapping[str, str], decimals: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec fields, quality fields) the form typed. A checkbox not sent is off; any other
    setting not sent keeps its default."""
    spec: dict[str, Any] = {}
    quality: dict[str, Any] = {}
    for s in SETTINGS:
        if s.name not in fields and s.kind != "bool":
            continue
        (quality if s.quality else spec)[s.name] = parsed(s, fields.get(s.name, ""), decimals)
    return spec, quality


def changes_of(
    fields: Mapping[str, str], spec: CampaignSpec, decimals: int, editable: set[str]
) -> dict[str, Any]:
    """The settings the settings form changed (only those it may change), as
    `UpdateCampaign` takes them."""
    top, quality = settings_of({k: v for k, v in fields.items() if k in editable}, decimals)
    changes = {k: v for k, v in top.items() if getattr(spec, k) != v}
    changed_q = {
        k: v for k, v in quality.items() if k in editable and getattr(spec.quality, k) != v
    }
    for setting in HEAD:
        if setting.name in fields and setting.name in editable:
            value = parsed(setting, fields[setting.name], decimals)
            if value != getattr(spec, setting.name):
                changes[setting.name] = value
    return changes | ({"quality": changed_q} if changed_q else {})
