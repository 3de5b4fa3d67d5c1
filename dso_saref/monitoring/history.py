"""The recent history of a running DSO, minute by minute: requests and their latencies, Knowledge Engine
exchanges by outcome, refusals by reason. What the portal's status page plots.

Memory is bounded: one bucket per minute for the last ``minutes`` minutes, each holding counts only
(latencies as counts per latency bucket, so percentiles are estimated within a bucket, as Prometheus's
``histogram_quantile`` does)::

    history = History(minutes=360)
    history.request(0.004, refusal=None)
    history.exchange("answered")
    [(m.start, m.requests, m.percentile(0.99)) for m in history.window(hours=1)]

:class:`History` keeps one process's history in memory; several processes serving one API share theirs
through files (:class:`~dso_saref.monitoring.shared_history.SharedHistory`). Both are an
:class:`Activity`.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["LATENCY_BOUNDS", "Activity", "History", "Minute", "bucket_index"]

#: Upper bounds (seconds) of the latency buckets of a minute: 0.25 ms to 60 s, about 12 % apart.
LATENCY_BOUNDS: tuple[float, ...] = tuple(0.00025 * 1.12 ** i for i in range(math.ceil(math.log(240_000, 1.12)) + 1))


@dataclass
class _Bucket:
    requests: int = 0
    latencies: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS) + 1))
    exchanges: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Minute:
    """One minute of the history: when it starts, the requests it saw, their latency counts per
    bucket of :data:`LATENCY_BOUNDS` (the last one: slower than the last bound), exchanges by outcome
    and refusals by reason."""

    start: datetime
    requests: int
    latencies: tuple[int, ...]
    exchanges: Mapping[str, int]
    refusals: Mapping[str, int]

    def percentile(self, q: float) -> float | None:
        """The ``q``-quantile (0 < q < 1) of the minute's request latencies in seconds, interpolated
        linearly within its bucket; ``None`` for a minute without requests."""
        if not 0 < q < 1:
            raise ValueError(f"a quantile is between 0 and 1, got {q}")
        if self.requests == 0:
            return None
        rank = q * self.requests
        seen = 0
        for i, count in enumerate(self.latencies):
            if count and seen + count >= rank:
                low = LATENCY_BOUNDS[i - 1] if i > 0 else 0.0
                high = LATENCY_BOUNDS[i] if i < len(LATENCY_BOUNDS) else LATENCY_BOUNDS[-1]
                return low + (high - low) * (rank - seen) / count
            seen += count
        return LATENCY_BOUNDS[-1]  # pragma: no cover - the counts add up to ``requests``


class Activity(Protocol):
    """What records the recent activity and gives it back minute by minute (what the metrics tell and the
    status page reads)."""

    def request(self, seconds: float, *, refusal: str | None = None, at: float | None = None) -> None:
        """Count a request that took ``seconds`` (and was refused for ``refusal``, if given)."""

    def refusal(self, reason: str, *, at: float | None = None) -> None:
        """Count a refusal that was no request of the REST API (a refused Knowledge Engine exchange)."""

    def exchange(self, outcome: str, *, at: float | None = None) -> None:
        """Count a Knowledge Engine exchange with ``outcome``."""

    def window(self, *, hours: float = 6.0, now: float | None = None) -> list[Minute]:
        """Every minute of the last ``hours``, oldest first, quiet minutes included."""


class History:
    """Per-minute counts of the last ``minutes`` minutes (thread-safe); ``clock`` gives the time in
    seconds since the epoch."""

    def __init__(self, *, minutes: int = 24 * 60, clock: Callable[[], float] = time.time) -> None:
        if minutes < 1:
            raise ValueError("a history keeps at least one minute")
        self.minutes = minutes
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, at: float | None) -> _Bucket:
        minute = int((self._clock() if at is None else at) // 60)
        bucket = self._buckets.get(minute)
        if bucket is None:
            bucket = self._buckets[minute] = _Bucket()
            oldest = minute - self.minutes
            for old in [m for m in self._buckets if m <= oldest]:
                del self._buckets[old]
        return bucket

    def request(self, seconds: float, *, refusal: str | None = None, at: float | None = None) -> None:
        """Count a request that took ``seconds`` (and was refused for ``refusal``, if given)."""
        index = bucket_index(seconds)
        with self._lock:
            bucket = self._bucket(at)
            bucket.requests += 1
            bucket.latencies[index] += 1
            if refusal is not None:
                bucket.refusals[refusal] += 1

    def refusal(self, reason: str, *, at: float | None = None) -> None:
        """Count a refusal that was no request of the REST API (a refused Knowledge Engine exchange)."""
        with self._lock:
            self._bucket(at).refusals[reason] += 1

    def exchange(self, outcome: str, *, at: float | None = None) -> None:
        """Count a Knowledge Engine exchange with ``outcome``."""
        with self._lock:
            self._bucket(at).exchanges[outcome] += 1

    def window(self, *, hours: float = 6.0, now: float | None = None) -> list[Minute]:
        """Every minute of the last ``hours`` (at most the history's length), oldest first, minutes
        without activity included (with zero counts)."""
        now = self._clock() if now is None else now
        last = int(now // 60)
        count = max(1, min(self.minutes, round(hours * 60)))
        empty = _Bucket()
        with self._lock:
            buckets = [(m, self._buckets.get(m, empty)) for m in range(last - count + 1, last + 1)]
            return [Minute(datetime.fromtimestamp(m * 60, UTC), b.requests, tuple(b.latencies), dict(b.exchanges),
                           dict(b.refusals)) for m, b in buckets]


def bucket_index(seconds: float) -> int:
    """The index of the latency bucket of ``seconds`` (the first bound it does not exceed)."""
    return bisect.bisect_left(LATENCY_BOUNDS, seconds)
