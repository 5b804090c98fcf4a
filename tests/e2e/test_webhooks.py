"""Webhooks end to end: `earnest serve` signs and sends task.resolved and campaign.finished
to a receiver on 127.0.0.1, and a delivery in flight when the server is killed (SIGKILL) is
made after the restart."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from earnest.adapters.chain import Wallet
from earnest.adapters.webhooks import HttpSender
from earnest.bootstrap import build_market
from earnest.client import Earnest, SignatureError, verify_webhook
from earnest.config import Settings
from earnest.demo.server import ServerProcess
from earnest.node.guard import FetchRefused
from earnest.services.webhooks import CreateWebhook
from tests.factories import funded_requester, labeling_campaign
from tests.integration.api_world import session_token
from tests.webhook_receiver import Receiver

ENV = {"EARNEST_WEBHOOK_ALLOW_PRIVATE": "true", "EARNEST_WEBHOOK_INTERVAL": "0.2"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(hold=True)
    yield found
    found.close()


def _prepare(data_dir: Path, url: str) -> tuple[str, str, str, str]:
    """A funded campaign of one task with a webhook; the requester's and a worker's tokens."""
    market = build_market(Settings(data_dir=data_dir, port=0))
    try:
        wallet, requester = funded_requester(market, 10**6)
        campaign = labeling_campaign(market, requester, tasks=1, overlap=1)
        hook = market.webhooks.create(CreateWebhook(requester, url, campaign.id))
        owner = session_token(market, wallet)
        return campaign.id, hook.secret, owner, session_token(market, Wallet.generate())
    finally:
        market.close()


def test_a_delivery_in_flight_when_the_server_dies_is_made_after_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    data_dir = tmp_path / "market"
    campaign_id, secret, owner, worker = _prepare(data_dir, receiver.url)
    server = ServerProcess(data_dir, env=ENV)
    url = server.start()
    try:
        with Earnest(url, token=worker) as api:
            lease = api.claim(campaign_id)
            assert lease is not None
            api.submit(lease["assignment"]["id"], {"label": "a"})
        [held] = receiver.wait_for(1, 30)  # taken in, never answered
        assert server.proc is not None
        server.proc.send_signal(signal.SIGKILL)  # mid-delivery: no shutdown, no cleanup
        server.proc.wait(20)
        receiver.released.set()
        url = server.start()  # the same data dir: the outbox survived in the database
        got = receiver.wait_for(3, 60)
    finally:
        server.stop()
    events = [verify_webhook(r.body, r.headers["earnest-signature"], secret) for r in got]
    assert {e["type"] for e in events} == {"task.resolved", "campaign.finished"}
    held_id = held.headers["earnest-event-id"]
    assert [r.headers["earnest-event-id"] for r in got].count(held_id) == 2  # sent again
    [resolved] = [e for e in events if e["type"] == "task.resolved"]
    assert resolved["data"]["campaign_id"] == campaign_id
    assert resolved["data"]["external_id"] == "t0" and resolved["data"]["result"] == {"label": "a"}
    with pytest.raises(SignatureError):
        verify_webhook(got[0].body + b" ", got[0].headers["earnest-signature"], secret)

    server = ServerProcess(data_dir, env=ENV)
    url = server.start()
    try:
        with Earnest(url, token=owner) as api:
            [hook] = api.webhooks()
            assert hook["secret"] is None  # shown once, when it was made
            log = {d["event_id"]: d for d in api.webhook_deliveries(hook["id"])}
            assert {d["status"] for d in log.values()} == {"delivered"}
            assert log[held_id]["attempts"] == 2  # the one cut short, then the one after restart
            again = api.resend_delivery(log[held_id]["id"])
            assert again["status"] == "pending"
            [*_, last] = receiver.wait_for(len(got) + 1, 30)
            assert json.loads(last.body)["id"] == held_id
    finally:
        server.stop()


def test_the_sender_refuses_a_private_address_unless_allowed(receiver: Receiver) -> None:
    """A webhook URL is a stranger's: by default the market does not connect inward."""
    receiver.hold = False
    closed = HttpSender(allow_private=False, timeout=5)
    try:
        with pytest.raises(FetchRefused, match="loopback"):
            closed.post(receiver.url, b"{}", {})
    finally:
        closed.close()
    assert receiver.got == []
    opened = HttpSender(allow_private=True, timeout=5)
    try:
        assert opened.post(receiver.url, b"{}", {}) == 200
    finally:
        opened.close()
    assert len(receiver.got) == 1
