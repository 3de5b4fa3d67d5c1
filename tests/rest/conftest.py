"""Fixtures of the REST tests: a seeded reference DSO behind its REST API on loopback (a real uvicorn
server in a thread), an API key for each party of the demo, and a small HTTP caller."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dso_saref.app.rest_workers import RestWorkers
from dso_saref.app.seed import THIRD_PARTY, SeedSummary, seed_world
from dso_saref.backend import DsoBackend, Storage
from dso_saref.backend.credentials import Credentials
from dso_saref.rest.app import create_app
from dso_saref.rest.server import RestServer
from tests.conftest import Closing

#: When the tests "are": the day after the seed's day of readings.
NOW = datetime(2021, 9, 28, 8, 0, tzinfo=UTC)


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Reply:
    """A reply as the tests read it."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Api:
    """The DSO's API on loopback, its backend, and a key per party (``keys["SP001"]``)."""

    server: RestServer
    backend: DsoBackend
    credentials: Credentials
    summary: SeedSummary
    clock: Clock
    keys: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, target: str, *, key: str | None = None, body: bytes | str | None = None,
             headers: dict[str, str] | None = None) -> Reply:
        """One request on a fresh connection; ``key`` is a party's name (its key is sent) or a raw token."""
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {self.keys.get(key, key)}"
        connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
        try:
            connection.request(method, target, body=body.encode() if isinstance(body, str) else body, headers=sent)
            reply = connection.getresponse()
            return Reply(reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read())
        finally:
            connection.close()

    def post_json(self, target: str, payload: Any, *, key: str | None = None,
                  headers: dict[str, str] | None = None) -> Reply:
        return self.call("POST", target, key=key, body=json.dumps(payload),
                         headers={"Content-Type": "application/json", **(headers or {})})


def issue_keys(credentials: Credentials, now: datetime) -> dict[str, str]:
    """A key for each party of the demo's seed."""
    return {
        "SP001": credentials.add_party("SP001", "service-provider", now=now).token,
        "SP002": credentials.add_party("SP002", "service-provider", now=now).token,
        "DSP001": credentials.add_party("DSP001", "data-service-provider", now=now).token,
        "TP": credentials.add_party("TP", "third-party", now=now, knowledge_base_id=THIRD_PARTY).token,
    }


@pytest.fixture
def api(closing: Closing) -> Iterator[Api]:
    """A seeded DSO (sqlite in memory) behind its REST API, with a key for SP001, SP002, DSP001 and TP."""
    clock = Clock()
    storage = Storage(":memory:")
    backend = DsoBackend(storage, clock=clock)
    summary = seed_world(backend)
    app = create_app(backend)
    credentials = app.state.credentials
    keys = issue_keys(credentials, clock.now - timedelta(days=1))
    server = RestServer(app)
    try:
        yield Api(server, backend, credentials, summary, clock, keys)
    finally:
        closing.later(server.close, storage.close)


def publish_need(api: Api, request_id: str = "N1", meters: tuple[str, ...] = ("M0001", "M0002")) -> dict[str, Any]:
    """The DSO publishes an open need (tomorrow 18:00-21:00, zone Z-SS01); returns an offer for it (JSON)."""
    from dso_saref.messages.flexibility import FlexibilityNeed

    start = api.clock.now.replace(hour=18) + timedelta(days=1)
    need = FlexibilityNeed(request_id=request_id, needs=4.0, unit="kW", direction="Up", power_type="Active",
                           start=start, end=start + timedelta(hours=3), eligible_clients=list(meters), zone_id="Z-SS01")
    api.backend.publish_needs([need])
    return {"request_id": request_id, "offer_id": "O1", "offer": 1.0, "unit": "kW", "price": 0.1,
            "start": need.start.isoformat(), "end": need.end.isoformat(), "meter_ids": [meters[0]]}


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[RestWorkers]:
    """The REST API served by two worker processes on a sqlite file (empty but for its schema)."""
    db = str(tmp_path / "dso.sqlite")
    Storage(db).close()  # the schema, before two workers open it
    with RestWorkers(db, "127.0.0.1:0", workers=2) as workers:
        yield workers
