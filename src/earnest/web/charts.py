"""Charts as server-rendered SVG: a line over time and a histogram. No chart library needed.

Each chart is an `<svg role="img">` with a title and a description that states the numbers,
so a screen reader gets what the picture shows.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 420, 250
LEFT, RIGHT, TOP, BOTTOM = 60, 14, 16, 34  # room for the axis labels
_uid = iter(range(1, 1 << 62))


def _frame(title: str, desc: str, body: list[str]) -> Markup:
    n = next(_uid)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-t{n} chart-d{n}" preserveAspectRatio="xMidYMid meet">'
        f'<title id="chart-t{n}">{escape(title)}</title><desc id="chart-d{n}">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


# SVG text does not wrap: a message wider than the chart was cut at both edges. At the
# 16 px of .chart-empty a character is at most ~9.5 px wide, so 34 fit in 420 - 2 x 30.
EMPTY_LINE = 34


def _empty(title: str, message: str) -> Markup:
    lines = textwrap.wrap(message, EMPTY_LINE)
    first = HEIGHT / 2 - (len(lines) - 1) * 11
    spans = "".join(
        f'<tspan x="{WIDTH / 2}" y="{first + 22 * i:.0f}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return _frame(
        title, message, [f'<text text-anchor="middle" class="chart-empty">{spans}</text>']
    )


def _grid(top: float, label: Callable[[float], str]) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    out = []
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        out.append(
            f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        out.append(
            f'<text class="chart-axis" x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(label(value))}</text>'
        )
    return out


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten at or above `value` (axis tops)."""
    if value <= 0:
        return 1.0
    power: float = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value)


def line_chart(
    points: Sequence[tuple[datetime, float]],
    *,
    title: str,
    label: Callable[[float], str],
    top: float | None = None,
) -> Markup:
    """Values over time as a line with dots; `top` fixes the y axis (1.0 for shares)."""
    if not points:
        return _empty(title, "Nothing to show yet: no decided answers.")
    top = top or nice_ceiling(max(v for _, v in points) * 1.2)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(points) - 1, 1)
    xy = [
        (
            LEFT + (i * step if len(points) > 1 else plot_w / 2),
            TOP + plot_h - plot_h * min(v / top, 1),
        )
        for i, (_, v) in enumerate(points)
    ]
    body = _grid(top, label)
    body.append(
        '<polyline class="chart-line" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        + '"/>'
    )
    body += [f'<circle class="chart-dot" cx="{x:.1f}" cy="{y:.1f}" r="4"/>' for x, y in xy]
    ends = [(points[0][0], xy[0][0], "start"), (points[-1][0], xy[-1][0], "end")]
    for when, x, anchor in ends[: 1 if len(points) == 1 else 2]:
        body.append(
            f'<text class="chart-axis" x="{x:.1f}" y="{HEIGHT - 12}" text-anchor="{anchor}">'
            f"{when:%H:%M}</text>"
        )
    desc = "; ".join(f"{when:%H:%M}: {label(v)}" for when, v in points)
    return _frame(title, f"{title}. {desc}", body)


def histogram(values: Sequence[float], *, title: str, bins: int = 10) -> Markup:
    """How many values fall in each tenth of 0..1 (e.g. worker accuracy)."""
    if not values:
        return _empty(title, "Nothing to show yet: no worker has a decided answer.")
    counts = [0] * bins
    for v in values:
        counts[min(int(v * bins), bins - 1)] += 1
    top = -(-max(counts) // 4) * 4  # a multiple of 4, so every grid line is a whole count
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    width = plot_w / bins
    body = _grid(top, lambda v: f"{v:.0f}")
    for i, count in enumerate(counts):
        h = plot_h * count / top
        x = LEFT + i * width
        body.append(
            f'<rect class="chart-bar" x="{x + 2:.1f}" y="{TOP + plot_h - h:.1f}" '
            f'width="{width - 4:.1f}" height="{h:.1f}"><title>{i * 10}–{(i + 1) * 10}%: '
            f"{count} worker(s)</title></rect>"
        )
        if i % 2 == 0 or bins <= 5:
            body.append(
                f'<text class="chart-axis" x="{x + width / 2:.1f}" y="{HEIGHT - 12}" '
                f'text-anchor="middle">{i * 100 // bins}%</text>'
            )
    desc = "; ".join(f"{i * 10}–{(i + 1) * 10}%: {c}" for i, c in enumerate(counts) if c)
    return _frame(title, f"{title}: workers per accuracy band. {desc}", body)
