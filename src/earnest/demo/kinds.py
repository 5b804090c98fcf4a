"""The scenarios of `earnest demo --scenario`: honest work, with bad work planted in it.

Each takes a Stage (a served market) and returns the campaigns it ran. The numbers are
small on purpose: a scenario shows the whole path (deposit, campaign, work, verification,
payment on chain) for its kind of labor in seconds.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from earnest.adapters.chain.wallet import Wallet
from earnest.client import ApiError, Earnest
from earnest.demo.bandwidth import BandwidthOptions, run_bandwidth
from earnest.demo.scenarios import Runner, Stage, stage_runner
from earnest.quality.energy import reading_message
from earnest.services.devices import registration_message

REWARD = 20_000
LABELS = {
    "type": "object",
    "properties": {"label": {"enum": ["even", "odd"]}},
    "required": ["label"],
}


def labeling(stage: Stage, memos: int = 0) -> list[str]:
    """Even or odd: three careful workers and a spammer; control tasks catch the spammer.
    The first `memos` careful workers' token accounts require a memo on incoming transfers."""
    rows = [{"id": f"n{n}", "data": {"n": n}} for n in range(12)]
    rows += [{"id": f"g{n}", "data": {"n": n}, "gold": {"label": _parity(n)}} for n in range(3)]
    spec = _spec("labeling", "Even or odd?", LABELS, overlap=3)
    spec["quality"] = {"qualification_tasks": 2, "qualification_accuracy": 1.0}
    cid = stage.requester(spec, rows, 4 * len(rows))
    for i, honest in enumerate((True, True, True, False)):
        worker, wallet = stage.person_with_wallet()
        if i < memos:
            stage.require_memos(wallet)
        while (lease := _claim(worker, cid)) is not None:
            n = lease["task"]["n"]
            worker.submit(lease["assignment"]["id"], {"label": _parity(n) if honest else "even"})
    return [cid]


def token_2022(stage: Stage) -> list[str]:
    """Even or odd, paid in a Token-2022 mint with a 1.5% transfer fee: two workers' accounts
    require memos; every worker receives exactly what it earned, the fee on top."""
    campaigns = labeling(stage, memos=2)
    stage.settle()
    short = stage.underpaid()
    if short:
        raise RuntimeError(f"workers received other than they earned: {short}")
    return campaigns


def local(stage: Stage) -> list[str]:
    """Is the clinic open? Reporters nearby agree; an outsider, a second key and a liar don't."""
    now = datetime.now(UTC)
    window = {
        "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
    }
    places = [{"lat": -1.2921 + i / 100, "lon": 36.8219, "radius_m": 300} for i in range(3)]
    rows = [
        {"id": f"clinic{i}", "data": {"place": p, "window": window}} for i, p in enumerate(places)
    ]
    report = {"type": "object", "required": ["value", "lat", "lon", "at"]}
    spec = _spec("local", "Is the clinic open?", report, overlap=6, verifier="local_reports")
    cid = stage.requester(spec | {"quality": {"min_overlap": 3}}, rows, 6 * len(rows))
    plan = [
        ("open", 0, "a"),
        ("open", 40, "b"),
        ("open", 900, "c"),
        ("open", 10, "a"),
        ("closed", 20, "d"),
        ("open", -30, "e"),
    ]
    for value, north_m, device in plan:  # one person per row of the plan, every clinic
        person = stage.person()
        while (lease := _claim(person, cid)) is not None:
            place = lease["task"]["place"]
            answer = {
                "value": value,
                "lat": place["lat"] + north_m / 111_195,
                "lon": place["lon"],
                "at": datetime.now(UTC).isoformat(),
                "device": f"{device}:{place['lat']}",
            }
            person.submit(lease["assignment"]["id"], answer)
    return [cid]


def field(stage: Stage) -> list[str]:
    """Photograph the shop: evidence outside the area is refused; a paid peer judges the rest."""
    now = datetime.now(UTC)
    window = {
        "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
    }
    place = {"lat": 6.5244, "lon": 3.3792, "radius_m": 150}
    data = {"task": "Photograph the shop front", "place": place, "window": window}
    good = {
        "photo_sha256": "0f" * 32,
        "lat": place["lat"],
        "lon": place["lon"],
        "at": now.isoformat(),
    }
    rows = [{"id": f"shop{n}", "data": data} for n in range(4)]
    rows.append(
        {
            "id": "control",
            "data": data,
            "gold": {"answer": good | {"note": "blank"}, "accept": False},
        }
    )
    spec = _spec("field", "Shop fronts", {"type": "object"}, verifier="field_evidence")
    spec["quality"] = {"review": "peer", "review_reward": REWARD // 5, "reviewer_tasks": 1}
    cid = stage.requester(spec, rows, 6)
    worker = stage.person()
    far = good | {"lat": place["lat"] + 0.01}
    for evidence in (good, good | {"note": "blank"}, far, good | {"note": "front door"}):
        lease = _claim(worker, cid)
        if lease is not None:
            worker.submit(
                lease["assignment"]["id"], evidence | {"at": datetime.now(UTC).isoformat()}
            )
    reviewer = stage.person()
    while (item := reviewer.claim_peer_review(cid)) is not None:
        blank = item["answer"].get("note") == "blank"
        reviewer.submit_peer_review(
            item["review"]["id"], not blank, "the photo is blank" if blank else ""
        )
    return [cid]


BUGGY = "def add(a, b):\n    return a + b if b >= 0 else a - b\n"
REPRODUCER = "from calc import add\n\n\ndef test_negative():\n    assert add(1, -1) == 0\n"


def bugs(stage: Stage) -> list[str]:
    """A bounty on a real git repository: a passing test and `assert False` lose, a reproducer wins."""
    # The sandbox fetches local repositories only from the directory the operator allows.
    allowed = stage.market.settings.sandbox_repo_dir or None
    repo = _buggy_repo(Path(tempfile.mkdtemp(prefix="earnest-bounty-", dir=allowed)))
    spec = _spec(
        "bugs",
        "Reproduce: add() with a negative b",
        {"type": "object"},
        verifier="bug_reproducer",
        overlap=4,
    )
    cid = stage.requester(spec, [{"id": "bug-1", "data": repo}], 4)
    answers = [
        (
            "tests/test_fine.py",
            "from calc import add\n\n\ndef test_fine():\n    assert add(1, 2) == 3\n",
        ),
        ("tests/test_false.py", "def test_false():\n    assert False\n"),
        ("tests/test_negative.py", REPRODUCER),
    ]
    sent = []
    for path, test in answers:
        hunter = stage.person()
        lease = hunter.claim(cid)
        hunter.submit(lease["assignment"]["id"], {"test_path": path, "test": test})
        sent.append((hunter, lease["assignment"]["id"]))
    deadline = time.monotonic() + 120  # the market's sandbox loop measures them
    while time.monotonic() < deadline:
        if all(h.assignment(a)["status"] != "submitted" for h, a in sent):
            break
        time.sleep(0.5)
    return [cid]


def _buggy_repo(root: Path) -> dict[str, str]:
    """A git repository with the bug at `commit` and its fix at `fixed_commit`."""

    def git(*args: str) -> str:
        ident = ["-c", "user.name=Earnest demo", "-c", "user.email=demo@example.org"]
        done = subprocess.run(
            ["git", *ident, *args], cwd=root, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    git("init", "--quiet")
    (root / "calc.py").write_text(BUGGY)
    (root / "conftest.py").write_text("")
    git("add", ".")
    git("commit", "--quiet", "-m", "calc")
    buggy = git("rev-parse", "HEAD")
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    git("commit", "--quiet", "-am", "fix")
    return {"repo": str(root), "commit": buggy, "fixed_commit": git("rev-parse", "HEAD")}


def _spec(kind: str, title: str, output: dict[str, Any], **changes: Any) -> dict[str, Any]:
    base = {"type": kind, "title": title, "input_schema": {"type": "object"}}
    return (
        base
        | {"output_schema": output, "reward": REWARD, "overlap": 1, "gold_share": 0.0}
        | changes
    )


def _claim(worker: Earnest, campaign_id: str) -> Any:
    try:
        return worker.claim(campaign_id)
    except ApiError as refused:  # a gate closed (a failed qualification): this worker stops
        if refused.status != 403:
            raise
        return None


def _parity(n: int) -> str:
    return "even" if n % 2 == 0 else "odd"


def energy(stage: Stage) -> list[str]:
    """A demand-response hour: two households save and are paid; a tampered meter and an
    unregistered one are refused."""
    start = datetime.now(UTC) - timedelta(hours=4)
    hours = [(start + timedelta(hours=h)).isoformat() for h in range(5)]
    event = {
        "baseline": {"start": hours[0], "end": hours[2]},
        "window": {"start": hours[2], "end": hours[4]},
        "reward_per_kwh": REWARD // 2,
    }
    output = {"type": "object", "required": ["device", "readings"]}
    spec = _spec("energy", "Peak hour, 18:00-20:00", output, verifier="energy", overlap=4)
    cid = stage.requester(spec, [{"id": "peak", "data": event}], 4)
    for usage, registered, tamper in (
        ([900, 1100, 400, 300], True, False),
        ([1500, 1500, 1000, 900], True, False),
        ([1000, 1000, 200, 200], True, True),
        ([1000, 1000, 200, 200], False, False),
    ):
        person, wallet = stage.person_with_wallet()
        meter = Wallet.generate()
        if registered:
            proof = meter.sign_message(registration_message(meter.address, wallet.address))
            person.register_device(meter.address, proof, "home meter")
        readings = _signed_readings(meter, hours, usage)
        if tamper:
            readings[-1]["wh"] -= 500  # the meter said more
        lease = person.claim(cid)
        person.submit(lease["assignment"]["id"], {"device": meter.address, "readings": readings})
    return [cid]


def _signed_readings(meter: Wallet, hours: list[str], usage: list[int]) -> list[dict[str, Any]]:
    total, out = 0, []
    for at, used in zip(hours, [0, *usage], strict=True):
        total += used
        signature = meter.sign_message(reading_message(meter.address, at, total))
        out.append({"at": at, "wh": total, "signature": signature})
    return out


def bandwidth(console: Console, data_dir: Path) -> dict[str, Any]:
    """Nodes fetch a web site for a scrape job; a node that alters pages is caught."""
    done = run_bandwidth(BandwidthOptions(data_dir=data_dir), console)
    keys = ("verified", "rejected", "reconciled", "tokens_paid", "base_units_paid")
    return {k: done[k] for k in keys}


SCENARIOS: dict[str, Runner] = {
    "labeling": stage_runner("labeling", labeling),
    "bandwidth": bandwidth,
    "local": stage_runner("local", local),
    "bugs": stage_runner("bugs", bugs),
    "field": stage_runner("field", field),
    "energy": stage_runner("energy", energy),
    # 150 basis points, at most 1,000 base units a transfer: the cap binds above 66,667.
    "token2022": stage_runner(
        "token2022",
        token_2022,
        token_program="spl-token-2022",
        transfer_fee_bps=150,
        transfer_fee_max=1_000,
    ),
}
