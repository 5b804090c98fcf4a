"""The composition root: the one place where settings become real adapters and an app."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from urllib.parse import urlparse

from earnest.adapters.chain import LocalChain, MarketCrypto, load_or_create_keypair
from earnest.adapters.sandbox import ProcessSandbox
from earnest.adapters.store import SqlStore, create_store_engine, migrate
from earnest.adapters.system import EnvFaults, SystemClock, SystemRandom
from earnest.config import Settings
from earnest.services.aggregation import QualityLoop
from earnest.services.identity import SiteIdentity
from earnest.services.sandbox_checks import SandboxLoop
from earnest.services.settler import Settler


@dataclass
class Market:
    """Every port, wired: what routes, the CLI and the demo work with."""

    settings: Settings
    store: SqlStore
    chain: LocalChain
    crypto: MarketCrypto
    clock: SystemClock
    rand: SystemRandom
    site: SiteIdentity
    settler: Settler
    quality: QualityLoop
    sandbox: SandboxLoop

    def close(self) -> None:
        self.settler.stop()
        self.quality.stop()
        self.sandbox.stop()
        self.store.dispose()
        self.chain.close()


def build_market(settings: Settings) -> Market:
    """Open (and migrate) the store, open the chain, load the market key."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keypair = load_or_create_keypair(settings.resolved_keypair)
    engine = create_store_engine(settings.resolved_database_url)
    migrate(engine)
    store = SqlStore(engine)
    chain = LocalChain.open(settings.chain_state, keypair, decimals=settings.decimals)
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
    )
    crypto = MarketCrypto(keypair)
    quality = QualityLoop(store, crypto, clock, rand, settings.quality_interval)
    runner = ProcessSandbox(python=settings.sandbox_python or sys.executable)
    sandbox = SandboxLoop(store, runner, crypto, clock, rand, settings.sandbox_interval)
    return Market(settings, store, chain, crypto, clock, rand, site, settler, quality, sandbox)
