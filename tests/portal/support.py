"""A seeded DSO served as a running DSO serves it (the API, the portal, monitoring) on loopback, with a key
for each party of the demo, and the DSO's logs as JSON lines: for the portal tests and the monitoring
tests (tests/rest/test_ops_*.py)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from dso_saref.app.rest_api import DsoApi, dso_api
from dso_saref.app.seed import seed_world
from dso_saref.backend import DsoBackend, Storage
from dso_saref.monitoring.logs import json_lines_handler
from dso_saref.rest.server import RestServer
from tests.rest.conftest import NOW, Api, Clock, Reply, issue_keys


@dataclass
class Served(Api):
    """The DSO's API with its portal and monitoring on loopback (``dso`` holds its metrics)."""

    dso: DsoApi | None = None

    @property
    def metrics(self) -> Any:
        """The application's metrics."""
        assert self.dso is not None
        return self.dso.metrics

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def get(self, target: str, *, key: str | None = None, headers: dict[str, str] | None = None) -> Reply:
        """One GET on a fresh connection; ``key`` is a party's name (its key is sent) or a raw token."""
        return self.call("GET", target, key=key, headers=headers)

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample of ``/metrics`` (0 when there is none)."""
        text = self.get("/metrics").body.decode("utf-8")
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return float(sample.value)
        return 0.0


@contextmanager
def serving(db: str = ":memory:", **options: Any) -> Iterator[Served]:
    """A seeded DSO on database ``db`` served by :func:`~dso_saref.app.rest_api.dso_api` (``options``
    are its keyword arguments) on a free loopback port."""
    storage = Storage(db)
    try:
        clock = Clock(NOW)
        backend = DsoBackend(storage, clock=clock)
        summary = seed_world(backend)
        api = dso_api(backend, **options)
        credentials = api.app.state.credentials
        keys = issue_keys(credentials, NOW - timedelta(days=1))
        with RestServer(api.app) as server:
            yield Served(server, backend, credentials, summary, clock, keys, dso=api)
    finally:
        storage.close()


@contextmanager
def json_log() -> Iterator[io.StringIO]:
    """The ``dso_saref`` loggers' lines at INFO and above, as JSON lines, while the block runs."""
    stream = io.StringIO()
    handler = json_lines_handler(stream)
    logger = logging.getLogger("dso_saref")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
