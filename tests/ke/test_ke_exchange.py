"""ASK/ANSWER and POST/REACT between knowledge bases in separate threads, over real HTTP on an
ephemeral loopback port: matching as at reasoner level 1, variable renaming, filtering by the
asker's bindings, fan-out, exchangeInfo, silent peers and failed replies."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from ke_support import KB_A, KB_B, KB_C, PREFIXES, WAIT, serve, start

from dso_saref.ke import (
    BadRequest,
    CommunicativeAct,
    EmulatorServer,
    HandleRequest,
    KnowledgeEngineClient,
    Timeouts,
)

DOUBLE = "http://www.w3.org/2001/XMLSchema#double"
M1, M2 = "<http://example.org/m1>", "<http://example.org/m2>"


def value(number: float) -> str:
    return f'"{number}"^^<{DOUBLE}>'


@pytest.fixture
def kbs(client: KnowledgeEngineClient) -> KnowledgeEngineClient:
    for kb in (KB_A, KB_B, KB_C):
        client.register_knowledge_base(kb, kb.rsplit("/", 1)[-1], "a test knowledge base")
    return client


def measurements(rows: list[tuple[str, float]]) -> Callable[[HandleRequest], list[dict[str, str]]]:
    """An ANSWER handler over ?meter ex:measured ?reading (the answerer's own variable names)."""
    return lambda request: [{"meter": meter, "reading": value(v)} for meter, v in rows]


def test_ask_answer_between_two_knowledge_bases_in_threads(kbs: KnowledgeEngineClient) -> None:
    ask = kbs.register_ask(KB_A, "?m ex:measured ?v .", prefixes=PREFIXES, name="readings")
    kbs.register_answer(KB_B, "?meter <http://example.org/ns#measured> ?reading .", name="readings")
    answering = serve(kbs, KB_B, measurements([(M1, 1.5), (M2, 2.5)]))
    asking = start(lambda: kbs.ask(KB_A, ask))
    result = asking.result()
    [request] = answering.result()
    assert request.requesting_knowledge_base_id == KB_A
    assert request.binding_set == [{}]  # the KE 1.5.0 sends one empty binding for an ASK without bindings
    assert sorted(result.binding_set, key=lambda r: r["m"]) == [{"m": M1, "v": value(1.5)}, {"m": M2, "v": value(2.5)}]
    [info] = result.exchange_info
    assert (info.knowledge_base_id, info.status, info.succeeded) == (KB_B, "SUCCEEDED", True)
    # the peer's own rows in its own variables (as the KE 1.5.0): only the merged set is in the asker's
    assert sorted(info.binding_set or [], key=lambda r: r["meter"]) == [
        {"meter": M1, "reading": value(1.5)}, {"meter": M2, "reading": value(2.5)}]
    assert info.knowledge_interaction_id == f"{KB_B}/interaction/readings"
    assert info.exchange_start <= info.exchange_end


def test_asker_bindings_are_renamed_for_the_answerer_and_filter_its_answers(kbs: KnowledgeEngineClient) -> None:
    ask = kbs.register_ask(KB_A, "?m ex:measured ?v . ?m a saref:Meter .", prefixes=PREFIXES)
    kbs.register_answer(KB_B, "?meter a saref:Meter . ?meter ex:measured ?reading .", prefixes=PREFIXES)
    answering = serve(kbs, KB_B, measurements([(M1, 1.5), (M2, 2.5)]))
    result = kbs.ask(KB_A, ask, [{"m": M1}])
    [request] = answering.result()
    assert request.binding_set == [{"meter": M1}]
    assert result.binding_set == [{"m": M1, "v": value(1.5)}]


def test_ask_is_the_union_of_every_matching_answer(kbs: KnowledgeEngineClient) -> None:
    ask = kbs.register_ask(KB_A, "?m ex:measured ?v .", prefixes=PREFIXES)
    for kb in (KB_B, KB_C):
        kbs.register_answer(kb, "?meter ex:measured ?reading .", prefixes=PREFIXES)
    b = serve(kbs, KB_B, measurements([(M1, 1.5)]))
    c = serve(kbs, KB_C, measurements([(M1, 1.5), (M2, 2.5)]))
    result = kbs.ask(KB_A, ask)
    b.result(), c.result()
    assert sorted(result.binding_set, key=lambda r: r["m"]) == [{"m": M1, "v": value(1.5)}, {"m": M2, "v": value(2.5)}]
    assert {(i.knowledge_base_id, i.status) for i in result.exchange_info} == {(KB_B, "SUCCEEDED"), (KB_C, "SUCCEEDED")}


def test_level_1_answers_covering_the_ask_and_agreeing_acts_match(kbs: KnowledgeEngineClient) -> None:
    # the KE 1.5.0 at level 1: an ANSWER with more triples is asked; other predicates, fewer triples,
    # other purposes and one's own KIs are not (docs/ke.md, "Reasoner levels")
    ask = kbs.register_ask(KB_A, "?m ex:measured ?v . ?m a saref:Meter .", prefixes=PREFIXES)
    kbs.register_answer(KB_A, "?m ex:measured ?v . ?m a saref:Meter .", prefixes=PREFIXES)  # its own: never asked
    kbs.register_answer(KB_B, "?m ex:measured ?v .", prefixes=PREFIXES)  # fewer triples
    kbs.register_answer(KB_B, "?m ex:measuredAt ?v . ?m a saref:Meter .", prefixes=PREFIXES)  # another predicate
    other = CommunicativeAct(("http://example.org/ns#OtherPurpose",), ("http://example.org/ns#OtherPurpose",))
    kbs.register_answer(KB_C, "?m ex:measured ?v . ?m a saref:Meter .", prefixes=PREFIXES, communicative_act=other)
    result = kbs.ask(KB_A, ask)
    assert result.binding_set == [] and result.exchange_info == []
    wider = kbs.register_answer(KB_C, "?x a saref:Meter . ?x ex:measured ?y . ?x ex:label ?l .", prefixes=PREFIXES)
    worker = serve(kbs, KB_C, lambda request: [{"x": M1, "y": value(1.5), "l": '"meter one"'}])
    result = kbs.ask(KB_A, ask)
    [request] = worker.result()
    assert request.knowledge_interaction_id == wider and request.binding_set == [{}]
    assert result.binding_set == [{"m": M1, "v": value(1.5)}]  # the asker gets its own variables only


def test_post_fans_out_to_every_reactor_and_merges_their_results(kbs: KnowledgeEngineClient) -> None:
    post = kbs.register_post(KB_A, "?m ex:setpoint ?v .", "?m ex:accepted ?ok .", prefixes=PREFIXES)
    for kb in (KB_B, KB_C):
        kbs.register_react(kb, "?device ex:setpoint ?power .", "?device ex:accepted ?flag .", prefixes=PREFIXES)

    def accept(flag: str) -> Callable[[HandleRequest], list[dict[str, str]]]:
        return lambda request: [{"device": row["device"], "flag": flag} for row in request.binding_set]

    b = serve(kbs, KB_B, accept('"true"^^<http://www.w3.org/2001/XMLSchema#boolean>'))
    c = serve(kbs, KB_C, accept('"false"^^<http://www.w3.org/2001/XMLSchema#boolean>'))
    posting = start(lambda: kbs.post(KB_A, post, [{"m": M1, "v": value(3.0)}]))
    result = posting.result()
    for worker in (b, c):
        [request] = worker.result()
        assert request.binding_set == [{"device": M1, "power": value(3.0)}]
    assert sorted(row["ok"] for row in result.result_binding_set) == [
        '"false"^^<http://www.w3.org/2001/XMLSchema#boolean>', '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>'
    ]
    assert all(row["m"] == M1 for row in result.result_binding_set)
    for info in result.exchange_info:  # each reactor's binding sets in its own variables, as the KE 1.5.0's
        assert info.succeeded and info.argument_binding_set == [{"device": M1, "power": value(3.0)}]
        assert [set(row) for row in info.result_binding_set or []] == [{"device", "flag"}]


def test_post_reaches_reactors_by_argument_and_merges_only_matching_results(kbs: KnowledgeEngineClient) -> None:
    # the KE 1.5.0 at level 1 calls every REACT whose argument pattern matches, whatever its result
    # pattern; only rows of a matching result pattern reach the poster's resultBindingSet
    post = kbs.register_post(KB_A, "?m ex:setpoint ?v .", "?m ex:accepted ?ok .", prefixes=PREFIXES)
    kbs.register_react(KB_B, "?d ex:setpoint ?p .", "?d ex:refused ?r .", prefixes=PREFIXES)
    kbs.register_react(KB_C, "?d ex:setpoint ?p .", prefixes=PREFIXES)  # no result pattern at all
    b = serve(kbs, KB_B, lambda request: [{"d": M1, "r": '"no"'}])
    c = serve(kbs, KB_C, lambda request: [])
    result = kbs.post(KB_A, post, [{"m": M1, "v": value(3.0)}])
    for worker in (b, c):
        [request] = worker.result()
        assert request.binding_set == [{"d": M1, "p": value(3.0)}]
    assert result.result_binding_set == []
    assert sorted(info.knowledge_base_id for info in result.exchange_info if info.succeeded) == sorted([KB_B, KB_C])


def test_post_renaming_keeps_argument_and_result_variables_apart(kbs: KnowledgeEngineClient) -> None:
    # the argument and result patterns have the same shape: only a joint renaming keeps them apart
    post = kbs.register_post(KB_A, "?m ex:p ?old .", "?m ex:p ?new .", prefixes=PREFIXES)
    kbs.register_react(KB_B, "?x ex:p ?before .", "?x ex:p ?after .", prefixes=PREFIXES)
    worker = serve(kbs, KB_B, lambda r: [{"x": M1, "after": value(2.0)}])
    result = kbs.post(KB_A, post, [{"m": M1, "old": value(1.0)}])
    [request] = worker.result()
    assert request.binding_set == [{"x": M1, "before": value(1.0)}]
    assert result.result_binding_set == [{"m": M1, "new": value(2.0)}]


def test_a_silent_peer_is_reported_failed_while_the_other_answers_arrive(
    make_server: Callable[..., EmulatorServer]
) -> None:
    server = make_server(exchange_timeout=1.0)
    with KnowledgeEngineClient(server.base_url, timeout=Timeouts(exchange=WAIT, long_poll=WAIT)) as ke:
        for kb in (KB_A, KB_B, KB_C):
            ke.register_knowledge_base(kb, "kb", "test")
        ask = ke.register_ask(KB_A, "?m ex:measured ?v .", prefixes=PREFIXES)
        ke.register_answer(KB_B, "?meter ex:measured ?reading .", prefixes=PREFIXES)
        ke.register_answer(KB_C, "?meter ex:measured ?reading .", prefixes=PREFIXES)  # never polls
        answering = serve(ke, KB_B, measurements([(M1, 1.5)]))
        began = time.monotonic()
        result = ke.ask(KB_A, ask)
        elapsed = time.monotonic() - began
        answering.result()
    assert result.binding_set == [{"m": M1, "v": value(1.5)}]
    infos = {info.knowledge_base_id: info for info in result.exchange_info}
    assert infos[KB_B].succeeded
    assert infos[KB_C].status == "FAILED" and "did not reply within 1 s" in (infos[KB_C].failed_message or "")
    assert 1.0 <= elapsed < WAIT


def test_an_error_reply_is_reported_failed_with_its_message(kbs: KnowledgeEngineClient) -> None:
    ask = kbs.register_ask(KB_A, "?m ex:measured ?v .", prefixes=PREFIXES)
    answer = kbs.register_answer(KB_B, "?meter ex:measured ?reading .", prefixes=PREFIXES)
    asking = start(lambda: kbs.ask(KB_A, ask))
    request = kbs.poll(KB_B)
    assert request is not None and request.knowledge_interaction_id == answer
    kbs.respond_error(KB_B, answer, request.handle_request_id, "meter database unreachable")
    [info] = asking.result().exchange_info
    assert (info.status, info.failed_message) == ("FAILED", "meter database unreachable")


@pytest.mark.parametrize(
    ("reply", "complaint"),
    [
        ([{"meter": M1}], "missing ?reading"),
        ([{"meter": M1, "reading": value(1.0), "extra": M2}], "?extra is not a variable"),
        ([{"meter": '"not an iri"', "reading": value(1.0)}], "must be bound to an IRI"),
        ([{"meter": M1, "reading": "1.0"}], "bindingSet[0].reading"),
    ],
    ids=["unbound-variable", "unknown-variable", "literal-subject", "not-a-term"],
)
def test_an_invalid_reply_is_refused_and_counts_as_failed(
    kbs: KnowledgeEngineClient, reply: list[dict[str, str]], complaint: str
) -> None:
    ask = kbs.register_ask(KB_A, "?m ex:measured ?v .", prefixes=PREFIXES)
    answer = kbs.register_answer(KB_B, "?meter ex:measured ?reading .", prefixes=PREFIXES)
    asking = start(lambda: kbs.ask(KB_A, ask))
    request = kbs.poll(KB_B)
    assert request is not None
    with pytest.raises(BadRequest, match=complaint.replace("?", r"\?").replace("[", r"\[")):
        kbs.respond(KB_B, answer, request.handle_request_id, reply)
    result = asking.result()
    assert result.binding_set == []
    assert result.exchange_info[0].status == "FAILED" and complaint in (result.exchange_info[0].failed_message or "")


def test_recipients_limit_who_is_asked(kbs: KnowledgeEngineClient) -> None:
    ask = kbs.register_ask(KB_A, "?m ex:measured ?v .", prefixes=PREFIXES)
    for kb in (KB_B, KB_C):
        kbs.register_answer(kb, "?meter ex:measured ?reading .", prefixes=PREFIXES)
    answering = serve(kbs, KB_C, measurements([(M2, 2.5)]))
    result = kbs.ask(KB_A, ask, recipients=[KB_C])
    answering.result()
    assert result.binding_set == [{"m": M2, "v": value(2.5)}]
    assert [info.knowledge_base_id for info in result.exchange_info] == [KB_C]


def test_an_interaction_registered_again_with_another_pattern_is_matched_by_its_new_pattern(
    kbs: KnowledgeEngineClient,
) -> None:
    # the stand-in remembers match verdicts by what the two interactions say, not by their ids
    ask = kbs.register_ask(KB_A, "?m ex:measured ?v .", prefixes=PREFIXES, name="readings")
    same = kbs.register_ask(KB_C, "?m ex:measured ?v .", prefixes=PREFIXES, name="readings")
    answer = kbs.register_answer(KB_B, "?meter ex:measured ?reading .", prefixes=PREFIXES, name="readings")
    answering = serve(kbs, KB_B, measurements([(M1, 1.5)]), count=2)
    for kb, ki in ((KB_A, ask), (KB_C, same)):  # the second asker says the same: the same answer
        assert kbs.ask(kb, ki).binding_set == [{"m": M1, "v": value(1.5)}]
    answering.result()
    kbs.delete_knowledge_interaction(KB_B, answer)
    kbs.register_answer(KB_B, "?meter ex:counted ?reading .", prefixes=PREFIXES, name="readings")
    assert kbs.ask(KB_A, ask).exchange_info == []
    kbs.delete_knowledge_interaction(KB_A, ask)
    again = kbs.register_ask(KB_A, "?m ex:counted ?v .", prefixes=PREFIXES, name="readings")
    answering = serve(kbs, KB_B, measurements([(M2, 2.5)]))
    assert kbs.ask(KB_A, again).binding_set == [{"m": M2, "v": value(2.5)}]
    answering.result()
