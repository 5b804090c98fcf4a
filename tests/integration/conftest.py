"""Fixtures of the integration tests that serve a market over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from earnest.bootstrap import Market, build_market
from earnest.config import Settings
from earnest.demo.server import BackgroundServer
from tests.factories import FakeClock, FixedRandom
from tests.integration.quality_helpers import QualityMarket


@pytest.fixture
def qm(market: Market) -> Iterator[QualityMarket]:
    """The market served on loopback with a fake clock; the quality pass runs on it too."""
    clock, rand = FakeClock(), FixedRandom(0.99)
    market.clock = clock  # routes read m.clock, so this must happen before serving
    market.rand = rand
    market.quality.clock = clock
    market.quality.rand = rand
    server = BackgroundServer(market)
    env = QualityMarket(market, server.start(), clock)
    yield env
    env.close()
    server.stop()


@pytest.fixture
def pg_market(tmp_path: Path, postgres_url: str) -> Iterator[Market]:
    """A market on a fresh PostgreSQL database of its own, for tests of PostgreSQL alone."""
    from tests.conftest import _drop_pg_database, _fresh_pg_database

    url, name = _fresh_pg_database(postgres_url)
    market = build_market(Settings(data_dir=tmp_path / "market", database_url=url, port=0))
    yield market
    market.close()
    _drop_pg_database(postgres_url, name)
