"""Line charts as inline SVG (no script, no external asset): what the status page draws.

A chart has one point per minute for each :class:`Series`; a ``None`` value is a gap (a percentile of a
minute without requests). The y axis starts at 0 and ends at a round number above the largest value;
the x axis is labelled at round times (UTC)::

    svg = line_chart("Requests per minute", start, [Series("requests", [3, 5, 0, 2])], unit="req/min")
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup, escape

__all__ = ["PALETTE", "Series", "line_chart", "nice_ceiling"]

#: Colours of the series, in order (distinguishable with the common colour-vision deficiencies).
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442")
_STEPS_MINUTES = (5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)


@dataclass(frozen=True)
class Series:
    """One line: its name (in the legend), one value per minute (``None``: no value), its colour."""

    name: str
    values: Sequence[float | None]
    color: str = ""


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value`` (1 for 0 or less)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * power * (1 + 1e-9):
            return factor * power
    return 10 * power  # pragma: no cover - the loop ends at 10


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for i, value in enumerate(values):
        if value is None or not math.isfinite(value):
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, value))
    if current:
        runs.append(current)
    return runs


def line_chart(title: str, start: datetime, series: Sequence[Series], *, unit: str, width: int = 760,
               height: int = 220) -> Markup:
    """An SVG line chart of ``series`` (one value per minute from ``start``), titled ``title``, the y axis
    in ``unit``."""
    left, right, top, bottom = 64, 16, 34, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    points = max((len(s.values) for s in series), default=0)
    top_value = nice_ceiling(max((v for s in series for v in s.values if v is not None and math.isfinite(v)),
                                 default=0.0))

    def x(i: float) -> float:
        return left + (plot_w * i / (points - 1) if points > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / top_value)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
           f'<text x="{left}" y="16" class="chart-title">{escape(title)} ({escape(unit)})</text>']
    for k in range(5):  # horizontal grid and y labels
        value = top_value * k / 4
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{_number(value)}</text>')
    if points:
        step = next((s for s in _STEPS_MINUTES if points / s <= 8), _STEPS_MINUTES[-1])
        first = (-(start.hour * 60 + start.minute)) % step
        for i in range(first, points, step):
            when = start + timedelta(minutes=i)
            out.append(f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{top}" y2="{top + plot_h}" class="grid"/>'
                       f'<text x="{x(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                       f'{when:%H:%M}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" class="frame"/>')
    legend_x = width - right
    for n, s in reversed(list(enumerate(series))):
        color = s.color or PALETTE[n % len(PALETTE)]
        label = escape(s.name)
        legend_x -= 14 + 7 * len(s.name)
        out.append(f'<g class="legend"><rect x="{legend_x}" y="7" width="10" height="10" fill="{color}"/>'
                   f'<text x="{legend_x + 13}" y="16">{label}</text></g>')
        for run in _segments(s.values):
            if len(run) == 1:
                i, v = run[0]
                out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2" fill="{color}" data-series="{label}"/>')
            else:
                coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
                out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.5" '
                           f'data-series="{label}"/>')
    out.append("</svg>")
    return Markup("".join(out))
