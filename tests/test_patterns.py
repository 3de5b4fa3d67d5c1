"""KE basic graph patterns: what is refused, how they are written, instantiated and compared."""

from __future__ import annotations

import pytest
from rdflib import Literal, URIRef

from dso_saref.errors import PatternError
from dso_saref.patterns import isomorphism, parse
from dso_saref.terms import NONE, PREFIXES


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
