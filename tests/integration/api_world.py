"""A small market with one object of every kind and a party in every role, for API tests.

The authorization matrix asks each role for someone else's objects; schemathesis fuzzes
every operation with the owner's credential and real ids. Built through the real use cases
(sessions through a real wallet sign-in), in a few hundred milliseconds.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from earnest.adapters.chain import Wallet
from earnest.bootstrap import Market, build_market
from earnest.config import Settings
from earnest.demo.funds import send_deposit
from earnest.domain.work import CampaignSpec, QualityPolicy
from earnest.services import appeals, campaigns, funds, identity, peer_review, uploads
from earnest.services.identity import Principal
from earnest.services.ports import DeliveryRecord
from earnest.services.uploads import TaskLine
from earnest.services.webhooks import CreateWebhook
from tests.factories import claim, principal, submit

ROLES = ("anonymous", "worker", "other_worker", "requester", "other_requester", "reviewer")
ROLES += ("operator",)
MARK = secrets.token_hex(4)
# Strings only the owners of the world's objects may ever read back.
SECRETS = {
    "campaign title": f"campaign-title-{MARK}",
    "task text": f"task-text-{MARK}",
    "answer note": f"answer-note-{MARK}",
    "appeal reason": f"appeal-reason-{MARK} the control answer is wrong",
    "key name": f"key-name-{MARK}",
}
OUTPUT = {
    "type": "object",
    "properties": {"label": {"enum": ["even", "odd"]}, "note": {"type": "string"}},
    "required": ["label"],
    "additionalProperties": False,
}
INPUT = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
REWARD = 1_000


@dataclass
class World:
    """Every role's session token and wallet, and the ids of the objects they own."""

    market: Market
    tokens: dict[str, str] = field(default_factory=dict)
    wallets: dict[str, Wallet] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def who(self, role: str) -> Principal:
        return principal(self.wallets[role].address)

    def headers(self, role: str) -> dict[str, str]:
        token = self.tokens.get(role)
        return {"authorization": f"Bearer {token}"} if token else {}


def build_world(data_dir: Path, **settings: Any) -> World:
    """A fresh market on SQLite with every role signed in and one object of every kind."""
    wallets = {role: Wallet.generate() for role in ROLES if role != "anonymous"}
    market = build_market(
        Settings(data_dir=data_dir, port=0, operators=(wallets["operator"].address,), **settings)
    )
    world = World(market, wallets=wallets)
    for role, wallet in wallets.items():
        world.tokens[role] = session_token(market, wallet)
    _money(world)
    _work(world)
    _review(world)
    _webhooks(world)
    return world


def _webhooks(world: World) -> None:
    """The requester's webhook on its campaign, and one delivery in its log."""
    m, requester = world.market, world.who("requester")
    url = "https://hooks.example.org/earnest"
    hook = m.webhooks.create(CreateWebhook(requester, url, world.ids["campaign"]))
    now = m.clock.now()
    delivery = DeliveryRecord(
        id="whd_world",
        endpoint_id=hook.id,
        event_id="task.resolved:1",
        event_type="task.resolved",
        body="{}",
        status="delivered",
        attempts=1,
        next_at=now,
        created_at=now,
    )
    with m.store.uow() as uow:
        uow.webhooks.enqueue([delivery])
        uow.commit()
    world.ids |= {"webhook": hook.id, "delivery": delivery.id}


def session_token(market: Market, wallet: Wallet, kind: str = "person") -> str:
    """Sign in as the wallet (challenge, signature, session), as a browser would."""
    message = market.identity.challenge(identity.Challenge(wallet.address)).text()
    signature = wallet.sign_message(message.encode())
    token, _, _ = market.identity.sign_in(identity.SignIn(message, signature, kind))
    return token


def _money(world: World) -> None:
    """The requester's deposit and API key; the other requester's draft campaign."""
    m, requester = world.market, world.who("requester")
    m.chain.faucet(world.wallets["requester"].address, 10**7)
    signature = send_deposit(m, world.wallets["requester"], 10**7)
    m.money.record_deposit(funds.RecordDeposit(requester, signature))
    _, key = m.identity.create_api_key(
        identity.CreateApiKey(requester, SECRETS["key name"], ("campaigns:read",))
    )
    world.ids |= {"deposit": signature, "key": key.id}
    world.ids["draft"] = _campaign(world, "requester", tasks=1, fund=0)
    world.ids["other_draft"] = _campaign(world, "other_requester", tasks=1, fund=0, open=True)


def _work(world: World) -> None:
    """A rejected control answer (appealed), an accepted unit, a live lease, a held answer."""
    m, w = world.market, world.who("worker")
    cid = _campaign(world, "requester", tasks=3, gold=True, gold_share=1.0)
    rejected = claim(m, w, cid)
    submit(m, w, rejected.assignment.id, {"label": "odd", "note": SECRETS["answer note"]})
    accepted = claim(m, w, cid)
    done = submit(m, w, accepted.assignment.id, {"label": "even", "note": SECRETS["answer note"]})
    live = claim(m, w, cid)
    appeal = m.reviews.appeal(
        appeals.FileAppeal(w, rejected.assignment.id, SECRETS["appeal reason"])
    )
    held_cid = _campaign(world, "requester", tasks=1, quality={"review": "requester"})
    held = claim(m, w, held_cid)
    submit(m, w, held.assignment.id, {"label": "odd", "note": SECRETS["answer note"]})
    world.ids |= {
        "campaign": cid,
        "rejected": rejected.assignment.id,
        "accepted": accepted.assignment.id,
        "live": live.assignment.id,
        "appeal": appeal.id,
        "receipt": done.receipt_id or "",
        "held_campaign": held_cid,
        "held": held.assignment.id,
    }


def _review(world: World) -> None:
    """The reviewer qualifies on a control review, then holds the worker's answer."""
    m, w, rv = world.market, world.who("worker"), world.who("reviewer")
    quality = {"review": "peer", "review_reward": 100, "reviewer_tasks": 1}
    # Reviewers see a peer-reviewed campaign's title and tasks by design: nothing secret here.
    cid = _campaign(
        world, "requester", tasks=1, gold=True, quality=quality, verifier="peer_review", open=True
    )
    lease = claim(m, w, cid)
    submit(m, w, lease.assignment.id, {"label": "odd"})
    gold = m.reviews.claim(peer_review.ClaimReview(rv, cid))
    m.reviews.submit(peer_review.SubmitReview(rv, gold.review.id, True, ""))
    held = m.reviews.claim(peer_review.ClaimReview(rv, cid))
    world.ids |= {"peer_campaign": cid, "peer_review": held.review.id}


def _campaign(
    world: World,
    role: str,
    *,
    tasks: int,
    gold: bool = False,
    fund: int | None = None,
    quality: dict[str, Any] | None = None,
    open: bool = False,
    **changes: Any,
) -> str:
    """A campaign of `role` (funded for every unit unless `fund` says otherwise): its id.

    Its title and task texts are secrets unless `open`.
    """
    m, who = world.market, world.who(role)
    title, text = (
        ("Open work", "open text") if open else (SECRETS["campaign title"], SECRETS["task text"])
    )
    peer = (quality or {}).get("review") == "peer"
    spec = CampaignSpec(
        **(
            {
                "type": "labeling",
                "title": title,
                "instructions": "Even or odd?",
                "input_schema": INPUT,
                "output_schema": OUTPUT,
                "reward": REWARD,
                "overlap": 1,
                "gold_share": 0.0,
                "quality": QualityPolicy(**(quality or {})),
            }
            | changes
        )
    )
    made = m.campaigns.create(campaigns.CreateCampaign(who, spec))
    # Ids of their own: tasks of one text would otherwise be one task (uploads dedupe).
    rows: list[dict[str, Any]] = [{"id": f"t{n}", "data": {"text": text}} for n in range(tasks)]
    if gold:
        answer = {"label": "even"}
        gold_answer = {"answer": answer, "accept": True} if peer else answer
        rows.append({"id": "gold", "data": {"text": text}, "gold": gold_answer})
    lines = [TaskLine(i + 1, row) for i, row in enumerate(rows)]
    uploads.add_tasks(who, made.id, lines, store=m.store)
    amount = fund if fund is not None else 4 * len(rows) * made.unit_cost
    if amount:
        m.campaigns.fund(campaigns.FundCampaign(who, made.id, amount))
    return made.id
