"""The adapter against the emulator over real HTTP: every exchange of the catalog between two roles,
and the faults the handle loop must survive."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from adapter_support import FAST

import dso_saref
from dso_saref.exchange import ExchangeContext
from dso_saref.ke import (
    EmulatorConfig,
    EmulatorServer,
    KnowledgeEngineClient,
    KnowledgeEngineEmulator,
    KnowledgeEngineUnavailable,
    Timeouts,
)
from dso_saref.ke.adapter import Adapter, Backoff
from dso_saref.ke.roles import interactions_for
from dso_saref.messages.observability import HemsVoltageRequest
from tests.support.reference_dso import serving

EXCHANGES = sorted(name for name in dso_saref.catalog if dso_saref.catalog[name].interaction is not None)


def client(server: EmulatorServer) -> KnowledgeEngineClient:
    return KnowledgeEngineClient(server.base_url, timeout=Timeouts(read=10, exchange=10, long_poll=10))


def example_answer(name: str) -> Callable[[Any, ExchangeContext], Any]:
    counterpart = dso_saref.catalog[dso_saref.catalog[name].interaction.counterpart]
    return lambda message, context: counterpart.example()


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(handle_timeout=0.5, exchange_timeout=3.0)
    with EmulatorServer(KnowledgeEngineEmulator(config), port=0) as running:
        yield running


@pytest.mark.parametrize("name", EXCHANGES)
def test_every_exchange_runs_between_two_roles_over_http(server: EmulatorServer, name: str) -> None:
    interaction = dso_saref.catalog[name].interaction
    assert interaction.initiators and interaction.responders, f"{name}: who starts and who serves?"
    responder = Adapter(client(server), interaction.responders[0], kb_id="https://test.example.org/kb/responder",
                        handlers={name: example_answer(name)}, backoff=FAST)
    initiator = Adapter(client(server), interaction.initiators[0], kb_id="https://test.example.org/kb/initiator",
                        backoff=FAST)
    responder.register()
    initiator.register()
    counterpart = dso_saref.catalog[interaction.counterpart]
    with serving(responder):
        payload = None if counterpart.name == name else dso_saref.catalog[name].example()
        exchange = initiator.send(name, payload, recipients=[responder.kb_id])
    initiator.close()
    assert exchange.failed == {}
    assert list(exchange.answers) == ["https://test.example.org/kb/responder"]
    answer = exchange.answers["https://test.example.org/kb/responder"]
    expected = dso_saref.canonical(counterpart.name, counterpart.example())
    if counterpart.name == name and not counterpart.top_list:
        assert answer == [expected], "a lookup of single-object messages answers a list of them"
    elif interaction.type == dso_saref.POST_REACT or payload is None:
        assert answer == expected


@pytest.mark.parametrize("role", ["dso", "service-provider", "third-party", "data-service-provider"])
def test_ki_names_are_exchange_and_part_names_unique_and_ke_legal(role: str) -> None:
    specs = interactions_for(role)
    names = [spec.name for spec in specs]
    assert len(names) == len(set(names))
    assert {spec.name for spec in specs if spec.part is None} <= set(EXCHANGES)
    for spec in specs:
        assert re.fullmatch(r"[a-zA-Z0-9-]+", spec.name), spec.name  # the KE's knowledgeInteractionName
        if spec.part is not None:
            message, _, part = spec.part.partition(".")
            assert spec.name.startswith(f"{message}--{part}")


def test_no_binding_set_carries_a_placeholder_and_every_row_binds_its_part() -> None:
    """issue 10: a binding set means its pattern instantiated with every row, so none may hold rdf:nil."""
    for name in dso_saref.catalog:
        description = dso_saref.catalog[name]
        for key, rows in dso_saref.to_bindings(name, description.example()).items():
            part = next(p for p in description.parts if p.key == key)
            for row in rows:
                assert set(row) == set(part.variables), (key, row)
                assert "rdf-syntax-ns#nil" not in "".join(row.values()), (key, row)


def test_a_raising_handler_becomes_an_error_reply_not_a_hang(server: EmulatorServer) -> None:
    def broken(message: Any, context: ExchangeContext) -> Any:
        raise RuntimeError("database on fire")

    dso = Adapter(client(server), "service-provider", kb_id="https://test.example.org/kb/sp",
                  handlers={"hems-voltage-request": broken}, backoff=FAST)
    asker = Adapter(client(server), "dso", kb_id="https://test.example.org/kb/asker", backoff=FAST)
    dso.register()
    asker.register()
    with serving(dso):
        exchange = asker.send("hems-voltage-request", {"Hems_ID": "ID1234"}, recipients=[dso.kb_id])
    assert not exchange.answered
    assert "database on fire" in exchange.failed["https://test.example.org/kb/sp"]


def test_malformed_incoming_bindings_are_refused_with_a_clear_error(server: EmulatorServer) -> None:
    seen: list[Any] = []
    reactor = Adapter(client(server), "dso", kb_id="https://test.example.org/kb/dso",
                      handlers={"fault-notification": lambda m, c: seen.append(m)}, backoff=FAST)
    poster = Adapter(client(server), "service-provider", kb_id="https://test.example.org/kb/sp", backoff=FAST)
    reactor.register()
    poster.register()
    good = dso_saref.to_bindings("fault-notification", dso_saref.catalog["fault-notification"].example())
    bad = [{**row, "postal_code": "<urn:not:a:postal:code>"} for row in good["fault-notification"]]
    with serving(reactor):
        result = poster.client.post(poster.kb_id, poster.ki_ids["fault-notification"], bad)
    assert seen == []
    (info,) = result.exchange_info
    assert not info.succeeded and "fault-notification" in (info.failed_message or "")


def test_ke_down_at_start_retries_then_raises() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = Adapter(KnowledgeEngineClient(f"http://127.0.0.1:{port}/rest", timeout=Timeouts(connect=0.5)), "dso",
                      kb_id="https://test.example.org/kb/dso", backoff=Backoff(initial=0.01, cap=0.02, attempts=3))
    with pytest.raises(KnowledgeEngineUnavailable):
        adapter.register()


def test_ke_restart_mid_run_reregisters_and_carries_on() -> None:
    config = EmulatorConfig(handle_timeout=0.3, exchange_timeout=3.0)
    first = EmulatorServer(KnowledgeEngineEmulator(config), port=0).start()
    port = int(first.base_url.split(":")[2].split("/")[0])
    answer = example_answer("hems-voltage-request")
    sp = Adapter(client(first), "service-provider", kb_id="https://test.example.org/kb/sp",
                 handlers={"hems-voltage-request": answer}, backoff=FAST)
    sp.register()
    stop = threading.Event()
    thread = threading.Thread(target=sp.serve, args=(stop,), daemon=True)
    thread.start()
    first.close()  # the KE goes away; the loop sees 410 or connection errors
    second = EmulatorServer(KnowledgeEngineEmulator(config), port=port).start()
    try:
        if not thread.is_alive():  # 410 on shutdown stops the loop, as the KE asks: start it again
            thread = threading.Thread(target=sp.serve, args=(stop,), daemon=True)
            thread.start()
        emulator = second.emulator
        assert emulator.wait_for_poll(sp.kb_id, timeout=10), "the adapter did not register again"
        asker = Adapter(client(second), "dso", kb_id="https://test.example.org/kb/dso", backoff=FAST)
        asker.register()
        exchange = asker.send("hems-voltage-request", {"Hems_ID": "ID1234"}, recipients=[sp.kb_id])
        assert exchange.answered and not exchange.failed
    finally:
        stop.set()
        sp.close()
        thread.join(timeout=10)
        second.close()


def test_ask_answer_handler_gets_the_typed_request(server: EmulatorServer) -> None:
    received: list[tuple[Any, ExchangeContext]] = []

    def answer(request: HemsVoltageRequest, context: ExchangeContext) -> Any:
        received.append((request, context))
        return dso_saref.catalog["hems-voltage"].example()

    sp = Adapter(client(server), "service-provider", kb_id="https://test.example.org/kb/sp",
                 handlers={"hems-voltage-request": answer}, backoff=FAST)
    dso = Adapter(client(server), "dso", kb_id="https://test.example.org/kb/dso", backoff=FAST)
    sp.register()
    dso.register()
    with serving(sp):
        other = dso.send("hems-voltage-request", {"Hems_ID": "ID9999"}, recipients=[sp.kb_id])
    request, context = received[0]
    assert isinstance(request, HemsVoltageRequest) and request.Hems_ID == "ID9999"
    assert (context.exchange, context.channel, context.requester) == (
        "hems-voltage-request", "ke", "https://test.example.org/kb/dso")
    # the example answers ID1234 only: nothing compatible with the asker's ID9999 comes back
    assert other.answers["https://test.example.org/kb/sp"] == {"Voltage_Monitoring": []} or not other.answered


def test_send_has_a_per_call_timeout(server: EmulatorServer) -> None:
    from dso_saref.ke import KnowledgeEngineTimeout

    silent = Adapter(client(server), "service-provider", kb_id="https://test.example.org/kb/silent",
                     handlers={"hems-voltage-request": example_answer("hems-voltage-request")}, backoff=FAST)
    asker = Adapter(client(server), "dso", kb_id="https://test.example.org/kb/asker", backoff=FAST)
    silent.register()  # registered, but never polls: the KE waits for it
    asker.register()
    with pytest.raises(KnowledgeEngineTimeout):
        asker.send("hems-voltage-request", {"Hems_ID": "ID1234"}, recipients=[silent.kb_id], timeout=0.3)


def test_a_slow_peer_is_reported_failed_and_does_not_hide_the_others(server: EmulatorServer) -> None:
    answer = example_answer("hems-voltage-request")
    quick = Adapter(client(server), "service-provider", kb_id="https://test.example.org/kb/quick",
                    handlers={"hems-voltage-request": answer}, backoff=FAST)
    slow = Adapter(client(server), "service-provider", kb_id="https://test.example.org/kb/slow",
                   handlers={"hems-voltage-request": answer}, backoff=FAST)
    asker = Adapter(client(server), "dso", kb_id="https://test.example.org/kb/asker", backoff=FAST)
    for adapter in (quick, slow, asker):
        adapter.register()
    with serving(quick):  # the slow one never polls: the emulator's exchange timeout (3 s) reports it
        exchange = asker.send("hems-voltage-request", {"Hems_ID": "ID1234"}, recipients=[quick.kb_id, slow.kb_id])
    assert list(exchange.answers) == ["https://test.example.org/kb/quick"]
    assert "https://test.example.org/kb/slow" in exchange.failed
