"""Prometheus metrics of a running DSO (``/metrics``), and the recent history the status page plots.

One :class:`Metrics` per served application, with a registry of its own (no global state): its
:meth:`~Metrics.observe` is a REST request observer (:class:`~dso_saref.rest.gate.RequestRecord`), its
:meth:`~Metrics.exchange` an exchange observer (:class:`~dso_saref.monitoring.exchanges.ExchangeRecord`)::

    metrics = Metrics()
    app = create_app(backend, observers=[metrics.observe])
    body, content_type = metrics.exposition()

======================================================  ====================================================
``dso_saref_http_requests_total``                       requests by ``route`` (path template), ``method``,
                                                        ``status``
``dso_saref_http_request_duration_seconds``             latency histogram by ``route`` and ``method``
``dso_saref_refusals_total``                            refusals by ``channel`` (rest, ke) and ``reason``
``dso_saref_validation_failures_total``                 requests refused as invalid, by ``channel`` and
                                                        ``message``
``dso_saref_ke_exchanges_total``                        Knowledge Engine exchanges by ``interaction``,
                                                        ``side`` (served, sent) and ``outcome``
``dso_saref_ke_exchange_duration_seconds``              their latency histogram by ``interaction``, ``side``
======================================================  ====================================================

Several processes serving one API (:class:`~dso_saref.app.rest_workers.RestWorkers`) count together
with prometheus-client's multiprocess mode: each worker's values go to files of its own in the directory
``PROMETHEUS_MULTIPROC_DIR`` names (set before the process imports ``prometheus_client``), and
``Metrics(multiprocess=True)`` exposes the sum over every file, so ``/metrics`` shows the whole server's
counts whichever worker answers; a dead worker's files stay, so its counts are neither lost nor counted
twice. The status page's history is shared the same way: each process counts into a file of its own in
that directory (:class:`~dso_saref.monitoring.shared_history.SharedHistory`) and the page sums them all.

Labels have bounded values: a route is an operation's path template or one of the application's fixed
paths (``other`` for anything else, such as unknown paths); a reason is a kind, never free text: on the
REST channel the kind of the status (``no-key``, ``forbidden``, ...), on the KE the policy's refusal code
(``no-consent``, ``k-anonymity``, ...) or ``invalid``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

from dso_saref.backend.policy import Code
from dso_saref.monitoring.exchanges import INVALID, REFUSED, ExchangeRecord
from dso_saref.monitoring.history import Activity, History
from dso_saref.monitoring.shared_history import SharedHistory
from dso_saref.rest.gate import RequestRecord
from dso_saref.rest.operations import DSO_OPERATIONS, Operation

__all__ = ["FIXED_ROUTES", "LATENCY_BUCKETS", "MULTIPROCESS_DIR", "Metrics", "counting_into", "refusal_reason"]

#: The environment variable naming the directory of the multiprocess mode (prometheus-client's).
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

#: Latency histogram buckets (seconds).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: Routes besides the operations: exact paths, or prefixes ending with ``/`` (their label is the prefix).
FIXED_ROUTES = ("/health", "/ready", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc",
                "/static/docs/", "/portal", "/portal/")

#: Held while this process's choice of prometheus-client's storage is changed.
_SWITCHING = threading.Lock()

_REASONS = {400: "invalid", 403: "forbidden", 404: "not-found", 405: "method-not-allowed", 406: "not-acceptable",
            413: "too-large", 415: "unsupported-media-type", 429: "too-many-requests", 500: "server-error",
            503: "unavailable"}
#: The kinds of refusal an exchange may carry (the policy's codes); any other counts as ``refused``.
_EXCHANGE_REASONS = frozenset(code.value for code in Code)


def refusal_reason(status: int, detail: str | None = None) -> str:
    """The kind of a refused request (a label value): ``no-key`` or ``bad-key`` for a 401, ``invalid``
    for a 400, ``forbidden`` for a 403, ... ``status-NNN`` for another status."""
    if status == 401:
        return "no-key" if (detail or "").startswith("an API key is required") else "bad-key"
    return _REASONS.get(status, f"status-{status}")


class Metrics:
    """The metrics of one application serving ``operations`` (their path templates are the routes),
    with the recent ``history`` the status page plots (default: a :class:`History` of the last day);
    ``multiprocess``: counted with the other processes writing to the directory :data:`MULTIPROCESS_DIR`
    names, and exposed summed over them (the default history then a
    :class:`~dso_saref.monitoring.shared_history.SharedHistory` in the same directory).

    Raises RuntimeError for ``multiprocess`` when that directory is not set, is not a directory, or was
    set after ``prometheus_client`` was imported in this process (its values would stay in memory)."""

    def __init__(self, operations: Sequence[Operation] = DSO_OPERATIONS, *, history: Activity | None = None,
                 fixed_routes: Sequence[str] = FIXED_ROUTES, multiprocess: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        own = self.registry
        if multiprocess:
            directory = _multiprocess_dir()
            MultiProcessCollector(self.registry, path=directory)
            own = None  # the values are in the files: registering them too would expose them twice
        self.history: Activity = history or (SharedHistory(directory) if multiprocess else History())
        self._templates = {op.exchange: op.path for op in operations}
        self._fixed = tuple(fixed_routes)
        self.requests = Counter("dso_saref_http_requests", "HTTP requests by route, method and status",
                                ("route", "method", "status"), registry=own)
        self.latency = Histogram("dso_saref_http_request_duration_seconds", "HTTP request latency",
                                 ("route", "method"), buckets=LATENCY_BUCKETS, registry=own)
        self.refusals = Counter("dso_saref_refusals", "Refused requests and exchanges by channel and reason",
                                ("channel", "reason"), registry=own)
        self.validation_failures = Counter("dso_saref_validation_failures",
                                           "Requests refused as not the catalog's message, by channel and message",
                                           ("channel", "message"), registry=own)
        self.exchanges = Counter("dso_saref_ke_exchanges", "Knowledge Engine exchanges by interaction, side and "
                                 "outcome", ("interaction", "side", "outcome"), registry=own)
        self.exchange_latency = Histogram("dso_saref_ke_exchange_duration_seconds", "Knowledge Engine exchange "
                                          "latency", ("interaction", "side"), buckets=LATENCY_BUCKETS,
                                          registry=own)

    def route(self, record: RequestRecord) -> str:
        """The route label of a request: its operation's path template, a fixed route, or ``other``."""
        if record.operation is not None and record.operation in self._templates:
            return self._templates[record.operation]
        for fixed in self._fixed:
            if record.path == fixed or (fixed.endswith("/") and record.path.startswith(fixed)):
                return fixed
        return "other"

    def observe(self, record: RequestRecord) -> None:
        """Count a REST request (a :data:`~dso_saref.rest.gate.Observer`)."""
        route = self.route(record)
        method = record.method if record.method in ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS",
                                                    "PATCH") else "other"
        self.requests.labels(route, method, str(record.status)).inc()
        self.latency.labels(route, method).observe(record.seconds)
        reason = refusal_reason(record.status, record.refusal) if record.status >= 400 else None
        if reason is not None:
            self.refusals.labels("rest", reason).inc()
            if record.status == 400 and record.operation in self._templates:
                self.validation_failures.labels("rest", record.operation).inc()
        self.history.request(record.seconds, refusal=reason)

    def exchange(self, record: ExchangeRecord) -> None:
        """Count a Knowledge Engine exchange (an :data:`~dso_saref.monitoring.exchanges.ExchangeObserver`)."""
        self.exchanges.labels(record.interaction, record.side, record.outcome).inc()
        self.exchange_latency.labels(record.interaction, record.side).observe(record.seconds)
        self.history.exchange(record.outcome)
        if record.outcome in (REFUSED, INVALID) and record.side == "served":
            reason = ("invalid" if record.outcome == INVALID else
                      record.reason if record.reason in _EXCHANGE_REASONS else "refused")
            self.refusals.labels("ke", reason).inc()
            self.history.refusal(f"ke-{reason}")
            if record.outcome == INVALID:
                self.validation_failures.labels("ke", record.interaction).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in the Prometheus text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _multiprocess_dir() -> str:
    """The directory of the multiprocess mode, checked to be in effect in this process."""
    path = os.environ.get(MULTIPROCESS_DIR)
    if not path or not os.path.isdir(path):
        raise RuntimeError(f"multiprocess metrics need {MULTIPROCESS_DIR} to name a directory, got {path!r}")
    if values.ValueClass is values.MutexValue:
        raise RuntimeError(f"{MULTIPROCESS_DIR} was set after prometheus_client was imported in this process: "
                           "its metrics would not be shared")
    return path


@contextlib.contextmanager
def counting_into(directory: str) -> Iterator[None]:
    """Within the block, this process's prometheus-client values are counted in ``directory`` with the
    processes of the multiprocess mode there, although it imported ``prometheus_client`` without it: the
    supervisor of the REST worker processes, where the Knowledge Engine adapter runs, so that the
    exchanges it serves are in every worker's ``/metrics`` (make its ``Metrics(multiprocess=True)``
    within the block). Values of metrics made before the block stay in memory; those made within keep
    counting in the directory's files after it (until the process ends).

    Raises RuntimeError when this process counts in another directory already."""
    with _SWITCHING:
        previous = os.environ.get(MULTIPROCESS_DIR)
        switched = values.ValueClass is values.MutexValue
        if not switched and previous != directory:
            raise RuntimeError(f"this process counts its metrics in {previous!r} already")
        if switched:
            os.environ[MULTIPROCESS_DIR] = directory
            values.ValueClass = values.MultiProcessValue()
    try:
        yield
    finally:
        if switched:
            with _SWITCHING:
                values.ValueClass = values.MutexValue
                if previous is None:
                    os.environ.pop(MULTIPROCESS_DIR, None)
                else:
                    os.environ[MULTIPROCESS_DIR] = previous
