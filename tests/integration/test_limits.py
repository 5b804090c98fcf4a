"""Limits: request rate per credential, per wallet and per anonymous client; task counts per
upload and per campaign; leases per worker and per reviewer; the operators setting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio import to_thread
from fastapi.testclient import TestClient

from earnest.adapters.chain import Wallet
from earnest.api import create_app
from earnest.bootstrap import Market, build_market
from earnest.config import Settings
from earnest.domain.errors import Conflict, InvalidInput
from earnest.services import peer_review
from earnest.services.uploads import TaskLine, UploadLimits, add_tasks
from tests.factories import claim, funded_requester, labeling_campaign, worker
from tests.integration.api_world import World, build_world, session_token

# A token every 100 s: nothing refills while the test runs, however slow the machine.
SLOW = {"rate_per_second": 0.01, "rate_burst": 3}
SLOW_ANONYMOUS = {"anonymous_rate_per_second": 0.01, "anonymous_rate_burst": 2}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = build_world(tmp_path / "world", **SLOW, **SLOW_ANONYMOUS)
    yield built
    built.market.close()


def _limited(response: object) -> None:
    assert getattr(response, "status_code", None) == 429
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["content-type"].startswith("application/problem+json")
    assert int(headers["retry-after"]) >= 1
    assert response.json()["code"] == "rate_limited"  # type: ignore[attr-defined]


def test_anonymous_clients_are_limited_per_ip_but_health_is_not(world: World) -> None:
    client = TestClient(create_app(world.market))
    assert [client.get("/v1/market").status_code for _ in range(2)] == [200, 200]
    _limited(client.get("/v1/market"))
    _limited(client.post("/v1/auth/challenge", json={"address": world.wallets["worker"].address}))
    assert client.get("/v1/health").status_code == 200  # load balancers' probe
    signed_in = client.get("/v1/balance", headers=world.headers("worker"))
    assert signed_in.status_code == 200  # a credential has its own bucket


def test_a_credential_is_limited_and_so_is_its_wallet_across_credentials(world: World) -> None:
    client = TestClient(create_app(world.market))
    first = world.headers("requester")
    assert [client.get("/v1/balance", headers=first).status_code for _ in range(3)] == [200] * 3
    _limited(client.get("/v1/balance", headers=first))

    # A second session of the same wallet: its own credential bucket is full, the wallet's
    # is empty, so the wallet is refused (after authentication, with the same answer).
    again = session_token(world.market, world.wallets["requester"])
    _limited(client.get("/v1/balance", headers={"authorization": f"Bearer {again}"}))
    assert client.get("/v1/balance", headers=world.headers("worker")).status_code == 200


def test_made_up_tokens_spend_their_senders_ip_bucket(world: World) -> None:
    client = TestClient(create_app(world.market))
    made_up = [{"authorization": f"Bearer guess-{n}"} for n in range(3)]
    answers = [client.get("/v1/balance", headers=h).status_code for h in made_up]
    assert answers == [401, 401, 429]  # a fresh token each time; the IP's burst is 2
    _limited(client.get("/v1/market"))  # the same client, anonymous now, waits as well
    assert client.get("/v1/balance", headers=world.headers("worker")).status_code == 200


def test_uploads_are_capped_per_upload_and_per_campaign(sqlite_market: Market) -> None:
    _, requester = funded_requester(sqlite_market, 10**6)
    campaign = labeling_campaign(sqlite_market, requester, tasks=1)
    limits = UploadLimits(per_upload=5, per_campaign=9)

    made = iter(range(10**6))  # each upload's rows new: a repeated row would be skipped

    def upload(n: int) -> int:
        lines = [TaskLine(i + 1, {"data": {"text": f"t{next(made)}"}}) for i in range(n)]
        report = add_tasks(requester, campaign.id, lines, store=sqlite_market.store, limits=limits)
        return report.added

    def held() -> int:
        with sqlite_market.store.uow(readonly=True) as uow:
            return uow.tasks.counts(campaign.id)["tasks"]

    with pytest.raises(InvalidInput, match="at most 5 tasks"):
        upload(6)
    assert (held(), upload(5)) == (1, 5)
    with pytest.raises(InvalidInput, match="may hold 9 in all"):
        upload(4)
    assert (held(), upload(3), held()) == (6, 3, 9)
    with pytest.raises(InvalidInput, match="may hold 9"):
        upload(1)


def test_uploads_over_the_settings_limit_are_refused_over_http(tmp_path: Path) -> None:
    world = build_world(tmp_path / "w", max_tasks_per_upload=2)
    try:
        client = TestClient(create_app(world.market))
        path = f"/v1/campaigns/{world.ids['draft']}/tasks"
        rows = [{"data": {"text": str(n)}} for n in range(3)]
        refused = client.post(path, json=rows, headers=world.headers("requester"))
        assert refused.status_code == 422 and "at most 2 tasks" in refused.json()["detail"]
        added = client.post(path, json=rows[:2], headers=world.headers("requester")).json()
        assert added["added"] == 2
    finally:
        world.market.close()


def test_routes_run_on_as_many_threads_as_the_setting_says(tmp_path: Path) -> None:
    market = build_market(Settings(data_dir=tmp_path, api_threads=3))
    try:
        with TestClient(create_app(market, owns_market=False)) as client:
            limiter = client.portal.call(to_thread.current_default_thread_limiter)
            assert limiter.total_tokens == 3
            assert client.get("/v1/health").status_code == 200
    finally:
        market.close()
    with pytest.raises(ValueError, match="api_threads"):
        Settings(data_dir=tmp_path, api_threads=0)


def test_a_worker_holds_at_most_twenty_leases(sqlite_market: Market) -> None:
    _, requester = funded_requester(sqlite_market, 10**7)
    campaign = labeling_campaign(sqlite_market, requester, tasks=25, overlap=1)
    busy = worker()
    for _ in range(20):
        claim(sqlite_market, busy, campaign.id)
    with pytest.raises(Conflict, match="already hold 20 leases"):
        claim(sqlite_market, busy, campaign.id)
    claim(sqlite_market, worker(), campaign.id)  # others still find work


def test_a_reviewer_holds_a_bounded_number_of_review_leases(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(peer_review, "MAX_REVIEW_LEASES", 1)  # the reviewer holds one
    m = world.market
    with pytest.raises(Conflict, match="already hold 1 review leases"):
        m.reviews.claim(peer_review.ClaimReview(world.who("reviewer"), world.ids["peer_campaign"]))


def test_operators_come_from_a_comma_separated_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = Wallet.generate().address, Wallet.generate().address
    monkeypatch.setenv("EARNEST_OPERATORS", f" {a}, {b} ")
    assert Settings.load().operators == (a, b)
    monkeypatch.setenv("EARNEST_OPERATORS", f"{a},root")
    with pytest.raises(InvalidInput, match="EARNEST_OPERATORS"):
        Settings.load()


def test_a_refused_request_is_not_remembered_as_the_answer_to_its_idempotency_key(
    world: World,
) -> None:
    app = create_app(world.market)
    client = TestClient(app)
    for _ in range(3):
        client.get("/v1/balance", headers=world.headers("requester"))  # the wallet's burst
    again = session_token(world.market, world.wallets["requester"])
    headers = {"authorization": f"Bearer {again}", "idempotency-key": "withdraw-1"}
    _limited(client.post("/v1/withdrawals", json={"amount": 5}, headers=headers))
    app.state.limits.keyed.rate = 0  # the wait is over
    retried = client.post("/v1/withdrawals", json={"amount": 5}, headers=headers)
    assert retried.status_code == 201 and "idempotent-replayed" not in retried.headers


def test_an_idempotency_key_is_claimed_replayed_and_checked_on_both_stores(
    market: Market,
) -> None:
    """The record is claimed and answered in one statement each; on SQLite and PostgreSQL a
    retry gets the first answer, a different body under the same key 422, and a 5xx-free
    refusal (here 404) is remembered like any answer."""
    client = TestClient(create_app(market))
    token = session_token(market, Wallet.generate())
    headers = {"authorization": f"Bearer {token}", "idempotency-key": "fund-1"}
    first = client.post("/v1/campaigns/cmp_none/fund", json={"amount": 5}, headers=headers)
    again = client.post("/v1/campaigns/cmp_none/fund", json={"amount": 5}, headers=headers)
    assert first.status_code == again.status_code == 404
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    other = client.post("/v1/campaigns/cmp_none/fund", json={"amount": 6}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_conflict"
    fresh = headers | {"idempotency-key": "fund-2"}
    assert (
        "idempotent-replayed"
        not in client.post("/v1/campaigns/cmp_none/fund", json={"amount": 5}, headers=fresh).headers
    )
