"""Issue 14: ``/metrics`` of the REST API served by several worker processes counts the whole server,
whichever worker answers (prometheus-client's multiprocess mode), and a killed worker's counts are
neither lost nor counted twice once it is replaced."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from dso_saref.app.rest_workers import RestWorkers
from dso_saref.backend import Storage
from dso_saref.monitoring.metrics import MULTIPROCESS_DIR, Metrics
from tests.rest.workers import ask_every_worker, served, served_by
from tests.rest.workers import get as get_at

pytestmark = pytest.mark.slow  # starts processes that import the library (a few seconds each)


def get(api: RestWorkers, path: str) -> str:
    """The body of ``GET path`` on a new connection, which must answer 200."""
    return get_at(api.host, api.port, path)


def scrape_every_worker(api: RestWorkers) -> list[str]:
    """``/metrics`` as each live worker answers it (new connections until each has answered once)."""
    answers = ask_every_worker(api.host, api.port, api.metrics_directory, api.pids, "/metrics", "/metrics")
    return list({pid: body for pid, body in reversed(answers)}.values())


def test_metrics_of_either_worker_count_the_requests_served_by_both(two_workers: RestWorkers) -> None:
    api = two_workers
    for _ in range(40):
        get(api, "/health")
    by_worker = [served_by(api.metrics_directory, pid, "/health") for pid in api.pids]
    assert sum(by_worker) == 40 and all(by_worker), f"not spread over both workers: {by_worker}"
    assert [served(body, "/health") for body in scrape_every_worker(api)] == [40.0, 40.0]


def test_a_killed_worker_counts_are_kept_once_and_its_replacement_adds_to_them(two_workers: RestWorkers) -> None:
    api = two_workers
    for _ in range(30):
        get(api, "/health")
    victim = api.pids[0]
    lost_with_it = served_by(api.metrics_directory, victim, "/health")
    os.kill(victim, signal.SIGKILL)
    assert api.wait_restarts(1, timeout=60)
    assert victim not in api.pids
    for _ in range(20):
        get(api, "/health")
    assert served_by(api.metrics_directory, victim, "/health") == lost_with_it  # the dead worker's file stays as it was
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
