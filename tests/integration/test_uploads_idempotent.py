"""Uploads are idempotent (services/uploads.py), on SQLite and PostgreSQL: one task per key
(the row's id, else its data); a repeated upload or row is skipped and reported by its row
number; a key held with other data is a row error; fields are checked against the
campaign's."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from earnest.adapters.store import migrate
from earnest.adapters.store.tables import schema_version, tasks
from earnest.bootstrap import Market
from earnest.domain.errors import SchemaViolation
from earnest.domain.task_keys import task_key
from earnest.services.identity import Principal
from earnest.services.uploads import TaskLine, UploadReport, UploadTasks, add_tasks
from tests.factories import funded_requester, labeling_campaign


def _lines(rows: list[dict[str, Any]]) -> list[TaskLine]:
    return [TaskLine(n, row) for n, row in enumerate(rows, start=1)]


def _held(market: Market, campaign_id: str) -> int:
    with market.store.uow(readonly=True) as uow:
        return uow.tasks.counts(campaign_id)["tasks"]


def _setup(market: Market) -> tuple[Principal, str]:
    _, who = funded_requester(market, 10**6)
    return who, labeling_campaign(market, who, tasks=0, fund=1).id


def _upload(market: Market, who: Principal, cid: str, rows: list[dict[str, Any]]) -> UploadReport:
    return add_tasks(who, cid, _lines(rows), store=market.store)


def test_uploading_a_file_again_adds_nothing_and_names_each_row(market: Market) -> None:
    who, cid = _setup(market)
    rows = [{"id": f"r{n}", "data": {"text": f"item {n}"}} for n in range(3)]
    first = _upload(market, who, cid, rows)
    assert (first.rows, first.added, first.skipped, first.duplicates) == (3, 3, 0, [])
    again = _upload(market, who, cid, [*rows, {"id": "r3", "data": {"text": "item 3"}}])
    assert (again.rows, again.added, again.skipped) == (4, 1, 3)
    with market.store.uow(readonly=True) as uow:
        ids = uow.tasks.keyed(cid, [task_key(f"r{n}", None) for n in range(3)])
    assert again.duplicates == [
        {"row": n + 1, "task_id": ids[task_key(f"r{n}", None)].id} for n in range(3)
    ]
    assert _held(market, cid) == 4


def test_rows_without_ids_are_keyed_by_their_data(market: Market) -> None:
    who, cid = _setup(market)
    rows = [{"data": {"text": "a"}}, {"data": {"text": "b"}}, {"data": {"text": "a"}}]
    report = _upload(market, who, cid, rows)
    assert (report.added, report.skipped, report.duplicates) == (
        2,
        1,
        [{"row": 3, "same_as_row": 1}],
    )
    assert _upload(market, who, cid, rows[:2]).added == 0
    assert _held(market, cid) == 2


def test_one_id_with_other_data_is_a_row_error_and_adds_nothing(market: Market) -> None:
    who, cid = _setup(market)
    _upload(market, who, cid, [{"id": "x", "data": {"text": "first"}}])
    with pytest.raises(SchemaViolation) as refused:
        _upload(
            market,
            who,
            cid,
            [
                {"id": "new", "data": {"text": "fine"}},
                {"id": "x", "data": {"text": "changed"}},
                {"id": "y", "data": {"text": "one"}},
                {"id": "y", "data": {"text": "two"}},
            ],
        )
    errors = refused.value.extra["errors"]
    assert [e["row"] for e in errors] == [4, 2]  # in-file repeats are found as they come
    assert "repeats the id 'y' of row 3 with other data" in errors[0]["error"]
    assert "has this id 'x' with other data" in errors[1]["error"]
    assert _held(market, cid) == 1  # all or none: "new" was not added either


def test_unknown_and_missing_columns_are_row_errors(market: Market) -> None:
    """A misspelt column (`txt`) was taken as data, and workers saw "TXT hello"."""
    who, cid = _setup(market)
    csv = io.BytesIO(b"id,txt\n1,hello\n2,world\n")
    with pytest.raises(SchemaViolation) as refused:
        market.tasks.upload(UploadTasks(who, cid, csv, "csv"))
    errors = refused.value.extra["errors"]
    assert [e["row"] for e in errors] == [2, 3]  # spreadsheet rows: the header is row 1
    assert "unknown field(s) txt (this campaign's fields: text)" in errors[0]["error"]
    with pytest.raises(SchemaViolation) as missing:
        _upload(market, who, cid, [{"data": {}}])
    assert "lacks the required field(s) text" in missing.value.extra["errors"][0]["error"]
    assert _held(market, cid) == 0


def test_a_csv_and_the_same_tasks_as_json_lines_are_one_upload(market: Market) -> None:
    who, cid = _setup(market)
    csv = b"id,text\na,first\nb,second\n"
    jsonl = b'{"id": "a", "data": {"text": "first"}}\n{"id": "b", "data": {"text": "second"}}\n'
    assert market.tasks.upload(UploadTasks(who, cid, io.BytesIO(csv), "csv")).added == 2
    again = market.tasks.upload(UploadTasks(who, cid, io.BytesIO(jsonl), "jsonl"))
    assert (again.added, again.skipped) == (0, 2)


def test_the_migration_keys_old_tasks_and_leaves_old_duplicates_unkeyed(market: Market) -> None:
    who, cid = _setup(market)
    _upload(market, who, cid, [{"data": {"text": "a"}}, {"id": "b", "data": {"text": "b"}}])
    engine = market.store.engine
    with engine.begin() as conn:  # the database as schema 14 left it, with a double upload
        conn.exec_driver_sql("DROP INDEX ux_tasks_key")
        conn.execute(update(tasks).values(task_key=None))
        twin = {"campaign_id": cid, "data": {"text": "a"}, "is_gold": False, "status": "open"}
        conn.execute(insert(tasks).values(twin | {"filled": 0}))
        conn.execute(schema_version.delete().where(schema_version.c.version == 15))
    migrate(engine)
    market.store.engine.dispose()
    with engine.connect() as conn:
        keys = conn.execute(select(tasks.c.task_key).order_by(tasks.c.id)).scalars().all()
    assert keys == [task_key(None, {"text": "a"}), task_key("b", None), None]
    report = _upload(
        market, who, cid, [{"data": {"text": "a"}}, {"id": "b", "data": {"text": "b"}}]
    )
    assert (report.added, report.skipped) == (0, 2)
