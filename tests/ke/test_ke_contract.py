"""Contract tests against the KE's own OpenAPI file (smart-connector REST API 1.5.0): every request
our client puts on the wire and every response the emulator sends back must be valid for it, and
the scenario must reach every operation the file defines."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ke_support import KB_A, KB_B, PREFIXES, WAIT, Traffic, serve, spec_file, start

from dso_saref.ke import (
    BadRequest,
    BindingSet,
    CommunicativeAct,
    Conflict,
    EmulatorServer,
    Gone,
    HandleRequest,
    KnowledgeBaseNotFound,
    KnowledgeEngineClient,
    NotFound,
)

_EXTRA = "the interoperability extra is not installed: pip install -e '.[test-interop]'"
yaml = pytest.importorskip("yaml", reason=_EXTRA)
OpenAPI = pytest.importorskip("openapi_core", reason=_EXTRA).OpenAPI
_openapi_requests = pytest.importorskip("openapi_core.contrib.requests", reason=_EXTRA)
RequestsOpenAPIRequest = _openapi_requests.RequestsOpenAPIRequest
RequestsOpenAPIResponse = _openapi_requests.RequestsOpenAPIResponse

DOUBLE_1_5 = '"1.5"^^<http://www.w3.org/2001/XMLSchema#double>'
TRUE = '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>'


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """The OpenAPI 1.5.0 document, loaded as the NOTES say (tabs at line 544 become spaces) and with
    one erratum: ``Prefixes`` declares ``pattern: url``, a regular expression that no namespace IRI
    matches (it means "format: url"); the KE does not enforce it, so it is dropped here."""
    path = spec_file()
    if path is None:
        pytest.skip("the KE OpenAPI file ../shared/ke/openapi-sc.v1.5.0.yaml is not next to the repository")
    document = yaml.safe_load(path.read_text(encoding="utf-8").replace("\t", "  "))
    prefixes = document["components"]["schemas"]["Prefixes"]["additionalProperties"]
    assert prefixes.pop("pattern") == "url"
    return document


def openapi_for(spec: dict[str, Any], server: EmulatorServer) -> OpenAPI:
    document = copy.deepcopy(spec)
    document["servers"] = [{"url": server.base_url}]
    return OpenAPI.from_dict(document)


def operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    }


def exercise_every_operation(ke: KnowledgeEngineClient, server: EmulatorServer) -> None:
    """One pass over the whole API, successes and the errors the file documents."""
    assert ke.version()
    ke.register_knowledge_base(KB_A, "A", "the asking side", lease_renewal_time=60)
    ke.register_knowledge_base(KB_B, "B", "the answering side")
    with pytest.raises(BadRequest):
        ke.register_knowledge_base(KB_B, "B", "again")
    assert {kb.id for kb in ke.list_knowledge_bases()} == {KB_A, KB_B}
    assert ke.get_knowledge_base(KB_A).lease_renewal_time == 60
    with pytest.raises(KnowledgeBaseNotFound):
        ke.get_knowledge_base("http://example.org/kb/unknown")
    assert ke.renew_lease(KB_A).knowledge_base_id == KB_A
    with pytest.raises(KnowledgeBaseNotFound):
        ke.renew_lease("http://example.org/kb/unknown")
    ke.load_domain_knowledge(KB_A, "-> (<http://example.org/a> <http://example.org/b> <http://example.org/c>) .")

    act = CommunicativeAct(("https://w3id.org/knowledge-engine/InformPurpose",),
                           ("https://w3id.org/knowledge-engine/InformPurpose",))
    ask = ke.register_ask(KB_A, "?m saref:hasValue ?v .", prefixes=PREFIXES, name="values", communicative_act=act)
    answer = ke.register_answer(KB_B, "?x saref:hasValue ?y .", prefixes=PREFIXES, name="values")
    post = ke.register_post(KB_A, "?m ex:setpoint ?v .", "?m ex:accepted ?ok .", prefixes=PREFIXES)
    ke.register_react(KB_B, "?a ex:setpoint ?b .", "?a ex:accepted ?c .", prefixes=PREFIXES)
    with pytest.raises(BadRequest):
        ke.register_ask(KB_A, "?m saref:hasValue ?v . FILTER(?v > 1)", prefixes=PREFIXES)
    with pytest.raises(KnowledgeBaseNotFound):
        ke.register_ask("http://example.org/kb/unknown", "?a ex:p ?b .", prefixes=PREFIXES)
    assert len(ke.list_knowledge_interactions(KB_B)) == 2

    def reply(request: HandleRequest) -> BindingSet:
        if request.knowledge_interaction_id == answer:
            return [{"x": "<http://example.org/m1>", "y": DOUBLE_1_5}]
        return [{"a": row["a"], "c": TRUE} for row in request.binding_set]

    worker = serve(ke, KB_B, reply, count=2)
    assert ke.ask(KB_A, ask).binding_set
    assert ke.post(KB_A, post, [{"m": "<http://example.org/m1>", "v": '"3"^^<http://www.w3.org/2001/XMLSchema#integer>'}],
                   recipients=[KB_B]).result_binding_set
    worker.result()
    with pytest.raises(NotFound):
        ke.ask(KB_A, "http://example.org/kb/a/interaction/unknown")

    # the reactive side's documented statuses: 202, 200 with errorMessage, 400, 404, 409, 410
    assert ke.poll(KB_B) is None
    asking = start(lambda: ke.ask(KB_A, ask))
    request = ke.poll(KB_B)
    assert request is not None
    with pytest.raises(BadRequest):
        ke.respond(KB_B, answer, request.handle_request_id, [{"x": "<http://example.org/m1>"}])
    with pytest.raises(NotFound):
        ke.respond(KB_B, answer, request.handle_request_id + 100, [])
    assert asking.result().exchange_info[0].status == "FAILED"
    asking = start(lambda: ke.ask(KB_A, ask))
    request = ke.poll(KB_B)
    assert request is not None
    ke.respond_error(KB_B, answer, request.handle_request_id, "database connection lost")
    assert asking.result().exchange_info[0].failed_message == "database connection lost"
    with pytest.raises(KnowledgeBaseNotFound):
        ke.poll("http://example.org/kb/unknown")
    polling = start(lambda: ke.poll(KB_B))
    assert server.emulator.wait_for_poll(KB_B, WAIT)
    with pytest.raises(Conflict):
        ke.poll(KB_B)
    ke.delete_knowledge_interaction(KB_A, ask)
    with pytest.raises(NotFound):
        ke.delete_knowledge_interaction(KB_A, ask)
    ke.delete_knowledge_base(KB_B)
    with pytest.raises(Gone):
        polling.result()
    with pytest.raises(KnowledgeBaseNotFound):
        ke.delete_knowledge_base(KB_B)


def test_client_requests_and_emulator_responses_follow_openapi_1_5_0(
    spec: dict[str, Any], server: EmulatorServer, client: KnowledgeEngineClient, traffic: Traffic
) -> None:
    exercise_every_operation(client, server)
    openapi = openapi_for(spec, server)
    problems = []
    for response in traffic.responses:
        request = RequestsOpenAPIRequest(response.request)
        where = f"{response.request.method} {response.request.path_url} -> {response.status_code}"
        for check, args in (("request", (request,)), ("response", (request, RequestsOpenAPIResponse(response)))):
            try:
                getattr(openapi, f"validate_{check}")(*args)
            except Exception as exc:  # every schema violation is collected and reported at once
                problems.append(f"{where}: {check}: {exc} ({exc.__cause__})")
    assert not problems, "\n".join(problems)


def test_the_scenario_reaches_every_operation_of_the_contract(
    spec: dict[str, Any], server: EmulatorServer, client: KnowledgeEngineClient, traffic: Traffic
) -> None:
    exercise_every_operation(client, server)
    base = server.base_path
    seen = {(r.request.method, r.request.path_url.split("?")[0].removeprefix(base)) for r in traffic.responses}
    assert operations(spec) <= seen
    statuses = {(r.request.method, r.request.path_url.removeprefix(base), r.status_code) for r in traffic.responses}
    for expected in [("GET", "/sc/handle", s) for s in (200, 202, 404, 409, 410)] + [
        ("POST", "/sc/handle", s) for s in (200, 400, 404)
    ]:
        assert expected in statuses


def test_emulator_errors_use_the_ke_error_body(server: EmulatorServer, traffic: Traffic) -> None:
    session = traffic.session()
    reply = session.post(server.base_url + "/sc", data=b"{not json", headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    assert reply.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert reply.json()["messageType"] == "error"
    assert "JSON" in reply.json()["message"]
    reply = session.get(server.base_url + "/sc/nothing-here")
    assert reply.status_code == 404
    assert reply.json()["messageType"] == "error"
