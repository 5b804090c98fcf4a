"""Fixtures of the integration tests that serve a market over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from earnest.bootstrap import Market
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
