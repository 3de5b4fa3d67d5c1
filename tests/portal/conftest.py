"""Fixtures of the portal tests: a seeded DSO served as a running DSO serves it (the API, the portal,
monitoring) on loopback, with a key for each party of the demo."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from dso_saref.app.rest_api import DsoApi, dso_api
from dso_saref.app.seed import seed_world
from dso_saref.backend import DsoBackend, Storage
from dso_saref.rest.server import RestServer
from tests.rest.conftest import NOW, Clock, Reply, issue_keys


@dataclass
class Served:
    """The DSO's API with its portal on loopback, and a key per party (``keys["SP001"]``)."""

    server: RestServer
    api: DsoApi
    backend: DsoBackend
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def get(self, target: str, *, key: str | None = None, headers: dict[str, str] | None = None) -> Reply:
        """One GET on a fresh connection; ``key`` is a party's name."""
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {self.keys[key]}"
        connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
        try:
            connection.request("GET", target, headers=sent)
            reply = connection.getresponse()
            return Reply(reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read())
        finally:
            connection.close()


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """A seeded DSO (sqlite in memory) served with its portal, shared by a module's tests."""
    clock = Clock(NOW)
    storage = Storage(":memory:")
    backend = DsoBackend(storage, clock=clock)
    seed_world(backend)
    api = dso_api(backend)
    keys = issue_keys(api.app.state.credentials, NOW - timedelta(days=1))
    with RestServer(api.app) as server:
        yield Served(server, api, backend, keys)
    storage.close()
