"""Issue 14 item 3: the REST API served by several worker processes on one database (a sqlite file, and
PostgreSQL when ``DSO_SAREF_TEST_PG`` names a server): offers posted at once through all of them are
each stored once, a retried POST with the same key is applied once whichever worker gets it, and the
API keeps answering when a worker dies."""

from __future__ import annotations

import http.client
import json
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from dso_saref.app.rest_workers import RestWorkers
from dso_saref.app.seed import seed_world
from dso_saref.backend import DsoBackend
from dso_saref.backend.credentials import Credentials
from dso_saref.messages.flexibility import FlexibilityNeed
from tests.rest.conftest import issue_keys
from tests.storage import database as databases
from tests.storage.database import KINDS, Database

pytestmark = pytest.mark.slow  # starts processes that import the library (a few seconds each)


class Workers:
    """Two workers over a seeded database, SP001's key, and an open need to offer on."""

    def __init__(self, database: Database) -> None:
        backend = DsoBackend(database.open())
        seed_world(backend)
        now = datetime.now(UTC)
        self.keys = issue_keys(Credentials(backend.storage), now - timedelta(days=1))
        start = (now + timedelta(days=1)).replace(hour=18, minute=0, second=0, microsecond=0)
        need = FlexibilityNeed(request_id="N1", needs=4.0, unit="kW", direction="Up", power_type="Active",
                               start=start, end=start + timedelta(hours=3), eligible_clients=["M0001", "M0002"],
                               zone_id="Z-SS01")
        backend.publish_needs([need])
        self.backend = backend
        self.offer = {"request_id": "N1", "offer": 0.5, "unit": "kW", "price": 0.1, "start": start.isoformat(),
                      "end": need.end.isoformat(), "meter_ids": ["M0001"]}
        self.api = RestWorkers(database.url, "127.0.0.1:0", workers=2, threads=2)

    def post(self, offer_id: str, key: str | None = None) -> int:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.keys['SP001']}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        connection = http.client.HTTPConnection(self.api.host, self.api.port, timeout=30)
        try:
            body = json.dumps([{**self.offer, "offer_id": offer_id}])
            connection.request("POST", "/v1/flexibility/offers", body=body, headers=headers)
            reply = connection.getresponse()
            reply.read()
            return reply.status
        finally:
            connection.close()

    def stored_offer_ids(self) -> list[str]:
        return sorted(record.offer.offer_id for record in self.backend.market.offers("N1"))


@pytest.fixture(params=KINDS)
def workers(request: pytest.FixtureRequest, tmp_path) -> Iterator[Workers]:
    with databases.test_database(request.param, tmp_path, file=True) as database:
        served = Workers(database)
        try:
            yield served
        finally:
            served.api.close()


def test_offers_posted_at_once_through_every_worker_are_each_stored_once(workers: Workers) -> None:
    ids = [f"O{i:03d}" for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(workers.post, ids))
    assert statuses == [201] * len(ids)
    retried = [workers.post("R1", key="same-key") for _ in range(6)]
    assert retried[0] == 201 and set(retried) == {201}  # the stored answer, replayed by whichever worker
    assert workers.stored_offer_ids() == sorted([*ids, "R1"])


def test_a_killed_worker_is_started_again_and_the_api_answers(workers: Workers) -> None:
    victim, other = workers.api.pids
    os.kill(victim, signal.SIGKILL)
    assert workers.api.wait_restarts(1, timeout=60)
    assert victim not in workers.api.pids and other in workers.api.pids and len(workers.api.pids) == 2
    assert [workers.post(f"K{i}") for i in range(10)] == [201] * 10
    assert workers.stored_offer_ids() == [f"K{i}" for i in range(10)]


def test_an_in_memory_database_cannot_be_shared_by_workers() -> None:
    with pytest.raises(ValueError, match="not :memory:"):
        RestWorkers(":memory:", "127.0.0.1:0", workers=2)
