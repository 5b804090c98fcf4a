"""Task uploads: validate every row (schemas, fields, gold, predictions), insert all or none.

Uploads are idempotent: a campaign holds one task per key (domain.task_keys: the row's `id`,
else its data), so a row the campaign holds already, or one that repeats an earlier row of
the same file, is skipped and reported by its row number, never added (nor paid) twice. A
row whose key the campaign holds with other data or gold is an error. Rows without an
uploaded prediction get one from the campaign's predictor, if it has one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from earnest.domain.bandwidth import BandwidthTerms
from earnest.domain.errors import Conflict, InvalidInput, SchemaViolation
from earnest.domain.task_keys import content_digest, task_key
from earnest.domain.verification import canonical_json
from earnest.domain.work import Campaign, CampaignStatus
from earnest.quality import SANDBOXED
from earnest.quality.predictors import Predictor, load_predictor
from earnest.services.common import owned_campaign
from earnest.services.identity import Principal
from earnest.services.ports import Sandbox, WorkStore, WorkUnit
from earnest.services.schemas import compile_schema, first_error, value_problem

UPLOAD_CHUNK = 1000
MAX_REPORTED_ERRORS = 20
MAX_REPORTED_SKIPS = 1000  # rows skipped as duplicates listed in a report (all are counted)


@dataclass(frozen=True)
class TaskLine:
    """One row of an upload: its position, and the parsed object or why it did not parse."""

    row: int
    value: Any = None
    parse_error: str | None = None


@dataclass(frozen=True)
class UploadLimits:
    """How many tasks one upload may add, and one campaign may hold in all."""

    per_upload: int = 100_000
    per_campaign: int = 1_000_000


@dataclass(frozen=True)
class UploadTasks:
    """A task file to add to a campaign: `kind` is jsonl, json (an array) or csv."""

    who: Principal
    campaign_id: str
    stream: IO[bytes]
    kind: str


@dataclass
class UploadReport:
    """What an upload did: rows read, tasks added, and the rows skipped as duplicates, each
    with the task it is (`task_id`, held before) or the earlier row it repeats."""

    rows: int = 0
    added: int = 0
    skipped: int = 0
    duplicates: list[dict[str, Any]] = field(default_factory=list)

    def skip(self, row: int, **which: Any) -> None:
        self.skipped += 1
        if len(self.duplicates) < MAX_REPORTED_SKIPS:
            self.duplicates.append({"row": row} | which)


def add_tasks(
    who: Principal,
    campaign_id: str,
    lines: Iterable[TaskLine],
    *,
    store: WorkStore,
    limits: UploadLimits = UploadLimits(),
    sandbox: Sandbox | None = None,
) -> UploadReport:
    """Validate and insert tasks, all or none; SchemaViolation lists the first bad rows.
    Duplicates (of held tasks, or of earlier rows) are skipped and reported."""
    who.require("tasks:write")
    with store.uow() as uow:
        campaign = owned_campaign(uow, campaign_id, who.address)
        if campaign.status is CampaignStatus.CLOSED:
            raise Conflict("the campaign is closed")
        room = _room(limits, uow.tasks.counts(campaign_id)["tasks"])
        batch = _Batch(uow, campaign_id, _Checks.of(campaign, sandbox))
        for row in _rows(lines, batch.checks, batch.errors):
            batch.report.rows += 1
            if batch.report.rows > limits.per_upload:
                raise InvalidInput(_too_many(limits), limit=limits.per_upload)
            if not batch.errors:  # after an error: keep reading to report more, add nothing
                batch.take(row)
            if batch.report.added > room.allowed:
                raise InvalidInput(room.refusal, limit=room.allowed)
        batch.flush()
        if batch.report.added > room.allowed:
            raise InvalidInput(room.refusal, limit=room.allowed)
        _check_complete(batch.errors, batch.report.rows)
        _check_cap(uow, campaign_id, limits)
        uow.commit()
    return batch.report


class _Batch:
    """The rows of one upload on their way in: repeats within the file caught as they come,
    then a chunk at a time checked against the tasks the campaign holds and inserted."""

    def __init__(self, uow: WorkUnit, campaign_id: str, checks: _Checks) -> None:
        self.uow, self.campaign_id, self.checks = uow, campaign_id, checks
        self.errors: list[dict[str, Any]] = []
        self.report = UploadReport()
        self.chunk: list[dict[str, Any]] = []
        self.seen: dict[str, tuple[int, str]] = {}  # key → (first row, content digest)

    def take(self, row: dict[str, Any]) -> None:
        first = self.seen.get(row["task_key"])
        if first is None:
            self.seen[row["task_key"]] = (row["row"], row["digest"])
            self.chunk.append(row)
            if len(self.chunk) >= UPLOAD_CHUNK:
                self.flush()
        elif first[1] == row["digest"]:
            self.report.skip(row["row"], same_as_row=first[0])
        else:
            self._error(row, f"repeats the {_what(row)} of row {first[0]} with other data or gold")

    def flush(self) -> None:
        held = self.uow.tasks.keyed(self.campaign_id, [r["task_key"] for r in self.chunk])
        new = []
        for row in self.chunk:
            task = held.get(row["task_key"])
            if task is None:
                new.append(_stored(row, self.campaign_id))
            elif content_digest(task.data, task.gold) == row["digest"]:
                self.report.skip(row["row"], task_id=task.id)
            else:
                self._error(row, f"task {task.id} has this {_what(row)} with other data or gold")
        self.chunk = []
        if not self.errors:
            self.uow.tasks.add_many(new)
            self.report.added += len(new)

    def _error(self, row: dict[str, Any], problem: str) -> None:
        self.errors.append({"row": row["row"], "error": problem})


def _what(row: dict[str, Any]) -> str:
    return f"id {row['external_id']!r}" if row["external_id"] is not None else "data"


def _stored(row: dict[str, Any], campaign_id: str) -> dict[str, Any]:
    kept = ("task_key", "external_id", "data", "gold", "prediction")
    return {k: row[k] for k in kept} | {"campaign_id": campaign_id}


def _too_many(limits: UploadLimits) -> str:
    return (
        f"an upload may add at most {limits.per_upload} tasks; nothing was added "
        "(split it into several uploads)"
    )


def _check_cap(uow: WorkUnit, campaign_id: str, limits: UploadLimits) -> None:
    """Count again under the campaign's lock, held only until commit: of two concurrent
    uploads the second sees the first's tasks (a lock for the whole upload would hold up
    every claim on the campaign meanwhile)."""
    uow.campaigns.lock(campaign_id)
    held = uow.tasks.counts(campaign_id)["tasks"]
    if held > limits.per_campaign:
        raise InvalidInput(
            f"the campaign may hold {limits.per_campaign} tasks in all; nothing was added",
            limit=limits.per_campaign,
        )


@dataclass(frozen=True)
class _Room:
    allowed: int
    refusal: str


def _room(limits: UploadLimits, held: int) -> _Room:
    """How many tasks this upload may add, and what to say beyond that."""
    left = max(0, limits.per_campaign - held)
    if left < limits.per_upload:
        return _Room(
            left,
            f"the campaign holds {held} tasks and may hold {limits.per_campaign} in all; "
            "nothing was added",
        )
    return _Room(limits.per_upload, _too_many(limits))


def _check_complete(errors: list[dict[str, Any]], count: int) -> None:
    if errors:
        raise SchemaViolation(
            f"{len(errors)} bad row(s); nothing was added", errors=errors[:MAX_REPORTED_ERRORS]
        )
    if count == 0:
        raise InvalidInput("the upload holds no tasks")


@dataclass(frozen=True)
class _Fields:
    """The task data's fields the campaign declares (its input schema's properties) and
    those it requires: a column the campaign does not know (a misspelt `txt`), or one it
    requires left out, is the row's error, in words that name the column. A schema that
    declares no properties, or allows others (additionalProperties: true), takes any."""

    known: frozenset[str] | None
    required: tuple[str, ...]

    @classmethod
    def of(cls, schema: dict[str, Any]) -> _Fields:
        props = schema.get("properties")
        declared = (
            isinstance(props, dict) and props and schema.get("additionalProperties") is not True
        )
        required = schema.get("required")
        names = (
            tuple(r for r in required if isinstance(r, str)) if isinstance(required, list) else ()
        )
        return cls(frozenset(props) if declared and isinstance(props, dict) else None, names)

    def problem(self, data: Any) -> str | None:
        if not isinstance(data, dict):
            return None
        unknown = sorted(set(data) - self.known) if self.known is not None else []
        if unknown:
            known = ", ".join(sorted(self.known or ()))
            return f"has unknown field(s) {', '.join(unknown)} (this campaign's fields: {known})"
        missing = [name for name in self.required if name not in data]
        if missing:
            return f"lacks the required field(s) {', '.join(missing)}"
        return None


@dataclass(frozen=True)
class _Checks:
    """What every row of one campaign's upload is checked against."""

    validate_in: Any
    validate_out: Any
    fields: _Fields
    peer: bool
    predictor: Predictor | None
    fetch: BandwidthTerms | None  # a bandwidth campaign's URLs must be in its allowlist
    repo: Callable[[str], str | None] | None  # a bug bounty's repository address

    @classmethod
    def of(cls, campaign: Campaign, sandbox: Sandbox | None = None) -> _Checks:
        spec, q = campaign.spec, campaign.spec.quality
        bounty = sandbox is not None and spec.verifier in SANDBOXED
        return cls(
            compile_schema(spec.input_schema, "input_schema"),
            compile_schema(spec.output_schema, "output_schema"),
            _Fields.of(spec.input_schema),
            spec.peer_reviewed,
            load_predictor(q.predictor, q.predictor_options) if q.predictor else None,
            BandwidthTerms.of(spec.terms) if spec.is_bandwidth else None,
            sandbox.repo_problem if bounty and sandbox is not None else None,
        )


def _rows(
    lines: Iterable[TaskLine], checks: _Checks, errors: list[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    for line in lines:
        # the whole line, not only its data: an `id` with a NUL would reach the database
        problem = line.parse_error or _line_problem(line.value) or _task_problem(line.value, checks)
        prediction = None if problem else line.value.get("prediction")
        if not problem and prediction is None and checks.predictor is not None:
            prediction, problem = _predicted(checks.predictor, checks, line.value["data"])
        if problem:
            errors.append({"row": line.row, "error": problem})
            yield {}
            continue
        value = line.value
        external = None if value.get("id") is None else str(value["id"])
        text = canonical_json(value["data"])  # hashed once for the key and the digest
        yield {
            "row": line.row,
            "task_key": task_key(external, value["data"], text=text),
            "digest": content_digest(value["data"], value.get("gold"), text=text),
            "external_id": external,
            "data": value["data"],
            "gold": value.get("gold"),
            "prediction": prediction,
        }


def _line_problem(value: Any) -> str | None:
    problem = value_problem(value)
    return f"the task is refused {problem}" if problem else None


def _predicted(
    predictor: Predictor, checks: _Checks, data: Any
) -> tuple[dict[str, Any] | None, str | None]:
    """The campaign predictor's vote on a task, checked like an uploaded one."""
    name = predictor.name
    try:
        prediction = predictor.predict(data)
    except Exception as exc:  # a plug-in's failure is the row's problem, not a server error
        return None, f"predictor {name} failed: {exc}"
    if prediction is None:
        return None, None
    problem = _prediction_problem(prediction, checks.validate_out)
    return (None, f"predictor {name} gave a bad {problem}") if problem else (prediction, None)


def _task_problem(value: Any, checks: _Checks) -> str | None:
    if not isinstance(value, dict) or "data" not in value:
        return (
            'each task must be an object with a "data" field '
            '(and optional "id", "gold", "prediction")'
        )
    extra = set(value) - {"id", "data", "gold", "prediction"}
    if extra:
        return f"unknown field(s) {sorted(extra)}"
    if value.get("prediction") is not None:
        problem = _prediction_problem(value["prediction"], checks.validate_out)
        if problem:
            return problem
    problem = checks.fields.problem(value["data"]) or first_error(checks.validate_in, value["data"])
    if problem:
        return f"data {problem}"
    if checks.fetch is not None:
        return _fetch_problem(value, checks.fetch)
    if checks.repo is not None:
        repo = value["data"].get("repo") if isinstance(value["data"], dict) else None
        why = checks.repo(repo) if isinstance(repo, str) else "it must be a string"
        if why:
            return f"data.repo is refused: {why}"
    gold = value.get("gold")
    if gold is None:
        return None
    if checks.peer:
        return _gold_review_problem(gold, checks.validate_out)
    return _gold_problem(gold, checks.validate_out)


def _fetch_problem(value: dict[str, Any], terms: BandwidthTerms) -> str | None:
    """A fetch job: a URL the campaign's terms allow, checked by nodes, never by gold."""
    if value.get("gold") is not None or value.get("prediction") is not None:
        return "a bandwidth task is a URL only: nodes check each other, without gold or predictions"
    return terms.url_problem(value["data"]["url"])


def _gold_problem(gold: Any, validate_out: Any) -> str | None:
    problem = first_error(validate_out, gold)
    return f"gold {problem}" if problem else None


def _gold_review_problem(gold: Any, validate_out: Any) -> str | None:
    """A peer-reviewed campaign's gold is a gold review: an answer and its known verdict."""
    if not isinstance(gold, dict) or set(gold) != {"answer", "accept"}:
        return 'in a peer-reviewed campaign gold is a gold review: {"answer": ..., "accept": true|false}'
    if not isinstance(gold["accept"], bool):
        return "gold.accept must be true or false"
    problem = first_error(validate_out, gold["answer"])
    return f"gold.answer {problem}" if problem else None


def _prediction_problem(prediction: Any, validate_out: Any) -> str | None:
    """A model's vote: {"answer": <valid answer>, "confidence": 0..1, "model": "name"}."""
    if not isinstance(prediction, dict) or set(prediction) - {"answer", "confidence", "model"}:
        return 'prediction must be {"answer": ..., "confidence": 0..1, "model": "name"}'
    confidence = prediction.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        return "prediction.confidence must be a number between 0 and 1"
    if not 0.0 <= confidence <= 1.0:
        return "prediction.confidence must be a number between 0 and 1"
    model = prediction.get("model", "model")
    if not isinstance(model, str) or not 1 <= len(model) <= 60:
        return "prediction.model must be a name of 1 to 60 characters"
    problem = first_error(validate_out, prediction.get("answer"))
    return f"prediction.answer {problem}" if problem else None
