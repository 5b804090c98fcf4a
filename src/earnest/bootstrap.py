"""The composition root: the one place where settings become real adapters and an app."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from earnest.adapters.chain import (
    LocalChain,
    MarketCrypto,
    MintSetup,
    RpcChain,
    RpcOptions,
    load_or_create_keypair,
)
from earnest.adapters.private import private_dir
from earnest.adapters.sandbox import BwrapSandbox, RepoPolicy
from earnest.adapters.store import SqlStore, create_store_engine, migrate
from earnest.adapters.store.leader import AdvisoryLeader
from earnest.adapters.system import EnvFaults, SystemClock, SystemRandom
from earnest.adapters.webhooks import HttpSender
from earnest.config import Settings
from earnest.domain.errors import InvalidInput
from earnest.domain.transfer_fee import TransferFee
from earnest.handlers import Campaigns, Devices, Identity, Money, Reviews, Tasks, Webhooks, Work
from earnest.services.aggregation import QualityLoop
from earnest.services.housekeeping import housekeeping_loop
from earnest.services.identity import SiteIdentity
from earnest.services.loop import Every
from earnest.services.ports import Sandbox
from earnest.services.sandbox_checks import SandboxLoop
from earnest.services.settler import Settler, SingleProcess
from earnest.services.webhooks import webhooks_loop
from earnest.views import Views

# Both chains carry, beyond the port, the helpers the demo and tests use (faucet, submit).
MarketChain = LocalChain | RpcChain


@dataclass
class Market:
    """Every port, wired, and the use cases bound to them: what routes, the CLI and the
    demo work with."""

    settings: Settings
    store: SqlStore
    chain: MarketChain
    crypto: MarketCrypto
    clock: SystemClock
    rand: SystemRandom
    site: SiteIdentity
    settler: Settler
    quality: QualityLoop
    sandbox: SandboxLoop
    housekeeping: Every
    outbox: Every  # webhook deliveries (services/webhooks.py)
    sender: HttpSender
    # The use cases, bound to the ports above (earnest.handlers): what callers call.
    money: Money = field(init=False)
    identity: Identity = field(init=False)
    devices: Devices = field(init=False)
    campaigns: Campaigns = field(init=False)
    work: Work = field(init=False)
    reviews: Reviews = field(init=False)
    views: Views = field(init=False)  # the pages' read models (earnest.views)
    tasks: Tasks = field(init=False)
    webhooks: Webhooks = field(init=False)

    def __post_init__(self) -> None:
        self.money, self.identity, self.devices = Money(self), Identity(self), Devices(self)
        self.campaigns, self.work, self.reviews = Campaigns(self), Work(self), Reviews(self)
        self.views = Views(self)
        self.tasks, self.webhooks = Tasks(self), Webhooks(self)

    @property
    def runner(self) -> Sandbox | None:
        """The sandbox bug bounties' tests run in (None: bug bounties refuse to start)."""
        return self.sandbox.sandbox

    def start_loops(self) -> None:
        """The background loops a serving market runs: settlement, quality, the sandbox,
        housekeeping."""
        for loop in (self.settler, self.quality, self.sandbox, self.housekeeping, self.outbox):
            loop.start()

    def close(self) -> None:
        self.settler.stop()
        self.quality.stop()
        self.sandbox.stop()
        self.housekeeping.stop()
        self.outbox.stop()
        self.sender.close()
        self.store.dispose()
        self.chain.close()


def build_market(settings: Settings) -> Market:
    """Open (and migrate) the store, open the chain, load the market key."""
    private_dir(settings.data_dir)  # 0700: keys, database and chain state are the market's only
    keypair = load_or_create_keypair(settings.resolved_keypair)
    chain = open_chain(settings, keypair)
    try:
        # Every route thread may hold a connection, besides the settler and the other loops.
        pool = max(10, settings.api_threads + 4)
        engine = create_store_engine(settings.resolved_database_url, pool_size=pool)
        migrate(engine)
    except BaseException:
        chain.close()
        raise
    store = SqlStore(engine)
    clock, rand = SystemClock(), SystemRandom()
    url = urlparse(settings.resolved_public_url)
    site = SiteIdentity(
        domain=url.netloc, uri=settings.resolved_public_url, chain_id=settings.chain_id
    )
    settler = Settler(
        store=store,
        chain=chain,
        clock=clock,
        rand=rand,
        interval=settings.settle_interval,
        faults=EnvFaults(),
        # On SQLite one process owns the file; on PostgreSQL N processes elect one settler.
        leader=AdvisoryLeader(engine) if engine.dialect.name == "postgresql" else SingleProcess(),
    )
    crypto = MarketCrypto(keypair)
    quality = QualityLoop(store, crypto, clock, rand, settings.quality_interval)
    repos = RepoPolicy(
        local_dir=settings.sandbox_repo_dir,
        hosts=frozenset(
            h.strip().lower() for h in settings.sandbox_repo_hosts.split(",") if h.strip()
        ),
    )
    runner = BwrapSandbox(
        python=settings.sandbox_python or sys.executable, repos=repos, uid=settings.sandbox_uid
    )
    sandbox = SandboxLoop(store, runner, crypto, clock, rand, settings.sandbox_interval)
    housekeeping = housekeeping_loop(
        store, clock, settings.housekeeping_interval, timedelta(seconds=settings.idempotency_ttl)
    )
    sender = HttpSender(
        allow_private=settings.webhook_allow_private, timeout=settings.webhook_timeout
    )
    outbox = webhooks_loop(store, clock, rand, sender, settings.webhook_interval)
    return Market(
        settings,
        store,
        chain,
        crypto,
        clock,
        rand,
        site,
        settler,
        quality,
        sandbox,
        housekeeping,
        outbox,
        sender,
    )


def mint_setup(settings: Settings) -> MintSetup:
    """The mint a new local chain creates, from the settings."""
    fee = TransferFee(settings.transfer_fee_bps, settings.transfer_fee_max)
    return MintSetup(
        token_2022=settings.token_program == "spl-token-2022",
        transfer_fee=fee if fee.charged else None,
    )


def open_chain(settings: Settings, keypair: Any) -> MarketChain:
    """The embedded LocalChain, or an RpcChain on `chain_url` when `chain` is "rpc"."""
    if settings.chain == "local":
        return LocalChain.open(
            settings.chain_state, keypair, decimals=settings.decimals, mint=mint_setup(settings)
        )
    if settings.chain_url is None or settings.mint is None:  # Settings refuses this already
        raise InvalidInput("chain=rpc needs chain_url and mint")
    options = RpcOptions(
        commitment=settings.commitment,
        priority_fee_microlamports=settings.priority_fee_microlamports,
        compute_unit_limit=settings.compute_unit_limit,
        timeout=settings.rpc_timeout,
        retries=settings.rpc_retries,
    )
    return RpcChain.open(settings.chain_url.get_secret_value(), keypair, settings.mint, options)
