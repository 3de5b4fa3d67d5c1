"""Issue 15, item 1: text that cannot be written back as UTF-8 JSON (a lone surrogate, ``"\\ud800"``)
is refused at the door with 400 in the KE's error format, wherever it is put (a knowledge base's id,
name or description, an interaction's name, graph pattern, prefixes or communicative act, an ASK or
POST binding set, a reply), and nothing of it is stored: ``GET /rest/sc`` keeps answering everyone,
and a knowledge base that long-polls keeps getting and answering its requests. All over real HTTP."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ke_support import KB_A, KB_B, PREFIXES, WAIT, serve

from dso_saref.ke import (
    EmulatorServer,
    HandleRequest,
    InProcessTransport,
    KERequest,
    KnowledgeEngineClient,
    KnowledgeEngineEmulator,
    Timeouts,
)

LONE = "\ud800"
EX = "http://example.org/ns#"
PATTERN = "?s ex:p ?o ."
KB_C = "http://example.org/kb/c"


def send(session: requests.Session, method: str, url: str, body: object = None, **headers: str) -> requests.Response:
    """``body`` as JSON with every non-ASCII character escaped, as a JSON writer sends a lone surrogate."""
    data = None if body is None else json.dumps(body).encode("ascii")
    return session.request(method, url, data=data, headers={"Content-Type": "application/json", **headers},
                           timeout=WAIT)


def assert_refused(response: requests.Response, where: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["messageType"] == "error" and where in body["message"] and "UTF-8" in body["message"], body


@pytest.fixture
def setup(server: EmulatorServer, client: KnowledgeEngineClient) -> tuple[str, str, str]:
    """KB_A asks and posts, KB_B answers and reacts; returns the ASK, POST and REACT interaction ids."""
    client.register_knowledge_base(KB_A, "A", "asks")
    client.register_knowledge_base(KB_B, "B", "answers")
    ask = client.register_ask(KB_A, PATTERN, prefixes=PREFIXES, name="ask")
    post = client.register_post(KB_A, PATTERN, "?s ex:q ?r .", prefixes=PREFIXES, name="post")
    client.register_answer(KB_B, PATTERN, prefixes=PREFIXES, name="answer")
    react = client.register_react(KB_B, PATTERN, "?s ex:q ?r .", prefixes=PREFIXES, name="react")
    return ask, post, react


def still_serving(server: EmulatorServer, session: requests.Session) -> list[dict[str, object]]:
    """``GET /rest/sc`` answers with valid JSON; the knowledge bases it lists."""
    listing = session.get(f"{server.base_url}/sc", timeout=WAIT)
    assert listing.status_code == 200
    return listing.json()


KB_BODY = {"knowledgeBaseId": KB_C, "knowledgeBaseName": "c", "knowledgeBaseDescription": "c"}


@pytest.mark.parametrize(("field", "value", "where"), [
    ("knowledgeBaseId", f"http://example.org/kb/{LONE}", "$.knowledgeBaseId"),
    ("knowledgeBaseName", f"name {LONE}", "$.knowledgeBaseName"),
    ("knowledgeBaseDescription", LONE, "$.knowledgeBaseDescription"),
])
def test_a_knowledge_base_with_a_lone_surrogate_is_refused_and_not_stored(
    server: EmulatorServer, setup: tuple[str, str, str], field: str, value: str, where: str
) -> None:
    with requests.Session() as session:
        assert_refused(send(session, "POST", f"{server.base_url}/sc", {**KB_BODY, field: value}), where)
        assert_refused(send(session, "POST", f"{server.root_url}/smartconnector/create", {**KB_BODY, field: value}),
                       where)
        assert {kb["knowledgeBaseId"] for kb in still_serving(server, session)} == {KB_A, KB_B}


KI_BODY = {"knowledgeInteractionType": "AnswerKnowledgeInteraction", "knowledgeInteractionName": "more",
           "graphPattern": PATTERN, "prefixes": PREFIXES}


@pytest.mark.parametrize(("change", "where"), [
    ({"knowledgeInteractionName": f"more{LONE}"}, "$.knowledgeInteractionName"),
    ({"graphPattern": f'?s ex:p "{LONE}" .'}, "$.graphPattern"),
    ({"graphPattern": f"?s ex:p{LONE} ?o ."}, "$.graphPattern"),
    ({"prefixes": {"ex": EX + LONE}}, "$.prefixes.ex"),
    ({"prefixes": {f"e{LONE}": EX, "ex": EX}}, "a key of the body at $.prefixes"),
    ({"communicativeAct": {"requiredPurposes": [EX + LONE], "satisfiedPurposes": [EX]}},
     "$.communicativeAct.requiredPurposes[0]"),
])
def test_an_interaction_with_a_lone_surrogate_is_refused_and_not_stored(
    server: EmulatorServer, client: KnowledgeEngineClient, setup: tuple[str, str, str], change: dict[str, object],
    where: str,
) -> None:
    before = client.list_knowledge_interactions(KB_B)
    with requests.Session() as session:
        assert_refused(send(session, "POST", f"{server.base_url}/sc/ki", {**KI_BODY, **change},
                            **{"Knowledge-Base-Id": KB_B}), where)
        assert still_serving(server, session)
        listed = session.get(f"{server.base_url}/sc/ki", headers={"Knowledge-Base-Id": KB_B}, timeout=WAIT)
        assert listed.status_code == 200 and len(listed.json()) == len(before) == 2
    assert client.list_knowledge_interactions(KB_B) == before


def test_binding_sets_and_replies_with_lone_surrogates_are_refused_and_the_poll_carries_on(
    server: EmulatorServer, client: KnowledgeEngineClient, setup: tuple[str, str, str]
) -> None:
    ask, post, react = setup
    row = {"s": "<http://example.org/s>", "o": '"fine"'}
    with requests.Session() as session, KnowledgeEngineClient(
        server.base_url, timeout=Timeouts(read=WAIT, exchange=WAIT, long_poll=WAIT)
    ) as answerer:
        # the answering side polls all along, as the DSO does
        seen: list[HandleRequest] = []

        def reply(request: HandleRequest) -> list[dict[str, str]]:
            seen.append(request)
            if request.knowledge_interaction_id == react:
                # a reply with a surrogate is refused at the door; the handle request stays open for a good one
                bad = send(session, "POST", f"{server.base_url}/sc/handle",
                           {"handleRequestId": request.handle_request_id,
                            "bindingSet": [{**request.binding_set[0], "r": f'"{LONE}"'}]},
                           **{"Knowledge-Base-Id": KB_B, "Knowledge-Interaction-Id": react})
                assert_refused(bad, "$.bindingSet[0].r")
                bad = send(session, "POST", f"{server.base_url}/sc/handle",
                           {"handleRequestId": request.handle_request_id, "errorMessage": f"oops {LONE}"},
                           **{"Knowledge-Base-Id": KB_B, "Knowledge-Interaction-Id": react})
                assert_refused(bad, "$.errorMessage")
                return [{"s": row["s"], "r": '"ok"'}]
            return [row]

        loop = serve(answerer, KB_B, reply, count=2)
        headers = {"Knowledge-Base-Id": KB_A}
        for path, ki, body, where in [
            ("ask", ask, [{"o": f'"{LONE}"'}], "$[0].o"),
            ("ask", ask, [{f"o{LONE}": '"x"'}], "a key of the body at $[0]"),
            ("ask", ask, {"recipientSelector": {"knowledgeBases": [KB_B + LONE]}, "bindingSet": []},
             "$.recipientSelector.knowledgeBases[0]"),
            ("post", post, [{"s": f"<http://example.org/{LONE}>", "o": '"x"'}], "$[0].s"),
        ]:
            refused = send(session, "POST", f"{server.base_url}/sc/{path}", body,
                           **{**headers, "Knowledge-Interaction-Id": ki})
            assert_refused(refused, where)
            assert still_serving(server, session)
        asked = client.ask(KB_A, ask)
        posted = client.post(KB_A, post, [row])
        assert loop.result() and len(seen) == 2
    assert asked.binding_set == [row]
    assert posted.result_binding_set == [{"s": row["s"], "r": '"ok"'}]
    assert {kb["knowledgeBaseId"] for kb in still_serving(server, requests.Session())} == {KB_A, KB_B}


def test_domain_knowledge_that_is_not_utf8_is_refused(server: EmulatorServer, setup: tuple[str, str, str]) -> None:
    with requests.Session() as session:
        refused = session.post(f"{server.base_url}/sc/knowledge", data=b"caf\xe9 \xed\xa0\x80",
                               headers={"Content-Type": "text/plain", "Knowledge-Base-Id": KB_A}, timeout=WAIT)
        assert refused.status_code == 400 and "not valid UTF-8" in refused.json()["message"]
        assert still_serving(server, session)


TEXT = st.text(st.characters(categories=["Cs", "L", "N", "P", "Zs"]), max_size=12) | st.sampled_from(
    [LONE, f"name {LONE}", f"http://example.org/kb/{LONE}", f'"{LONE}"', f"<urn:{LONE}>", "\udfff\ud800"]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
TEMPLATES: list[tuple[str, dict[str, object]]] = [
    ("/sc", KB_BODY),
    ("/sc/ki", KI_BODY),
    ("/sc/ask", {"recipientSelector": {"knowledgeBases": [KB_B]}, "bindingSet": [{"o": '"x"'}]}),
    ("/sc/post", {"recipientSelector": {"singleKnowledgeBase": KB_B}, "bindingSet": [{"s": "<urn:s>", "o": '"x"'}]}),
    ("/sc/handle", {"handleRequestId": 1, "bindingSet": []}),
]


def test_hostile_json_anywhere_gets_a_ke_error_never_a_crash(
    make_server: Callable[..., EmulatorServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server(exchange_timeout=0.2)
    with KnowledgeEngineClient(server.base_url) as ke:
        ke.register_knowledge_base(KB_A, "A", "asks")
        ask = ke.register_ask(KB_A, PATTERN, prefixes=PREFIXES, name="ask")
        post = ke.register_post(KB_A, PATTERN, "?s ex:q ?r .", prefixes=PREFIXES, name="post")
    ids = {"/sc/ask": ask, "/sc/post": post, "/sc/handle": ask}
    session = requests.Session()

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(TEMPLATES), st.data(), JSON)
    def check(template: tuple[str, dict[str, object]], data: st.DataObject, hostile: object) -> None:
        path, body = template
        where = data.draw(st.sampled_from([None, *body]))
        sent = hostile if where is None else {**body, where: hostile}
        headers = {"Knowledge-Base-Id": KB_A, "Knowledge-Interaction-Id": ids.get(path, "")}
        response = send(session, "POST", f"{server.base_url}{path}", sent, **headers)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            answer = response.json()
            assert set(answer) == {"messageType", "message"} and answer["messageType"] == "error"
        response.content.decode("utf-8")
        still_serving(server, session)

    with caplog.at_level(logging.INFO):
        check()
    assert not [record for record in caplog.records if record.exc_info], caplog.text
    for kb in still_serving(server, session):
        assert json.dumps(kb, ensure_ascii=False).encode("utf-8")


def test_in_process_calls_are_refused_at_the_same_door() -> None:
    with KnowledgeEngineEmulator() as emulator, InProcessTransport(emulator) as transport:
        refused = transport.handle(KERequest("POST", "/sc", json={**KB_BODY, "knowledgeBaseName": LONE}))
        assert refused.status == 400 and "$.knowledgeBaseName" in refused.json["message"]
        refused = transport.handle(KERequest("GET", "/sc", headers={"Knowledge-Base-Id": KB_A + LONE}))
        assert refused.status == 400 and "the headers" in refused.json["message"]
        listed = transport.handle(KERequest("GET", "/sc"))
        assert listed.status == 200 and listed.json == []
