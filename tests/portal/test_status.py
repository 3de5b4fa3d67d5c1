"""Issue 12 item 8: the status page's data and drawing. The per-minute history keeps the last hours only,
estimates percentiles within a latency bucket, fills quiet minutes with zeros; the charts are well-formed
inline SVG that break lines at gaps and escape whatever names they are given."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dso_saref.monitoring.history import LATENCY_BOUNDS, History
from dso_saref.portal.charts import Series, line_chart, nice_ceiling
from dso_saref.portal.status import status_view

T0 = datetime(2021, 9, 28, 8, 0, tzinfo=UTC).timestamp()
SVG = "{http://www.w3.org/2000/svg}"


class Clock:
    """Seconds since the epoch, moved by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_window_has_every_minute_oldest_first_quiet_ones_at_zero() -> None:
    clock = Clock(T0)
    history = History(minutes=120, clock=clock)
    history.request(0.010, at=T0 - 600)
    history.request(0.020, refusal="no-key", at=T0 - 600)
    history.exchange("answered", at=T0 - 60)
    minutes = history.window(hours=1)
    assert len(minutes) == 60
    assert minutes[-1].start == datetime(2021, 9, 28, 8, 0, tzinfo=UTC)
    assert [m.requests for m in minutes if m.requests] == [2]
    ten_ago = minutes[-11]
    assert ten_ago.refusals == {"no-key": 1} and minutes[-2].exchanges == {"answered": 1}
    assert minutes[0].percentile(0.5) is None


def test_minutes_older_than_the_history_are_dropped() -> None:
    clock = Clock(T0)
    history = History(minutes=10, clock=clock)
    history.request(0.01, at=T0)
    clock.now = T0 + 11 * 60
    history.request(0.01)
    assert sum(m.requests for m in history.window(hours=1)) == 1  # at most the history's 10 minutes
    assert len(history._buckets) == 1


def test_percentiles_fall_in_the_bucket_of_the_true_value() -> None:
    history = History(clock=Clock(T0))
    for ms in range(1, 101):  # 1 ms .. 100 ms
        history.request(ms / 1000)
    [minute] = history.window(hours=1 / 60)
    for q, true in ((0.5, 0.050), (0.95, 0.095), (0.99, 0.099)):
        estimate = minute.percentile(q)
        assert estimate is not None and abs(estimate - true) / true < 0.13, (q, estimate)
    with pytest.raises(ValueError):
        minute.percentile(1.0)


@settings(deadline=None)  # a shared machine: no per-example time limit
@given(st.lists(st.floats(min_value=0, max_value=120, allow_nan=False), min_size=1, max_size=200))
def test_percentiles_are_ordered_and_bounded(latencies: list[float]) -> None:
    history = History(clock=Clock(T0))
    for seconds in latencies:
        history.request(seconds)
    [minute] = history.window(hours=1 / 60)
    values = [minute.percentile(q) for q in (0.01, 0.5, 0.9, 0.99)]
    assert values == sorted(values)
    assert all(0 <= v <= LATENCY_BOUNDS[-1] for v in values if v is not None)
    assert minute.requests == len(latencies) == sum(minute.latencies)


def test_the_status_view_draws_four_charts_from_the_history() -> None:
    clock = Clock(T0)
    history = History(clock=clock)
    for n in range(5):
        history.request(0.004 * (n + 1), at=T0 - 120)
    history.exchange("refused", at=T0 - 60)
    view = status_view(history, hours=1, now=T0)
    assert view.live and view.requests == 5 and view.exchanges == {"refused": 1}
    assert len(view.charts) == 4
    for chart in view.charts:
        ET.fromstring(str(chart))  # well-formed XML
    rate = ET.fromstring(str(view.charts[0]))
    [line] = rate.iter(f"{SVG}polyline")
    assert len(line.get("points", "").split()) == 60


def test_gaps_break_a_line_and_a_lone_value_is_a_dot() -> None:
    svg = ET.fromstring(str(line_chart("p99", datetime.fromtimestamp(T0, UTC),
                                       [Series("p99", [1.0, 2.0, None, 3.0, None, 4.0, 5.0])], unit="ms")))
    lines = [p.get("points", "").split() for p in svg.iter(f"{SVG}polyline")]
    assert [len(points) for points in lines] == [2, 2]
    assert len(list(svg.iter(f"{SVG}circle"))) == 1


def xml_char(c: str) -> bool:
    code = ord(c)
    return c in "\t\n\r" or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000


@settings(deadline=None)  # a shared machine: no per-example time limit
@given(name=st.text(min_size=1, max_size=40), title=st.text(max_size=40))
def test_names_and_titles_are_escaped(name: str, title: str) -> None:
    chart = str(line_chart(title, datetime.fromtimestamp(T0, UTC), [Series(name, [1.0, 2.0])], unit="x"))
    if not all(xml_char(c) for c in name + title):
        return  # not representable in XML 1.0 at all; the page is HTML, where it stays text
    svg = ET.fromstring(chart)
    assert "".join(svg.find(f"{SVG}title").itertext()) == title.replace("\r\n", "\n").replace("\r", "\n")
    normalised = name.replace("\r\n", " ").translate(str.maketrans("\t\n\r", "   "))  # XML attribute values
    assert [e.get("data-series") for e in svg.iter(f"{SVG}polyline")] == [normalised]


@settings(deadline=None)  # a shared machine: no per-example time limit
@given(st.floats(min_value=1e-6, max_value=1e12, allow_nan=False))
def test_nice_ceiling_is_round_and_close_above(value: float) -> None:
    top = nice_ceiling(value)
    assert value <= top * (1 + 1e-9) and top <= value * 2.5 * (1 + 1e-9)
    mantissa = top / 10 ** math.floor(math.log10(top) + 1e-12)
    assert any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5))
