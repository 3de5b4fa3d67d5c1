"""Serve the reference DSO on a Knowledge Engine until stopped: ``dso-saref serve``.

:func:`serve` opens the database, optionally loads the reproducible seed data, registers the DSO's
knowledge base and knowledge interactions (generated from the catalog) and answers every exchange the
DSO serves with :meth:`DsoBackend.handlers <dso_saref.backend.DsoBackend.handlers>`, logging each one,
until ``stop`` is set (the command sets it on SIGINT or SIGTERM) or the KE ends the session. It then
unregisters the knowledge base and closes the database::

    stop = threading.Event()
    outcome = serve(ServeConfig(ke_url="http://127.0.0.1:8280/rest", db="dso.sqlite", seed=True), stop)

The adapter polls in a worker thread, so a signal is handled at once even while a long poll is open,
and hands each exchange to a pool of ``workers`` handler threads (``backlog`` more wait their turn):
exchanges are served concurrently, on sqlite (one writer at a time, readers in WAL) as on PostgreSQL
(the connection pool is sized to the workers). On stopping, the exchanges taken are answered before
the knowledge base is unregistered. An unregistration nobody asked for (the KE restarted, or someone
deleted the knowledge base) is answered by registering again, with a warning; a knowledge base id
that another running process serves makes :func:`serve` refuse to start (see docs/ke.md).

With ``rest="127.0.0.1:8080"`` the DSO's REST API (:mod:`dso_saref.rest`) is served too, in the same
process, over the same backend and database: what a party does over REST is visible over the KE and the
other way round; with ``ke_url=None`` only the REST API is served.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dso_saref.app.rest_workers import RestWorkers, serve_rest
from dso_saref.app.seed import DSO_KB, seed_world
from dso_saref.backend import DsoBackend, Refused, Storage
from dso_saref.backend.storage import PostgresStorage
from dso_saref.backend.storage.base import implementation
from dso_saref.catalog import Catalog
from dso_saref.config import DEFAULT_REST_THREADS
from dso_saref.ke.adapter import Adapter, Backoff
from dso_saref.ke.client import KnowledgeEngineClient, Timeouts
from dso_saref.ke.credentials import Credentials
from dso_saref.ke.errors import KnowledgeEngineError
from dso_saref.ke.registration import Probe
from dso_saref.monitoring.observed import observed_handlers

__all__ = ["DEFAULT_KE_URL", "ServeConfig", "ServeOutcome", "logged_handlers", "open_storage", "serve"]

log = logging.getLogger("dso_saref.app.serve")

#: The KE the command talks to unless told otherwise (loopback only).
DEFAULT_KE_URL = "http://127.0.0.1:8280/rest"

_COUNTING = threading.Lock()  # exchanges are counted from the KE's handler threads and the REST server


@dataclass(frozen=True)
class ServeConfig:
    """What to serve: the KE REST base ``ke_url`` (``None``: no KE), the database ``db`` (a path,
    ``:memory:`` or a ``postgresql://`` URL), the knowledge base id, whether to load the seed data
    (with ``seed_value``), registration ``attempts`` while the KE is unreachable, how long to wait at
    shutdown for running exchanges and the poll thread (seconds), the address of the REST API
    (``HOST:PORT``; ``None``: no REST API), the ``credentials`` a reverse proxy in front of the KE asks
    for; ``rest_workers`` processes serve the REST API (more than one: each its own connection to
    ``db``, which must then be a file or PostgreSQL; their requests are logged by them, not counted in
    the outcome), each working on ``rest_threads`` requests at once (the others wait their turn);
    how many KE exchanges are handled at once (``workers``) and wait for a handler
    (``backlog``; ``workers + backlog`` < 100, the KE's limit), and how a knowledge base id registered
    already is probed for a live owner (``probe``; :class:`~dso_saref.ke.registration.Probe`); the
    pattern ``profiles`` the DSO registers, and a folder of the user's own (``patterns``,
    docs/interop.md)."""

    ke_url: str | None = DEFAULT_KE_URL
    db: str = ":memory:"
    kb_id: str = DSO_KB
    seed: bool = False
    seed_value: int = 7
    attempts: int = 8
    shutdown_timeout: float = 10.0
    rest: str | None = None
    credentials: Credentials | None = None
    rest_workers: int = 1
    rest_threads: int = DEFAULT_REST_THREADS
    workers: int = 8
    backlog: int = 64
    probe: Probe | None = None
    profiles: tuple[str, ...] = ("saref",)
    patterns: str | None = None


@dataclass(frozen=True)
class ServeOutcome:
    """How serving ended: ``stopped`` (asked to stop), or the KE ended it / could not be reached
    (``error`` says what); ``exchanges`` counts the exchanges answered or refused."""

    stopped: bool
    exchanges: int
    error: str | None = None


def _describe(answer: Any) -> str:
    status = getattr(answer, "status", None)
    if status is not None:
        reason = getattr(answer, "reason", None)
        return f"{getattr(status, 'value', status)}{': ' + reason if reason else ''}"
    granted = getattr(answer, "granted", None)
    if granted is not None:
        return "granted" if granted else f"not granted: {getattr(answer, 'reason', '') or ''}"
    root = getattr(answer, "root", None)
    return f"answered ({len(root)} items)" if isinstance(root, list) else "answered"


def logged_handlers(handlers: Mapping[str, Callable[[Any, Any], Any]], *,
                    counter: list[int] | None = None) -> dict[str, Callable[[Any, Any], Any]]:
    """``handlers`` that log every exchange (name, requester, outcome in the DSO's own words, duration,
    request id) on ``dso_saref.app.serve``; ``counter[0]`` (when given) counts them. Wrap them in
    :func:`~dso_saref.monitoring.observed.observed_handlers`, which runs each in the request scope of
    its request id (the registry's rows carry it) and tells the metrics."""

    def wrap(name: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def serve_one(message: Any, context: Any) -> Any:
            started = time.perf_counter()
            requester = getattr(context, "requester", None) or "anonymous"
            request_id = getattr(context, "request_id", None)
            if counter is not None:
                with _COUNTING:  # handlers run on several threads at once
                    counter[0] += 1
            try:
                answer = handler(message, context)
            except Refused as exc:
                log.info("%s from %s: refused: %s (request %s)", name, requester, exc.reason, request_id)
                raise
            except Exception as exc:
                log.warning("%s from %s: failed: %s: %s (request %s)", name, requester, type(exc).__name__, exc,
                            request_id)
                raise
            log.info("%s from %s: %s (%.0f ms, request %s)", name, requester, _describe(answer),
                     (time.perf_counter() - started) * 1000, request_id)
            return answer

        return serve_one

    return {name: wrap(name, handler) for name, handler in handlers.items()}


def open_storage(db: str, workers: int) -> Storage:
    """The database ``db``; on PostgreSQL with a connection for each of ``workers`` handler threads
    and two more (the poll thread's registry writes, the operator's queries)."""
    if issubclass(implementation(db), PostgresStorage):
        return Storage(db, pool_size=max(10, workers + 2))
    return Storage(db)


def serve(config: ServeConfig, stop: threading.Event, *,
          ready: Callable[[str], None] | None = None) -> ServeOutcome:
    """Serve the DSO until ``stop`` is set or the KE ends the session (see the module doc); ``ready``
    is called with a line saying where once the knowledge base is registered. Raises
    :class:`~dso_saref.backend.StorageError` when the database cannot be opened, and
    ``ValueError`` for a bad ``kb_id``; KE failures end up in the outcome."""
    if not config.kb_id.startswith(("http://", "https://")):
        raise ValueError(f"the knowledge base id must be an http(s) IRI, got {config.kb_id!r}")
    storage = open_storage(config.db, config.workers)
    client = None
    rest = None
    try:
        backend = DsoBackend(storage)
        if config.seed:
            summary = seed_world(backend, seed_value=config.seed_value, open_needs=True)
            log.info("seed %d loaded: %d end users, %d HEMS, readings of %s", config.seed_value,
                     len(summary.end_users), len(summary.hems), summary.day)
        counter = [0]
        metrics = None

        def count(record: Any) -> None:
            with _COUNTING:
                counter[0] += 1

        if config.rest is not None:
            if config.rest_workers > 1:
                rest = RestWorkers(config.db, config.rest, config.rest_workers, threads=config.rest_threads)
                metrics = rest.supervisor_metrics() if config.ke_url is not None else None
            else:
                rest, metrics = serve_rest(backend, config.rest, observers=[count], ke_url=config.ke_url,
                                           kb_id=config.kb_id, threads=config.rest_threads)
            line = (f"serving the DSO's REST API at {rest.base_url}/v1 (docs at {rest.base_url}/docs)"
                    + (f" with {config.rest_workers} worker processes" if config.rest_workers > 1 else ""))
            log.info("%s", line)
            if ready is not None:
                ready(line)
        if config.ke_url is None:
            stop.wait()
            return ServeOutcome(stopped=True, exchanges=counter[0])
        client = KnowledgeEngineClient(config.ke_url, timeout=Timeouts(read=30.0, exchange=60.0, long_poll=60.0),
                                       credentials=config.credentials)
        adapter = Adapter(client, "dso", kb_id=config.kb_id, kb_name="dso-saref reference DSO",
                          handlers=observed_handlers(logged_handlers(backend.handlers(), counter=counter),
                                                     [metrics.exchange] if metrics is not None else []),
                          backoff=Backoff(attempts=config.attempts), workers=config.workers,
                          backlog=config.backlog, drain_timeout=config.shutdown_timeout, probe=config.probe,
                          profiles=config.profiles,
                          catalog=Catalog(patterns=Path(config.patterns)) if config.patterns else None)
        errors: list[str] = []
        registered = threading.Event()

        def work() -> None:
            try:
                adapter.register()
                registered.set()
                if not stop.is_set():
                    line = f"serving the DSO as {config.kb_id} on {config.ke_url} (database {config.db})"
                    log.info("%s", line)
                    if ready is not None:
                        ready(line)
                    adapter.serve(stop)
                if not stop.is_set():
                    errors.append("the Knowledge Engine ended the session")
            except KnowledgeEngineError as exc:
                if not stop.is_set():
                    errors.append(f"{config.ke_url}: {exc}")
            finally:
                stop.set()

        worker = threading.Thread(target=work, name="dso-serve", daemon=True)
        worker.start()
        stop.wait()
        adapter.close()  # answers the exchanges taken, then unregisters; an open long poll ends
        worker.join(timeout=config.shutdown_timeout)
        if worker.is_alive():
            log.warning("the poll thread did not end within %.0f s", config.shutdown_timeout)
        if registered.is_set():
            log.info("unregistered %s after %d exchanges", config.kb_id, counter[0])
        return ServeOutcome(stopped=not errors, exchanges=counter[0], error=errors[0] if errors else None)
    finally:
        if rest is not None:
            rest.close()
        if client is not None:
            client.close()
        storage.close()
