"""Token buckets: bursts, refill, Retry-After, no limit at rate 0, bounded memory."""

from __future__ import annotations

import pytest

from earnest.api.ratelimit import TokenBuckets, retry_after


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_rate_holds() -> None:
    clock = Ticks()
    buckets = TokenBuckets(2.0, 3, clock=clock)
    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k") == pytest.approx(0.5)  # half a second until the next token
    clock.now += 0.5
    assert buckets.take("k") == 0.0
    assert buckets.take("k") > 0
    assert buckets.take("other") == 0.0  # buckets are per key


def test_a_bucket_refills_to_its_burst_and_no_further() -> None:
    clock = Ticks()
    buckets = TokenBuckets(1.0, 2, clock=clock)
    buckets.take("k")
    clock.now += 3600
    assert [buckets.take("k") for _ in range(3)][-1] > 0  # two fit, not 3,600


def test_refused_requests_do_not_dig_the_hole_deeper() -> None:
    clock = Ticks()
    buckets = TokenBuckets(1.0, 1, clock=clock)
    buckets.take("k")
    waits = [buckets.take("k") for _ in range(50)]
    assert max(waits) == pytest.approx(1.0)
    clock.now += 1.0
    assert buckets.take("k") == 0.0


def test_rate_zero_means_no_limit() -> None:
    buckets = TokenBuckets(0.0, 1, clock=Ticks())
    assert all(buckets.take("k") == 0.0 for _ in range(1000))


def test_memory_is_bounded_by_forgetting_the_least_recently_used() -> None:
    buckets = TokenBuckets(1.0, 1, clock=Ticks(), max_keys=3)
    for key in ("a", "b", "c"):
        buckets.take(key)
    buckets.take("a")  # refused, but now the most recent
    buckets.take("d")  # "b" is forgotten
    assert buckets.take("b") == 0.0  # a full bucket again
    assert buckets.take("a") > 0  # "a" was remembered


@pytest.mark.parametrize(("wait", "header"), [(0.001, 1), (1.0, 1), (1.2, 2), (59.5, 60)])
def test_retry_after_is_whole_seconds_rounded_up(wait: float, header: int) -> None:
    assert retry_after(wait) == header
