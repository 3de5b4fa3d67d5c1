"""Liveness and readiness: is the process serving (``/health``), and can it do its work (``/ready``:
the database answers, the Knowledge Engine is reachable and knows the DSO's knowledge base).

A :data:`Probe` raises when what it checks is not ready; :class:`Readiness` runs its probes and says
which failed and why (never a traceback, never a credential)::

    readiness = Readiness([database_probe(backend.storage), ke_probe("http://127.0.0.1:8280/rest", kb_id=kb)])
    checks = readiness.run()
    all(c.ok for c in checks)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dso_saref.backend.storage import Storage
from dso_saref.ke.client import KnowledgeEngineClient, Timeouts

__all__ = ["Check", "Probe", "Readiness", "database_probe", "ke_probe"]

Probe = tuple[str, Callable[[], None]]
"""A named check: the callable raises when the thing it checks is not ready."""


@dataclass(frozen=True)
class Check:
    """The result of one probe: its name, whether it passed, what it found, and how long it took."""

    name: str
    ok: bool
    detail: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The check as JSON."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "ms": round(self.seconds * 1000, 1)}


class Readiness:
    """The probes that say whether the DSO can serve."""

    def __init__(self, probes: Sequence[Probe] = ()) -> None:
        self.probes = tuple(probes)

    def run(self) -> list[Check]:
        """Run every probe (in order); a probe that raises is a failed check with the error's message."""
        checks = []
        for name, probe in self.probes:
            started = time.perf_counter()
            try:
                probe()
            except Exception as exc:  # whatever a probe raises, the answer is "not ready, because ..."
                message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
                checks.append(Check(name, False, message, time.perf_counter() - started))
            else:
                checks.append(Check(name, True, "ok", time.perf_counter() - started))
        return checks


def database_probe(storage: Storage) -> Probe:
    """The database answers a trivial query."""

    def probe() -> None:
        storage.query_one("SELECT 1")

    return "database", probe


def ke_probe(ke_url: str, *, kb_id: str | None = None, timeout: float = 2.0) -> Probe:
    """The Knowledge Engine at ``ke_url`` answers within ``timeout`` seconds and, when ``kb_id`` is given,
    knows that knowledge base (the DSO registered on it)."""
    timeouts = Timeouts(connect=timeout, read=timeout)

    def probe() -> None:
        with KnowledgeEngineClient(ke_url, timeout=timeouts) as client:
            if kb_id is None:
                client.list_knowledge_bases()
            else:
                client.get_knowledge_base(kb_id)

    return "knowledge-engine", probe
