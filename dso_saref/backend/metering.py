"""Metering data (HLUC 5 PUC 1), anonymised zone data (PUC 2 SCN1) and flexibility data (PUC 2 SCN3).

**Values and aggregation.** A stored reading is the *average* power over the quarter-hour that starts at
its timestamp (spec 4.2 readings every 15 minutes). An end user's measurement is its net active power,
``active_power_withdrawn - active_power_injected`` in kW (negative when it exports; an MV client has
withdrawn power only). Hourly and daily values are the **average power over the hour or the day**: the
mean of the bucket's quarter-hours, so that value x duration is the bucket's energy, exactly the sum of
the quarter-hour energies (energy-consistent). Buckets are aligned to the hour and the day of
``BackendSettings.timezone`` (a daylight-saving day has 92 or 100 quarter-hours), each bucket is labelled
by its start, only buckets that lie entirely inside the requested window are reported, and a bucket with
a missing quarter-hour is left out rather than averaged over fewer quarters. The database does the
aggregation (:mod:`dso_saref.backend.aggregation`, over the ``net_active_power`` view of every client's
readings and bulk-loaded meter readings); :func:`aggregate` is the same computation in Python, the
reference the SQL is tested against.

**Anonymised data.** The value of a zone is the sum of its households' (LV clients') average powers. A
zone with fewer than ``k`` households is refused outright; a bucket is reported only if at least ``k``
households have complete data in it (the sum is over those households), so no interval ever reveals fewer
than ``k`` households. MV clients are not households and are left out.

**Flexibility data.** The DSO's needs of a zone whose window starts between the start date (00:00) and
the end date (24:00, inclusive) in the DSO's time zone, historical or forecast alike; needs starting at
the same time in the same direction and power type are summed (in the unit of the first).

Who may have which data is the access policy's to say (:mod:`dso_saref.backend.policy`: a live consent
under a token, at least k households); every access is written to the registry of operations and every
refusal is registered and logged by the policy before it is raised.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from dso_saref.backend.aggregation import QUARTER, bucket_bounds, bucket_query, bucket_start, floor_quarter, midnight
from dso_saref.backend.errors import NotFound
from dso_saref.backend.parties import Parties
from dso_saref.backend.policy import AccessPolicy
from dso_saref.backend.registry import OperationsRegistry, Outcome
from dso_saref.backend.settings import POWER_UNITS, BackendSettings
from dso_saref.backend.storage import Storage, Transaction, from_db_time, to_db_time
from dso_saref.messages.data_sharing import (
    DataType,
    FlexibilityData,
    FlexibilityDataRequest,
    Granularity,
    MeteringData,
    MeteringReading,
    MeteringRequest,
    MeteringSeries,
)

__all__ = ["QUARTER", "MeteringService", "aggregate", "bucket_bounds", "to_base_unit"]

def to_base_unit(quantity: float, unit: str) -> tuple[float, str]:
    """``quantity`` in ``unit`` expressed in kW (active) or kVAr (reactive)."""
    base, factor = POWER_UNITS[unit]
    return quantity * factor, base


def aggregate(series: Iterable[tuple[datetime, float]], granularity: Granularity, *, start: datetime,
              end: datetime, tz: tzinfo = UTC) -> list[tuple[datetime, float]]:
    """Average power per bucket of ``granularity`` for quarter-hour average powers ``(time, kW)``.

    Only complete buckets (every quarter-hour present) lying inside ``[start, end)`` are returned, in
    time order; several values in one quarter-hour are averaged first.
    """
    quarters: dict[datetime, list[float]] = {}
    for ts, value in series:
        if start <= ts < end:
            quarters.setdefault(floor_quarter(ts), []).append(value)
    buckets: dict[tuple[datetime, datetime], list[float]] = {}
    for quarter, values in quarters.items():
        buckets.setdefault(bucket_bounds(quarter, granularity, tz), []).append(math.fsum(values) / len(values))
    out = []
    for (b_start, b_end), values in buckets.items():
        expected = (b_end - b_start) // QUARTER
        if b_start >= start and b_end <= end and len(values) == expected:
            out.append((b_start, math.fsum(values) / expected))
    out.sort()
    return out


class MeteringService:
    """Answers metering, anonymised and flexibility data requests from one :class:`Storage`, under the
    access policy (:mod:`dso_saref.backend.policy`)."""

    def __init__(self, storage: Storage, parties: Parties, policy: AccessPolicy, registry: OperationsRegistry,
                 settings: BackendSettings) -> None:
        self._storage = storage
        self._parties = parties
        self._policy = policy
        self._registry = registry
        self._settings = settings

    def metering(self, request: MeteringRequest, *, requester: str, now: datetime) -> MeteringData:
        """The metering data a request asks for; raises :class:`Refused` (already registered)."""
        if request.data_type is DataType.USER:
            return self.user_metering(request, requester=requester, now=now)
        return self.zone_metering(request, requester=requester, now=now)

    # -- PUC 1: an end user's data, under a token ---------------------------------------------------------

    def user_metering(self, request: MeteringRequest, *, requester: str, now: datetime) -> MeteringData:
        """An end user's net active power at the requested granularity, for the provider holding a valid
        token; raises :class:`Refused` (registered) otherwise.

        The token is checked, the data read and the access logged in one transaction holding the consent
        against revocation (see :mod:`dso_saref.backend.consent`)."""

        def serve(db: Transaction) -> list[tuple[datetime, float]]:
            consent = self._policy.user_data(db, request, requester, now)
            user = self._parties.end_user(request.id)
            if user is None:  # a consent exists only for a known end user
                raise NotFound(f"unknown end user {request.id!r}")
            values = self._buckets(db, request, client=user.client_id)
            self._registry.write(db, at=now, actor=consent.service_provider, operation="metering-request",
                                 subject=request.id, token=consent.token, outcome=Outcome.SERVED,
                                 reason=f"{len(values)} values at granularity {request.granularity.value} "
                                        f"from {to_db_time(request.start)} to {to_db_time(request.end)}")
            return values

        return MeteringData([_series(request.id, self._policy.decide("metering-request", serve))])

    # -- PUC 2 SCN1: a zone's anonymised data -----------------------------------------------------------

    def zone_metering(self, request: MeteringRequest, *, requester: str, now: datetime) -> MeteringData:
        """The summed net active power of a zone's households, bucket by bucket, each bucket aggregating
        at least ``k`` households; raises :class:`Refused` (registered) for an unknown or too small zone."""
        k = self._settings.k_anonymity
        households = self._policy.zone(request.id, requester, now)
        with self._storage.transaction("metering-request") as db:
            values = self._buckets(db, request, zone=request.id, k=k)
            self._registry.write(db, at=now, actor=self._actor(requester), operation="metering-request",
                                 subject=request.id, outcome=Outcome.SERVED, reason=f"anonymised: {len(values)} "
                                 f"values over {households} households (k = {k})")
        return MeteringData([_series(request.id, values)])

    def _buckets(self, db: Transaction, request: MeteringRequest, **who: Any) -> list[tuple[datetime, float]]:
        """The complete buckets of the request, aggregated by the database (:mod:`~dso_saref.backend.aggregation`)."""
        statement, params = bucket_query(request.granularity, self._settings.timezone, request.start, request.end,
                                         rollup=self._storage.dialect.rollup, **who)
        return [(bucket_start(r[0]), float(r[1])) for r in db.execute(statement, params).fetchall()]

    # -- PUC 2 SCN3: flexibility data of a zone -----------------------------------------------------------

    def flexibility_data(self, request: FlexibilityDataRequest, *, requester: str, now: datetime) -> FlexibilityData:
        """The zone's flexibility needs starting within the dates of the request (see the module doc)."""
        tz = self._settings.timezone
        start = midnight(request.start, tz)
        end = midnight(request.end + timedelta(days=1), tz)
        needs = "FROM flexibility_needs n WHERE n.zone_id = ? AND n.start >= ? AND n.start < ?"
        params = (request.zone_id, to_db_time(start), to_db_time(end))
        rows = self._storage.query(f"SELECT n.* {needs} ORDER BY n.start, n.request_id", params)
        eligible: dict[str, set[str]] = {}
        for m in self._storage.query("SELECT m.request_id, m.meter_id FROM need_eligible_meters m WHERE m.request_id "
                                     f"IN (SELECT n.request_id {needs})", params):
            eligible.setdefault(m["request_id"], set()).add(m["meter_id"])
        merged: dict[tuple[str, str, str], list] = {}
        for r in rows:
            key = (r["start"], r["direction"], r["power_type"])
            meters = set(eligible.get(r["request_id"], ()))
            if key not in merged:
                merged[key] = [r["quantity"], r["unit"], meters]
                continue
            entry = merged[key]  # same power type, so same base unit (kW or kVAr)
            entry[0] += to_base_unit(r["quantity"], r["unit"])[0] / to_base_unit(1.0, entry[1])[0]
            entry[2] |= meters
        keys = sorted(merged)
        self._registry.log(at=now, actor=self._actor(requester), operation="flexibility-data-request",
                           subject=request.zone_id, outcome=Outcome.SERVED, reason=f"{len(keys)} needs")
        return FlexibilityData(zone_id=request.zone_id, dates=[from_db_time(k[0]) for k in keys],
                               needs=[merged[k][0] for k in keys], units=[merged[k][1] for k in keys],
                               directions=[k[1] for k in keys], power_types=[k[2] for k in keys],
                               eligible_clients=[sorted(merged[k][2]) for k in keys])

    # -- helpers ----------------------------------------------------------------------------------------

    def _actor(self, requester: str) -> str:
        provider = self._parties.provider_for(requester)
        return provider.id if provider is not None else requester


def _series(identifier: str, values: Sequence[tuple[datetime, float]]) -> MeteringSeries:
    return MeteringSeries(id=identifier, readings=[MeteringReading(time=t, measurement=v, unit="kW")
                                                   for t, v in values])
