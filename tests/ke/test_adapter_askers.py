"""Issue 15 item 8: 60 concurrent askers of the DSO all get their own answer, through the stand-in over
HTTP on loopback. The KE (and the stand-in like it) queues at most 50 handle requests per knowledge base
and cancels the oldest beyond that, so the DSO must take the requests off the KE while its handlers are
all busy: with ``serve``'s default pool (8 workers, a backlog of 64) all 60 are taken and held at once,
none waits at the KE, and each is answered once its handler is free.

The askers are plain knowledge bases with one POST interaction each (as in ``bench/adapter_load.py``),
started one after another as soon as the DSO has taken the previous request, so that all 60 are open
at the same time; how fast a simultaneous burst is taken is measured by the bench, not asserted here."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from adapter_support import DSO, WAIT, authorization, client, dso_adapter, granting, standin

import dso_saref
from dso_saref.app.serve import ServeConfig
from dso_saref.ke import EmulatorServer, KnowledgeEngineClient
from dso_saref.ke.results import PostResult
from dso_saref.ke.roles import interactions_for
from tests.support.reference_dso import serving

ASKERS = 60


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    running = standin()
    yield running
    running.close()


def asker(server: EmulatorServer, i: int) -> tuple[KnowledgeEngineClient, str, str]:
    """Knowledge base ``i`` with one POST interaction for ``authorization-request``: client, kb, KI."""
    spec = next(s for s in interactions_for("service-provider") if s.name == "authorization-request")
    ke = client(server)
    kb = f"https://test.example.org/kb/asker{i}"
    ke.register_knowledge_base(kb, f"asker {i}", "one of the concurrent askers")
    ki = ke.register_post(kb, spec.argument_pattern or "", spec.result_pattern, name=spec.name,
                          prefixes=spec.prefixes)
    return ke, kb, ki


def test_sixty_concurrent_askers_are_all_taken_off_the_ke_and_answered(server: EmulatorServer) -> None:
    defaults = ServeConfig()
    release = threading.Event()
    seen: list[str] = []
    dso = dso_adapter(server, granting(seen, before=lambda message: release.wait(WAIT)),
                      workers=defaults.workers, backlog=defaults.backlog)
    askers = [asker(server, i) for i in range(ASKERS)]

    def post(i: int) -> PostResult:
        ke, kb, ki = askers[i]
        rows = dso_saref.to_bindings("authorization-request", authorization(f"U{i}"))["authorization-request"]
        return ke.post(kb, ki, rows, recipients=[DSO])

    with serving(dso), ThreadPoolExecutor(ASKERS) as threads:
        futures = []
        for i in range(ASKERS):
            futures.append(threads.submit(post, i))
            # every handler is held: the DSO takes each request all the same, and none waits at the KE
            assert server.emulator.wait_for_delivered(DSO, i + 1, WAIT), f"the DSO did not take request {i + 1}"
        assert not any(future.done() for future in futures), "no exchange ends before its handler runs"
        release.set()
        results = [future.result(timeout=WAIT) for future in futures]
    for ke, kb, _ in askers:
        ke.delete_knowledge_base(kb)
        ke.close()
    for i, result in enumerate(results):
        [info] = result.exchange_info
        assert info.succeeded, (i, info.failed_message)
        assert [row["end_user"] for row in result.result_binding_set] == [f'"U{i}"'], i
    assert sorted(seen) == sorted(f"U{i}" for i in range(ASKERS)), "each request handled exactly once"
