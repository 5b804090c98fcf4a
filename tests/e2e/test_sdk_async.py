"""AsyncEarnest has the sync client's calls, and they work against a served market: a
requester's campaign from upload (a generator and a file) to streamed results, a worker's
claim and answer, the calls that compose others (open_leases) and stream (results)."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

from earnest.adapters.chain.wallet import Wallet
from earnest.bootstrap import Market
from earnest.client import AsyncEarnest, Earnest
from earnest.domain.money import unit_cost
from tests.e2e.helpers import campaign_spec, deposit_on_chain, task_row, truth


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(getattr(cls, name))
        for name in dir(cls)
        if not name.startswith("_") and callable(getattr(cls, name))
    }


def test_the_async_client_has_every_call_of_the_sync_one_with_the_same_arguments() -> None:
    sync, async_ = _public(Earnest), _public(AsyncEarnest)
    assert set(sync) == set(async_), set(sync) ^ set(async_)
    for name, signature in sync.items():
        assert list(signature.parameters) == list(async_[name].parameters), name


def test_an_async_requester_and_worker_go_through_a_campaign(
    sqlite_market: Market, base_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "more.csv"
    path.write_text("id,text,n\nt2,item 2,2\nt3,item 3,3\n")

    async def journey() -> tuple[list[str], list[object], dict[str, object]]:
        wallet = Wallet.generate()
        async with await AsyncEarnest.sign_in(base_url, wallet) as api:
            cost = unit_cost(campaign_spec()["reward"], (await api.market())["fee_bps"])
            await api.deposit(deposit_on_chain(sqlite_market, wallet, 4 * cost))
            cid = (await api.create_campaign(**campaign_spec()))["id"]
            first = await api.upload_tasks(cid, (task_row(n) for n in range(2)))
            again = await api.upload_file(cid, path)
            await api.fund(cid, 4 * cost)
            async with await AsyncEarnest.sign_in(base_url, Wallet.generate()) as worker:
                lease = await worker.claim(cid)
                assert lease is not None
                leases = await worker.open_leases()
                await worker.submit(lease["assignment"]["id"], truth(lease["task"]["n"]))
            lines = [line async for line in api.results(cid, "jsonl") if line]
        return lines, leases, {"first": first, "again": again}

    lines, leases, uploads = asyncio.run(journey())
    assert len(leases) == 1 and leases[0]["status"] == "leased"  # type: ignore[index]
    assert uploads["first"]["added"] == 2 and uploads["again"]["added"] == 2  # type: ignore[index]
    assert len(lines) == 1
