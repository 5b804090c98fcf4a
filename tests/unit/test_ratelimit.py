"""Sliding windows: bursts, the rate over time, Retry-After, no limit at rate 0, counts shared
between processes through drain/apply, bounded memory."""

from __future__ import annotations

import pytest

from earnest.api.ratelimit import Windows, retry_after


class Ticks:
    """A wall clock moved by hand (at the start of a window)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_rate_holds() -> None:
    clock = Ticks()
    windows = Windows(2.0, 4, clock=clock)  # 4 in any 2 s
    assert [windows.take("k") for _ in range(4)] == [0.0] * 4
    assert windows.take("k") > 0
    assert windows.take("other") == 0.0  # counts are per key
    clock.now += 2.0  # the next window: the last one still weighs in fully at its start
    assert windows.take("k") > 0
    clock.now += 0.5  # a quarter of it gone: 4 * 0.75 = 3 leaves room for one
    assert windows.take("k") == 0.0
    assert windows.take("k") > 0


def test_the_wait_is_the_time_until_a_request_fits() -> None:
    clock = Ticks()
    windows = Windows(1.0, 2, clock=clock)  # 2 in any 2 s
    windows.take("k"), windows.take("k")
    wait = windows.take("k")
    assert wait == pytest.approx(3.0)  # the rest of this window, then half of the next
    clock.now += wait
    assert windows.take("k") == 0.0


def test_refused_requests_do_not_dig_the_hole_deeper() -> None:
    clock = Ticks()
    windows = Windows(1.0, 1, clock=clock)
    windows.take("k")
    waits = [windows.take("k") for _ in range(50)]
    assert max(waits) == pytest.approx(waits[0])
    clock.now += waits[0]
    assert windows.take("k") == 0.0


def test_rate_zero_means_no_limit() -> None:
    windows = Windows(0.0, 1, clock=Ticks())
    assert all(windows.take("k") == 0.0 for _ in range(1000))
    assert windows.drain() == {}


def test_two_processes_share_one_limit_through_the_store_totals() -> None:
    clock = Ticks()
    one, two = Windows(0.01, 10, clock=clock), Windows(0.01, 10, clock=clock)
    store: dict[tuple[str, int], int] = {}

    def share(w: Windows) -> None:
        sent = w.drain()
        for row, (hits, _ends) in sent.items():
            store[row] = store.get(row, 0) + hits
        w.apply({row: store[row] for row in sent}, sent=True)

    assert [one.take("k") for _ in range(6)] == [0.0] * 6
    share(one)
    share(two)  # `two` sent nothing, so it knows nothing yet
    assert [two.take("k") for _ in range(6)] == [0.0] * 6  # the overshoot: one interval's worth
    share(two)
    assert two.take("k") > 0  # totals read back: 12 of 10 used
    share(one)  # sent nothing: a process reads the totals of the keys it sends
    assert one.take("k") == 0.0  # so one more passes here (its last read was 6),
    share(one)
    assert one.take("k") > 0  # and none after its next share
    assert sum(store.values()) == 13


def test_counts_that_failed_to_send_are_kept_and_sent_again() -> None:
    windows = Windows(0.01, 10, clock=Ticks())
    windows.take("k"), windows.take("k")
    first = windows.drain()
    windows.apply({}, sent=False)
    windows.take("k")
    again = windows.drain()
    assert [n for n, _ in first.values()] == [2] and [n for n, _ in again.values()] == [3]
    windows.apply({row: 3 for row in again}, sent=True)
    assert windows.drain() == {}


def test_rows_end_after_the_window_that_still_counts_them() -> None:
    windows = Windows(1.0, 10, clock=Ticks())  # 10 s windows; 1,000 s is slot 100
    windows.take("k")
    ((row, (hits, ends)),) = windows.drain().items()
    assert row == ("k", 100) and hits == 1 and ends >= 1_020


def test_memory_is_bounded_when_nothing_sends_the_counts() -> None:
    windows = Windows(0.01, 1, clock=Ticks(), max_keys=3)
    for key in ("a", "b", "c", "d", "e"):
        windows.take(key)
    assert len(windows._pending) <= 3 and len(windows._seen) <= 3
    assert windows.take("e") > 0  # the most recent keys are remembered


@pytest.mark.parametrize(("wait", "header"), [(0.001, 1), (1.0, 1), (1.2, 2), (59.5, 60)])
def test_retry_after_is_whole_seconds_rounded_up(wait: float, header: int) -> None:
    assert retry_after(wait) == header
