"""Findings 2, 3 and 9: hostile JSON, schemas and strings get a fast 4xx and change nothing.

Each attack goes to a market served on 127.0.0.1: an upload nested 50,000 deep (before the
fix: gigabytes and a 20 s stall), a requester's `^(a+)+$` pattern with a crafted task
(before: the process blocked on Python's backtracking regex), and the inputs that answered
500 (a JSONL line 5,000 deep, an input_schema 100 deep, a NUL in a title on PostgreSQL).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market
from earnest.demo.server import BackgroundServer
from tests.e2e.helpers import campaign_spec
from tests.integration.api_world import session_token

DEEP = 50_000


@pytest.fixture
def served(sqlite_market: Market) -> Iterator[tuple[httpx.Client, Market]]:
    yield from _serve(sqlite_market)


@pytest.fixture
def served_any(market: Market) -> Iterator[tuple[httpx.Client, Market]]:
    """The same, on SQLite and on PostgreSQL."""
    yield from _serve(market)


def _serve(market: Market) -> Iterator[tuple[httpx.Client, Market]]:
    server = BackgroundServer(market)
    url = server.start()
    token = session_token(market, Wallet.generate())
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        yield client, market
    server.stop()


def _campaign(client: httpx.Client, **changes: Any) -> str:
    answer = client.post("/v1/campaigns", json=campaign_spec(**changes))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _tasks(market: Market, campaign_id: str) -> int:
    with market.store.uow() as uow:
        return int(uow.tasks.counts(campaign_id)["tasks"])


def _refused(answer: httpx.Response, *words: str) -> dict[str, Any]:
    """A 422 problem JSON whose detail says `words`."""
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    for word in words:
        assert word in body["detail"], body
    return body


def _peak_rss_reset() -> int:
    """Reset this process's peak RSS (the served market runs in it) and return its RSS, kB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("application/json", b"[" * DEEP + b"]" * DEEP),
        ("application/x-ndjson", b'{"data": ' + b"[" * DEEP + b"]" * DEEP + b"}\n"),
    ],
    ids=["json-array", "jsonl"],
)
def test_an_upload_nested_50000_deep_is_refused_fast_and_small(
    served: tuple[httpx.Client, Market], kind: str, body: bytes
) -> None:
    client, market = served
    campaign_id = _campaign(client)
    before = _peak_rss_reset()
    started = time.monotonic()
    answer = client.post(
        f"/v1/campaigns/{campaign_id}/tasks", content=body, headers={"content-type": kind}
    )
    took = time.monotonic() - started
    grew_mb = (_status("VmHWM") - before) / 1024
    _refused(answer, "deeper than 64")
    assert took < 2.0, took
    assert grew_mb < 100, grew_mb
    assert _tasks(market, campaign_id) == 0


def test_a_jsonl_line_5000_deep_is_a_problem_not_a_500(
    served: tuple[httpx.Client, Market],
) -> None:
    client, market = served
    campaign_id = _campaign(client)
    good = b'{"id": "t1", "data": {"text": "a", "n": 1}}\n'
    deep = b'{"id": "t2", "data": {"text": "' + b"[" * 10 + b'", "n": ' + b"[" * 5000
    deep += b"]" * 5000 + b"}}\n"
    answer = client.post(
        f"/v1/campaigns/{campaign_id}/tasks",
        content=good + deep,
        headers={"content-type": "application/x-ndjson"},
    )
    _refused(answer, "deeper than 64")
    assert _tasks(market, campaign_id) == 0


def _nested_schema(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema


def _campaigns(client: httpx.Client) -> int:
    return len(client.get("/v1/campaigns").json())


@pytest.mark.parametrize("depth", [40, 100])
def test_a_deep_input_schema_is_refused(served: tuple[httpx.Client, Market], depth: int) -> None:
    client, _ = served
    answer = client.post("/v1/campaigns", json=campaign_spec(input_schema=_nested_schema(depth)))
    _refused(answer, "deeper than")
    assert _campaigns(client) == 0


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({"type": "string", "pattern": "^(a)\\1$"}, ["'^(a)\\\\1$'", "RE2"]),
        ({"type": "object", "patternProperties": {"(?=x)": {}}}, ["'(?=x)'", "RE2"]),
        ({"$ref": "http://127.0.0.1:9/schema.json"}, ["points outside the schema"]),
    ],
    ids=["backreference", "lookahead", "remote-ref"],
)
def test_a_schema_that_cannot_run_safely_is_refused_at_creation(
    served: tuple[httpx.Client, Market], schema: dict[str, Any], words: list[str]
) -> None:
    client, _ = served
    body = campaign_spec(input_schema={"type": "object", "properties": {"text": schema}})
    _refused(client.post("/v1/campaigns", json=body), *words, "/properties/text")
    assert _campaigns(client) == 0


def test_a_redos_pattern_runs_in_linear_time_and_the_loop_stays_free(
    served: tuple[httpx.Client, Market],
) -> None:
    client, market = served
    schema = {
        "type": "object",
        "properties": {"text": {"type": "string", "pattern": "^(a+)+$"}, "n": {}},
        "required": ["text"],
    }
    campaign_id = _campaign(client, input_schema=schema)
    crafted = "a" * 30 + "!"  # on a backtracking engine: 2^30 ways to fail
    lags: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=30) as other:
            for _ in range(200):  # bounded: about 10 s at most
                if stop.is_set():
                    return
                started = time.monotonic()
                other.get("/v1/health")
                lags.append(time.monotonic() - started)
                time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        time.sleep(0.2)
        rows = [{"id": f"t{i}", "data": {"text": crafted, "n": i}} for i in range(20)]
        started = time.monotonic()
        answer = client.post(f"/v1/campaigns/{campaign_id}/tasks", json=rows)
        took = time.monotonic() - started
        time.sleep(0.2)
    finally:
        stop.set()
        prober.join(timeout=30)
    assert answer.status_code == 422, answer.text
    assert "does not match" in answer.text
    assert took < 1.0, took
    assert lags and max(lags) < 0.1, max(lags)
    assert _tasks(market, campaign_id) == 0


@pytest.mark.parametrize(
    "bad", ["\x00", "\x1b[31m", "\x7f", "\x9b"], ids=["nul", "esc", "del", "c1"]
)
def test_a_control_character_in_a_title_is_refused_on_every_store(
    served_any: tuple[httpx.Client, Market], bad: str
) -> None:
    client, _ = served_any
    answer = client.post("/v1/campaigns", json=campaign_spec(title=f"Even{bad} or odd?"))
    _refused(answer, "control character")
    assert _campaigns(client) == 0


def test_a_control_character_in_a_key_or_task_is_refused_and_nothing_is_added(
    served_any: tuple[httpx.Client, Market],
) -> None:
    client, market = served_any
    campaign_id = _campaign(client)
    url = f"/v1/campaigns/{campaign_id}/tasks"
    rows = [{"id": "t1", "data": {"text": "fine", "n": 1}}, {"id": "t\x00", "data": {"n": 2}}]
    _refused(client.post(url, json=rows), "control character")
    line = b'{"id": "t3", "data": {"text": "x", "n": 3, "k\\u0000": 1}}\n'
    _refused(client.post(url, content=line, headers={"content-type": "application/x-ndjson"}))
    assert _tasks(market, campaign_id) == 0


def test_tabs_newlines_and_text_that_only_looks_like_an_escape_are_accepted(
    served: tuple[httpx.Client, Market],
) -> None:
    client, market = served
    campaign_id = _campaign(client, instructions="Line one.\n\tLine two.\r\n")
    rows = [{"id": "t1", "data": {"text": "a literal \\u0000 and [[[[ brackets", "n": 1}}]
    answer = client.post(f"/v1/campaigns/{campaign_id}/tasks", json=rows)
    assert answer.status_code == 201, answer.text
    assert _tasks(market, campaign_id) == 1


def test_a_nul_in_an_address_is_refused(served_any: tuple[httpx.Client, Market]) -> None:
    client, _ = served_any
    assert client.get("/v1/campaigns/c%00x").status_code == 422


@contextmanager
def _page_session(client: httpx.Client, wallet: Wallet) -> Iterator[httpx.Client]:
    """The same market's pages, signed in with a session cookie as the sign-in page does."""
    with httpx.Client(base_url=str(client.base_url), timeout=30) as pages:
        yield _signed_in(pages, wallet)


def _signed_in(pages: httpx.Client, wallet: Wallet) -> httpx.Client:
    message = pages.post("/v1/auth/challenge", json={"address": wallet.address}).json()["message"]
    signed = wallet.sign_message(message.encode())
    assert pages.post("/session", json={"message": message, "signature": signed}).is_success
    return pages


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_a_nul_in_a_page_form_is_refused_on_every_store(
    served_any: tuple[httpx.Client, Market], encoding: str
) -> None:
    """A page's form fields arrive urlencoded, or multipart if the sender likes: both checked."""
    client, market = served_any
    wallet = Wallet.generate()
    fields = {"template": "classification", "title": "Even\x00 or odd?", "reward": "0.01"}
    keys = {"name": "key\x00", "scopes": "tasks:read"}
    with _page_session(client, wallet) as pages:
        if encoding == "urlencoded":
            made = pages.post("/dashboard/campaigns", data=fields)
            named = pages.post("/dashboard/keys", data=keys)
        else:
            made = pages.post("/dashboard/campaigns", files=_parts(fields))
            named = pages.post("/dashboard/keys", files=_parts(keys))
    _refused(made, "control character")
    _refused(named, "control character")
    token = session_token(market, wallet)
    mine = client.get("/v1/campaigns", headers={"authorization": f"Bearer {token}"})
    assert mine.json() == []
    keys_now = client.get("/v1/api-keys", headers={"authorization": f"Bearer {token}"}).json()
    assert isinstance(keys_now, list)
    assert not any("key" in str(k.get("name", "")) for k in keys_now), keys_now


def _parts(fields: dict[str, str]) -> dict[str, tuple[None, str]]:
    return {name: (None, value) for name, value in fields.items()}
