"""Issue 15 item 5: an unregistration nobody asked for is answered by registering again, never by
leaving; a second instance with a live knowledge base id refuses to start; a stale registration is
replaced. Through the stand-in over HTTP on loopback, for the adapter and for ``serve``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from adapter_support import (
    DSO,
    FAST,
    WAIT,
    authorization,
    client,
    dso_adapter,
    granting,
    provider,
    serving,
    standin,
    token_of,
)

from dso_saref.app.serve import ServeConfig, serve
from dso_saref.ke import EmulatorServer, Gone
from dso_saref.ke.registration import KnowledgeBaseInUse, Liveness, liveness


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    running = standin()
    yield running
    running.close()


def granted(server: EmulatorServer, name: str, end_user: str) -> bool:
    """Whether the DSO answers a provider's authorization request with the right token."""
    asker = provider(server, name)
    try:
        exchange = asker.send("authorization-request", authorization(end_user))
    finally:
        asker.close()
        asker.client.close()
    return exchange.failed == {} and exchange.answers.get(DSO, {}).get("authorization_token") == token_of(end_user)


def test_a_spoofed_delete_is_answered_by_registering_again(server: EmulatorServer, caplog) -> None:
    dso = dso_adapter(server, granting(), workers=2)
    with caplog.at_level(logging.WARNING, logger="dso_saref.ke.adapter"), serving(dso) as thread:
        assert server.emulator.wait_for_poll(DSO, WAIT)
        with client(server) as intruder:
            intruder.delete_knowledge_base(DSO)  # the KE has no authentication
        assert server.emulator.wait_for_poll(DSO, WAIT), "registered again and polling"
        assert thread.is_alive()
        assert granted(server, "sp", "U1")
    assert any("registering again" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_a_ke_restart_is_survived_without_restarting_the_loop() -> None:
    first = standin(handle_timeout=0.3)
    port = first.port
    dso = dso_adapter(first, granting())
    stop = threading.Event()
    thread = threading.Thread(target=dso.serve, args=(stop,), daemon=True)
    thread.start()
    assert first.emulator.wait_for_poll(DSO, WAIT)
    first.close()  # open polls get 410, then the port refuses connections
    second = EmulatorServer(first.emulator.__class__(first.emulator.config), port=port).start()
    try:
        assert second.emulator.wait_for_poll(DSO, WAIT), "registered again on the new KE"
        assert thread.is_alive()
        assert granted(second, "sp", "U2")
    finally:
        stop.set()
        dso.close()
        thread.join(WAIT)
        second.close()


def test_another_connection_polling_as_us_is_evicted(server: EmulatorServer, caplog) -> None:
    dso = dso_adapter(server, granting())
    with client(server) as impostor, ThreadPoolExecutor(1) as threads:
        stolen = threads.submit(impostor.poll, DSO)  # opened before the adapter polls: it gets 409
        assert server.emulator.wait_for_poll(DSO, WAIT)
        with caplog.at_level(logging.WARNING, logger="dso_saref.ke.adapter"), serving(dso):
            with pytest.raises(Gone):
                stolen.result(timeout=WAIT)  # the adapter took its registration back
            assert server.emulator.wait_for_poll(DSO, WAIT)
            assert granted(server, "sp", "U3")
    assert any("taking the registration back" in r.getMessage() for r in caplog.records)


def test_a_second_instance_with_a_live_id_refuses_and_leaves_the_first_alone(server: EmulatorServer) -> None:
    first = dso_adapter(server, granting())
    with serving(first):
        assert server.emulator.wait_for_poll(DSO, WAIT)
        with pytest.raises(KnowledgeBaseInUse, match="served by another process"):
            dso_adapter(server, granting(), probe_window=WAIT)
        assert granted(server, "sp", "U4"), "the first instance still serves"


def test_the_refused_instance_does_not_unregister_the_first_when_it_closes(server: EmulatorServer) -> None:
    first = dso_adapter(server, granting())
    with serving(first):
        assert server.emulator.wait_for_poll(DSO, WAIT)
        from dso_saref.ke.adapter import Adapter

        second = Adapter(client(server), "dso", kb_id=DSO, handlers={"authorization-request": granting()},
                         backoff=FAST)
        with pytest.raises(KnowledgeBaseInUse):
            second.register()
        second.close()
        second.client.close()
        assert DSO in [kb.id for kb in first.client.list_knowledge_bases()]
        assert granted(server, "sp", "U5")


def test_a_stale_registration_is_replaced_with_a_warning(server: EmulatorServer, caplog) -> None:
    with client(server) as previous_run:
        previous_run.register_knowledge_base(DSO, "a run that died", "never unregistered, nobody polls")
        assert liveness(previous_run, DSO, window=0.3) is Liveness.STALE
    with caplog.at_level(logging.WARNING, logger="dso_saref.ke.registration"):
        dso = dso_adapter(server, granting(), probe_window=0.3)
    with serving(dso):
        assert granted(server, "sp", "U6")
    assert any("replacing it" in r.getMessage() for r in caplog.records)


def test_liveness_of_a_free_and_a_live_id(server: EmulatorServer) -> None:
    dso = dso_adapter(server, granting())
    with client(server) as ke:
        assert liveness(ke, "https://test.example.org/kb/nobody", window=0.3) is Liveness.FREE
        with serving(dso):
            assert server.emulator.wait_for_poll(DSO, WAIT)
            assert liveness(ke, DSO, window=WAIT) is Liveness.LIVE


# -- serve ---------------------------------------------------------------------------------------------------


def serving_dso(server: EmulatorServer, stop: threading.Event, **config: object) -> tuple[threading.Thread, list]:
    """``serve`` in a thread; the list gets its outcome."""
    outcome: list = []
    settings = {"ke_url": server.base_url, "db": ":memory:", "kb_id": DSO, "attempts": 2, **config}
    thread = threading.Thread(target=lambda: outcome.append(serve(ServeConfig(**settings), stop)), daemon=True)
    thread.start()
    return thread, outcome


def needs_answered(server: EmulatorServer) -> bool:
    """Whether the DSO answers a (public) flexibility-needs request."""
    asker = provider(server, "needs-asker")
    try:
        exchange = asker.send("flexibility-needs-request",
                              {"start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z"})
    finally:
        asker.close()
        asker.client.close()
    return exchange.failed == {} and DSO in exchange.answers


def test_serve_refuses_to_start_on_a_live_id_and_survives_a_spoofed_delete(server: EmulatorServer) -> None:
    stop_first = threading.Event()
    first, first_outcome = serving_dso(server, stop_first)
    try:
        assert server.emulator.wait_for_poll(DSO, WAIT)
        second, second_outcome = serving_dso(server, threading.Event())
        second.join(WAIT)
        assert not second.is_alive()
        [refused] = second_outcome
        assert not refused.stopped and "served by another process" in (refused.error or "")
        assert needs_answered(server), "the first serve was not disturbed"
        with client(server) as intruder:
            intruder.delete_knowledge_base(DSO)
        assert server.emulator.wait_for_poll(DSO, WAIT), "serve registered again"
        assert first.is_alive()
        assert needs_answered(server)
    finally:
        stop_first.set()
        first.join(WAIT)
    [outcome] = first_outcome
    assert outcome.stopped and outcome.error is None
    with client(server) as ke:
        assert DSO not in [kb.id for kb in ke.list_knowledge_bases()], "unregistered on stopping"
