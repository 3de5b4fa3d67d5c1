"""Metering aggregation in SQL (both databases) agrees with the reference in Python
(:func:`dso_saref.backend.metering.aggregate`) on any readings, windows and time zones, daylight-saving
days included (Lisbon in autumn and spring, Santiago whose clocks change at midnight, Kolkata at
UTC+05:30); on PostgreSQL both from the readings and from the quarter-hour rollup the database keeps
(``meter_quarters``), the readings written in overlapping batches, one of them twice."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dso_saref.backend.aggregation import bucket_query, bucket_start, offsets
from dso_saref.backend.grid import GridData
from dso_saref.backend.metering import QUARTER, aggregate
from dso_saref.backend.storage import to_db_time
from dso_saref.messages.data_sharing import Granularity

CLIENTS = ("C1", "C2", "C3")
DAYS = [  # (zone, the local day around which readings are generated)
    (UTC, datetime(2021, 9, 27)),
    (ZoneInfo("Europe/Lisbon"), datetime(2021, 10, 31)),
    (ZoneInfo("Europe/Lisbon"), datetime(2021, 3, 28)),
    (ZoneInfo("America/Santiago"), datetime(2021, 4, 4)),
    (ZoneInfo("America/Santiago"), datetime(2021, 9, 5)),
    (ZoneInfo("Asia/Kolkata"), datetime(2021, 9, 27)),
]
SPAN = 30 * 4  # quarter-hours of readings, from 3 hours before the local day


@pytest.fixture
def storage(database):
    storage = database.open()
    grid = GridData(storage)
    grid.add_zone("Z")
    for i, client in enumerate(CLIENTS):
        grid.add_client(client, voltage_level="LV", meter_id=f"M{i}", zone_id="Z")
    return storage


def store(storage, readings: list[tuple[str, datetime, float]]) -> None:
    """Replace the stored readings with ``readings``, written as ingestion writes them: one statement a batch
    that keeps what is stored already, in two overlapping batches, the first one twice (a re-run)."""
    storage.prepare_days("meter_readings", {t.astimezone(UTC).date() for _, t, _ in readings})
    with storage.transaction("readings") as db:
        db.execute("DELETE FROM meter_readings")
    rows = [(c, to_db_time(t), v) for c, t, v in readings]
    middle = len(rows) // 2
    for batch in (rows[:middle + 5], rows[:middle + 5], rows[middle:]):
        if batch:
            with storage.transaction("readings") as db:
                marks = ", ".join("(?, ?, ?)" for _ in batch)
                db.execute(f"INSERT INTO meter_readings (client_id, timestamp, active_power) VALUES {marks} "
                           "ON CONFLICT (client_id, timestamp) DO NOTHING", [x for row in batch for x in row])


def sql(storage, granularity, tz, start, end, **who) -> list[tuple[datetime, float, int]]:
    """The aggregation by the database, from its rollup where it keeps one; on PostgreSQL also from the
    readings, which must give the same buckets."""
    results = []
    for rollup in sorted({False, storage.dialect.rollup}, reverse=True):
        with storage.transaction("aggregate") as db:
            rows = db.execute(*bucket_query(granularity, tz, start, end, rollup=rollup, **who)).fetchall()
        results.append([(bucket_start(r[0]), float(r[1]), int(r[2])) for r in rows])
    assert all(close(other, results[0]) for other in results[1:])
    return results[0]


def reference_zone(readings, granularity, tz, start, end, k) -> list[tuple[datetime, float, int]]:
    totals: dict[datetime, list[float]] = {}
    for client in CLIENTS:
        series = [(t, v) for c, t, v in readings if c == client]
        for bucket, value in aggregate(series, granularity, start=start, end=end, tz=tz):
            totals.setdefault(bucket, []).append(value)
    return sorted((b, math.fsum(v), len(v)) for b, v in totals.items() if len(v) >= k)


def close(actual, expected) -> bool:
    return [(b, n) for b, _, n in actual] == [(b, n) for b, _, n in expected] and all(
        a[1] == pytest.approx(e[1], rel=1e-9, abs=1e-9) for a, e in zip(actual, expected, strict=True))


@st.composite
def cases(draw):
    tz, day = draw(st.sampled_from(DAYS))
    origin = day.replace(tzinfo=tz).astimezone(UTC) - timedelta(hours=3)
    readings = []
    for client in CLIENTS:
        missing = draw(st.sets(st.integers(0, SPAN - 1), max_size=3))
        for q in range(SPAN):
            if q not in missing:
                readings.append((client, origin + QUARTER * q, draw(st.floats(-20, 20, allow_nan=False))))
    extra = draw(st.lists(st.tuples(st.sampled_from(CLIENTS), st.integers(0, SPAN * 900 - 1),
                                    st.floats(-20, 20, allow_nan=False)), max_size=5))
    unique = {(c, t): v for c, t, v in readings}
    for c, s, v in extra:
        unique.setdefault((c, origin + timedelta(seconds=s)), v)
    readings = [(c, t, v) for (c, t), v in unique.items()]
    first = draw(st.integers(0, 8 * 60)) * 60  # seconds after the origin
    length = draw(st.integers(1, SPAN * 15)) * 60
    start = origin + timedelta(seconds=first)
    return tz, readings, start, start + timedelta(seconds=length)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases(), granularity=st.sampled_from(list(Granularity)), k=st.integers(1, 3))
def test_sql_aggregation_agrees_with_the_reference(storage, case, granularity, k):
    tz, readings, start, end = case
    store(storage, readings)
    expected = reference_zone(readings, granularity, tz, start, end, k)
    assert close(sql(storage, granularity, tz, start, end, zone="Z", k=k), expected)
    single = [(b, v, 1) for b, v in aggregate([(t, v) for c, t, v in readings if c == "C1"], granularity,
                                              start=start, end=end, tz=tz)]
    assert close(sql(storage, granularity, tz, start, end, client="C1"), single)


def test_whole_local_days_including_a_25_hour_day(storage):
    lisbon = ZoneInfo("Europe/Lisbon")
    start = datetime(2021, 10, 30, tzinfo=lisbon).astimezone(UTC)
    readings = [(c, start + QUARTER * q, 1.0) for c in CLIENTS for q in range(96 + 100)]
    store(storage, readings)
    days = sql(storage, Granularity.DAILY, lisbon, start, start + timedelta(hours=49), zone="Z", k=3)
    assert days == [(start, 3.0, 3), (start + timedelta(hours=24), 3.0, 3)]
    hours = sql(storage, Granularity.HOURLY, lisbon, start, start + timedelta(hours=49), client="C2")
    assert len(hours) == 49


def test_offsets_find_each_change_to_the_second():
    lisbon = ZoneInfo("Europe/Lisbon")
    changes = offsets(lisbon, datetime(2021, 10, 31, tzinfo=UTC), datetime(2021, 11, 1, tzinfo=UTC))
    assert changes[1:] == [(int(datetime(2021, 10, 31, 1, tzinfo=UTC).timestamp()), 0)]
    assert offsets(UTC, datetime(2021, 1, 1, tzinfo=UTC), datetime(2022, 1, 1, tzinfo=UTC))[1:] == []


def test_one_of_client_and_zone():
    with pytest.raises(ValueError, match="exactly one"):
        bucket_query(Granularity.HOURLY, UTC, datetime(2021, 1, 1, tzinfo=UTC), datetime(2021, 1, 2, tzinfo=UTC))
