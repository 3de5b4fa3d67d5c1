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
    PROBE,
    WAIT,
    authorization,
    client,
    dso_adapter,
    granting,
    provider,
    standin,
    token_of,
)

from dso_saref.app.seed import SP001
from dso_saref.app.serve import ServeConfig, serve
from dso_saref.backend import Outcome, Storage
from dso_saref.backend.registry import OperationsRegistry
from dso_saref.ke import EmulatorServer, Gone, KnowledgeEngineClient, KnowledgeEngineTimeout, Timeouts
from dso_saref.ke.adapter import Adapter, Exchange
from dso_saref.ke.registration import KnowledgeBaseInUse, Liveness, Probe, ProbeStopped, liveness
from tests.support.reference_dso import serving


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
            dso_adapter(server, granting())
        assert granted(server, "sp", "U4"), "the first instance still serves"


def test_the_refused_instance_does_not_unregister_the_first_when_it_closes(server: EmulatorServer) -> None:
    first = dso_adapter(server, granting())
    with serving(first):
        assert server.emulator.wait_for_poll(DSO, WAIT)
        second = Adapter(client(server), "dso", kb_id=DSO, handlers={"authorization-request": granting()},
                         backoff=FAST, probe=PROBE)
        with pytest.raises(KnowledgeBaseInUse):
            second.register()
        second.close()
        second.client.close()
        assert DSO in [kb.id for kb in first.client.list_knowledge_bases()]
        assert granted(server, "sp", "U5")


def test_a_stale_registration_is_replaced_with_a_warning(server: EmulatorServer, caplog) -> None:
    with client(server) as previous_run:
        previous_run.register_knowledge_base(DSO, "a run that died", "never unregistered, nobody polls")
        assert liveness(previous_run, DSO, PROBE) is Liveness.STALE
    with caplog.at_level(logging.WARNING, logger="dso_saref.ke.registration"):
        dso = dso_adapter(server, granting())
    with serving(dso):
        assert granted(server, "sp", "U6")
    assert any("replacing it" in r.getMessage() for r in caplog.records)


def test_a_restart_after_a_crash_waits_out_the_dead_poll_and_takes_over(server: EmulatorServer, caplog) -> None:
    """A process killed while polling leaves its long poll open at the KE (until the KE's poll timeout):
    that poll refuses ours with 409 for a while, which must not read as a live owner."""
    with KnowledgeEngineClient(server.base_url, timeout=Timeouts(read=0.05, long_poll=0.05)) as crashed:
        crashed.register_knowledge_base(DSO, "a run killed while polling", "its poll stays open at the KE")
        with pytest.raises(KnowledgeEngineTimeout):
            crashed.poll(DSO)  # the connection goes; the stand-in keeps the poll open, as the KE does
    assert server.emulator.wait_for_poll(DSO, 0)
    with caplog.at_level(logging.WARNING, logger="dso_saref.ke.registration"):
        dso = dso_adapter(server, granting())
    with serving(dso):
        assert granted(server, "sp", "U7")
    assert any("replacing it" in r.getMessage() for r in caplog.records)


def test_liveness_of_a_free_and_a_live_id(server: EmulatorServer) -> None:
    dso = dso_adapter(server, granting())
    with client(server) as ke:
        assert liveness(ke, "https://test.example.org/kb/nobody", PROBE) is Liveness.FREE
        with serving(dso):
            assert server.emulator.wait_for_poll(DSO, WAIT)
            assert liveness(ke, DSO, PROBE) is Liveness.LIVE


def test_closing_an_adapter_ends_its_probe_at_once(server: EmulatorServer) -> None:
    first = dso_adapter(server, granting())
    with serving(first), ThreadPoolExecutor(1) as threads:
        assert server.emulator.wait_for_poll(DSO, WAIT)
        second = Adapter(client(server), "dso", kb_id=DSO, handlers={"authorization-request": granting()},
                         backoff=FAST, probe=Probe(window=WAIT, hold=WAIT))
        started = threading.Event()
        watcher = logging.Handler(logging.INFO)
        watcher.emit = lambda record: started.set() if "checking whether" in record.getMessage() else None
        logger = logging.getLogger("dso_saref.ke.registration")
        logger.addHandler(watcher)
        level = logger.level
        logger.setLevel(logging.INFO)
        try:
            probing = threads.submit(second.register)
            assert started.wait(WAIT), "the probe began"
        finally:
            logger.removeHandler(watcher)
            logger.setLevel(level)
        second.close()
        with pytest.raises(ProbeStopped):
            probing.result(timeout=WAIT / 2)  # well before the probe's own end
        second.client.close()
        assert granted(server, "sp", "U8")


# -- serve ---------------------------------------------------------------------------------------------------


def serving_dso(server: EmulatorServer, stop: threading.Event, **config: object) -> tuple[threading.Thread, list]:
    """``serve`` in a thread; the list gets its outcome."""
    outcome: list = []
    settings = {"ke_url": server.base_url, "db": ":memory:", "kb_id": DSO, "attempts": 2, "probe": PROBE, "seed": True,
                **config}
    thread = threading.Thread(target=lambda: outcome.append(serve(ServeConfig(**settings), stop)), daemon=True)
    thread.start()
    return thread, outcome


def needs_asked(server: EmulatorServer, asker_kb: str, times: int = 1) -> list[Exchange]:
    """``asker_kb`` asks the DSO for the flexibility needs of a day, ``times`` at once."""
    asker = Adapter(client(server), "service-provider", kb_id=asker_kb, peers={"dso": [DSO]}, backoff=FAST)
    asker.register()
    window = {"start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z"}
    try:
        with ThreadPoolExecutor(times) as threads:
            return list(threads.map(lambda _: asker.send("flexibility-needs-request", window), range(times)))
    finally:
        asker.close()
        asker.client.close()


def needs_answered(server: EmulatorServer) -> bool:
    """Whether the DSO answers a seeded provider's flexibility-needs request."""
    [exchange] = needs_asked(server, SP001)
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


def test_the_registry_rows_of_each_ke_exchange_carry_its_own_request_id(server: EmulatorServer, tmp_path) -> None:
    """Issue 14 item 3: exchanges handled at once are told apart in the registry of operations."""
    db = str(tmp_path / "dso.sqlite")
    stop = threading.Event()
    thread, outcome = serving_dso(server, stop, db=db)
    try:
        assert server.emulator.wait_for_poll(DSO, WAIT)
        stranger = "https://test.example.org/kb/stranger"  # no agreement: refused, and the refusal registered
        refused = needs_asked(server, stranger, times=4)
    finally:
        stop.set()
        thread.join(WAIT)
    assert [o.stopped for o in outcome] == [True]
    assert all(DSO in exchange.failed for exchange in refused), refused
    storage = Storage(db)
    try:
        rows = OperationsRegistry(storage).entries(actor=stranger, outcome=Outcome.REFUSED)
    finally:
        storage.close()
    assert len(rows) == 4
    ids = [row.request_id for row in rows]
    assert all(ids) and len(set(ids)) == 4, ids
