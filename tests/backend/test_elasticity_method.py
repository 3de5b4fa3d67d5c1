"""HLUC 11 PUC 2: the elasticity method (linear quantile regression per hour of consumption on the price
incentive) on synthetic data with a known answer."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dso_saref.backend.elasticity import Observation, estimate, intervention_levels
from dso_saref.backend.quantile import check_loss, empirical_quantile, quantile_line

DAY = datetime(2021, 4, 1, tzinfo=UTC)


def test_quantile_line_recovers_an_exact_line():
    line = quantile_line([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 5.0, 7.0, 9.0], 0.5)
    assert line.slope == pytest.approx(2.0, abs=1e-8) and line.intercept == pytest.approx(1.0, abs=1e-8)


def test_quantile_line_without_spread_in_x_is_the_empirical_quantile():
    line = quantile_line([0.1] * 5, [5.0, 1.0, 3.0, 2.0, 4.0], 0.2)
    assert (line.slope, line.intercept) == (0.0, 1.0)
    assert empirical_quantile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    with pytest.raises(ValueError):
        quantile_line([], [], 0.5)
    with pytest.raises(ValueError):
        empirical_quantile([1.0], 1.0)


points = st.lists(st.tuples(st.integers(-20, 20), st.integers(-20, 20)), min_size=2, max_size=9)


@settings(max_examples=120, deadline=None)
@given(points, st.sampled_from([0.1, 0.25, 0.5, 0.9]))
def test_quantile_line_reaches_the_optimum_of_the_check_loss(data, q):
    xs, ys = [float(x) for x, _ in data], [float(y) for _, y in data]
    line = quantile_line(xs, ys, q)
    found = check_loss([y - line(x) for x, y in zip(xs, ys, strict=True)], q)
    # the optimum of the linear program lies on a line through two points (or is flat when x has no spread)
    best = check_loss([y - empirical_quantile(ys, q) for y in ys], q)
    for (x1, y1), (x2, y2) in itertools.combinations(zip(xs, ys, strict=True), 2):
        if x1 != x2:
            slope = (y2 - y1) / (x2 - x1)
            best = min(best, check_loss([y - y1 - slope * (x - x1) for x, y in zip(xs, ys, strict=True)], q))
    assert found == pytest.approx(best, rel=1e-7, abs=1e-7)


def synthetic(hours, days=60, noise=0.0, seed=1):
    """Consumption at hour h = 1 + 0.1 h + slope_h * incentive (+ uniform noise in +/- noise)."""
    rng = random.Random(seed)
    out = []
    for d in range(days):
        for h, slope in hours.items():
            incentive = rng.uniform(0.05, 0.35)
            consumption = 1 + 0.1 * h + slope * incentive + (rng.uniform(-noise, noise) if noise else 0.0)
            out.append(Observation(DAY + timedelta(days=d, hours=h), consumption, incentive))
    return out


def test_elasticity_without_noise_is_exact():
    slopes = {7: -4.0, 12: -1.0, 19: -6.0}
    observations = synthetic(slopes)
    result = estimate("ID644", observations, tz=UTC, quantiles=(0.1, 0.9), levels=5)
    assert [h.hour for h in result.hours] == [7, 12, 19]
    incentives = [o.incentive for o in observations]
    assert result.levels == pytest.approx(intervention_levels(incentives, 5))
    assert result.levels[0] == min(incentives) and result.levels[-1] == max(incentives)
    for hour in result.hours:
        expected = lambda x, h=hour.hour: 1 + 0.1 * h + slopes[h] * x  # noqa: E731
        assert hour.default.power == pytest.approx(expected(result.default_incentive), abs=1e-7)
        assert hour.default.lower == pytest.approx(hour.default.upper, abs=1e-7)
        for level, band in zip(result.levels, hour.interventions, strict=True):
            assert band.power == pytest.approx(expected(level), abs=1e-7)
        assert hour.reliability == pytest.approx((100.0,) * 5)
    by_hour = {h.hour: h for h in result.hours}
    # the most elastic hour (19h, slope -6) ranks first at the strongest incentive
    assert by_hour[19].ranking[-1] == 100.0 and by_hour[12].ranking[-1] == pytest.approx(100 / 3)


def test_elasticity_band_and_reliability_with_known_noise():
    observations = synthetic({19: -5.0}, days=1500, noise=1.0, seed=3)
    [hour] = estimate("ID644", observations, tz=UTC, quantiles=(0.1, 0.9), levels=3).hours
    lower, median, upper = hour.lines
    assert median.slope == pytest.approx(-5.0, abs=0.5)
    # uniform noise on [-1, 1]: the 10 % and 90 % quantiles are the line -/+ 0.8
    assert lower.intercept - median.intercept == pytest.approx(-0.8, abs=0.1)
    assert upper.intercept - median.intercept == pytest.approx(0.8, abs=0.1)
    for reliability in hour.reliability:
        assert reliability == pytest.approx(80.0, abs=6.0)
    assert hour.default.lower < hour.default.power < hour.default.upper


def test_elasticity_groups_by_local_hour_and_needs_two_observations_per_hour():
    from zoneinfo import ZoneInfo

    observations = synthetic({7: -1.0}, days=5)
    lisbon = estimate("u", observations, tz=ZoneInfo("Europe/Lisbon"), quantiles=(0.1, 0.9), levels=2)
    assert [h.hour for h in lisbon.hours] == [8]  # April: UTC+1
    single = [*observations, Observation(DAY + timedelta(hours=3), 1.0, 0.1)]
    assert [h.hour for h in estimate("u", single, tz=UTC, quantiles=(0.1, 0.9), levels=2).hours] == [7]
    with pytest.raises(ValueError, match="no observations"):
        estimate("u", [], tz=UTC, quantiles=(0.1, 0.9))


def profile(observations, user="ID644", unit="kW"):
    from dso_saref.messages.elasticity import ElasticityInput

    return ElasticityInput.model_validate({"user_profile": [
        {"userID": user, "timestamp": o.timestamp, "customer_consumption": o.consumption,
         "customer_consumption_unit": unit, "signal_incentive_Class:Cost": o.incentive} for o in observations]})


def test_hluc11_puc2_elasticity_output_message_has_every_scenario():
    from dso_saref.backend.elasticity import elasticity_output
    from dso_saref.messages.elasticity import INTERVENTIONS, reliability_list_key

    slopes = {7: -4.0, 19: -6.0}
    output = elasticity_output(profile(synthetic(slopes, days=30)), tz=UTC, quantiles=(0.1, 0.9))
    assert output.userID == "ID644"
    assert [e.flexibility_hour for e in output.flexibility_response] == [7, 19]
    evening = output.flexibility_response[1]
    low, high = min(o.incentive for o in synthetic(slopes, days=30)), max(o.incentive for o in synthetic(slopes, 30))
    assert evening.y_Power_i1 == pytest.approx(1 + 1.9 - 6.0 * low, abs=1e-5)
    assert evening.y_Power_i24 == pytest.approx(1 + 1.9 - 6.0 * high, abs=1e-5)
    assert evening.y_PowerD_unit == "kW" and evening.y_lower_i24 <= evening.y_Power_i24 <= evening.y_upper_i24
    assert output.Ranking[1].rank_Flex_i24_Price == 100.0 and output.Ranking[0].rank_Flex_i24_Price == 50.0
    for intervention in INTERVENTIONS:
        entries = getattr(output, reliability_list_key(intervention))
        assert [e.Intervention_hour for e in entries] == [7, 19]
    payload = output.dump()
    assert payload["Reliability_i3_hours"][0]["i3_Signal_Power_reliability"] == 100.0


def test_hluc11_puc2_consumption_units_are_converted_to_kw():
    from dso_saref.backend.elasticity import elasticity_output

    observations = [Observation(o.timestamp, o.consumption * 1000, o.incentive) for o in synthetic({7: -4.0})]
    output = elasticity_output(profile(observations, unit="W"), tz=UTC, quantiles=(0.1, 0.9))
    reference = elasticity_output(profile(synthetic({7: -4.0})), tz=UTC, quantiles=(0.1, 0.9))
    assert output.flexibility_response[0].y_PowerD == pytest.approx(reference.flexibility_response[0].y_PowerD)


def test_hluc11_puc2_the_dso_runs_the_service_and_keeps_the_runs(backend, summary):
    from dso_saref.app.counterparts import ServiceProviderRole
    from dso_saref.app.seed import SP001
    from dso_saref.backend import Outcome, Refused

    message = profile(synthetic({7: -4.0, 8: -2.0}, days=20))
    output = backend.compute_elasticity(message)
    [(requester, method, _, stored)] = backend.elasticity.runs("ID644")
    assert (requester, stored) == ("DSO", output) and "quantile regression" in method
    mixed = profile([*synthetic({7: -1.0}, days=3), *[Observation(DAY, 1.0, 0.1)]])
    mixed.user_profile[-1].userID = "ID645"
    with pytest.raises(Refused, match="one user per elasticity request"):
        backend.compute_elasticity(mixed)
    with pytest.raises(Refused, match="at least two"):
        backend.compute_elasticity(profile(synthetic({7: -1.0}, days=1)))
    assert len(backend.registry.entries(operation="elasticity-input", outcome=Outcome.REFUSED)) == 2
    # or posted to a service provider, whose answer is kept
    out = backend.elasticity_request(message, "SP001")
    assert out.recipient == SP001 and out.reference == "ID644"
    answer = ServiceProviderRole("SP001", SP001).handlers()["elasticity-input"](out.message, _context())
    backend.record_elasticity_output(answer, responder=SP001)
    assert [run[0] for run in backend.elasticity.runs("ID644")] == ["DSO", "SP001"]
    assert backend.elasticity.runs("ID644")[1][3] == output


def _context():
    from dso_saref.backend import ExchangeContext

    return ExchangeContext("https://dso.example.org/kb", DAY)
