"""Every message of the catalog: description complete, example valid, lossless round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph, Literal

import dso_saref
from tests.conftest import NAMES, ROOT
from tests.strategies import payload_strategy


def by_value(graph: Graph) -> set[tuple[object, ...]]:
    """The triples of ``graph`` with literals compared by datatype and value, not lexical form
    (rdflib's parsers normalise ``...Z`` to ``...+00:00``)."""
    return {(s, p, (o.datatype, o.toPython()) if isinstance(o, Literal) else o) for s, p, o in graph}


MESSAGES_MD_NAMES = {
    "authorization-request", "authorization-response", "metering-request", "metering-data",
    "flexibility-data-request", "flexibility-data", "incentive-offer", "incentive-response",
    "flexibility-needs-request", "flexibility-needs", "flexibility-offers", "activation-plan",
    "acknowledgement", "fault-notification", "opportunities-request", "opportunities", "fault-min-hems",
    "fault-min-elapsed-time", "fault-postal-codes", "subscription-response", "hems-status-request",
    "hems-status", "hems-voltage-request", "hems-voltage", "disaggregated-data-request",
    "disaggregated-data", "elasticity-input", "elasticity-output", "lv-client-reading",
    "mv-client-reading", "secondary-substation-reading", "primary-substation-reading", "grid-topology",
}


def test_catalog_names_are_messages_md_names() -> None:
    assert set(NAMES) <= MESSAGES_MD_NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_message_has_model_pattern_and_example(name: str) -> None:
    description = dso_saref.catalog[name]
    assert description.model.name == name
    assert (ROOT / "examples" / f"{name}.json").is_file()
    assert description.pattern.variables == set(description.variables)


@pytest.mark.parametrize("name", NAMES)
def test_example_round_trips_through_bindings_and_graph(name: str) -> None:
    description = dso_saref.catalog[name]
    example = description.example()
    expected = dso_saref.canonical(name, example)
    bindings = dso_saref.to_bindings(name, example)
    assert bindings, "the example must produce at least one binding row"
    assert dso_saref.from_bindings(name, bindings) == expected
    graph = dso_saref.saref(name, example)
    assert dso_saref.unsaref(name, graph) == expected


@pytest.mark.parametrize("name", NAMES)
def test_example_triples_parse_back_and_match_the_pattern(name: str) -> None:
    description = dso_saref.catalog[name]
    graph = dso_saref.saref(name, description.example())
    for fmt in ("turtle", "nt", "json-ld"):
        again = Graph().parse(data=graph.serialize(format=fmt), format=fmt)
        assert len(again) == len(graph)
        rows = description.graph_rows(again)
        assert rows, f"{fmt}: the pattern does not match the example's own triples"
        assert description.from_term_rows(rows) == dso_saref.canonical(name, description.example())


@pytest.mark.parametrize("name", NAMES)
def test_bindings_are_ke_term_strings(name: str) -> None:
    for rows in dso_saref.to_bindings(name, dso_saref.catalog[name].example()).values():
        for row in rows:
            for value in row.values():
                assert value.startswith(("<", '"'))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_hypothesis_round_trip(name: str, data: st.DataObject) -> None:
    assert_round_trip(name, data.draw(payload_strategy(dso_saref.catalog[name].model)))


def assert_round_trip(name: str, payload: object) -> None:
    """JSON -> bindings -> JSON and JSON -> graph -> JSON give the canonical form; the graph is the
    pattern instantiated with the bindings, and serialises to the same triples (a message or profile)."""
    description = dso_saref.catalog[name]
    expected = dso_saref.canonical(name, payload)
    assert dso_saref.canonical(name, expected) == expected, "canonical form must be a fixed point"
    bindings = dso_saref.to_bindings(name, payload)
    assert dso_saref.from_bindings(name, bindings) == expected
    graph = dso_saref.saref(name, payload)
    assert dso_saref.unsaref(name, graph) == expected
    json.dumps(bindings)
    # hostile identifiers and texts: the serialised graph holds exactly the same triples, no more
    for fmt in ("turtle", "nt"):
        again = Graph().parse(data=graph.serialize(format=fmt), format=fmt)
        assert by_value(again) == by_value(graph)
    # the graph means what the bindings mean: the pattern instantiated with every binding row
    assert set(graph) == set(description.pattern.instantiate(description.parse_bindings(bindings)))
