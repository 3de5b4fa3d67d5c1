"""KE basic graph patterns: what is refused, how they are written, instantiated and compared."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD

import dso_saref
from dso_saref.errors import PatternError
from dso_saref.patterns import Pattern, isomorphism, parse
from dso_saref.terms import NONE, PREFIXES, SAREF
from tests.conftest import NAMES
from tests.strategies import payload_strategy


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("?s ?p ?o . FILTER(?o > 1)", "FILTER"),
        ("?s ?p ?o . OPTIONAL { ?s ?q ?r }", "OPTIONAL"),
        ("_:b saref:hasValue ?v .", "blank nodes"),
        ("?s saref:hasValue [ saref:hasValue ?v ] .", "blank nodes"),
        ("?s saref:hasValue/saref:hasValue ?v .", "property paths"),
        ("PREFIX x: <urn:x> ?s x:p ?o .", "PREFIX"),
        ("?s nope:p ?o .", "prefix 'nope'"),
        ("?s ?p .", "subject, predicate and object"),
        ("", "empty"),
        ('"lit" ?p ?o .', "literal cannot be a subject"),
    ],
)
def test_refused_patterns_say_why(text: str, why: str) -> None:
    with pytest.raises(PatternError, match=why):
        parse(text, PREFIXES)


def test_shorthands_and_a_are_read() -> None:
    pattern = parse("?m a saref:Measurement ; saref:hasValue ?v , ?w .", PREFIXES)
    assert len(pattern.triples) == 3
    assert pattern.variables == {"m", "v", "w"}


def test_written_pattern_parses_back_to_the_same_triples() -> None:
    pattern = parse("?m a saref:Measurement . ?m saref:isMeasuredIn om:kilowatt . ?m saref:hasValue 1.5 .", PREFIXES)
    assert parse(pattern.to_text(PREFIXES), PREFIXES) == pattern
    assert parse(pattern.to_text(), {}) == pattern


def test_isomorphism_ignores_variable_names_and_order() -> None:
    left = parse("?a saref:hasValue ?b . ?a a saref:Measurement .", PREFIXES)
    right = parse("?x a saref:Measurement . ?x saref:hasValue ?y .", PREFIXES)
    assert isomorphism(left, right) == {"a": "x", "b": "y"}


def test_isomorphism_refuses_different_constants_and_merged_variables() -> None:
    left = parse("?a saref:hasValue ?b . ?a a saref:Measurement .", PREFIXES)
    assert isomorphism(left, parse("?x saref:hasValue ?y . ?x a saref:Meter .", PREFIXES)) is None
    assert isomorphism(parse("?a saref:hasValue ?b .", PREFIXES), parse("?a saref:hasValue ?a .", PREFIXES)) is None


def test_instantiate_leaves_out_triples_of_absent_values() -> None:
    pattern = parse("?m saref:hasValue ?v . ?m saref:hasTimestamp ?t .", PREFIXES)
    triples = list(pattern.instantiate([{"m": URIRef("urn:m"), "v": Literal(1.0), "t": NONE}]))
    assert len(triples) == 1


# -- matching: the same rows as rdflib's SPARQL engine running select_query ---------------------------


def _sparql_rows(pattern: Pattern, graph: Graph) -> set[tuple[tuple[str, object], ...]]:
    results = graph.query(pattern.select_query())
    return {tuple(sorted((name, row[name]) for name in pattern.variables)) for row in results}


def _rows(pattern: Pattern, graph: Graph) -> set[tuple[tuple[str, object], ...]]:
    found = pattern.match(graph)
    rows = {tuple(sorted(row.items())) for row in found}
    assert len(rows) == len(found), "each row once"
    return rows


def test_match_handles_string_constants_repeated_variables_and_no_match() -> None:
    pattern = parse('?m a saref:Measurement ; saref:hasValue ?v ; rdfs:label "x" . ?v saref:hasValue ?v .', PREFIXES)
    graph = Graph()
    for node, label in (("urn:a", Literal("x")), ("urn:b", Literal("x", datatype=XSD.string)),
                        ("urn:c", Literal("x", lang="en")), ("urn:d", Literal("y"))):
        graph.add((URIRef(node), RDF.type, SAREF.Measurement))
        graph.add((URIRef(node), RDFS.label, label))
        graph.add((URIRef(node), SAREF.hasValue, URIRef(node + "v")))
        graph.add((URIRef(node + "v"), SAREF.hasValue, URIRef(node + "v" if node != "urn:b" else "urn:other")))
    assert _rows(pattern, graph) == _sparql_rows(pattern, graph) == {(("m", URIRef("urn:a")), ("v", URIRef("urn:av")))}
    assert pattern.match(Graph()) == []


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_match_gives_the_rows_rdflibs_sparql_engine_gives(name: str, data: st.DataObject) -> None:
    description = dso_saref.catalog[name]
    payloads = [description.example(), data.draw(payload_strategy(description.model))]
    graph = dso_saref.saref(name, payloads[0]) + dso_saref.saref(name, payloads[1])  # two messages in one graph
    for part in description.parts:
        assert _rows(part.pattern, graph) == _sparql_rows(part.pattern, graph), part.key
