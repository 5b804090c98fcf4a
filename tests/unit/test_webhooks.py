"""Webhooks over the in-memory store (tests/fakes): events found once, signed under the
endpoint's secret, retried with growing waits and given up three days after the event;
the signature helper refuses altered, stale and wrongly keyed deliveries."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from earnest.adapters.system import SystemRandom
from earnest.client import SignatureError, verify_webhook
from earnest.domain.webhooks import BACKOFF_S, RETRY_FOR, signature_header
from earnest.domain.work import Campaign, CampaignStatus, Task, TaskStatus
from earnest.services import webhooks
from earnest.services.webhooks import SETTLE, CreateWebhook
from tests.factories import FakeClock, principal
from tests.fakes import FakeStore
from tests.fakes.work import TaskRow
from tests.unit.test_campaigns import spec

REQUESTER = "Req1111111111111111111111111111111111111111"
RAND = SystemRandom()


class Sender:
    """Answers with the statuses given, in turn (the last one after that); records calls."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.sent.append((url, body, headers))
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


def _market(clock: FakeClock) -> tuple[FakeStore, str]:
    store, who = FakeStore(), principal(REQUESTER)
    hook = webhooks.create_webhook(
        CreateWebhook(who, "https://hooks.example.org/x", None, ("task.resolved",)),
        store=store,
        clock=clock,
        rand=RAND,
    )
    clock.advance(1)
    store.rows.work.campaigns["c1"] = Campaign(
        "c1", REQUESTER, spec(), 0, CampaignStatus.ACTIVE, clock.now()
    )
    task = Task(7, "c1", "row-7", {"text": "x"}, None, TaskStatus.RESOLVED, {"label": "a"}, 0.9)
    store.rows.work.tasks[7] = TaskRow(task, False, resolved_at=clock.now())
    clock.advance(SETTLE.total_seconds() + 1)
    return store, hook.secret


def _round(store: FakeStore, clock: FakeClock, sender: Sender) -> int:
    webhooks.queue_events(store=store, clock=clock, rand=RAND)
    return webhooks.send_due(store=store, clock=clock, sender=sender)


def test_an_event_is_queued_once_and_signed_under_the_endpoint_secret() -> None:
    clock = FakeClock()
    store, secret = _market(clock)
    sender = Sender(200)
    assert _round(store, clock, sender) == 1
    assert _round(store, clock, sender) == 0  # found once: the scan mark moved past it
    [(url, body, headers)] = sender.sent
    event = verify_webhook(body, headers["Earnest-Signature"], secret, now=clock.now().timestamp())
    assert (url, event["type"], event["id"]) == (
        "https://hooks.example.org/x",
        "task.resolved",
        "task.resolved:7",
    )
    assert event["data"]["external_id"] == "row-7" and event["data"]["result"] == {"label": "a"}
    assert headers["Earnest-Event-Id"] == "task.resolved:7"


def test_a_refused_delivery_is_retried_with_growing_waits_then_given_up_after_three_days() -> None:
    clock = FakeClock()
    store, _ = _market(clock)
    sender = Sender(500)
    started = clock.now()
    waits = []
    for _ in range(100):  # bounded: about 40 attempts fit in three days
        if (
            not [d for d in store.rows.webhooks.deliveries.values() if d.status == "pending"]
            and waits
        ):
            break
        _round(store, clock, sender)
        [d] = store.rows.webhooks.deliveries.values()
        if d.status != "pending":
            break
        waits.append((d.next_at - clock.now()).total_seconds())
        clock._now = d.next_at  # the next attempt is due
    [d] = store.rows.webhooks.deliveries.values()
    assert d.status == "failed" and d.last_status == 500 and d.last_error == "HTTP 500"
    assert waits[: len(BACKOFF_S)] == list(BACKOFF_S)
    assert clock.now() - started <= RETRY_FOR + timedelta(seconds=BACKOFF_S[-1])
    assert len(sender.sent) == d.attempts > len(BACKOFF_S)


def test_a_resend_delivers_what_failed() -> None:
    clock = FakeClock()
    store, _ = _market(clock)
    _round(store, clock, Sender(503, 200))
    [d] = store.rows.webhooks.deliveries.values()
    assert (d.status, d.attempts) == ("pending", 1)
    who = principal(REQUESTER)
    again = webhooks.resend(who, d.id, store=store, clock=clock)
    assert again.next_at == clock.now()
    assert webhooks.send_due(store=store, clock=clock, sender=Sender(200)) == 1
    with pytest.raises(Exception, match="no delivery"):
        webhooks.resend(
            principal("Other111111111111111111111111111111111111111"),
            "nope",
            store=store,
            clock=clock,
        )


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda body, head, secret: (body + b" ", head, secret), "no v1 signature"),
        (lambda body, head, secret: (body, head, secret + "x"), "no v1 signature"),
        (lambda body, head, secret: (body, head.replace("t=", "t=1"), secret), "no v1"),
        (lambda body, head, secret: (body, "v1=abc", secret), "no timestamp"),
    ],
)
def test_the_helper_refuses_what_was_not_signed_so(change: object, why: str) -> None:
    body, secret = json.dumps({"id": "e"}).encode(), "whsec_test"
    header = signature_header(secret, 1_000_000, body)
    assert verify_webhook(body, header, secret, now=1_000_000 + 299)["id"] == "e"
    with pytest.raises(SignatureError, match="stale"):
        verify_webhook(body, header, secret, now=1_000_000 + 301)
    with pytest.raises(SignatureError, match=why):
        verify_webhook(*change(body, header, secret), now=1_000_000)  # type: ignore[operator]
