"""The web pages over real HTTP, without a browser: sessions, forms, uploads, errors.

The pages work without scripts (plain forms and redirects); scripts use the same routes
with `Accept: application/json` or `X-Earnest-Fragment: 1`. Both paths are checked here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market, build_market
from earnest.client import Earnest
from earnest.config import Settings
from earnest.demo.server import BackgroundServer
from earnest.services.templates import TEMPLATES
from tests.e2e.helpers import campaign_spec, deposit, deposit_on_chain, task_row

OPERATOR = Wallet.generate()
FRAGMENT = {"X-Earnest-Fragment": "1"}

SignIn = Callable[..., httpx.Client]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Market]]:
    market = build_market(Settings(data_dir=tmp_path / "m", port=0, operators=OPERATOR.address))
    server = BackgroundServer(market)
    url = server.start()
    yield url, market
    server.stop()
    market.close()


@pytest.fixture
def browser_like(site: tuple[str, Market]) -> Iterator[SignIn]:
    """A client that signs in like the sign-in page does and keeps the session cookie."""
    opened: list[httpx.Client] = []

    def _sign_in(wallet: Wallet | None = None) -> httpx.Client:
        wallet = wallet or Wallet.generate()
        client = httpx.Client(base_url=site[0], timeout=30)
        opened.append(client)
        message = client.post("/v1/auth/challenge", json={"address": wallet.address}).json()[
            "message"
        ]
        signed = wallet.sign_message(message.encode())
        assert (
            client.post("/session", json={"message": message, "signature": signed}).status_code
            == 200
        )
        return client

    yield _sign_in
    for client in opened:
        client.close()


def _funded_campaign(market: Market, client: httpx.Client, wallet: Wallet, tasks: int = 3) -> str:
    """Through the pages: deposit, create from the classification template, upload, fund."""
    signature = deposit_on_chain(market, wallet, 10_000_000)
    assert client.post("/dashboard/deposits", data={"signature": signature}).status_code == 303
    made = client.post(
        "/dashboard/campaigns",
        data={
            "template": "classification",
            "title": "Even or odd?",
            "options": "even, odd",
            "reward": "0.001",
            "overlap": "1",
        },
    )
    assert made.status_code == 303, made.text
    campaign_id = made.headers["location"].split("/")[-1].split("?")[0]
    rows = "id,text\n" + "".join(f"t{n},item {n}\n" for n in range(tasks))
    added = client.post(
        f"/dashboard/campaigns/{campaign_id}/tasks", files={"file": ("tasks.csv", rows, "text/csv")}
    )
    assert added.status_code == 303, added.text
    fund = f"/dashboard/campaigns/{campaign_id}/fund"
    asked = client.post(fund, data={"amount": "1"})  # a money action asks first
    assert asked.status_code == 200 and "Move 1 tokens from your balance" in asked.text
    assert client.post(fund, data={"amount": "1", "confirmed": "yes"}).status_code == 303
    return campaign_id


def test_pages_send_strangers_to_sign_in(site: tuple[str, Market]) -> None:
    with httpx.Client(base_url=site[0]) as anonymous:
        for path in ("/work", "/dashboard/keys", "/operator"):
            answer = anonymous.get(path)
            assert (
                answer.status_code == 303 and answer.headers["location"] == f"/signin?next={path}"
            )
        assert anonymous.get("/").status_code == 200
        assert (
            'data-next="/work"' in anonymous.get("/signin", params={"next": "//evil.example"}).text
        )
        script = anonymous.post("/work/cmp_x/claim", headers=FRAGMENT)
        assert script.status_code == 401 and "sign in again" in script.json()["detail"]


def test_the_session_cookie_is_http_only_and_same_site(site: tuple[str, Market]) -> None:
    wallet = Wallet.generate()
    with httpx.Client(base_url=site[0]) as client:
        message = client.post("/v1/auth/challenge", json={"address": wallet.address}).json()[
            "message"
        ]
        answer = client.post(
            "/session",
            json={"message": message, "signature": wallet.sign_message(message.encode())},
        )
    cookie = answer.headers["set-cookie"].lower()
    assert (
        "earnest_session=" in cookie
        and "httponly" in cookie
        and "samesite=lax" in cookie
        and "path=/" in cookie
    )


def test_a_post_from_another_site_is_refused(browser_like: SignIn) -> None:
    client = browser_like()
    answer = client.post(
        "/dashboard/keys",
        data={"name": "x", "scopes": ["campaigns:read"]},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert (
        client.post("/signout", headers={"Origin": str(client.base_url).rstrip("/")}).status_code
        == 303
    )


def test_operator_pages_are_for_operators_only(browser_like: SignIn) -> None:
    assert browser_like().get("/operator").status_code == 403
    operator = browser_like(OPERATOR)
    assert "Market health" in operator.get("/operator").text
    assert operator.post("/operator/reconcile").status_code == 303
    assert "reconciled" in operator.get("/operator").text


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_previews_its_widget(browser_like: SignIn, name: str) -> None:
    answer = browser_like().get("/dashboard/preview", params={"template": name}, headers=FRAGMENT)
    widget = TEMPLATES[name].widget_kind
    assert answer.status_code == 200 and f'data-widget="{widget}"' in answer.text


def test_upload_errors_are_listed_per_row_and_nothing_is_added(
    site: tuple[str, Market], browser_like: SignIn
) -> None:
    wallet = Wallet.generate()
    client = browser_like(wallet)
    campaign_id = _funded_campaign(site[1], client, wallet, tasks=2)
    bad = "id,text,gold\nx1,fine,\nx2,,\nx3,ok,maybe\n"
    answer = client.post(
        f"/dashboard/campaigns/{campaign_id}/tasks", files={"file": ("bad.csv", bad, "text/csv")}
    )
    assert answer.status_code == 422
    assert (
        "2 bad row(s)" in answer.text
        and '<td class="num">3</td>' in answer.text
        and "maybe" in answer.text
    )
    assert client.get(f"/dashboard/campaigns/{campaign_id}/progress").json()["tasks"] == 2


def test_a_worker_without_scripts_claims_answers_and_sees_the_verdict(
    site: tuple[str, Market], browser_like: SignIn
) -> None:
    wallet = Wallet.generate()
    requester = browser_like(wallet)
    campaign_id = _funded_campaign(site[1], requester, wallet)
    worker = browser_like()
    assert "Even or odd?" in worker.get("/work").text
    leased = worker.post(f"/work/{campaign_id}/claim")
    assert leased.status_code == 303 and leased.headers["location"].startswith("/work/tasks/asg_")
    page = worker.get(leased.headers["location"])
    assert 'name="choice"' in page.text
    sent = worker.post(leased.headers["location"], data={"choice": "0"})
    assert sent.status_code == 303
    assert "Accepted" in worker.get(sent.headers["location"]).text
    progress = requester.get(f"/dashboard/campaigns/{campaign_id}/progress").json()
    assert progress["resolved"] == 1 and progress["submitted"] == 1


def test_scripts_get_verdicts_as_json_and_tasks_as_fragments(
    site: tuple[str, Market], browser_like: SignIn
) -> None:
    wallet = Wallet.generate()
    campaign_id = _funded_campaign(site[1], browser_like(wallet), wallet, tasks=1)
    worker = browser_like()
    fragment = worker.post(f"/work/{campaign_id}/claim", headers=FRAGMENT)
    assert fragment.text.lstrip().startswith('<section id="task"')
    assignment = fragment.text.split('data-assignment="')[1].split('"')[0]
    wrong = worker.post(
        f"/work/tasks/{assignment}", data={"choice": "7"}, headers={"Accept": "application/json"}
    )
    assert wrong.status_code == 422 and wrong.json()["detail"] == "pick one of the options"
    verdict = worker.post(
        f"/work/tasks/{assignment}", data={"choice": "1"}, headers={"Accept": "application/json"}
    )
    assert verdict.json()["decision"] == "accept" and verdict.json()["reward"] == 1000
    empty = worker.post(f"/work/{campaign_id}/claim", headers=FRAGMENT)
    assert 'id="nowork-title"' in empty.text


def test_results_download_and_api_keys(site: tuple[str, Market], browser_like: SignIn) -> None:
    wallet = Wallet.generate()
    requester = browser_like(wallet)
    campaign_id = _funded_campaign(site[1], requester, wallet, tasks=1)
    worker = browser_like()
    assignment = worker.post(f"/work/{campaign_id}/claim").headers["location"]
    worker.post(assignment, data={"choice": "0"})
    results = requester.get(f"/dashboard/campaigns/{campaign_id}/results.csv")
    assert "attachment" in results.headers["content-disposition"]
    assert results.text.splitlines()[1].split(",")[1] == "t0"
    made = requester.post(
        "/dashboard/keys", data={"name": "pipeline", "scopes": ["campaigns:read", "results:read"]}
    )
    assert made.status_code == 201
    secret = made.text.split("data-secret>")[1].split("<")[0]
    api = httpx.get(
        f"{site[0]}/v1/campaigns/{campaign_id}", headers={"Authorization": f"Bearer {secret}"}
    )
    assert api.status_code == 200
    key_id = requester.get("/dashboard/keys").text.split("/dashboard/keys/")[1].split("/revoke")[0]
    assert requester.post(f"/dashboard/keys/{key_id}/revoke").status_code == 303
    assert (
        httpx.get(
            f"{site[0]}/v1/campaigns/{campaign_id}", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 401
    )


def test_pages_show_errors_as_pages_and_the_api_keeps_problem_json(
    site: tuple[str, Market], browser_like: SignIn
) -> None:
    client = browser_like()
    page = client.get("/dashboard/campaigns/cmp_nope")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    api = httpx.get(f"{site[0]}/v1/campaigns/cmp_nope", headers={"Authorization": "Bearer nope"})
    assert api.status_code == 401 and api.headers["content-type"] == "application/problem+json"


def test_requester_deposits_through_the_dashboard(
    site: tuple[str, Market], browser_like: SignIn
) -> None:
    wallet = Wallet.generate()
    client = browser_like(wallet)
    assert "Credit deposit" in client.get("/dashboard").text
    answer = client.post("/dashboard/deposits", data={"signature": "1" * 88})
    assert answer.status_code == 422 and "no confirmed transaction" in answer.text


def test_a_requester_reviews_answers_and_decides_appeals_on_the_campaign_page(
    site: tuple[str, Market], browser_like: SignIn
) -> None:
    url, market = site
    wallet = Wallet.generate()
    requester = browser_like(wallet)
    with Earnest.sign_in(url, wallet) as api:
        deposit(market, api, wallet, 10_000_000)
        held = api.create_campaign(**campaign_spec(quality={"review": "requester"}))
        api.upload_tasks(held["id"], [task_row(1), task_row(2)])
        api.fund(held["id"], 5_000)
    worker = browser_like()
    for _ in range(2):
        worker.post(
            worker.post(f"/work/{held['id']}/claim").headers["location"], data={"choice": "0"}
        )
    verdicts = []
    for choice in ("yes", "no"):
        page = requester.get(f"/dashboard/campaigns/{held['id']}").text
        review = page.split('action="/dashboard/assignments/')[1].split("/review")[0]
        form = {"campaign_id": held["id"], "choice": choice, "reason": "Item 1 is odd, not even."}
        if choice == "yes":  # accepting pays: the page asks first
            asked = requester.post(f"/dashboard/assignments/{review}/review", data=form)
            assert "The worker is paid 0.001 tokens" in asked.text
            form["confirmed"] = "yes"
        verdicts.append(requester.post(f"/dashboard/assignments/{review}/review", data=form))
    assert [v.status_code for v in verdicts] == [303, 303]
    rejected = worker.get("/work/earnings").text.split('action="/work/assignments/')[1]
    filed = worker.post(
        f"/work/assignments/{rejected.split('/appeal')[0]}/appeal",
        data={"reason": "The instructions asked about n; I answered for n."},
    )
    assert filed.status_code == 303
    page = requester.get(f"/dashboard/campaigns/{held['id']}").text
    appeal_id = page.split('action="/dashboard/appeals/')[1].split("/decide")[0]
    form = {"campaign_id": held["id"], "choice": "yes", "reason": "Fair: the question was unclear."}
    asked = requester.post(f"/dashboard/appeals/{appeal_id}/decide", data=form)
    assert asked.status_code == 200 and "Overturn the rejection?" in asked.text
    form["confirmed"] = "yes"
    assert requester.post(f"/dashboard/appeals/{appeal_id}/decide", data=form).status_code == 303
    assert "Appeal overturned" in worker.get("/work/earnings").text
