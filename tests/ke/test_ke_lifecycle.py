"""Knowledge bases, knowledge interactions, leases and the long poll: what the emulator accepts,
what it refuses (400 naming the field, nothing stored) and the statuses of /sc/handle."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from ke_support import KB_A, KB_B, PREFIXES, WAIT, start

from dso_saref.ke import (
    BadRequest,
    Conflict,
    EmulatorConfig,
    EmulatorServer,
    Gone,
    InProcessTransport,
    KERequest,
    KnowledgeBaseNotFound,
    KnowledgeEngineClient,
    KnowledgeEngineEmulator,
    NotFound,
    ServerError,
    Timeouts,
)
from dso_saref.patterns import isomorphism, parse


class FakeClock:
    """A monotonic clock the test moves by hand (for leases; nothing waits on it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def local(clock: FakeClock) -> Iterator[KnowledgeEngineClient]:
    """A client on an in-process emulator (no HTTP) with a hand-moved lease clock."""
    emulator = KnowledgeEngineEmulator(EmulatorConfig(handle_timeout=0.2, exchange_timeout=5.0, clock=clock))
    with emulator, KnowledgeEngineClient(transport=InProcessTransport(emulator)) as ke:
        yield ke


def test_version(client: KnowledgeEngineClient) -> None:
    assert client.version().startswith("1.5")


def test_knowledge_base_round_trip(client: KnowledgeEngineClient) -> None:
    client.register_knowledge_base(KB_A, "A", "the asking side", lease_renewal_time=120)
    info = client.get_knowledge_base(KB_A)
    assert (info.id, info.name, info.description, info.lease_renewal_time, info.reasoner_level) == (
        KB_A, "A", "the asking side", 120, 1)
    client.delete_knowledge_base(KB_A)
    assert client.list_knowledge_bases() == []
    with pytest.raises(KnowledgeBaseNotFound):
        client.get_knowledge_base(KB_A)


@pytest.mark.parametrize(
    ("kb_id", "lease", "field"),
    [
        ("", None, "knowledgeBaseId"),
        ("not an iri", None, "knowledgeBaseId"),
        ("urn:example:kb", None, "knowledgeBaseId"),  # the KE checks ids with java.net.URL
        (KB_B, 10, "leaseRenewalTime"),
        (KB_B, 4000, "leaseRenewalTime"),
    ],
)
def test_bad_knowledge_bases_are_refused_and_nothing_is_stored(
    client: KnowledgeEngineClient, kb_id: str, lease: int | None, field: str
) -> None:
    with pytest.raises(BadRequest, match=field):
        client.register_knowledge_base(kb_id, "x", "y", lease_renewal_time=lease)
    assert client.list_knowledge_bases() == []


def test_a_knowledge_base_id_in_use_is_refused(client: KnowledgeEngineClient) -> None:
    client.register_knowledge_base(KB_A, "A", "first")
    with pytest.raises(BadRequest, match="already in use"):
        client.register_knowledge_base(KB_A, "A again", "second")
    assert [kb.description for kb in client.list_knowledge_bases()] == ["first"]


def test_reasoner_level_is_sent_only_when_configured(server: EmulatorServer) -> None:
    with KnowledgeEngineClient(server.base_url, reasoner_level=None) as ke:
        ke.register_knowledge_base(KB_A, "A", "KE default")
        assert ke.get_knowledge_base(KB_A).reasoner_level == 2
    with KnowledgeEngineClient(server.base_url, reasoner_level=4) as ke:
        ke.register_knowledge_base(KB_B, "B", "level 4")
        assert ke.get_knowledge_base(KB_B).reasoner_level == 4


def test_interaction_ids_names_and_canonical_patterns(client: KnowledgeEngineClient) -> None:
    client.register_knowledge_base(KB_A, "A", "test")
    ki = client.register_post(KB_A, "?m a saref:Meter ; ex:setpoint ?v .", "?m ex:accepted ?ok .",
                              prefixes=PREFIXES, name="set-point-1")
    unnamed = client.register_ask(KB_A, "?s ex:p ?o .", prefixes=PREFIXES)
    assert ki == f"{KB_A}/interaction/set-point-1"
    assert unnamed.startswith(f"{KB_A}/interaction/")
    by_id = {info.id: info for info in client.list_knowledge_interactions(KB_A)}
    info = by_id[ki]
    assert (info.type, info.name) == ("PostKnowledgeInteraction", "set-point-1")
    assert "saref:" not in (info.argument_graph_pattern or "") and "https://saref.etsi.org/core/Meter" in (
        info.argument_graph_pattern or "")
    registered = parse("?m a saref:Meter ; ex:setpoint ?v .", PREFIXES)
    assert isomorphism(parse(info.argument_graph_pattern or "", {}), registered) is not None
    assert by_id[unnamed].name is None and by_id[unnamed].type == "AskKnowledgeInteraction"


@pytest.mark.parametrize(
    ("pattern", "complaint"),
    [
        ("?s ex:p ?o . FILTER(?o > 1)", "FILTER"),
        ("?s ex:p ?o . OPTIONAL { ?s ex:q ?x }", "OPTIONAL"),
        ("_:b ex:p ?o .", "blank node"),
        ("?s ex:p [ ex:q ?o ] .", "blank node"),
        ("?s ex:p/ex:q ?o .", "property path"),
        ("?s undeclared:p ?o .", "undeclared"),
        ("", "graphPattern"),
    ],
)
def test_patterns_outside_basic_graph_patterns_are_refused(
    client: KnowledgeEngineClient, pattern: str, complaint: str
) -> None:
    client.register_knowledge_base(KB_A, "A", "test")
    with pytest.raises(BadRequest, match=complaint) as caught:
        client.register_ask(KB_A, pattern, prefixes=PREFIXES, name="refused")
    assert caught.value.status == 400 and caught.value.body["messageType"] == "error"  # type: ignore[index]
    assert client.list_knowledge_interactions(KB_A) == []


@pytest.mark.parametrize("name", ["has space", "a/b", "ünïcode"])
def test_bad_interaction_names_are_refused(client: KnowledgeEngineClient, name: str) -> None:
    client.register_knowledge_base(KB_A, "A", "test")
    with pytest.raises(BadRequest, match="knowledgeInteractionName"):
        client.register_ask(KB_A, "?s ex:p ?o .", prefixes=PREFIXES, name=name)
    assert client.list_knowledge_interactions(KB_A) == []


def test_a_duplicate_interaction_name_is_refused(client: KnowledgeEngineClient) -> None:
    client.register_knowledge_base(KB_A, "A", "test")
    client.register_ask(KB_A, "?s ex:p ?o .", prefixes=PREFIXES, name="same")
    with pytest.raises(BadRequest, match="already registered"):
        client.register_answer(KB_A, "?s ex:q ?o .", prefixes=PREFIXES, name="same")
    [only] = client.list_knowledge_interactions(KB_A)
    assert only.type == "AskKnowledgeInteraction"


def test_wrong_interaction_kinds_and_incomplete_posts_are_refused(client: KnowledgeEngineClient) -> None:
    client.register_knowledge_base(KB_A, "A", "test")
    client.register_knowledge_base(KB_B, "B", "test")
    ask = client.register_ask(KB_A, "?s ex:p ?o .", prefixes=PREFIXES)
    post = client.register_post(KB_A, "?s ex:p ?o .", prefixes=PREFIXES)
    client.register_react(KB_B, "?s ex:p ?o .", prefixes=PREFIXES)
    with pytest.raises(BadRequest, match="not a PostKnowledgeInteraction"):
        client.post(KB_A, ask, [])
    with pytest.raises(BadRequest, match=r"missing \?o"):
        client.post(KB_A, post, [{"s": "<http://example.org/s>"}])
    with pytest.raises(BadRequest, match="not a variable"):
        client.ask(KB_A, ask, [{"x": "<http://example.org/s>"}])
    with pytest.raises(NotFound):
        client.ask(KB_A, f"{KB_A}/interaction/unknown")
    assert client.poll(KB_B) is None  # nothing was handed to the reactor


def test_leases_expire_unless_renewed(local: KnowledgeEngineClient, clock: FakeClock) -> None:
    local.register_knowledge_base(KB_A, "A", "leased", lease_renewal_time=30)
    local.register_knowledge_base(KB_B, "B", "no lease")
    clock.now += 29
    lease = local.renew_lease(KB_A)
    assert lease.knowledge_base_id == KB_A and lease.expires.tzinfo is not None
    clock.now += 29
    assert local.get_knowledge_base(KB_A).id == KB_A
    with pytest.raises(KnowledgeBaseNotFound, match="without a lease"):
        local.renew_lease(KB_B)
    clock.now += 2
    with pytest.raises(KnowledgeBaseNotFound):
        local.get_knowledge_base(KB_A)
    with pytest.raises(KnowledgeBaseNotFound):
        local.renew_lease(KB_A)
    assert [kb.id for kb in local.list_knowledge_bases()] == [KB_B]


def test_domain_knowledge_is_accepted(local: KnowledgeEngineClient) -> None:
    local.register_knowledge_base(KB_A, "A", "test")
    local.load_domain_knowledge(KB_A, "(?a <http://example.org/p> ?b) -> (?b <http://example.org/q> ?a) .")
    with pytest.raises(KnowledgeBaseNotFound):
        local.load_domain_knowledge(KB_B, "")


def test_long_poll_answers_202_when_idle(client: KnowledgeEngineClient) -> None:
    client.register_knowledge_base(KB_A, "A", "test")
    assert client.poll(KB_A) is None


def test_a_second_long_poll_is_a_conflict_and_deleting_the_kb_ends_the_first_with_410(
    server: EmulatorServer, client: KnowledgeEngineClient
) -> None:
    client.register_knowledge_base(KB_A, "A", "test")
    with KnowledgeEngineClient(server.base_url, timeout=Timeouts(long_poll=WAIT)) as other:
        first = start(lambda: other.poll(KB_A))
        assert server.emulator.wait_for_poll(KB_A, WAIT)
        with pytest.raises(Conflict):
            client.poll(KB_A)
        client.delete_knowledge_base(KB_A)
        with pytest.raises(Gone):
            first.result()
        with pytest.raises(KnowledgeBaseNotFound):
            other.poll(KB_A)


def test_stopping_the_emulator_ends_open_long_polls_with_410(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(handle_timeout=WAIT)
    with KnowledgeEngineClient(server.base_url, timeout=Timeouts(long_poll=WAIT)) as ke:
        ke.register_knowledge_base(KB_A, "A", "test")
        polling = start(lambda: ke.poll(KB_A))
        assert server.emulator.wait_for_poll(KB_A, WAIT)
        server.emulator.close()
        with pytest.raises(Gone):
            polling.result()
        with pytest.raises(ServerError):
            ke.list_knowledge_bases()


def test_the_oldest_queued_request_fails_beyond_the_queue_limit(
    make_server: Callable[..., EmulatorServer]
) -> None:
    assert EmulatorConfig().queue_limit == 50
    server = make_server(queue_limit=2)
    timeouts = Timeouts(exchange=WAIT, long_poll=WAIT)
    with KnowledgeEngineClient(server.base_url, timeout=timeouts, queue_retry=None) as ke:  # the KE's own answer
        ke.register_knowledge_base(KB_A, "A", "asks")
        ke.register_knowledge_base(KB_B, "B", "answers late")
        ask = ke.register_ask(KB_A, "?s ex:p ?o .", prefixes=PREFIXES)
        answer = ke.register_answer(KB_B, "?s ex:p ?o .", prefixes=PREFIXES)
        asks = []
        for size in (1, 2):
            asks.append(start(lambda: ke.ask(KB_A, ask)))
            assert server.emulator.wait_for_queue(KB_B, size, WAIT)
        asks.append(start(lambda: ke.ask(KB_A, ask)))
        [dropped] = asks[0].result().exchange_info  # type: ignore[attr-defined]
        assert dropped.status == "FAILED" and "queue is full" in (dropped.failed_message or "")
        for _ in (1, 2):
            request = ke.poll(KB_B)
            assert request is not None
            ke.respond(KB_B, answer, request.handle_request_id, [{"s": "<http://example.org/s>", "o": '"x"'}])
        for later in asks[1:]:
            assert later.result().binding_set == [{"s": "<http://example.org/s>", "o": '"x"'}]  # type: ignore[attr-defined]


def test_replies_to_unknown_handle_requests_are_404(client: KnowledgeEngineClient) -> None:
    client.register_knowledge_base(KB_A, "A", "test")
    answer = client.register_answer(KB_A, "?s ex:p ?o .", prefixes=PREFIXES)
    with pytest.raises(NotFound, match="Handle request id 7"):
        client.respond(KB_A, answer, 7, [])
    with pytest.raises(BadRequest):
        client.respond(KB_A, f"{KB_A}/interaction/unknown", 7, [])


def test_refused_bodies_name_the_field(local: KnowledgeEngineClient) -> None:
    transport = local.transport
    local.register_knowledge_base(KB_A, "A", "test")
    cases = [
        (KERequest("POST", "/sc", json={"knowledgeBaseId": KB_B}), "knowledgeBaseName"),
        (KERequest("POST", "/sc", json={"knowledgeBaseId": KB_B, "knowledgeBaseName": "b",
                                         "knowledgeBaseDescription": "b", "colour": "red"}), "colour"),
        (KERequest("POST", "/sc/ki", {"Knowledge-Base-Id": KB_A},
                   json={"knowledgeInteractionType": "AskKnowledgeInteraction"}), "graphPattern"),
        (KERequest("POST", "/sc/ki", {"Knowledge-Base-Id": KB_A},
                   json={"knowledgeInteractionType": "Ask", "graphPattern": "?a ?b ?c ."}), "knowledgeInteractionType"),
        (KERequest("POST", "/sc/ki", {"Knowledge-Base-Id": KB_A},
                   json={"knowledgeInteractionType": "AskKnowledgeInteraction", "graphPattern": "?a ?b ?c .",
                         "knowledgeGapsEnabled": True}), "knowledgeGapsEnabled"),
        (KERequest("POST", "/sc/handle", {"Knowledge-Base-Id": KB_A}), "Knowledge-Interaction-Id"),
        (KERequest("GET", "/sc/ki"), "Knowledge-Base-Id"),
    ]
    for request, field in cases:
        response = transport.handle(request)
        assert response.status == 400, (request, response)
        assert field in response.json["message"]
    assert [kb.id for kb in local.list_knowledge_bases()] == [KB_A]
    assert local.list_knowledge_interactions(KB_A) == []


def test_unregistering_an_interaction_fails_its_pending_requests(
    server: EmulatorServer, client: KnowledgeEngineClient
) -> None:
    client.register_knowledge_base(KB_A, "A", "asks")
    client.register_knowledge_base(KB_B, "B", "answers, then leaves")
    ask = client.register_ask(KB_A, "?s ex:p ?o .", prefixes=PREFIXES)
    answer = client.register_answer(KB_B, "?s ex:p ?o .", prefixes=PREFIXES)
    asking = start(lambda: client.ask(KB_A, ask))
    assert server.emulator.wait_for_queue(KB_B, 1, WAIT)
    client.delete_knowledge_interaction(KB_B, answer)
    [info] = asking.result().exchange_info  # type: ignore[attr-defined]
    assert info.status == "FAILED" and "unregistered" in (info.failed_message or "")
    assert client.poll(KB_B) is None


def test_unknown_paths_and_methods(local: KnowledgeEngineClient) -> None:
    assert local.transport.handle(KERequest("GET", "/sc/unknown")).status == 404
    assert local.transport.handle(KERequest("PATCH", "/sc")).status == 405
