"""Metering aggregation in SQL: a client's or a zone's net active power per quarter-hour, hour or day,
computed by the database (sqlite or PostgreSQL) from the ``net_active_power`` view, or on PostgreSQL from
its quarter-hour rollup ``meter_quarters`` (the same readings summed and counted per client and UTC
quarter-hour, kept by the database on every write: ``rollup=True``, one grouping of 100k rows less for a
zone-day). Both give the same results, the reference's.

The semantics are those of :func:`dso_saref.backend.metering.aggregate` (the reference, in Python, that
the tests hold this SQL to): readings are averaged per UTC quarter-hour, quarter-hours are averaged per
bucket, a bucket counts only when every one of its quarter-hours is there and it lies inside the window;
hours and days are those of the DSO's time zone, daylight saving included. A zone's value is the sum
over the households complete in the bucket, reported only when at least ``k`` of them are.

The time zone enters the SQL as its UTC offsets over the window (:func:`offsets`): a piecewise constant
function of the instant, written as a ``CASE`` with one branch per change (none for UTC), its limits and
offsets passed as parameters. Everything else is integer arithmetic on epoch seconds
(``unixepoch``), the same text for both databases. Only the readings of the buckets that lie inside the
window are read (the first and last such bucket are found in Python, :func:`bucket_bounds`)::

    rows = db.execute(*bucket_query(Granularity.HOURLY, Lisbon, start, end, zone="Z-SS01", k=5)).fetchall()
    # [(bucket start epoch, summed average kW, households), ...]
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from dso_saref.backend.storage import to_db_time
from dso_saref.messages.data_sharing import Granularity

__all__ = ["QUARTER", "Offsets", "bucket_bounds", "bucket_query", "bucket_start", "floor_quarter", "midnight",
           "offsets"]

_QUARTER = 900
_HOUR = 3600
_DAY = 86400

Offsets = list[tuple[int, int]]
"""``[(from, offset), ...]``: from the UTC epoch ``from`` on (the first from is ignored), the zone is
``offset`` seconds ahead of UTC."""


QUARTER = timedelta(minutes=15)
"""A quarter-hour, the period of a reading."""


def floor_quarter(ts: datetime) -> datetime:
    """The start (UTC) of the quarter-hour holding ``ts``."""
    ts = ts.astimezone(UTC)
    return ts.replace(minute=ts.minute - ts.minute % 15, second=0, microsecond=0)


def bucket_bounds(ts: datetime, granularity: Granularity, tz: tzinfo) -> tuple[datetime, datetime]:
    """The bucket ``[start, end)`` (UTC) holding the instant ``ts``: its quarter-hour, or its hour or day
    in the time zone ``tz``."""
    if granularity is Granularity.QUARTER_HOURLY:
        start = floor_quarter(ts)
        return start, start + QUARTER
    local = ts.astimezone(tz)
    if granularity is Granularity.HOURLY:
        start = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        return start, start + timedelta(hours=1)
    day = local.date()
    return midnight(day, tz), midnight(day + timedelta(days=1), tz)


def midnight(day: date, tz: tzinfo) -> datetime:
    """The instant (UTC) the day ``day`` of ``tz`` begins."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _offset(tz: tzinfo, epoch: int) -> int:
    offset = datetime.fromtimestamp(epoch, UTC).astimezone(tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def offsets(tz: tzinfo, start: datetime, end: datetime) -> Offsets:
    """The UTC offsets of ``tz`` over ``[start - 2 days, end + 2 days]`` and the instants they change at
    (found hour by hour, then to the second)."""
    low = int(start.timestamp()) - 2 * _DAY
    high = int(end.timestamp()) + 2 * _DAY
    out = [(low, _offset(tz, low))]
    for t in range(low + _HOUR, high + _HOUR, _HOUR):
        current = _offset(tz, t)
        if current == out[-1][1]:
            continue
        before, after = t - _HOUR, t  # the change lies in (before, after]
        while after - before > 1:
            middle = (before + after) // 2
            if _offset(tz, middle) == current:
                after = middle
            else:
                before = middle
        out.append((after, current))
    return out


def _case(expression: str, limits: Sequence[tuple[int, int]], params: list[Any]) -> str:
    """SQL for the offset at ``expression``: the last ``(from, offset)`` of ``limits`` with ``from <=`` it."""
    if len(limits) == 1:
        params.append(limits[0][1])
        return "?"
    branches = []
    for (_, offset), (limit, _) in itertools.pairwise(limits):
        branches.append(f"WHEN {expression} < ? THEN ?")
        params += [limit, offset]
    params.append(limits[-1][1])
    return f"(CASE {' '.join(branches)} ELSE ? END)"


def _local_limits(zone: Offsets) -> Offsets:
    """The offsets as a function of *local* epoch seconds, a wall-clock time in a gap or an overlap taking
    the offset from before the change (as :class:`zoneinfo.ZoneInfo` does for ``fold=0``)."""
    out = [zone[0]]
    for (_, before), (instant, after) in itertools.pairwise(zone):
        out.append((instant + max(before, after), after))
    return out


def bucket_query(granularity: Granularity, tz: tzinfo, start: datetime, end: datetime, *,
                 client: str | None = None, zone: str | None = None, k: int = 1,
                 rollup: bool = False) -> tuple[str, list[Any]]:
    """The statement and parameters giving, for one client (``client``) or the households of a zone
    (``zone``; LV clients), each complete bucket of ``[start, end)``: ``(bucket start as UTC epoch
    seconds, value, households)`` in time order, where ``value`` is the client's average power, or the
    sum of the complete households' average powers when at least ``k`` are complete. ``rollup`` reads
    the quarter-hours from ``meter_quarters`` (a database whose dialect keeps it, ``Dialect.rollup``)."""
    if (client is None) == (zone is None):
        raise ValueError("give exactly one of client and zone")
    params: list[Any] = []
    if client is not None:
        who = "client_id = ?"
        params.append(client)
    else:
        who = "client_id IN (SELECT id FROM clients WHERE zone_id = ? AND voltage_level = 'LV')"
        params.append(zone)
    first, _ = bucket_bounds(start, granularity, tz)
    if first < start:
        first = bucket_bounds(first, granularity, tz)[1]
    last = bucket_bounds(end, granularity, tz)[0]  # the buckets inside the window are those in [first, last)
    last = max(first, last)
    params += [int(first.timestamp()), int(last.timestamp())] if rollup else [to_db_time(first), to_db_time(last)]
    zone_offsets = offsets(tz, start, end)
    local = f"q + {_case('q', zone_offsets, params)}"
    if granularity is Granularity.QUARTER_HOURLY:
        key, first_sql, last_sql, expected = "q", "k", f"k + {_QUARTER}", "1"
    elif granularity is Granularity.HOURLY:
        key, first_sql, last_sql, expected = f"l / {_HOUR} * {_HOUR} - (l - q)", "k", f"k + {_HOUR}", "4"
    else:
        key = f"l / {_DAY}"
        limits = _local_limits(zone_offsets)
        first_sql = f"k * {_DAY} - {_case(f'k * {_DAY}', limits, params)}"
        last_sql = f"(k + 1) * {_DAY} - {_case(f'(k + 1) * {_DAY}', limits, params)}"
        expected = f"(b_end - b) / {_QUARTER}"
    if rollup:  # the buckets' bounds are whole quarter-hours (every real UTC offset is a multiple of 15 minutes)
        quarters = (f"SELECT client_id, quarter AS q, total / readings AS kw FROM meter_quarters "
                    f"WHERE {who} AND quarter >= ? AND quarter < ?")
    else:
        quarters = (f"SELECT client_id, unixepoch(timestamp) / {_QUARTER} * {_QUARTER} AS q, AVG(active_power) AS kw "
                    f"FROM net_active_power WHERE {who} AND timestamp >= ? AND timestamp < ? GROUP BY 1, 2")
    if granularity is Granularity.QUARTER_HOURLY:  # a client's quarter-hours are distinct already
        keyed = "SELECT client_id, q AS k, 1 AS n, kw AS total FROM local"
    else:
        keyed = f"SELECT client_id, {key} AS k, COUNT(*) AS n, SUM(kw) AS total FROM local GROUP BY 1, 2"
    statement = (
        f"WITH quarters AS ({quarters}), "
        f"local AS (SELECT client_id, q, kw, {local} AS l FROM quarters), "
        f"keyed AS ({keyed}), "
        f"bounded AS (SELECT client_id, n, total, {first_sql} AS b, {last_sql} AS b_end FROM keyed), "
        f"complete AS (SELECT client_id, b, total / n AS value FROM bounded WHERE n = {expected}) ")
    if client is not None:
        return statement + "SELECT b, value, 1 FROM complete ORDER BY b", params
    params.append(k)
    return statement + "SELECT b, SUM(value), COUNT(*) FROM complete GROUP BY b HAVING COUNT(*) >= ? ORDER BY b", params


def bucket_start(epoch: int) -> datetime:
    """The aware UTC datetime of a bucket start returned by :func:`bucket_query`."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=int(epoch))
