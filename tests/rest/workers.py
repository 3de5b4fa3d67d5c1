"""Reaching each REST worker process of :class:`~dso_saref.app.rest_workers.RestWorkers` and reading its
counts: the kernel gives each new connection to one worker, and which one answered shows in the
worker's own metrics file (it counts its reply before the reply's last byte leaves)."""

from __future__ import annotations

import http.client
from pathlib import Path

from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

REQUESTS = "dso_saref_http_requests"
#: Attempts at reaching each worker with a new connection (the kernel picks one per connection).
ATTEMPTS = 200


def call(host: str, port: int, path: str, method: str = "GET") -> tuple[int, str]:
    """The status and body of ``method path`` on a new connection (so the kernel picks a worker)."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request(method, path)
        reply = connection.getresponse()
        return reply.status, reply.read().decode()
    finally:
        connection.close()


def get(host: str, port: int, path: str) -> str:
    """The body of ``GET path``, which must answer 200."""
    status, body = call(host, port, path)
    assert status == 200, body
    return body


def served(text_or_samples: str | list, route: str) -> float:
    """The requests to ``route`` answered 200 in an exposition (text) or in merged samples."""
    families = (text_string_to_metric_families(text_or_samples) if isinstance(text_or_samples, str)
                else text_or_samples)
    return sum(s.value for f in families if f.name == REQUESTS for s in f.samples
               if s.name == f"{REQUESTS}_total" and s.labels.get("route") == route and s.labels["status"] == "200")


def served_by(directory: str, pid: int, route: str) -> float:
    """The requests to ``route`` one worker (``pid``) answered, from its own file in ``directory``."""
    path = Path(directory) / f"counter_{pid}.db"
    return served(list(MultiProcessCollector.merge([str(path)])), route) if path.exists() else 0.0


def ask_every_worker(host: str, port: int, directory: str, pids: list[int], path: str,
                     route: str) -> list[tuple[int, str]]:
    """``GET path`` (whose route label is ``route``) on new connections until each worker of ``pids``
    has answered once: every answer in order, as (the answering worker's pid, the body)."""
    answers: list[tuple[int, str]] = []
    for _ in range(ATTEMPTS):
        before = {pid: served_by(directory, pid, route) for pid in pids}
        body = get(host, port, path)
        [pid] = [pid for pid in pids if served_by(directory, pid, route) > before[pid]]
        answers.append((pid, body))
        if {p for p, _ in answers} == set(pids):
            return answers
    raise AssertionError(f"the kernel gave {ATTEMPTS} connections to the workers {sorted(p for p, _ in answers)} only")
