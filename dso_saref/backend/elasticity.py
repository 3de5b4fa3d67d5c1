"""Quantification of a consumer's load elasticity (HLUC 11 PUC 2, spec 3.2.3.3): ``elasticity-input`` ->
``elasticity-output``.

**Method.** For one user, the observations (time, consumption in kW, price incentive
``signal_incentive_Class:Cost`` in EUR/kWh) are grouped by hour of the day (in
``BackendSettings.timezone``). For each hour ``h`` three linear quantile regressions of consumption on
the incentive are fitted (:func:`dso_saref.backend.quantile.quantile_line`, exact up to 1e-10): the
median and the lower and upper quantiles of ``BackendSettings.elasticity_quantiles`` (10 % and 90 %
by default). They give, at any incentive ``x``, a central consumption and a band; the three values
are sorted, so the band never crosses (rearrangement).

- ``D`` (the default, no intervention) is evaluated at the **median incentive** of all observations.
- The interventions ``i1 .. iK`` are incentive **levels** evenly spaced from the lowest to the highest
  incentive observed (``K`` = 24 by default, as printed by the specification), so that no level
  extrapolates beyond the data.
- ``y_Power_ik`` / ``y_lower_ik`` / ``y_upper_ik`` of hour ``h`` are the median and band at level ``k``;
  ``y_PowerD`` / ``y_lowerD`` / ``y_upperD`` the same at ``D``.
- ``rank_Flex_ik_Price`` of hour ``h`` is the percentile rank (0-100 %) of the hour's flexibility
  ``|y_PowerD - y_Power_ik|`` among all hours, at level ``k``: 100 % is the hour where the incentive
  moves consumption most.
- ``ik_Signal_Power_reliability`` of hour ``h`` is the coverage (%) of the predicted band: the share of
  that hour's observations whose incentive is nearest to level ``k`` and whose consumption falls inside
  ``[y_lower, y_upper]`` at their own incentive; when no observation is nearest to level ``k``, the
  coverage over all of the hour's observations. With well-specified quantiles it approaches the band's
  nominal coverage (80 % by default).

The other signals of the input (CO2, renewable share, maximum power, temperatures, occupancy) are kept
with the run but not used: the method is one-dimensional on purpose (no numerical library is needed and
the result is explainable). An hour with fewer than two observations is left out.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from dso_saref.backend.quantile import QuantileLine, quantile_line

__all__ = ["Band", "ElasticityEstimate", "HourResponse", "Observation", "estimate", "intervention_levels"]


@dataclass(frozen=True)
class Observation:
    """One input row as the method uses it: when, consumption (kW), price incentive (EUR/kWh)."""

    timestamp: datetime
    consumption: float
    incentive: float


@dataclass(frozen=True)
class Band:
    """Central consumption (kW) and its lower and upper quantiles at one incentive."""

    power: float
    lower: float
    upper: float

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies inside ``[lower, upper]`` (with a relative tolerance of 1e-9)."""
        slack = 1e-9 * max(1.0, abs(self.lower), abs(self.upper))
        return self.lower - slack <= value <= self.upper + slack


@dataclass(frozen=True)
class HourResponse:
    """The fitted response of one hour of the day."""

    hour: int
    observations: int
    lines: tuple[QuantileLine, QuantileLine, QuantileLine]
    default: Band
    interventions: tuple[Band, ...]
    ranking: tuple[float, ...]
    reliability: tuple[float, ...]

    def band(self, incentive: float) -> Band:
        """The (rearranged) band at ``incentive``."""
        low, mid, high = sorted(line(incentive) for line in self.lines)
        return Band(mid, low, high)


@dataclass(frozen=True)
class ElasticityEstimate:
    """The result for one user: the default incentive, the intervention levels and each hour's response."""

    user_id: str
    default_incentive: float
    levels: tuple[float, ...]
    hours: tuple[HourResponse, ...]


def intervention_levels(incentives: Sequence[float], count: int) -> tuple[float, ...]:
    """``count`` incentive levels evenly spaced from the lowest to the highest of ``incentives``."""
    low, high = min(incentives), max(incentives)
    if count == 1:
        return (high,)
    return tuple(low + (high - low) * k / (count - 1) for k in range(count))


def estimate(user_id: str, observations: Sequence[Observation], *, tz: tzinfo, quantiles: tuple[float, float],
             levels: int = 24) -> ElasticityEstimate:
    """Fit the method of the module doc. Raises :class:`ValueError` with no observations."""
    if not observations:
        raise ValueError("no observations to estimate elasticity from")
    incentives = [o.incentive for o in observations]
    default = statistics.median(incentives)
    grid = intervention_levels(incentives, levels)
    by_hour: dict[int, list[Observation]] = {}
    for o in observations:
        by_hour.setdefault(o.timestamp.astimezone(tz).hour, []).append(o)
    fitted = []
    for hour in sorted(by_hour):
        rows = by_hour[hour]
        if len(rows) < 2:
            continue
        xs, ys = [o.incentive for o in rows], [o.consumption for o in rows]
        lines = (quantile_line(xs, ys, quantiles[0]), quantile_line(xs, ys, 0.5), quantile_line(xs, ys, quantiles[1]))
        fitted.append((hour, rows, lines))
    flex = [[abs(_band(lines, default).power - _band(lines, x).power) for x in grid] for _, _, lines in fitted]
    hours = []
    for i, (hour, rows, lines) in enumerate(fitted):
        ranking = tuple(_percentile_rank([f[k] for f in flex], flex[i][k]) for k in range(len(grid)))
        reliability = tuple(_coverage(rows, lines, grid, k) for k in range(len(grid)))
        hours.append(HourResponse(hour, len(rows), lines, _band(lines, default),
                                  tuple(_band(lines, x) for x in grid), ranking, reliability))
    return ElasticityEstimate(user_id, default, grid, tuple(hours))


def _band(lines: tuple[QuantileLine, ...], x: float) -> Band:
    low, mid, high = sorted(line(x) for line in lines)
    return Band(mid, low, high)


def _percentile_rank(values: Sequence[float], value: float) -> float:
    """Share (%) of ``values`` at or below ``value`` (ties within 1e-12 count as equal)."""
    return 100.0 * sum(1 for v in values if v <= value + 1e-12) / len(values)


def _coverage(rows: Sequence[Observation], lines: tuple[QuantileLine, ...], grid: Sequence[float], k: int) -> float:
    nearest = [o for o in rows if min(range(len(grid)), key=lambda j: (abs(grid[j] - o.incentive), j)) == k]
    sample = nearest or list(rows)
    inside = sum(1 for o in sample if _band(lines, o.incentive).covers(o.consumption))
    return 100.0 * inside / len(sample)
