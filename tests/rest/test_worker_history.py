"""Issues 12 and 14: with several REST worker processes, the status page shows the whole server's history
whichever worker answers (each worker counts into a file of its own, every page sums them all), a killed
worker's history is kept, and the Knowledge Engine exchanges served by the supervising process (where the
adapter runs) are in every worker's ``/metrics`` and status page."""

from __future__ import annotations

import os
import re
import signal
import threading
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dso_saref.app.rest_workers import RestWorkers
from dso_saref.app.seed import DSO_KB, SP001, seed_world
from dso_saref.app.serve import ServeConfig, serve
from dso_saref.backend import DsoBackend, Storage
from dso_saref.ke.adapter import Adapter, Backoff
from dso_saref.ke.client import KnowledgeEngineClient
from dso_saref.ke.emulator import EmulatorConfig, KnowledgeEngineEmulator
from dso_saref.ke.emulator_http import EmulatorServer
from dso_saref.monitoring.observed import observed_handlers
from tests.rest.workers import ask_every_worker, call

pytestmark = pytest.mark.slow  # starts processes that import the library (a few seconds each)

WINDOW = {"start": "2021-09-28T00:00:00Z", "end": "2021-09-29T00:00:00Z"}
BAD_TOKEN = {"data_type": "User", "id": "U0001", "authorization_token": "no-such-token", "granularity": 1, **WINDOW}
STATUS = "/portal/status.html?hours=1"


def page_requests(page: str) -> int:
    """The requests the status page counts in its window."""
    found = re.search(r'<dd class="requests">(\d+)</dd>', page)
    assert found, page[:500]
    return int(found.group(1))


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of an exposition (0 when absent)."""
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def pages(api: RestWorkers) -> list[tuple[int, str]]:
    """The status page as the workers answer it, until each has answered once."""
    return ask_every_worker(api.host, api.port, api.metrics_directory, api.pids, STATUS, "/portal/")


def refuse(api: RestWorkers, times: int) -> None:
    """``times`` requests without an API key (each refused 401, ``no-key``), on new connections."""
    for _ in range(times):
        assert call(api.host, api.port, "/v1/flexibility/needs")[0] == 401


def test_every_worker_shows_the_history_of_the_whole_server(two_workers: RestWorkers) -> None:
    api = two_workers
    refuse(api, 30)
    for _ in range(20):
        assert call(api.host, api.port, "/health")[0] == 200
    answers = pages(api)
    assert len({pid for pid, _ in answers}) == 2
    # each page counts the 50 requests and the pages answered before it, by either worker
    assert [page_requests(page) for _, page in answers] == [50 + k for k in range(len(answers))]
    assert all("no-key: 30" in page for _, page in answers)


def test_a_killed_worker_history_is_kept_and_its_replacement_adds_to_it(two_workers: RestWorkers) -> None:
    api = two_workers
    refuse(api, 30)
    victim = api.pids[0]
    os.kill(victim, signal.SIGKILL)
    assert api.wait_restarts(1, timeout=60)
    refuse(api, 10)
    assert Path(api.metrics_directory, f"history_{victim}.minutes").exists()
    assert all("no-key: 40" in page for _, page in pages(api))


def test_the_supervisor_exchanges_are_in_every_worker_metrics_and_status_page(tmp_path: Path) -> None:
    db = str(tmp_path / "dso.sqlite")
    storage = Storage(db)
    emulator = KnowledgeEngineEmulator(EmulatorConfig(handle_timeout=0.5, exchange_timeout=10.0))
    stop = threading.Event()
    try:
        backend = DsoBackend(storage)
        seed_world(backend)
        with RestWorkers(db, "127.0.0.1:0", workers=2) as api, EmulatorServer(emulator, port=0) as ke:
            metrics = api.supervisor_metrics()
            assert api.supervisor_metrics() is metrics
            dso_client, sp_client = KnowledgeEngineClient(ke.base_url), KnowledgeEngineClient(ke.base_url)
            dso = Adapter(dso_client, "dso", kb_id=DSO_KB, backoff=Backoff(attempts=2),
                          handlers=observed_handlers(backend.handlers(), [metrics.exchange]))
            sp = Adapter(sp_client, "service-provider", kb_id=SP001, backoff=Backoff(attempts=2))
            poll = threading.Thread(target=dso.serve, args=(stop,), daemon=True)
            try:
                dso.register()
                sp.register()
                poll.start()
                assert sp.send("flexibility-needs-request", WINDOW).answered
                assert not sp.send("metering-request", BAD_TOKEN).answered
                scrapes = ask_every_worker(api.host, api.port, api.metrics_directory, api.pids, "/metrics",
                                           "/metrics")
                status = pages(api)
            finally:
                stop.set()
                dso.close()
                sp.close()
                poll.join(30)
                dso_client.close()
                sp_client.close()
        exchanges = "dso_saref_ke_exchanges_total"
        for _, text in scrapes:
            assert metric(text, exchanges, interaction="flexibility-needs-request", side="served",
                          outcome="answered") == 1
            assert metric(text, exchanges, interaction="metering-request", side="served", outcome="refused") == 1
            assert metric(text, "dso_saref_refusals_total", channel="ke", reason="no-consent") == 1
            assert metric(text, "dso_saref_ke_exchange_duration_seconds_count", interaction="metering-request",
                          side="served") == 1
        for _, page in status:
            assert "answered: 1, refused: 1" in page and "ke-no-consent: 1" in page
    finally:
        storage.close()
    assert not poll.is_alive()


def test_serve_with_workers_counts_its_exchanges_where_the_workers_show_them(tmp_path: Path) -> None:
    emulator = KnowledgeEngineEmulator(EmulatorConfig(handle_timeout=0.5, exchange_timeout=10.0))
    stop, registered = threading.Event(), threading.Event()
    lines: list[str] = []

    def ready(line: str) -> None:
        lines.append(line)
        if line.startswith("serving the DSO as"):
            registered.set()

    with EmulatorServer(emulator, port=0) as ke:
        config = ServeConfig(ke_url=ke.base_url, db=str(tmp_path / "dso.sqlite"), seed=True, rest="127.0.0.1:0",
                             rest_workers=2, attempts=2)
        outcome: list[object] = []
        server = threading.Thread(target=lambda: outcome.append(serve(config, stop, ready=ready)), daemon=True)
        server.start()
        client = KnowledgeEngineClient(ke.base_url)
        sp = Adapter(client, "service-provider", kb_id=SP001, backoff=Backoff(attempts=2))
        try:
            assert registered.wait(120), lines
            [port] = [int(m.group(1)) for line in lines for m in [re.search(r"http://127\.0\.0\.1:(\d+)/v1", line)]
                      if m]
            sp.register()
            assert sp.send("flexibility-needs-request", WINDOW).answered
            status, text = call("127.0.0.1", port, "/metrics")
            assert status == 200
            assert metric(text, "dso_saref_ke_exchanges_total", interaction="flexibility-needs-request",
                          side="served", outcome="answered") == 1
        finally:
            sp.close()
            client.close()
            stop.set()
            server.join(60)
    assert not server.is_alive() and outcome
