"""Server-rendered SVG charts: accessible, escaped, and honest when empty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from earnest.web.charts import histogram, line_chart, nice_ceiling

T0 = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)


def test_a_line_chart_describes_its_numbers() -> None:
    svg = str(
        line_chart(
            [(T0, 0.5), (T0 + timedelta(hours=1), 1.0)],
            title="A <b>",
            label=lambda v: f"{v:.0%}",
            top=1.0,
        )
    )
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert "A &lt;b&gt;" in svg and "<b>" not in svg
    assert "09:30: 50%" in svg and "10:30: 100%" in svg
    assert svg.count("<circle") == 2


def test_a_histogram_has_a_bar_per_band() -> None:
    svg = str(histogram([0.05, 0.95, 1.0], title="Accuracy"))
    assert svg.count("<rect") == 10
    assert "90–100%: 2" in svg


def test_an_empty_chart_says_so() -> None:
    assert "Nothing to show yet" in str(line_chart([], title="x", label=str))
    assert "Nothing to show yet" in str(histogram([], title="x"))


def test_axis_tops_are_round_numbers() -> None:
    assert [nice_ceiling(v) for v in (0.0, 0.8, 3, 320_312, 7_000)] == [1.0, 1, 5, 500_000, 10_000]
