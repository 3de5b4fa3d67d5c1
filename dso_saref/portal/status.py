"""The status page's content: the charts of the last hours (request rate, latency percentiles, Knowledge
Engine exchange outcomes, refusals) from an :class:`~dso_saref.monitoring.history.Activity`, the totals of
the window, and the readiness checks::

    view = status_view(metrics.history, readiness, hours=6)
    view.charts[0]          # Markup('<svg ...>')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup

from dso_saref.monitoring.health import Check, Readiness
from dso_saref.monitoring.history import Activity, Minute
from dso_saref.portal.charts import Series, line_chart

__all__ = ["WINDOWS", "StatusView", "status_view"]

#: The windows the page offers (hours).
WINDOWS = (1, 6, 24)


@dataclass(frozen=True)
class StatusView:
    """What the status page shows: when it was made, the window, totals, charts and checks (``live``
    is false for the copy of a static build, which has no history)."""

    live: bool
    generated: datetime
    hours: float
    requests: int
    p50_ms: float | None
    p99_ms: float | None
    refusals: dict[str, int]
    exchanges: dict[str, int]
    charts: tuple[Markup, ...]
    checks: tuple[Check, ...]


def _merged(minutes: Sequence[Minute]) -> Minute:
    latencies = [sum(column) for column in zip(*(m.latencies for m in minutes), strict=True)]
    return Minute(minutes[0].start, sum(m.requests for m in minutes), tuple(latencies), {}, {})


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def _by_key(minutes: Sequence[Minute], attribute: str) -> list[Series]:
    keys = sorted({k for m in minutes for k in getattr(m, attribute)})
    return [Series(k, [getattr(m, attribute).get(k, 0) for m in minutes]) for k in keys]


def status_view(history: Activity | None, readiness: Readiness | None = None, *, hours: float = 6.0,
                now: float | None = None) -> StatusView:
    """The status page of ``history`` over the last ``hours`` (``None``: a static copy, no data)."""
    generated = datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)
    checks = tuple(readiness.run()) if readiness is not None else ()
    if history is None:
        return StatusView(False, generated, hours, 0, None, None, {}, {}, (), checks)
    minutes = history.window(hours=hours, now=now)
    start = minutes[0].start
    total = _merged(minutes)
    refusals: Counter[str] = Counter()
    exchanges: Counter[str] = Counter()
    for m in minutes:
        refusals.update(m.refusals)
        exchanges.update(m.exchanges)
    charts = (
        line_chart("Request rate", start, [Series("requests", [m.requests for m in minutes])], unit="requests/min"),
        line_chart("Latency percentiles", start, [Series(f"p{round(q * 100)}", [_ms(m.percentile(q)) for m in minutes])
                                                  for q in (0.5, 0.95, 0.99)], unit="ms"),
        line_chart("Knowledge Engine exchanges by outcome", start,
                   _by_key(minutes, "exchanges") or [Series("exchanges", [0] * len(minutes))], unit="exchanges/min"),
        line_chart("Refusals by reason", start,
                   _by_key(minutes, "refusals") or [Series("refusals", [0] * len(minutes))], unit="refusals/min"),
    )
    return StatusView(True, generated, hours, total.requests, _ms(total.percentile(0.5)) if total.requests else None,
                      _ms(total.percentile(0.99)) if total.requests else None, dict(sorted(refusals.items())),
                      dict(sorted(exchanges.items())), charts, checks)
