"""The DSO's REST API served in this process (:func:`serve_rest`), or by several worker processes on one
database and one port (:class:`RestWorkers`).

One Python process serves the API on one core (the GIL); :class:`RestWorkers` starts ``workers``
processes, each with its own connection to the same database (a sqlite file or PostgreSQL) and its own
listening socket on the same port (``SO_REUSEPORT``: the kernel spreads the connections). What makes the
backend correct with one process (transactions, locks, idempotency keys in the database) makes it correct
with several; nothing is shared in memory. The metrics are shared through files: the supervisor gives the
workers a directory of their own for this run (prometheus-client's multiprocess mode, removed on close), so
``/metrics`` counts the whole server whichever worker answers, and so is the status page's history. The KE
adapter, when there is one, stays in the parent, and counts its exchanges in the same directory
(:meth:`RestWorkers.supervisor_metrics`)::

    with RestWorkers("postgresql://dso@127.0.0.1/dso", "127.0.0.1:8080", workers=4) as api:
        print(api.base_url)
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from types import TracebackType
from typing import Any, Self

from prometheus_client.multiprocess import mark_process_dead

from dso_saref.backend import DsoBackend
from dso_saref.config import DEFAULT_REST_THREADS
from dso_saref.monitoring.metrics import MULTIPROCESS_DIR, Metrics, counting_into
from dso_saref.rest.gate import Observer
from dso_saref.rest.server import RestServer, parse_address
from dso_saref.serving import checked_threads

__all__ = ["RestWorkers", "serve_rest"]

log = logging.getLogger("dso_saref.app.serve")

#: Held while a worker is spawned with the metrics directory in the (process-wide) environment.
_SPAWNING = threading.Lock()


class RestWorkers:
    """The REST API over the database ``db`` served on ``address`` by ``workers`` processes; a worker
    that dies is started again (``restarts`` counts them). The workers' metrics are kept in
    ``metrics_directory`` while they run.

    Each worker works on ``threads`` requests at once (:data:`~dso_saref.config.DEFAULT_REST_THREADS`).

    Raises ValueError for an in-memory database (each process would have its own), fewer than one
    worker or thread, OSError when the address cannot be bound, RuntimeError when a worker does not start within
    ``startup_timeout`` seconds (saying why, when it could tell)."""

    def __init__(self, db: str, address: str, workers: int, *, startup_timeout: float = 60.0,
                 threads: int = DEFAULT_REST_THREADS) -> None:
        if workers < 1:
            raise ValueError(f"REST workers must be at least 1, got {workers}")
        checked_threads(threads)
        if db == ":memory:" or not db:
            raise ValueError("several REST workers share one database: give a sqlite file or a postgresql:// URL, "
                             "not :memory:")
        host, port = parse_address(address)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # bound, never listening: holds the port (port 0 picks one) for the workers, who listen on it too
        self._holder = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            self._holder.bind((host, port))
        except OSError:
            self._holder.close()
            raise
        self.host, self.port = self._holder.getsockname()[:2]
        self._db, self._startup_timeout, self._threads = db, startup_timeout, threads
        self.metrics_directory = tempfile.mkdtemp(prefix="dso-saref-metrics-")
        self._context = multiprocessing.get_context("spawn")  # no fork of a process holding threads, connections
        self._stop = threading.Event()
        self._stoppers: dict[int, Connection] = {}  # a multiprocessing Event would hang on set() once a waiter died
        self._failures: Any = self._context.Queue()
        self._wake_reader, self._wake_writer = self._context.Pipe(duplex=False)
        self._level = logging.getLogger("dso_saref").getEffectiveLevel()
        self._changed = threading.Condition()
        self.restarts = 0
        self._supervisor: threading.Thread | None = None
        self._counting = contextlib.ExitStack()
        self._metrics: Metrics | None = None
        started = [self._spawn(i) for i in range(workers)]
        self._processes = [process for process, _ in started]
        for i, (_, event) in enumerate(started):
            if not event.wait(startup_timeout):
                self.close()
                raise RuntimeError(self._not_started(i))
        self._supervisor = threading.Thread(target=self._supervise, name="rest-workers", daemon=True)
        self._supervisor.start()

    def _spawn(self, i: int) -> tuple[BaseProcess, Event]:
        started = self._context.Event()
        stop, self._stoppers[i] = self._context.Pipe(duplex=False)
        process = self._context.Process(target=_work, name=f"rest-worker-{i}", daemon=True,
                                        args=(self._db, f"{self.host}:{self.port}", self._threads, self._level,
                                              started, stop, self._failures))
        with _SPAWNING:  # the child inherits the environment: prometheus_client reads it when first imported
            previous = os.environ.get(MULTIPROCESS_DIR)
            os.environ[MULTIPROCESS_DIR] = self.metrics_directory
            try:
                process.start()
            finally:
                if previous is None:
                    del os.environ[MULTIPROCESS_DIR]
                else:
                    os.environ[MULTIPROCESS_DIR] = previous
        stop.close()
        return process, started

    def _not_started(self, i: int) -> str:
        try:
            reason = self._failures.get(timeout=1.0)
        except Exception:  # queue.Empty, or the queue's feeder gone: nothing to tell
            reason = None
        return f"REST worker {i} on {self.host}:{self.port} did not start" + (f": {reason}" if reason else "")

    def _supervise(self) -> None:
        """Start again every worker that dies, until closed."""
        while not self._stop.is_set():
            sentinels = {process.sentinel: i for i, process in enumerate(self._processes)}
            ready = wait([*sentinels, self._wake_reader])
            for sentinel in ready:
                if self._stop.is_set() or sentinel not in sentinels:
                    continue
                i = sentinels[sentinel]
                dead = self._processes[i]
                dead.join()
                if dead.pid is not None:  # its counts stay (files of its pid); its live gauges go
                    mark_process_dead(dead.pid, self.metrics_directory)
                log.warning("REST worker %d (pid %s) ended with exit code %s: starting it again", i, dead.pid,
                            dead.exitcode)
                process, started = self._spawn(i)
                self._processes[i] = process
                if not started.wait(self._startup_timeout):
                    log.error("%s", self._not_started(i))
                with self._changed:
                    self.restarts += 1
                    self._changed.notify_all()

    def supervisor_metrics(self) -> Metrics:
        """The metrics of this process (the supervisor's), counted with the workers': give its ``exchange``
        to the Knowledge Engine adapter, and its exchanges are in ``/metrics`` and on the status page
        whichever worker answers. The same object on every call; this process counts into the workers'
        directory until :meth:`close` (see :func:`~dso_saref.monitoring.metrics.counting_into`)."""
        if self._metrics is None:
            self._counting.enter_context(counting_into(self.metrics_directory))
            self._metrics = Metrics(multiprocess=True)
        return self._metrics

    def wait_restarts(self, count: int, timeout: float) -> bool:
        """Whether ``count`` workers have been started again within ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self.restarts >= count, timeout)

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def pids(self) -> list[int]:
        """The workers' process ids."""
        return [p.pid for p in self._processes if p.pid is not None]

    def close(self, timeout: float = 10.0) -> None:
        """Stop the workers (their open requests finish first), free the port and remove the metrics."""
        self._stop.set()
        self._wake_writer.send(None)
        for stopper in self._stoppers.values():
            with contextlib.suppress(OSError):  # a worker that died has closed its end
                stopper.send(None)
            stopper.close()
        if self._supervisor is not None:
            self._supervisor.join(timeout)
        for process in self._processes:
            process.join(timeout)
            if process.is_alive():
                process.terminate()
                process.join(timeout)
        self._holder.close()
        self._counting.close()
        shutil.rmtree(self.metrics_directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _work(db: str, address: str, threads: int, level: int, started: Event, stop: Connection,
          failures: Any) -> None:
    """One worker: its own connection to ``db``, the API on ``address`` until told to ``stop`` (or the
    parent is gone), counting its requests in the metrics directory of its environment."""
    from dso_saref.backend import Storage

    logging.basicConfig(level=level, format="%(asctime)s %(processName)s %(levelname)s %(message)s")
    try:
        storage = Storage(db)
    except Exception as exc:
        failures.put(f"{type(exc).__name__}: {exc}")
        return
    try:
        server, _ = serve_rest(DsoBackend(storage), address, reuse_port=True, metrics=Metrics(multiprocess=True),
                               threads=threads)
    except Exception as exc:
        storage.close()
        failures.put(f"{type(exc).__name__}: {exc}")
        return
    # what the worker holds from now on (modules, catalog, app) is left out of the collector's walks: a full
    # collection over it stalled requests (2 workers, 50 connections: GET p99 129 ms before, 91-107 ms after)
    gc.collect()
    gc.freeze()
    started.set()
    try:
        stop.recv()
    except EOFError:  # the parent died
        pass
    finally:
        server.close()
        storage.close()


def serve_rest(backend: DsoBackend, address: str, *, observers: Sequence[Observer] = (), reuse_port: bool = False,
               ke_url: str | None = None, kb_id: str | None = None,
               metrics: Metrics | None = None, threads: int = DEFAULT_REST_THREADS) -> tuple[RestServer, Metrics]:
    """The DSO's REST API over ``backend``, with the portal and monitoring (``ke_url`` and ``kb_id`` in
    its readiness), served on ``address`` (a started :class:`~dso_saref.rest.server.RestServer` working
    on ``threads`` requests at once, sharing its port with other processes when ``reuse_port``), logging
    each request and telling ``observers``;
    and its :class:`~dso_saref.monitoring.metrics.Metrics` (``metrics``, or new ones; give
    ``metrics.exchange`` to the KE side)."""
    from dso_saref.app.rest_api import dso_api

    def observe(record: Any) -> None:
        log.info("REST %s %s -> %d by %s (%.0f ms, request %s)%s", record.method, record.path, record.status,
                 record.party or "anonymous", record.seconds * 1000, record.request_id,
                 f": {record.refusal}" if record.refusal else "")

    api = dso_api(backend, ke_url=ke_url, kb_id=kb_id, observers=[observe, *observers], metrics=metrics)
    return RestServer(api.app, address, reuse_port=reuse_port, threads=threads), api.metrics
