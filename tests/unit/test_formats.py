"""Upload and export formats: CSV rows typed by the input schema, JSON Lines, results CSV."""

from __future__ import annotations

import csv
import io

from earnest.services.formats import FlatColumns, csv_lines, json_lines, results_csv, started

SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": "string"},
        "n": {"type": "integer"},
        "score": {"type": "number"},
        "flag": {"type": "boolean"},
        "meta": {"type": "object"},
    },
}


def _csv(text: str, field: str | None = None) -> list[tuple[int, object, str | None]]:
    return [(t.row, t.value, t.parse_error) for t in csv_lines(io.StringIO(text), SCHEMA, field)]


def test_csv_cells_are_typed_by_the_schema() -> None:
    rows = _csv('id,text,n,score,flag,meta\nt1,hi,3,0.5,true,"{""a"": 1}"\n')
    assert rows == [
        (
            2,
            {
                "id": "t1",
                "data": {"text": "hi", "n": 3, "score": 0.5, "flag": True, "meta": {"a": 1}},
            },
            None,
        )
    ]


def test_empty_cells_are_left_out_and_bad_cells_are_row_errors() -> None:
    rows = _csv("text,n\nhello,\n,x\n")
    assert rows[0] == (2, {"data": {"text": "hello"}}, None)
    assert rows[1][0] == 3 and "not a valid integer" in str(rows[1][2])


def test_a_bare_gold_value_stands_for_the_answer() -> None:
    rows = _csv('text,gold\na,even\nb,"{""label"": ""odd""}"\n', field="label")
    assert [r[1]["gold"] for r in rows] == [{"label": "even"}, {"label": "odd"}]  # type: ignore[index]


def test_json_lines_number_rows_from_one_and_skip_blank_lines() -> None:
    lines = list(json_lines(io.BytesIO(b'{"data": {}}\n\nnot json\n')))
    assert [(t.row, t.parse_error is None) for t in lines] == [(1, True), (3, False)]


def _row(**changes: object) -> dict[str, object]:
    return {
        "task_id": 1,
        "external_id": None,
        "result": {"label": "x"},
        "confidence": 0.9,
        "answers": [1, 2],
        "data": {"text": "a", "n": 3},
    } | changes


LABELS = {"type": "object", "properties": {"label": {"enum": ["x", "y"]}}}


def test_results_csv_has_one_column_per_data_and_answer_field() -> None:
    """The CSV packed JSON into cells; flat, a spreadsheet reads each field as a column."""
    columns = FlatColumns.of(SCHEMA, LABELS)
    parsed = list(csv.reader(io.StringIO("".join(results_csv(started(iter([_row()])), columns)))))
    fields = [f"data.{f}" for f in SCHEMA["properties"]]
    assert parsed[0] == ["task_id", "external_id", *fields, "result.label", "confidence", "answers"]
    cells = dict(zip(parsed[0], parsed[1], strict=True))
    assert (cells["data.text"], cells["data.n"], cells["result.label"]) == ("a", "3", "x")
    assert (cells["data.score"], cells["confidence"], cells["answers"]) == ("", "0.9", "2")
    empty = "".join(results_csv(started(iter([])), columns))
    assert empty.startswith("task_id,external_id,data.text")


def test_a_bare_answer_and_nested_values_are_one_cell_each() -> None:
    columns = FlatColumns.of({"type": "object"}, {"enum": ["x", "y"]})
    row = _row(result="y", data={"meta": {"a": [1, 2]}})
    [header, line] = list(csv.reader("".join(results_csv(iter([row]), columns)).splitlines()))
    assert header == ["task_id", "external_id", "data", "result", "confidence", "answers"]
    assert line == ["1", "", '{"meta": {"a": [1, 2]}}', "y", "0.9", "2"]
