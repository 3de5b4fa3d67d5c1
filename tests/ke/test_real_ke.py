"""Issue 13 items 3 and 4: the same client-contract, level-1 and adapter checks against the stand-in and,
marked ``real_ke``, against the Knowledge Engine REST URL in ``DSO_SAREF_KE_URL`` (skipped when unset;
docs/ke.md, "Running against the real Knowledge Engine"). Each test runs on both engines and asserts
what both do: status codes and fields, never the stand-in's wording; no row order.

On a real KE every test registers knowledge bases of its own (fresh ids) and deletes them at the end,
so a shared runtime is left as it was found. The KE's own timings apply: a silent peer is reported
after ``ke.kb.wait.timeout`` (10 s by default), a long poll idles 29 s.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from ke_support import PREFIXES

import dso_saref
from dso_saref.app.demo import DemoConfig, Network, run_puc
from dso_saref.app.scenarios import SCENARIOS, exchanges_of
from dso_saref.catalog import Description
from dso_saref.ke import (
    BadRequest,
    EmulatorConfig,
    EmulatorServer,
    Gone,
    HandleRequest,
    KnowledgeBaseNotFound,
    KnowledgeEngineClient,
    KnowledgeEngineEmulator,
    Timeouts,
)
from dso_saref.ke.adapter import Adapter, Backoff
from dso_saref.ke.scope import Scope
from tests.conftest import REAL_KE_URL
from tests.ke.test_adapter import example_answer
from tests.support.reference_dso import serving

FAST = Backoff(initial=0.05, cap=0.2, attempts=3)
M1 = "<http://example.org/m1>"
DECIMAL = "http://www.w3.org/2001/XMLSchema#decimal"
#: Seconds an exchange may take before the test calls it a hang: above the KE's default wait (10 s).
PATIENCE = 40.0
#: How long the stand-in waits for a peer's answer (seconds).
STAND_IN_WAIT = 8.0


def value(number: float) -> str:
    return f'"{number}"^^<{DECIMAL}>'


@dataclass
class Engine:
    """One Knowledge Engine under test: its REST URL, whether it is the real one, the seconds it waits
    for a silent peer, and the knowledge bases the test registered (deleted at the end)."""

    url: str
    real: bool
    peer_wait: float
    kbs: list[str] = field(default_factory=list)

    def client(self, level: int | None = 1) -> KnowledgeEngineClient:
        return KnowledgeEngineClient(self.url, timeout=Timeouts(read=PATIENCE, exchange=PATIENCE, long_poll=PATIENCE),
                                     reasoner_level=level)

    def kb(self, name: str) -> str:
        kb_id = f"http://test.example.org/{uuid.uuid4().hex[:12]}/{name}"
        self.kbs.append(kb_id)
        return kb_id


@pytest.fixture(params=[pytest.param("stand-in"), pytest.param("real", marks=pytest.mark.real_ke)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The stand-in over loopback HTTP, or the real KE at ``DSO_SAREF_KE_URL``."""
    if request.param == "stand-in":
        # a peer's answer takes seconds on a busy 2-core machine running the suite on both cores
        config = EmulatorConfig(handle_timeout=1.0, exchange_timeout=STAND_IN_WAIT)
        with EmulatorServer(KnowledgeEngineEmulator(config), port=0) as server:
            yield Engine(server.base_url, real=False, peer_wait=STAND_IN_WAIT)
        return
    running = Engine(REAL_KE_URL or "", real=True, peer_wait=10.0)
    yield running
    with running.client() as ke:  # leave a shared runtime as it was found
        for kb_id in running.kbs:
            with contextlib.suppress(KnowledgeBaseNotFound):
                ke.delete_knowledge_base(kb_id)


class Responder:
    """A knowledge base's reactive side in a thread: answers every handle request with ``handler``
    until its knowledge base is deleted (410/404 end the long poll); keeps the requests seen."""

    def __init__(self, ke: KnowledgeEngineClient, kb_id: str,
                 handler: Callable[[HandleRequest], list[dict[str, str]] | str]) -> None:
        self.ke, self.kb_id, self.handler = ke, kb_id, handler
        self.seen: list[HandleRequest] = []
        self.arrived = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            try:
                request = self.ke.poll(self.kb_id)
            except (Gone, KnowledgeBaseNotFound):
                return
            if request is None:
                continue
            self.seen.append(request)
            self.arrived.set()
            reply = self.handler(request)
            if isinstance(reply, str):
                self.ke.respond_error(self.kb_id, request.knowledge_interaction_id, request.handle_request_id, reply)
            else:
                self.ke.respond(self.kb_id, request.knowledge_interaction_id, request.handle_request_id, reply)


def register(engine: Engine, ke: KnowledgeEngineClient, *names: str) -> list[str]:
    ids = [engine.kb(name) for name in names]
    for kb_id, name in zip(ids, names, strict=True):
        ke.register_knowledge_base(kb_id, name, f"a test knowledge base ({name})")
    return ids


def test_contract_register_list_refuse_a_duplicate_and_remove(engine: Engine) -> None:
    with engine.client() as ke:
        [kb] = register(engine, ke, "a")
        with pytest.raises(BadRequest):
            ke.register_knowledge_base(kb, "a", "the same id again")
        ask = ke.register_ask(kb, "?m ex:measured ?v .", prefixes=PREFIXES, name="readings")
        assert ask == f"{kb}/interaction/readings"
        assert [ki.id for ki in ke.list_knowledge_interactions(kb)] == [ask]
        with pytest.raises(BadRequest):  # (a blank node gets a 500 from the KE 1.5.0 and breaks the KB: docs/ke.md)
            ke.register_ask(kb, "?m nope:p ?v .", prefixes=PREFIXES)
        ke.delete_knowledge_base(kb)
        with pytest.raises(KnowledgeBaseNotFound):
            ke.get_knowledge_base(kb)


def test_level_1_an_answer_covering_the_ask_is_asked_one_with_fewer_triples_is_not(engine: Engine) -> None:
    with engine.client() as ke:
        asker, wide, narrow = register(engine, ke, "asker", "wide", "narrow")
        ask = ke.register_ask(asker, "?m ex:measured ?v . ?m a saref:Meter .", prefixes=PREFIXES)
        answer = ke.register_answer(wide, "?x a saref:Meter . ?x ex:measured ?y . ?x ex:label ?l .", prefixes=PREFIXES)
        ke.register_answer(narrow, "?m ex:measured ?v .", prefixes=PREFIXES)
        responder = Responder(engine.client(), wide, lambda r: [{"x": M1, "y": value(1.5), "l": '"one"'}])
        result = ke.ask(asker, ask, [{"m": M1}])
        assert [r.binding_set for r in responder.seen] == [[{"x": M1}]]  # renamed into the answerer's names
        assert result.binding_set == [{"m": M1, "v": value(1.5)}]  # the asker's own variables only
        assert [(i.knowledge_interaction_id, i.status) for i in result.exchange_info] == [(answer, "SUCCEEDED")]


def test_an_ask_without_bindings_reaches_the_answerer_as_one_empty_binding(engine: Engine) -> None:
    with engine.client() as ke:
        asker, answerer = register(engine, ke, "asker", "answerer")
        ask = ke.register_ask(asker, "?m ex:measured ?v .", prefixes=PREFIXES)
        ke.register_answer(answerer, "?a ex:measured ?b .", prefixes=PREFIXES)
        responder = Responder(engine.client(), answerer, lambda r: [])
        assert ke.ask(asker, ask).binding_set == []
        assert [r.binding_set for r in responder.seen] == [[{}]]


def test_level_1_a_variable_meets_a_constant_and_the_engine_fills_it_in(engine: Engine) -> None:
    with engine.client() as ke:
        asker, answerer = register(engine, ke, "asker", "answerer")
        ask = ke.register_ask(asker, "?x ex:label ?y .", prefixes=PREFIXES)
        ke.register_answer(answerer, '?m ex:label "fixed" .', prefixes=PREFIXES)
        Responder(engine.client(), answerer, lambda r: [{"m": M1}])
        assert ke.ask(asker, ask).binding_set == [{"x": M1, "y": '"fixed"'}]


def test_level_1_post_reaches_reactors_by_argument_and_merges_matching_results_only(engine: Engine) -> None:
    with engine.client() as ke:
        poster, same, other = register(engine, ke, "poster", "same", "other")
        post = ke.register_post(poster, "?m ex:setpoint ?v .", "?m ex:accepted ?ok .", prefixes=PREFIXES)
        ke.register_react(same, "?d ex:setpoint ?p .", "?d ex:accepted ?flag .", prefixes=PREFIXES)
        ke.register_react(other, "?d ex:setpoint ?p .", "?d ex:refused ?why .", prefixes=PREFIXES)
        yes = Responder(engine.client(), same, lambda r: [{"d": M1, "flag": '"yes"'}])
        no = Responder(engine.client(), other, lambda r: [{"d": M1, "why": '"busy"'}])
        result = ke.post(poster, post, [{"m": M1, "v": value(3.0)}])
        for responder in (yes, no):
            assert [r.binding_set for r in responder.seen] == [[{"d": M1, "p": value(3.0)}]]
        assert result.result_binding_set == [{"m": M1, "ok": '"yes"'}]
        assert sorted(i.status for i in result.exchange_info) == ["SUCCEEDED", "SUCCEEDED"]


def test_an_error_reply_is_failed_with_the_handlers_message(engine: Engine) -> None:
    with engine.client() as ke:
        asker, answerer = register(engine, ke, "asker", "answerer")
        ask = ke.register_ask(asker, "?m ex:measured ?v .", prefixes=PREFIXES)
        ke.register_answer(answerer, "?a ex:measured ?b .", prefixes=PREFIXES)
        Responder(engine.client(), answerer, lambda r: "the meter is unreachable")
        [info] = ke.ask(asker, ask).exchange_info
        assert info.status == "FAILED" and "the meter is unreachable" in (info.failed_message or "")


def test_a_silent_peer_is_reported_failed_after_the_engines_wait_not_a_hang(engine: Engine) -> None:
    with engine.client() as ke:
        asker, silent = register(engine, ke, "asker", "silent")
        ask = ke.register_ask(asker, "?m ex:measured ?v .", prefixes=PREFIXES)
        ke.register_answer(silent, "?a ex:measured ?b .", prefixes=PREFIXES)  # registered, never polls
        began = time.monotonic()
        result = ke.ask(asker, ask)
        assert time.monotonic() - began < engine.peer_wait + 15
        assert result.binding_set == [] and [i.status for i in result.exchange_info] == ["FAILED"]


@pytest.mark.parametrize("level", [1, 4])
def test_a_knowledge_gap_is_answered_at_once_with_no_rows_at_any_level(engine: Engine, level: int) -> None:
    # item 4: nobody provides ?x ex:unknown ?u. At levels 1-3 nobody is asked; at 4-5 the real KE asks
    # the partial contributors, and still the rows cannot join: an empty answer, never a hang
    with engine.client(level) as ke, engine.client() as other:
        [asker] = register(engine, ke, "asker")
        [answerer] = register(engine, other, "answerer")
        ask = ke.register_ask(asker, "?x ex:label ?y . ?x ex:unknown ?u .", prefixes=PREFIXES)
        ke_answer = other.register_answer(answerer, "?m ex:label ?l .", prefixes=PREFIXES)
        Responder(engine.client(), answerer, lambda r: [{"m": M1, "l": '"one"'}])
        began = time.monotonic()
        result = ke.ask(asker, ask)
        assert time.monotonic() - began < engine.peer_wait
        assert result.binding_set == []
        asked = [i.knowledge_interaction_id for i in result.exchange_info]
        assert asked == ([ke_answer] if engine.real and level >= 4 else [])


ASK_ANSWER = sorted(n for n in dso_saref.catalog if (i := dso_saref.catalog[n].interaction) is not None
                    and i.type == dso_saref.ASK_ANSWER)
POST_REACT = sorted(n for n in dso_saref.catalog if (i := dso_saref.catalog[n].interaction) is not None
                    and i.type == dso_saref.POST_REACT)
#: POST exchanges the KE 1.5.0 could not plan within 40 s even with only that exchange's KIs (and its
#: parts) in the network (TNO/knowledge-engine#696); the KE then keeps planning (here: until it ran out
#: of heap) and spoils the tests after it, so they are not run against a real KE. ``flexibility-needs``
#: passed in the first runs and ran out of a 1 GB heap in 35-40 s in the later ones (catalog at e3fdd40).
PLANNING_BLOWUP = {"activation-plan", "authorization-request", "flexibility-needs", "flexibility-offers",
                   "incentive-offer", "metering-request"}


def _run_exchange(engine: Engine, name: str, catalog: Mapping[str, Description] | None) -> tuple[Any, Any]:
    """Run exchange ``name`` between two adapters; (the one answer, the payload sent)."""
    interaction = dso_saref.catalog[name].interaction
    responder_id, initiator_id = engine.kb("responder"), engine.kb("initiator")
    responder = Adapter(engine.client(), interaction.responders[0], kb_id=responder_id,
                        handlers={name: example_answer(name)}, backoff=FAST, catalog=catalog)  # type: ignore[arg-type]
    initiator = Adapter(engine.client(), interaction.initiators[0], kb_id=initiator_id, backoff=FAST,
                        catalog=catalog,  # type: ignore[arg-type]
                        peers={interaction.responders[0]: [responder_id]})  # protected exchanges go to it only
    responder.register()
    initiator.register()
    counterpart = dso_saref.catalog[interaction.counterpart]
    try:
        with serving(responder):
            payload = None if counterpart.name == name else dso_saref.catalog[name].example()
            exchange = initiator.send(name, payload)
    finally:
        initiator.close()
    assert exchange.failed == {}, exchange.failed
    assert list(exchange.answers) == [responder_id]
    return exchange.answers[responder_id], payload


@pytest.mark.parametrize("name", ASK_ANSWER)
def test_adapter_every_ask_exchange_between_two_full_roles(engine: Engine, name: str) -> None:
    counterpart = dso_saref.catalog[dso_saref.catalog[name].interaction.counterpart]
    answer, payload = _run_exchange(engine, name, None)
    expected = dso_saref.canonical(counterpart.name, counterpart.example())
    if counterpart.name == name and not counterpart.top_list:
        assert answer == [expected], "a lookup of single-object messages answers a list of them"
    elif payload is None:
        assert answer == expected


@pytest.mark.parametrize("name", POST_REACT)
def test_adapter_every_post_exchange_between_roles_registering_that_exchange_only(engine: Engine, name: str) -> None:
    # the full roles make every POST unplannable on the KE 1.5.0 (TNO/knowledge-engine#696): a
    # deployment registers the exchanges it serves; here: this exchange (and its parts) only
    if engine.real and name in PLANNING_BLOWUP:
        pytest.xfail("the KE 1.5.0 does not finish planning this POST (TNO/knowledge-engine#696): docs/ke.md")
    counterpart = dso_saref.catalog[dso_saref.catalog[name].interaction.counterpart]
    answer, _ = _run_exchange(engine, name, Scope(dso_saref.catalog, {name}))
    assert answer == dso_saref.canonical(counterpart.name, counterpart.example())


def test_adapter_an_exchange_nobody_serves_answers_at_once_with_nobody(engine: Engine) -> None:
    # item 4, from the adapter's side: no matching peer (a gap at level 1) is an empty Exchange, at once
    initiator = Adapter(engine.client(), "dso", kb_id=engine.kb("initiator"), backoff=FAST,
                        catalog=Scope(dso_saref.catalog, {"hems-voltage-request"}))  # type: ignore[arg-type]
    initiator.register()
    try:
        began = time.monotonic()
        exchange = initiator.send("hems-voltage-request", {"Hems_ID": "ID1234"},
                                  recipients=["https://nobody.example.org/kb"])  # a protected exchange: addressed
        assert time.monotonic() - began < 5
    finally:
        initiator.close()
    assert not exchange.answered and exchange.failed == {}


#: Use cases the KE 1.5.0 does not finish even with each party registering only the use case's exchanges,
#: and why, as observed on it (docs/ke.md, "The scenario suite on a real KE"); the others pass on it.
_FLEXIBILITY_BLOWUP = ("TNO/knowledge-engine#696: the KE 1.5.0 does not finish planning the first POST, "
                       "flexibility-needs, among the KIs of the flexibility exchanges (no reply, or out of heap)")
REAL_KE_FAILURES = {
    "HLUC5 PUC1": "TNO/knowledge-engine#696: the KE 1.5.0 does not finish planning the POST authorization-request",
    "HLUC5 PUC2": "TNO/knowledge-engine#696: the KE 1.5.0 does not finish planning the POST metering-request",
    "HLUC10 PUC1": _FLEXIBILITY_BLOWUP,
    "HLUC10 PUC2": _FLEXIBILITY_BLOWUP + " (of HLUC10 PUC1, which it builds on)",
    "HLUC11 PUC3": _FLEXIBILITY_BLOWUP + " (of HLUC10 PUC1, which it builds on)",
}


#: The use cases, those that pass on the KE 1.5.0 first (a POST it cannot plan keeps it busy afterwards).
USE_CASES = sorted((s.puc for s in SCENARIOS), key=lambda puc: puc in REAL_KE_FAILURES)


@pytest.mark.parametrize("puc", USE_CASES, ids=lambda puc: puc.replace(" ", "-"))
def test_dso_over_ke_use_case_with_parties_registering_only_its_exchanges(
    engine: Engine, puc: str, request: pytest.FixtureRequest
) -> None:
    # the demo network on this engine (fresh knowledge base ids): each party registers only the exchanges
    # the use case (and what it builds on) starts, as a deployment serving only it would (docs/ke.md)
    if engine.real and puc in REAL_KE_FAILURES:
        request.applymarker(pytest.mark.xfail(strict=True, reason=REAL_KE_FAILURES[puc]))
    config = DemoConfig(ke_url=engine.url, scope=(puc,), exchange_timeout=PATIENCE)
    with Network.start(config) as network:
        ids = set(network.kb_ids.values())
        assert not ids & set(network.kb_ids), "fresh knowledge base ids, never the seed's"
        registered = {spec.exchange for adapter in network.adapters.values() for spec in adapter.specs.values()}
        results = run_puc(network, puc)
        sent = {step.name for step in network.steps}
    assert [(r.puc, r.passed, r.detail) for r in results] == [(r.puc, True, r.detail) for r in results]
    assert sent == exchanges_of([puc]), "the use case declares exactly the exchanges it starts"
    assert {n for n in registered if dso_saref.catalog[n].interaction is not None} == exchanges_of([puc])
    with engine.client() as ke:  # every knowledge base of the network is gone
        assert not ids & {kb.id for kb in ke.list_knowledge_bases()}
