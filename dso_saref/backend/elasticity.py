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

**Who runs it.** In the catalog the DSO posts ``elasticity-input`` and a service provider answers with
``elasticity-output``: :func:`elasticity_output` is that answer (used by the reference provider of
:mod:`dso_saref.app.counterparts`); spec 3.2.3.3 also lets the requester run the service itself, which
:meth:`ElasticityService.compute` does, keeping every run in ``elasticity_runs``. The input must be of
one user (the output names one ``userID``); readings without the cost signal are left out;
consumption is converted to kW.

The other signals of the input (CO2, renewable share, maximum power, temperatures, occupancy) are kept
with the run but not used: the method is one-dimensional on purpose (no numerical library is needed and
the result is explainable). An hour with fewer than two observations is left out.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from dso_saref.backend.policy import AccessPolicy, Code
from dso_saref.backend.quantile import QuantileLine, quantile_line
from dso_saref.backend.registry import OperationsRegistry, Outcome
from dso_saref.backend.settings import BackendSettings
from dso_saref.backend.storage import Storage, from_db_time, to_db_time
from dso_saref.exchange import Outgoing
from dso_saref.messages.elasticity import (
    INTERVENTIONS,
    ElasticityInput,
    ElasticityOutput,
    flexibility_key,
    ranking_key,
    reliability_key,
    reliability_list_key,
)

__all__ = [
    "METHOD",
    "Band",
    "ElasticityEstimate",
    "ElasticityService",
    "HourResponse",
    "Observation",
    "elasticity_output",
    "estimate",
    "intervention_levels",
    "observations_of",
]

#: How the reference method is named in the records of runs.
METHOD = "per-hour linear quantile regression of consumption on the cost incentive"
DSO = "DSO"


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


# ---------------------------------------------------------------------------------------------------
# The messages: elasticity-input -> elasticity-output, and the DSO's record of runs


def observations_of(message: ElasticityInput) -> tuple[str, list[Observation]]:
    """The single user of an input and its observations (consumption in kW, readings without a cost
    signal left out). Raises :class:`ValueError` for several users or no usable reading."""
    users = sorted({r.userID for r in message.user_profile})
    if len(users) != 1:
        raise ValueError(f"one user per elasticity request, got {len(users)}: {', '.join(users[:5])}")
    rows = [Observation(r.timestamp, r.customer_consumption * _KW[r.customer_consumption_unit or "kW"], r.cost)
            for r in message.user_profile if r.cost is not None]
    if not rows:
        raise ValueError("no reading carries the cost incentive (signal_incentive_Class:Cost)")
    return users[0], rows


def elasticity_output(message: ElasticityInput, *, tz: tzinfo, quantiles: tuple[float, float]) -> ElasticityOutput:
    """The ``elasticity-output`` of an ``elasticity-input`` by the method of the module doc, one
    scenario per intervention of the catalog (``i1`` ... ``i24``). Raises :class:`ValueError` when the
    input has several users, no cost signal, or fewer than two readings in every hour."""
    user, rows = observations_of(message)
    result = estimate(user, rows, tz=tz, quantiles=quantiles, levels=len(INTERVENTIONS))
    if not result.hours:
        raise ValueError("not enough readings: the method needs at least two in some hour of the day")
    flexibility, ranking = [], []
    reliability: dict[str, list[dict[str, float]]] = {reliability_list_key(i): [] for i in INTERVENTIONS}
    for hour in result.hours:
        values: dict[str, float] = {"flexibility_hour": hour.hour}
        for series, band in (("D", hour.default), *zip(INTERVENTIONS, hour.interventions, strict=True)):
            values[flexibility_key("Power", series)] = _round(band.power)
            values[flexibility_key("lower", series)] = _round(band.lower)
            values[flexibility_key("upper", series)] = _round(band.upper)
        flexibility.append(values)
        ranking.append({"Ranking_hour": hour.hour, **{ranking_key(i): _round(r) for i, r in
                                                      zip(INTERVENTIONS, hour.ranking, strict=True)}})
        for intervention, value in zip(INTERVENTIONS, hour.reliability, strict=True):
            reliability[reliability_list_key(intervention)].append(
                {"Intervention_hour": hour.hour, reliability_key(intervention): _round(value)})
    return ElasticityOutput.model_validate({"userID": user, "flexibility_response": flexibility,
                                           "Ranking": ranking, **reliability})


def _round(value: float) -> float:
    return round(value, 6)


_KW = {"kW": 1.0, "MW": 1000.0, "W": 0.001}


class ElasticityService:
    """The DSO's use of the elasticity service: computing it internally (spec 3.2.3.3 lets the requester
    run it itself), or sending the input to a service provider and recording its output; every run is
    kept in ``elasticity_runs``."""

    def __init__(self, storage: Storage, policy: AccessPolicy, registry: OperationsRegistry,
                 settings: BackendSettings) -> None:
        self._storage = storage
        self._policy = policy
        self._registry = registry
        self._settings = settings

    def compute(self, message: ElasticityInput, *, now: datetime, requester: str = DSO) -> ElasticityOutput:
        """Compute and record the output of ``message``; raises :class:`Refused` (logged) when the
        method cannot run on it."""
        try:
            output = elasticity_output(message, tz=self._settings.timezone,
                                       quantiles=self._settings.elasticity_quantiles)
        except ValueError as exc:
            raise self._policy.refuse("elasticity-input", requester, now, code=Code.INVALID, reason=str(exc),
                                      subject=",".join(sorted({r.userID for r in message.user_profile}))) from exc
        self._store(output, requester, len(message.user_profile), METHOD, now)
        return output

    def request(self, message: ElasticityInput, *, provider_id: str, now: datetime) -> Outgoing[ElasticityInput]:
        """Send an input to a service provider's elasticity service; the reference is the user id. Raises
        :class:`~dso_saref.backend.errors.Refused` (registered) for a provider that does not serve the
        profile's end user (see :mod:`dso_saref.backend.policy`)."""
        users = sorted({r.userID for r in message.user_profile})
        provider = self._policy.recipient("elasticity-input", provider_id, now, end_users=users)
        self._registry.log(at=now, actor=DSO, operation="elasticity-input", outcome=Outcome.SENT,
                           subject=provider.id, reason=f"{len(message.user_profile)} readings")
        return Outgoing(message, recipient=provider.knowledge_base_id, reference=",".join(users))

    def record_output(self, output: ElasticityOutput, *, provider_id: str, now: datetime) -> None:
        """Keep a service provider's elasticity output."""
        self._store(output, provider_id, 0, f"computed by {provider_id}", now)

    def runs(self, user_id: str | None = None) -> list[tuple[str, str, datetime, ElasticityOutput]]:
        """``(requester, method, received_at, output)`` of every run (of one user), oldest first."""
        where, params = ("WHERE user_id = ?", (user_id,)) if user_id else ("", ())
        rows = self._storage.query(f"SELECT * FROM elasticity_runs {where} ORDER BY id", params)
        return [(r["requester"], r["method"], from_db_time(r["received_at"]),
                 ElasticityOutput.model_validate(json.loads(r["output"]))) for r in rows]

    def _store(self, output: ElasticityOutput, requester: str, observations: int, method: str,
               now: datetime) -> None:
        with self._storage.transaction("elasticity-output") as db:
            db.execute("INSERT INTO elasticity_runs (requester, user_id, received_at, observations, method, output) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (requester, output.userID, to_db_time(now), observations, method,
                                                     json.dumps(output.dump(), ensure_ascii=False)))
            self._registry.write(db, at=now, actor=requester, operation="elasticity-output", subject=output.userID,
                                 outcome=Outcome.RECORDED, reason=method)
