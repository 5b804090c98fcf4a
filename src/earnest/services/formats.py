"""Task uploads and result exports as files: JSON Lines and CSV, streamed row by row."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import ijson

from earnest.domain.errors import InvalidInput
from earnest.services.schemas import CONTROL, control_problem, loads
from earnest.services.uploads import TaskLine

# The kinds of task file, by media type (the API's content-type) and by file name suffix.
MEDIA_KINDS = {
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/json": "json",
    "text/csv": "csv",
}
SUFFIX_KINDS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}

RESERVED_COLUMNS = ("id", "gold", "prediction")  # CSV columns that are not task data


def json_lines(stream: IO[bytes]) -> Iterator[TaskLine]:
    """One task per line, numbered from 1; a line that is not JSON, or nested too deep, or
    holding a control character, becomes a row error (schemas.loads)."""
    for row, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            yield TaskLine(row, loads(raw, "the line"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            yield TaskLine(row, parse_error=f"not valid JSON: {exc}")
        except ValueError as exc:
            yield TaskLine(row, parse_error=str(exc))


def task_lines(
    stream: IO[bytes], kind: str, input_schema: dict[str, Any], answer_field: str | None = None
) -> Iterator[TaskLine]:
    """The rows of a task file of `kind` (jsonl, json or csv), read as they are consumed."""
    if kind == "jsonl":
        return json_lines(stream)
    if kind == "json":
        return json_array(stream)
    if kind == "csv":
        return _csv_bytes(stream, input_schema, answer_field)
    raise InvalidInput(f"tasks come as JSON Lines, a JSON array or CSV, not {kind!r}")


def _csv_bytes(
    stream: IO[bytes], input_schema: dict[str, Any], answer_field: str | None
) -> Iterator[TaskLine]:
    # utf-8-sig: spreadsheets often start a CSV with a byte order mark.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    try:
        yield from csv_lines(text, input_schema, answer_field)
    finally:
        text.detach()  # the caller owns the stream and closes it


def json_array(stream: IO[bytes]) -> Iterator[TaskLine]:
    """One task per item of a JSON array, read item by item (a large array is never whole)."""
    try:
        for row, value in enumerate(ijson.items(stream, "item", use_float=True), start=1):
            yield TaskLine(row, value)
    except ijson.JSONError as exc:
        raise InvalidInput(f"the body is not a valid JSON array of tasks: {exc}") from exc


def csv_lines(
    stream: IO[str], input_schema: dict[str, Any], answer_field: str | None = None
) -> Iterator[TaskLine]:
    """One task per CSV row (numbered as a spreadsheet shows it, the header being row 1).

    Columns `id`, `gold` and `prediction` are the task's own fields; every other column is
    a field of its data, typed by the input schema (numbers, booleans and JSON objects are
    read from their text). An empty cell leaves its field out. With `answer_field`, a bare
    gold value (`cat`) stands for the answer `{answer_field: "cat"}`.
    """
    reader = csv.DictReader(stream)
    props = input_schema.get("properties", {}) if isinstance(input_schema, dict) else {}
    for record in reader:
        try:
            _check_cells(record)
            yield TaskLine(reader.line_num, _task(record, props, answer_field))
        except ValueError as exc:
            yield TaskLine(reader.line_num, parse_error=str(exc))


def _check_cells(record: dict[Any, Any]) -> None:
    """No control character in a header or a cell (the csv module lets a NUL through)."""
    for name, cell in record.items():
        for text in (name, cell):
            if isinstance(text, str) and CONTROL.search(text):
                raise ValueError(control_problem(text, f"column {name!r}"))


def _task(
    record: dict[Any, Any], props: dict[str, Any], answer_field: str | None
) -> dict[str, Any]:
    data = {
        name: _typed(cell, props.get(name, {}))
        for name, cell in record.items()
        if name not in RESERVED_COLUMNS and name is not None and cell not in (None, "")
    }
    task: dict[str, Any] = {"data": data}
    if record.get("id"):
        task["id"] = record["id"]
    if record.get("gold"):
        gold = _json_or_text(record["gold"])
        wrap = answer_field and not isinstance(gold, dict)
        task["gold"] = {answer_field: gold} if wrap else gold
    if record.get("prediction"):
        task["prediction"] = _json_or_text(record["prediction"])
    return task


def _typed(cell: str, prop: Any) -> Any:
    kind = prop.get("type") if isinstance(prop, dict) else None
    try:
        if kind == "integer":
            return int(cell)
        if kind == "number":
            return float(cell)
        if kind in ("object", "array"):
            return loads(cell, "the cell")
    except (ValueError, json.JSONDecodeError):
        raise ValueError(f"{cell!r} is not a valid {kind}") from None
    if kind == "boolean":
        if cell.lower() not in ("true", "false"):
            raise ValueError(f"{cell!r} is not true or false")
        return cell.lower() == "true"
    return cell


def _json_or_text(cell: str) -> Any:
    try:
        return loads(cell, "the cell")
    except json.JSONDecodeError:
        return cell


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...) leaks
# data, DDE runs commands); full-width forms included, since some spreadsheets fold them.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_safe(cell: str) -> str:
    """A text cell that a spreadsheet shows as text, never runs as a formula (OWASP CSV
    injection): one that starts with a formula character, after any leading spaces too,
    gets a leading single quote."""
    if cell.startswith(_FORMULA_STARTS) or cell.lstrip(" \t\r\n").startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


@dataclass(frozen=True)
class FlatColumns:
    """The columns of a flat results CSV: one per data field and one per answer field, as
    the campaign's schemas declare them (`data.text`, `result.label`); a schema without
    properties (a bare answer such as an enum) is one column of JSON text (`data`, `result`)."""

    data: tuple[str, ...]
    result: tuple[str, ...]

    @classmethod
    def of(cls, input_schema: dict[str, Any], output_schema: dict[str, Any]) -> FlatColumns:
        return cls(_fields_of(input_schema), _fields_of(output_schema))

    def header(self) -> list[str]:
        data = [f"data.{f}" for f in self.data] or ["data"]
        result = [f"result.{f}" for f in self.result] or ["result"]
        return ["task_id", "external_id", *data, *result, "confidence", "answers"]

    def cells(self, row: dict[str, Any]) -> list[Any]:
        text = [
            str(row["task_id"]),
            row["external_id"] or "",
            *_flat(row["data"], self.data),
            *_flat(row["result"], self.result),
        ]
        # confidence and the answer count are numbers the market computed: not a stranger's text
        return [*map(spreadsheet_safe, text), row["confidence"], len(row["answers"])]


def _fields_of(schema: dict[str, Any]) -> tuple[str, ...]:
    props = schema.get("properties") if isinstance(schema, dict) else None
    return tuple(props) if isinstance(props, dict) else ()


def _flat(value: Any, fields: tuple[str, ...]) -> list[str]:
    if not fields:
        return [_cell(value)]
    found = value if isinstance(value, dict) else {}
    return [_cell(found.get(f)) for f in fields]


def _cell(value: Any) -> str:
    """A value as a spreadsheet reads it: text as it is, nothing as an empty cell, numbers
    and booleans in JSON's words, lists and objects as JSON text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def results_csv(rows: Iterator[dict[str, Any]], columns: FlatColumns) -> Iterator[str]:
    """Results as flat CSV text chunks: one row per resolved task, one column per data and
    answer field, the answers counted; every text cell escaped against formulas (JSON Lines
    is the lossless export, with each worker's answer)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns.header())
    for row in rows:
        writer.writerow(columns.cells(row))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def results_jsonl(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """Results as JSON Lines, one resolved task per line."""
    return (json.dumps(r) + "\n" for r in rows)


def started(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Run `rows` up to its first row now, so its checks (ownership) raise before a response
    starts streaming; the rows that follow are unchanged."""
    first = next(rows, None)
    return _chain(first, rows)


def _chain(
    first: dict[str, Any] | None, rest: Iterator[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    if first is not None:
        yield first
        yield from rest


EXPORTS = ("jsonl", "csv")  # the formats of a results export
