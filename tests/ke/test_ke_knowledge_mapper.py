"""TNO's own Python client, ``knowledge-mapper`` 0.0.24, unmodified, talks to the emulator over HTTP
while our client is the other side: it registers, answers an ASK, reacts to a POST, re-reads its
interactions from GET /sc/ki, stops its handle loop on 410, and asks our client in turn."""

from __future__ import annotations

import logging

import pytest
from ke_support import KB_A, KB_B, PREFIXES, WAIT, serve, start

from dso_saref.ke import BindingSet, EmulatorServer, HandleRequest, KnowledgeEngineClient, Timeouts

km_kb = pytest.importorskip("knowledge_mapper.knowledge_base")
km_ki = pytest.importorskip("knowledge_mapper.knowledge_interaction")
km_client = pytest.importorskip("knowledge_mapper.tke_client")

BOOLEAN = "http://www.w3.org/2001/XMLSchema#boolean"
READING = '"230.5"^^<http://www.w3.org/2001/XMLSchema#double>'
FIVE = '"5"^^<http://www.w3.org/2001/XMLSchema#integer>'
PLAN = "<http://example.org/plan/1>"


@pytest.fixture
def tno(server: EmulatorServer) -> object:
    """KB_B registered through TNO's client (its ``connect`` first lists the knowledge bases)."""
    tke = km_client.TkeClient(server.base_url)
    tke.connect(max_attempts=1)
    kb = tke.register(km_kb.KnowledgeBaseRegistrationRequest(id=KB_B, name="tno", description="knowledge-mapper"))
    assert kb is not None
    return kb


@pytest.mark.filterwarnings("ignore:The 'warn' function is deprecated:DeprecationWarning")
def test_knowledge_mapper_answers_and_reacts_while_our_client_asks_and_posts(
    server: EmulatorServer, client: KnowledgeEngineClient, tno: object, caplog: pytest.LogCaptureFixture
) -> None:
    seen: dict[str, object] = {}

    def answer(bindings: list[dict[str, str]], requesting_kb_id: str) -> list[dict[str, str]]:
        seen["answer"] = (bindings, requesting_kb_id)
        return [{"hems": "<http://example.org/hems/1>", "volts": READING}]

    def react(bindings: list[dict[str, str]], requesting_kb_id: str) -> list[dict[str, str]]:
        seen["react"] = (bindings, requesting_kb_id)
        return [{"plan": row["plan"], "ok": f'"true"^^<{BOOLEAN}>'} for row in bindings]

    tno.register_knowledge_interaction(  # type: ignore[attr-defined]
        km_ki.AnswerKnowledgeInteractionRegistrationRequest(
            pattern="?hems ex:voltage ?volts .", prefixes=PREFIXES, handler=answer),
        name="hems-voltage",
    )
    tno.register_knowledge_interaction(  # type: ignore[attr-defined]
        km_ki.ReactKnowledgeInteractionRegistrationRequest(
            argument_pattern="?plan ex:activates ?power .", result_pattern="?plan ex:accepted ?ok .",
            prefixes=PREFIXES, handler=react),
        name="activation",
    )
    loop = start(tno.start_handle_loop)  # type: ignore[attr-defined]

    client.register_knowledge_base(KB_A, "ours", "dso-saref")
    ask = client.register_ask(KB_A, "?h ex:voltage ?v .", prefixes=PREFIXES)
    post = client.register_post(KB_A, "?p ex:activates ?kw .", "?p ex:accepted ?accepted .", prefixes=PREFIXES)
    asked = client.ask(KB_A, ask)
    posted = client.post(KB_A, post, [{"p": PLAN, "kw": FIVE}])

    assert asked.binding_set == [{"h": "<http://example.org/hems/1>", "v": READING}]
    assert seen["answer"] == ([{}], KB_A)  # an ASK without bindings arrives as one empty binding (KE 1.5.0)
    assert posted.result_binding_set == [{"p": PLAN, "accepted": f'"true"^^<{BOOLEAN}>'}]
    assert seen["react"] == ([{"plan": PLAN, "power": FIVE}], KB_A)
    assert all(info.succeeded for info in asked.exchange_info + posted.exchange_info)

    # TNO's client reads its interactions back (GET /sc/ki, patterns in full-IRI form) ...
    again = km_client.TkeClient(server.base_url).get_knowledge_base(KB_B)
    assert again.kis == tno.kis and set(again.kis_by_name) == {"hems-voltage", "activation"}  # type: ignore[attr-defined]
    # ... and its handle loop ends when the KE stops (410)
    with caplog.at_level(logging.WARNING):
        server.emulator.close()
        loop.result()
    assert "410" in caplog.text


def test_knowledge_mapper_asks_and_posts_while_our_client_answers_and_reacts(
    server: EmulatorServer, tno: object
) -> None:
    with KnowledgeEngineClient(server.base_url, timeout=Timeouts(long_poll=WAIT, exchange=WAIT)) as ours:
        ours.register_knowledge_base(KB_A, "ours", "dso-saref")
        answer = ours.register_answer(KB_A, "?h ex:voltage ?v .", prefixes=PREFIXES)

        def reply(request: HandleRequest) -> BindingSet:
            if request.knowledge_interaction_id == answer:
                return [{"h": "<http://example.org/hems/2>", "v": READING}]
            return [{"p": row["p"], "ok": f'"false"^^<{BOOLEAN}>'} for row in request.binding_set]

        ours.register_react(KB_A, "?p ex:activates ?kw .", "?p ex:accepted ?ok .", prefixes=PREFIXES)
        worker = serve(ours, KB_A, reply, count=2)
        ask = tno.register_knowledge_interaction(  # type: ignore[attr-defined]
            km_ki.AskKnowledgeInteractionRegistrationRequest(pattern="?x ex:voltage ?y .", prefixes=PREFIXES))
        post = tno.register_knowledge_interaction(  # type: ignore[attr-defined]
            km_ki.PostKnowledgeInteractionRegistrationRequest(
                argument_pattern="?plan ex:activates ?power .", result_pattern="?plan ex:accepted ?flag .",
                prefixes=PREFIXES))
        asked = ask.ask([])
        posted = post.post([{"plan": "<http://example.org/plan/2>", "power": FIVE}])
        worker.result()
    assert asked["bindingSet"] == [{"x": "<http://example.org/hems/2>", "y": READING}]
    assert posted["resultBindingSet"] == [{"plan": "<http://example.org/plan/2>", "flag": f'"false"^^<{BOOLEAN}>'}]
