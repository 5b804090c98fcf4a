"""The data browser over real HTTP: tasks with their answers and labels, workers against
control answers and the labels, Krippendorff's alpha, and one answer in its context (the
task, the control answer, the other answers, the worker's history, the appeal)."""

from __future__ import annotations

import json
from typing import Any

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market
from earnest.client import Earnest
from earnest.quality.agreement import answers_alpha
from tests.e2e.helpers import campaign_spec, deposit, task_row, truth
from tests.e2e.test_web_pages import SignIn, browser_like, site  # noqa: F401 (fixtures)


def _answer_all(url: str, campaign_id: str, wallet: Wallet, wrong: bool) -> list[dict[str, Any]]:
    """Claim and answer every task this worker may get; `wrong` answers the opposite."""
    sent = []
    with Earnest.sign_in(url, wallet) as api:
        for _ in range(10):
            lease = api.claim(campaign_id)
            if lease is None:
                break
            n = lease["task"]["n"]
            label = truth(n + 1 if wrong else n)
            sent.append(api.submit(lease["assignment"]["id"], label))
    return sent


def test_the_data_browser_shows_answers_labels_workers_and_alpha(
    site: tuple[str, Market],  # noqa: F811
    browser_like: SignIn,  # noqa: F811
) -> None:
    url, market = site
    requester = Wallet.generate()
    with Earnest.sign_in(url, requester) as api:
        deposit(market, api, requester, 10_000_000)
        made = api.create_campaign(**campaign_spec(overlap=3, title="Parity"))
        api.upload_tasks(made["id"], [task_row(n) for n in range(3)] + [task_row(9, gold=True)])
        api.fund(made["id"], 1_000_000)
    honest = [Wallet.generate(), Wallet.generate()]
    sloppy = Wallet.generate()
    for wallet in honest:
        _answer_all(url, made["id"], wallet, wrong=False)
    sloppy_sent = _answer_all(url, made["id"], sloppy, wrong=True)
    rejected = next(s for s in sloppy_sent if s["decision"] == "reject")
    with Earnest.sign_in(url, sloppy) as api:
        api.appeal(rejected["assignment"]["id"], "I read the number again; my label is right.")

    client = browser_like(requester)
    page = client.get(f"/dashboard/campaigns/{made['id']}/data")
    assert page.status_code == 200, page.text
    with Earnest.sign_in(url, requester) as api:
        rows = [json.loads(line) for line in api.results(made["id"])]
    expected = answers_alpha([a["answer"] for a in r["answers"]] for r in rows)
    assert expected is not None and expected < 1
    assert f"{expected:.3f}" in page.text  # the alpha of the very answers exported
    table = page.text.split("data-workers")[1].split("</table>")[0]
    sloppy_row = table.split(f'data-worker="{sloppy.address}"')[1].split("</tr>")[0]
    assert "0%" in sloppy_row.split("data-agreement>")[1][:10]  # never with the label
    assert 'data-worker="' + honest[0].address in table
    assert "item 0" in page.text and "badge-rejected" in page.text

    context = client.get(f"/dashboard/assignments/{rejected['assignment']['id']}")
    assert context.status_code == 200, context.text
    for shown in ("I read the number again", "This worker here", "Other answers", "data-answer"):
        assert shown in context.text, shown
    assert 'action="/dashboard/appeals/' in context.text  # decided right there
    stranger = browser_like()
    assert stranger.get(f"/dashboard/assignments/{rejected['assignment']['id']}").status_code == 404
    assert stranger.get(f"/dashboard/campaigns/{made['id']}/data").status_code == 404
