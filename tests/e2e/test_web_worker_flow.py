"""The flow of work on the worker's pages over real HTTP: what the feed counts, giving a
task back (skip, or leave), and the tasks in progress with their way back.

The pages work without scripts; the task page's script uses the same routes with
`X-Earnest-Fragment: 1`. Both are checked here.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from earnest.adapters.chain.wallet import Wallet
from earnest.client import Earnest
from tests.e2e.helpers import task_row

FRAGMENT = {"X-Earnest-Fragment": "1"}
JSON = {"Accept": "application/json"}
Page = Callable[..., httpx.Client]
Funded = Callable[..., tuple[Earnest, dict[str, Any]]]


@pytest.fixture
def signed_in(base_url: str) -> Iterator[Page]:
    """A client that signs in as the sign-in page does and keeps the session cookie."""
    opened: list[httpx.Client] = []

    def _sign_in(wallet: Wallet | None = None) -> httpx.Client:
        wallet = wallet or Wallet.generate()
        client = httpx.Client(base_url=base_url, timeout=30)
        opened.append(client)
        message = client.post("/v1/auth/challenge", json={"address": wallet.address}).json()
        signed = wallet.sign_message(message["message"].encode())
        made = client.post("/session", json={"message": message["message"], "signature": signed})
        assert made.status_code == 200, made.text
        return client

    yield _sign_in
    for client in opened:
        client.close()


def _left(feed: str, title: str) -> int | None:
    """The "N left" of the campaign called `title` in the feed, or None if it is not there."""
    for card in feed.split('<li class="card offer')[1:]:
        if f">{title}<" in card:
            found = re.search(r"(\d+) left", card)
            assert found, card
            return int(found.group(1))
    return None


def _claim(worker: httpx.Client, campaign_id: str) -> str:
    leased = worker.post(f"/work/{campaign_id}/claim")
    assert leased.status_code == 303, leased.text
    assert leased.headers["location"].startswith("/work/tasks/asg_"), leased.headers
    return str(leased.headers["location"]).rsplit("/", 1)[1]


def _answer(worker: httpx.Client, assignment: str) -> dict[str, Any]:
    sent = worker.post(f"/work/tasks/{assignment}", data={"choice": "0"}, headers=JSON)
    assert sent.status_code == 200, sent.text
    return dict(sent.json())


def test_the_feed_counts_only_tasks_start_can_give_this_worker(
    funded_campaign: Funded, signed_in: Page
) -> None:
    # Two tasks, two answers each: after answering both, three slots are open to others but
    # none to this worker, who never sees a task twice. The feed said "2 left" here.
    _, campaign = funded_campaign(tasks=2, overlap=2)
    title = campaign["title"]
    worker, other = signed_in(), signed_in()
    assert _left(worker.get("/work").text, title) == 2
    _answer(worker, _claim(worker, campaign["id"]))
    assert _left(worker.get("/work").text, title) == 1
    _answer(worker, _claim(worker, campaign["id"]))
    assert _left(worker.get("/work").text, title) is None  # nothing Start could give
    assert (
        worker.post(f"/work/{campaign['id']}/claim").headers["location"].startswith("/work?empty=")
    )
    assert _left(other.get("/work").text, title) == 2


def test_a_qualification_counts_its_control_tasks(funded_campaign: Funded, signed_in: Page) -> None:
    # In qualification Start gives only control tasks: one here, among three regular ones.
    api, campaign = funded_campaign(tasks=3, quality={"qualification_tasks": 1})
    api.upload_tasks(campaign["id"], [task_row(9, gold=True)])
    worker = signed_in()
    assert _left(worker.get("/work").text, campaign["title"]) == 1


def test_a_skipped_task_is_given_back_and_the_next_one_comes(
    funded_campaign: Funded, signed_in: Page
) -> None:
    _, campaign = funded_campaign(tasks=2)
    worker = signed_in()
    first = _claim(worker, campaign["id"])
    page = worker.get(f"/work/tasks/{first}").text
    assert f'action="/work/tasks/{first}/release"' in page and 'value="next"' in page
    skipped = worker.post(f"/work/tasks/{first}/release", data={"then": "next"}, headers=FRAGMENT)
    assert skipped.status_code == 200, skipped.text
    second = skipped.text.split('data-assignment="')[1].split('"')[0]
    assert second != first
    mine = {a["id"]: a["status"] for a in _my_assignments(worker)}
    assert mine[first] == "expired" and mine[second] == "leased"
    # The skipped task's slot is open again, for someone else.
    other = signed_in()
    assert _left(other.get("/work").text, campaign["title"]) == 1
    # Skipping the last one says so, in place.
    last = worker.post(f"/work/tasks/{second}/release", data={"then": "next"}, headers=FRAGMENT)
    assert 'id="nowork-title"' in last.text


def test_tasks_in_progress_are_listed_with_resume_and_give_back(
    funded_campaign: Funded, signed_in: Page
) -> None:
    _, campaign = funded_campaign(tasks=2)
    worker = signed_in()
    assert "My tasks in progress" not in worker.get("/work").text
    held = _claim(worker, campaign["id"])
    feed = worker.get("/work").text
    assert "My tasks in progress" in feed
    assert f'href="/work/tasks/{held}"' in feed and ">Resume<" in feed
    assert worker.get(f"/work/tasks/{held}").status_code == 200  # resume shows the task
    # Without scripts, giving it back returns to the feed, which no longer lists it.
    back = worker.post(f"/work/tasks/{held}/release", data={"then": "feed"})
    assert back.status_code == 303 and back.headers["location"] == "/work?done=released"
    feed = worker.get(back.headers["location"]).text
    assert "Task given back" in feed and "My tasks in progress" not in feed
    # A lease given back cannot be given back (or answered) again.
    again = worker.post(f"/work/tasks/{held}/release", data={"then": "feed"})
    assert again.status_code == 409 and "assignment is expired" in again.text


def test_nobody_gives_back_another_workers_task(funded_campaign: Funded, signed_in: Page) -> None:
    _, campaign = funded_campaign(tasks=1)
    worker, stranger = signed_in(), signed_in()
    held = _claim(worker, campaign["id"])
    refused = stranger.post(f"/work/tasks/{held}/release", data={"then": "feed"})
    assert refused.status_code == 409 and "no assignment" in refused.text
    assert {a["id"]: a["status"] for a in _my_assignments(worker)}[held] == "leased"


def _my_assignments(worker: httpx.Client) -> list[dict[str, Any]]:
    token = worker.cookies["earnest_session"]
    got = worker.get("/v1/assignments", headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200, got.text
    return list(got.json())


def _review(worker: httpx.Client, to: str, amount: str) -> httpx.Response:
    return worker.post("/work/cashout", data={"to": to, "amount": amount})


def _quoted(page: str) -> dict[str, str]:
    """The hidden inputs and the message of a cash-out confirmation page."""
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    found = re.search(r'data-message="([^"]+)"', page)
    assert found, page
    return fields | {"message": found.group(1)}


def test_cash_out_refusals_and_a_tampered_transfer(
    signed_in: Page, sqlite_market: Any, base_url: str
) -> None:
    chain = sqlite_market.chain
    wallet, other = Wallet.generate(), Wallet.generate()
    chain.faucet(wallet.address, 2_000_000, lamports=0)
    worker = signed_in(wallet)
    assert "2\u00a0tokens" in worker.get("/work/earnings").text
    refused = {
        "not an address": (_review(worker, "not-an-address", "1"), "not a Solana address"),
        "own address": (_review(worker, wallet.address, "1"), "your own address"),
        "more than held": (_review(worker, other.address, "3"), "less than 3000000"),
        "nothing": (_review(worker, other.address, "0"), "amount"),
        "token account": (
            _review(worker, chain.token_account(wallet.address), "1"),
            "not a wallet",
        ),
    }
    for case, (answer, words) in refused.items():
        assert answer.status_code == 422, case
        assert words in html.unescape(answer.text), (case, answer.text[:2000])
    # A signature of the quoted message, sent back with a larger amount, is refused: the
    # market rebuilds the message from the inputs and the signature no longer fits it.
    quoted = _quoted(_review(worker, other.address, "0.5").text)
    signature = wallet.sign_message(base64.b64decode(quoted["message"]))
    tampered = worker.post(
        "/work/cashout/send", data=quoted | {"amount": "1.5", "signature": signature}
    )
    assert tampered.status_code == 422
    assert "not your key's signature" in html.unescape(tampered.text)
    assert chain.token_balance(chain.token_account(other.address)) == 0
    sent = worker.post("/work/cashout/send", data=quoted | {"signature": signature})
    assert sent.status_code == 303 and "done=sent&tx=" in sent.headers["location"]
    assert chain.token_balance(chain.token_account(other.address)) == 500_000
    # The same signed transfer again is refused by the chain (it already landed).
    again = worker.post("/work/cashout/send", data=quoted | {"signature": signature})
    assert chain.token_balance(chain.token_account(other.address)) == 500_000, again.text
