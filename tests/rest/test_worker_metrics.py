"""Issue 14: ``/metrics`` of the REST API served by several worker processes counts the whole server,
whichever worker answers (prometheus-client's multiprocess mode), and a killed worker's counts are
neither lost nor counted twice once it is replaced."""

from __future__ import annotations

import http.client
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from dso_saref.app.rest_workers import RestWorkers
from dso_saref.backend import Storage
from dso_saref.monitoring.metrics import MULTIPROCESS_DIR, Metrics

pytestmark = pytest.mark.slow  # starts processes that import the library (a few seconds each)

REQUESTS = "dso_saref_http_requests"
#: Attempts at reaching each worker with a new connection (the kernel picks one per connection).
ATTEMPTS = 200


def get(api: RestWorkers, path: str) -> str:
    """The body of ``GET path`` on a new connection (so the kernel picks a worker)."""
    connection = http.client.HTTPConnection(api.host, api.port, timeout=30)
    try:
        connection.request("GET", path)
        reply = connection.getresponse()
        body = reply.read().decode()
        assert reply.status == 200, body
        return body
    finally:
        connection.close()


def served(text_or_samples: str | list, route: str) -> float:
    """The requests to ``route`` answered 200 in an exposition (text) or in merged samples."""
    families = (text_string_to_metric_families(text_or_samples) if isinstance(text_or_samples, str)
                else text_or_samples)
    return sum(s.value for f in families if f.name == REQUESTS for s in f.samples
               if s.name == f"{REQUESTS}_total" and s.labels.get("route") == route and s.labels["status"] == "200")


def served_by(api: RestWorkers, pid: int, route: str) -> float:
    """The requests to ``route`` one worker (``pid``) answered, from its own file."""
    path = Path(api.metrics_directory) / f"counter_{pid}.db"
    return served(list(MultiProcessCollector.merge([str(path)])), route) if path.exists() else 0.0


def scrape_every_worker(api: RestWorkers) -> list[str]:
    """``/metrics`` as each live worker answers it (new connections until each has answered once)."""
    answers: dict[int, str] = {}
    for _ in range(ATTEMPTS):
        before = {pid: served_by(api, pid, "/metrics") for pid in api.pids}
        body = get(api, "/metrics")
        # the answering worker counts its reply before its last byte leaves
        [pid] = [pid for pid in api.pids if served_by(api, pid, "/metrics") > before[pid]]
        answers.setdefault(pid, body)
        if set(answers) == set(api.pids):
            return list(answers.values())
    raise AssertionError(f"the kernel gave {ATTEMPTS} connections to the workers {sorted(answers)} only")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[RestWorkers]:
    db = str(tmp_path / "dso.sqlite")
    Storage(db).close()  # the schema, before two workers open it
    with RestWorkers(db, "127.0.0.1:0", workers=2) as workers:
        yield workers


def test_metrics_of_either_worker_count_the_requests_served_by_both(api: RestWorkers) -> None:
    for _ in range(40):
        get(api, "/health")
    by_worker = [served_by(api, pid, "/health") for pid in api.pids]
    assert sum(by_worker) == 40 and all(by_worker), f"not spread over both workers: {by_worker}"
    assert [served(body, "/health") for body in scrape_every_worker(api)] == [40.0, 40.0]


def test_a_killed_worker_counts_are_kept_once_and_its_replacement_adds_to_them(api: RestWorkers) -> None:
    for _ in range(30):
        get(api, "/health")
    victim = api.pids[0]
    lost_with_it = served_by(api, victim, "/health")
    os.kill(victim, signal.SIGKILL)
    assert api.wait_restarts(1, timeout=60)
    assert victim not in api.pids
    for _ in range(20):
        get(api, "/health")
    assert served_by(api, victim, "/health") == lost_with_it  # the dead worker's file stays as it was
    assert [served(body, "/health") for body in scrape_every_worker(api)] == [50.0, 50.0]


def test_the_metrics_directory_is_removed_on_close(tmp_path: Path) -> None:
    db = str(tmp_path / "dso.sqlite")
    Storage(db).close()
    with RestWorkers(db, "127.0.0.1:0", workers=1) as workers:
        get(workers, "/health")
        directory = Path(workers.metrics_directory)
        assert any(directory.glob("counter_*.db"))
    assert not directory.exists()
    assert MULTIPROCESS_DIR not in os.environ or os.environ[MULTIPROCESS_DIR] != str(directory)


def test_multiprocess_metrics_refuse_a_process_without_the_directory(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    monkeypatch.delenv(MULTIPROCESS_DIR, raising=False)
    with pytest.raises(RuntimeError, match=MULTIPROCESS_DIR):
        Metrics(multiprocess=True)
    monkeypatch.setenv(MULTIPROCESS_DIR, str(tmp_path))  # set, but after prometheus_client was imported here
    with pytest.raises(RuntimeError, match="after prometheus_client was imported"):
        Metrics(multiprocess=True)
