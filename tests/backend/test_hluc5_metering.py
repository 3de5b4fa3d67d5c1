"""HLUC 5: metering aggregation (15 min, hourly, daily), anonymised zone data (k households) and
flexibility data per zone."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dso_saref.app.seed import THIRD_PARTY, example_needs, seed
from dso_saref.backend import BackendSettings, DsoBackend, ExchangeContext, Outcome, Refused
from dso_saref.backend.metering import QUARTER, aggregate
from dso_saref.messages.data_sharing import FlexibilityDataRequest, Granularity, MeteringRequest

DAY = datetime(2021, 9, 27, tzinfo=UTC)


def quarters(values, start=DAY):
    return [(start + QUARTER * i, v) for i, v in enumerate(values)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=-50, max_value=50, allow_nan=False), min_size=96, max_size=96))
def test_hluc5_aggregation_is_energy_consistent(values):
    series = quarters(values)
    hourly = aggregate(series, Granularity.HOURLY, start=DAY, end=DAY + timedelta(days=1))
    daily = aggregate(series, Granularity.DAILY, start=DAY, end=DAY + timedelta(days=1))
    assert [t for t, _ in hourly] == [DAY + timedelta(hours=h) for h in range(24)]
    energy = math.fsum(v * 0.25 for v in values)  # kWh of the day from the quarter-hours
    assert math.fsum(v * 1.0 for _, v in hourly) == pytest.approx(energy, abs=1e-9)
    assert daily[0][1] * 24 == pytest.approx(energy, abs=1e-9)
    for h, (_, value) in enumerate(hourly):
        assert value == pytest.approx(math.fsum(values[4 * h:4 * h + 4]) / 4)


def test_hluc5_quarter_hour_values_are_kept_and_incomplete_buckets_left_out():
    values = [float(i) for i in range(8)]
    series = quarters(values)
    del series[5]  # 01:15 missing
    quarter = aggregate(series, Granularity.QUARTER_HOURLY, start=DAY, end=DAY + timedelta(hours=2))
    assert [v for _, v in quarter] == [0, 1, 2, 3, 4, 6, 7]
    hourly = aggregate(series, Granularity.HOURLY, start=DAY, end=DAY + timedelta(hours=2))
    assert hourly == [(DAY, 1.5)]


def test_hluc5_only_buckets_inside_the_window_are_reported():
    series = quarters([1.0] * 12)
    hourly = aggregate(series, Granularity.HOURLY, start=DAY + timedelta(minutes=30), end=DAY + timedelta(hours=3))
    assert [t for t, _ in hourly] == [DAY + timedelta(hours=1), DAY + timedelta(hours=2)]


def test_hluc5_daily_buckets_follow_the_local_day_including_daylight_saving():
    lisbon = ZoneInfo("Europe/Lisbon")
    start = datetime(2021, 10, 31, tzinfo=lisbon).astimezone(UTC)  # 25-hour day: 100 quarter-hours
    series = quarters([2.0] * 100, start=start)
    daily = aggregate(series, Granularity.DAILY, start=start, end=start + timedelta(hours=25), tz=lisbon)
    assert daily == [(start, 2.0)]
    assert aggregate(series[:96], Granularity.DAILY, start=start, end=start + timedelta(hours=25), tz=lisbon) == []
    hourly = aggregate(series, Granularity.HOURLY, start=start, end=start + timedelta(hours=25), tz=lisbon)
    assert len(hourly) == 25


def zone_request(zone, granularity=2, hours=24):
    return MeteringRequest(data_type="Anonymized", id=zone, granularity=granularity, start=DAY,
                           end=DAY + timedelta(hours=hours))


def test_hluc5_puc2_scn1_anonymised_zone_data_sums_the_households(backend, summary, clock):
    context = ExchangeContext(THIRD_PARTY, clock())
    [series] = backend.handlers()["metering-request"](zone_request("Z-SS01"), context).root
    assert series.id == "Z-SS01" and len(series.readings) == 24
    households = summary.households["Z-SS01"]
    raw = backend.grid.readings("lv-client-reading", start=DAY, end=DAY + timedelta(hours=1))
    expected = math.fsum(r.active_power_withdrawn - r.active_power_injected for r in raw if r.id in households) / 4
    assert series.readings[0].measurement == pytest.approx(expected)
    [served] = backend.registry.entries(subject="Z-SS01", outcome=Outcome.SERVED)
    assert served.actor == "TP001" and "k = 5" in served.reason


def test_hluc5_puc2_scn1_zone_below_k_households_is_refused_and_logged(backend, summary, clock):
    context = ExchangeContext(THIRD_PARTY, clock())
    with pytest.raises(Refused) as small:
        backend.handlers()["metering-request"](zone_request("Z-SS02"), context)
    with pytest.raises(Refused) as unknown:
        backend.handlers()["metering-request"](zone_request("Z-NOWHERE"), context)
    # the same answer for both, and no household count in it (issue 15 item 9)
    assert small.value.reason == unknown.value.reason.replace("Z-NOWHERE", "Z-SS02")
    assert "fewer than the 5 households" in small.value.reason and "4" not in small.value.reason
    refusals = backend.registry.entries(operation="metering-request", outcome=Outcome.REFUSED)
    assert [r.subject for r in refusals] == ["Z-SS02", "Z-NOWHERE"]
    assert refusals[0].reason == "4 households, fewer than k = 5"  # the DSO's own record keeps the count


def test_hluc5_puc2_scn1_k_is_configurable(clock, database):
    backend = DsoBackend(database.open(), settings=BackendSettings(k_anonymity=3), clock=clock)
    seed(backend)
    [series] = backend.handlers()["metering-request"](zone_request("Z-SS02"), ExchangeContext(THIRD_PARTY,
                                                                                                   clock())).root
    assert len(series.readings) == 24


def test_hluc5_puc2_scn1_an_interval_with_fewer_than_k_complete_households_is_left_out(backend, summary, clock):
    # remove 6 of the 10 households' readings for 10:00-10:15: only 4 households remain in the 10:00 hour
    with backend.storage.transaction("test") as db:
        db.execute("DELETE FROM lv_client_readings WHERE timestamp = ? AND id IN "
                   "('LV0001','LV0002','LV0003','LV0004','LV0005','LV0006')", ("2021-09-27T10:00:00.000000Z",))
    [series] = backend.handlers()["metering-request"](zone_request("Z-SS01"), ExchangeContext(THIRD_PARTY,
                                                                                                   clock())).root
    times = [r.time for r in series.readings]
    assert DAY + timedelta(hours=10) not in times and len(times) == 23


def test_hluc5_user_metering_daily_is_the_average_power_of_the_day(backend, summary, sp1):
    from tests.backend.test_hluc5_puc1_consent import authorize, meter

    response, _ = authorize(backend, summary, sp1(), hours=(0, 24))
    data = meter(backend, sp1(), "U0001", response.authorization_token, DAY, DAY + timedelta(days=1), 3)
    raw = backend.grid.readings("lv-client-reading", id="LV0001")
    assert data.root[0].readings[0].measurement == pytest.approx(
        math.fsum(r.active_power_withdrawn - r.active_power_injected for r in raw) / 96)


def test_hluc5_puc2_scn3_flexibility_data_of_a_zone(backend, summary, clock):
    backend.publish_needs(example_needs(summary))
    request = FlexibilityDataRequest(zone_id="Z-SS01", start=date(2021, 9, 27), end=date(2021, 9, 28))
    data = backend.handlers()["flexibility-data-request"](request, ExchangeContext(THIRD_PARTY, clock()))
    assert data.zone_id == "Z-SS01"
    assert data.dates == [DAY + timedelta(hours=11), DAY + timedelta(hours=18)]
    assert data.needs == [3.0, 4.0] and data.directions == ["Down", "Up"] and data.units == ["kW", "kW"]
    assert data.eligible_clients[0] == ["M0003", "M0007"]
    outside = FlexibilityDataRequest(zone_id="Z-SS01", start=date(2021, 9, 28), end=date(2021, 9, 30))
    assert backend.handlers()["flexibility-data-request"](outside, ExchangeContext(THIRD_PARTY, clock())).dates == []
    assert backend.registry.entries(operation="flexibility-data-request", outcome=Outcome.SERVED)
