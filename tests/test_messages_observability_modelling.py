"""Every triple true (issue 10) for the observability messages: what a peer reads from our binding
sets, message-level nodes minted from everything that tells them apart, values on measurements only,
one description per class, all-different enumerations, and the proof that a graph merged from many
valid messages conforms to the shapes and is OWL-RL consistent with the official ontologies."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rdflib import BNode, Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SKOS

import dso_saref
from dso_saref.patterns import Var
from dso_saref.shaping import disagreements
from dso_saref.terms import DSO, NONE, S4GRID, SAREF, Settings, parse_term
from dso_saref.validation import Validator
from tests.conftest import ROOT
from tests.strategies import payload_strategy
from tests.support import merges

OBSERVABILITY = [
    "fault-notification", "opportunities-request", "opportunities", "fault-min-hems", "fault-min-elapsed-time",
    "fault-postal-codes", "subscription-response", "hems-status-request", "hems-status", "hems-voltage-request",
    "hems-voltage", "disaggregated-data-request", "disaggregated-data",
]
#: The nodes that stand for something one message says, by message: minted from everything that tells
#: them apart (docs/messages/observability.md). The other nodes are things (areas, HEMS, end users,
#: loads) or per-area requests that say nothing but what they are about.
MESSAGE_LEVEL = {
    "fault-notification": ("outage", "faulty_hems", "faulty_hems_measurement"),
    "fault-min-hems": ("setting", "threshold", "threshold_measurement"),
    "fault-min-elapsed-time": ("setting", "threshold", "threshold_measurement"),
    "subscription-response": ("response",),
    "hems-status": ("state",),
    "hems-voltage": ("measurement",),
    "opportunities": ("opportunity",),
    "disaggregated-data": ("measurement",),
}
#: Messages that say one thing (one setting, one response): two that differ share no such node.
SINGLE = ("fault-min-hems", "fault-min-elapsed-time", "subscription-response")
BASE = Settings().base
#: SAREF4GRID's quantities: individuals of s4grid:EnergyAndPowerProperty, never classes.
S4GRID_INDIVIDUALS = {S4GRID[n] for n in ("Voltage", "ActivePower", "ReactivePower", "Current", "PowerLimit",
                                          "ActiveEnergy", "Threshold", "TimeThreshold")}

# Pairs of valid messages that collided before issue 10 (review 2026-12, section 4.3), and a few more.
ENTRY = {"Hems_ID": "ID1234", "Abnormal_Voltage": False, "timestamp": "2021-12-03T15:11:20Z"}
READING = {"Hems_ID": "ID1234", "timestamp": "2021-12-03T15:11:20Z", "Voltage_from_Hems": 240}
COLLISIONS: list[tuple[str, Any, Any]] = [
    ("subscription-response", {"status": "denied", "reason": "no HEMS"}, {"status": "denied", "reason": "too far"}),
    ("subscription-response", {"status": "denied", "reason": ""}, {"status": "denied"}),
    ("subscription-response", {"status": "accepted"}, {"status": "denied"}),
    ("fault-notification",
     {"Fault_Location_Identification": [{"Postal_Code": "4405-123", "Nbr_Faulty_Hems": 4,
                                         "timestamp": "2021-12-03T15:11:20Z"}]},
     {"Fault_Location_Identification": [{"Postal_Code": "4405-123", "Nbr_Faulty_Hems": 9,
                                         "timestamp": "2021-12-04T09:00:00Z"}]}),
    ("fault-notification", {"Fault_Location_ID": "1", "Fault_Location_Identification": [{"Postal_Code": "4405-123"}]},
     {"Fault_Location_ID": "2", "Fault_Location_Identification": [{"Postal_Code": "4405-123"}]}),
    ("fault-min-hems", {"Postal_Code": "4405-123", "Fault_Location_Inputs": [{"Min_nbr_Hems_faulty": 3}]},
     {"Fault_Location_Inputs": [{"Min_nbr_Hems_faulty": 3}]}),
    ("fault-min-hems", {"Postal_Code": "4405-123", "Fault_Location_Inputs": [{"Min_nbr_Hems_faulty": 3}]},
     {"Postal_Code": "4120-200", "Fault_Location_Inputs": [{"Min_nbr_Hems_faulty": 3}]}),
    ("fault-min-elapsed-time", {"Fault_Location_Inputs": [{"Min_time_of_interruption": 3,
                                                           "Min_time_of_interruption_unit": "minutes"}]},
     {"Fault_Location_Inputs": [{"Min_time_of_interruption": 3}]}),
    ("hems-status", {"Voltage_Monitoring": [{**ENTRY, "Status": "on"}]},
     {"Voltage_Monitoring": [{**ENTRY, "Status": "off", "Abnormal_Voltage": True}]}),
    ("hems-status", {"Voltage_Monitoring": [{**ENTRY, "Status": "on"}]}, {"Voltage_Monitoring": [ENTRY]}),
    ("hems-voltage", {"Voltage_Monitoring": [READING]},
     {"Voltage_Monitoring": [{**READING, "Voltage_from_Hems": 231}]}),
    ("opportunities", {"opportunities": [{"zip_code": "4200", "message": ["more EVs"]}]},
     {"opportunities": [{"zip_code": "4200", "message": ["fewer EVs"]}]}),
    ("disaggregated-data",
     {"customers": [{"customer_id": "c1", "loads": [{"load_type": "EV", "unit": "kW", "series": [
         {"timestamp": "2021-12-03T14:00:00Z", "consumption": 3.7}]}]}]},
     {"customers": [{"customer_id": "c1", "loads": [{"load_type": "EV", "unit": "kWh", "series": [
         {"timestamp": "2021-12-03T14:00:00Z", "consumption": 3.7}]}]}]}),
]


def example(name: str) -> Any:
    return dso_saref.catalog[name].example()


def naive(name: str, payload: Any) -> Graph:
    """What a peer that knows nothing of dso-saref reads from the message's binding sets: each part's
    pattern instantiated with each of its bindings, every variable bound, nothing skipped."""
    description = dso_saref.catalog[name]
    parts = {part.key: part for part in description.parts}
    graph = Graph()
    for key, rows in dso_saref.to_bindings(name, payload).items():
        for row in rows:
            terms = {var: parse_term(text) for var, text in row.items()}
            for triple in parts[key].pattern.triples:
                s, p, o = (terms[t.name] if isinstance(t, Var) else t for t in triple)
                graph.add((s, p, o))
    return graph


def message_level_nodes(name: str, payload: Any) -> set[URIRef]:
    """The IRIs of the message-level nodes of a payload."""
    description = dso_saref.catalog[name]
    rows = description.parse_bindings(dso_saref.to_bindings(name, payload))
    return {row[v] for row in rows for v in MESSAGE_LEVEL.get(name, ()) if row[v] != NONE}


def violations(graph: Graph, names: Iterable[str] = OBSERVABILITY, engine: str = "compiled") -> dict[str, list[str]]:
    """The violations of the shapes of messages ``names`` (every class they type) in ``graph``."""
    validator = Validator(engine=engine)
    found = {}
    for name in names:
        report = validator.validate(name, graph)
        if not report.conforms:
            found[name] = [str(e) for e in report.errors][:5]
    return found


# -- a pair of payloads that differ in one place --------------------------------------------------------


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    if isinstance(value, list) and value:
        return [leaf for i, item in enumerate(value) for leaf in _leaves(item, (*path, i))]
    return [(path, value)]


def _edited(value: Any, path: tuple[Any, ...], leaf: Any, delete: bool) -> Any:
    out = copy.deepcopy(value)
    node = out
    for step in path[:-1]:
        node = node[step]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = leaf
    return out


def _key(path: tuple[Any, ...]) -> Any:
    """The JSON key a leaf is the value of (its last key, through list indices)."""
    return next((step for step in reversed(path) if isinstance(step, str)), None)


@st.composite
def differing_pairs(draw: st.DrawFn, name: str) -> tuple[Any, Any]:
    """Two valid payloads of ``name`` with different canonical forms, mostly differing in one place: a
    value of one replaced by a value of the same key in another payload, or an optional key dropped,
    so that they share everything else (the case in which minted IRIs collide); else two unrelated
    payloads."""
    model = dso_saref.catalog[name].model
    first = draw(payload_strategy(model), label="first")
    other = draw(payload_strategy(model), label="other")
    theirs: dict[Any, list[Any]] = {}
    for path, leaf in _leaves(other):
        theirs.setdefault(_key(path), []).append(leaf)
    paths = [path for path, _ in _leaves(first) if path and (isinstance(path[-1], str) or theirs.get(_key(path)))]
    path = draw(st.sampled_from(paths), label="path") if paths else None
    candidates = [other]
    if path is not None and (not theirs.get(_key(path)) or draw(st.integers(0, 3), label="delete") == 0):
        candidates.insert(0, _edited(first, path, None, delete=True))
    elif path is not None:
        leaf = draw(st.sampled_from(theirs[_key(path)]), label="leaf")
        candidates.insert(0, _edited(first, path, leaf, delete=False))
    known = dso_saref.canonical(name, first)
    for second in candidates:
        try:
            if dso_saref.canonical(name, second) != known:
                return first, second
        except dso_saref.PayloadError:
            continue  # the edit broke a rule of the model (a repeated id, a required key)
    assume(False)
    raise AssertionError("unreachable")


def _places_one_hems_twice(first: Any, second: Any) -> bool:
    """Whether two payloads put one HEMS (by ``Hems_ID``) in two different postal code areas."""
    def areas(payload: Any) -> dict[str, str]:
        entries = payload.get("Voltage_Monitoring", []) if isinstance(payload, dict) else []
        return {e["Hems_ID"]: e["Postal_Code"] for e in entries if isinstance(e, dict) and "Postal_Code" in e}

    mine, theirs = areas(first), areas(second)
    return any(theirs[hems] != area for hems, area in mine.items() if hems in theirs)


# -- rule 1: binding sets a peer reads naively --------------------------------------------------------


@pytest.mark.parametrize("name", OBSERVABILITY)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_round_trips_and_naive_instantiation_of_generated_payloads(name: str, data: st.DataObject) -> None:
    """JSON -> bindings -> JSON and JSON -> graph -> JSON are lossless; every binding set, instantiated
    naively into its part's pattern, gives exactly the message's triples: no rdf:nil (issue 10,
    item 1) and no SAREF4GRID quantity used as a class (item 3)."""
    payload = data.draw(payload_strategy(dso_saref.catalog[name].model))
    expected = dso_saref.canonical(name, payload)
    bindings = dso_saref.to_bindings(name, payload)
    assert dso_saref.from_bindings(name, bindings) == expected
    graph = dso_saref.saref(name, payload)
    assert dso_saref.unsaref(name, graph) == expected
    peer = naive(name, payload)
    assert set(peer) == set(graph)
    assert not any(RDF.nil in triple for triple in peer)
    assert not set(peer.objects(None, RDF.type)) & S4GRID_INDIVIDUALS


@pytest.mark.parametrize("name", OBSERVABILITY)
def test_examples_instantiated_naively_hold_no_placeholder(name: str) -> None:
    bindings = dso_saref.to_bindings(name, example(name))
    for rows in bindings.values():
        for row in rows:
            assert f"<{RDF.nil}>" not in row.values()
    assert set(naive(name, example(name))) == set(dso_saref.saref(name, example(name)))


# -- rule 3: message-level nodes ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "first", "second"), COLLISIONS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(COLLISIONS)])
def test_messages_that_collided_share_no_message_level_node_and_merge_into_valid_graphs(
        name: str, first: Any, second: Any) -> None:
    """Two denials with different reasons, notifications about one postal code on two days, the global
    and a per-area setting, settings of two areas, two status reports or readings of one HEMS at one
    time, ...: each says its own thing on its own nodes (issue 10, item 4), so their merge conforms."""
    assert dso_saref.canonical(name, first) != dso_saref.canonical(name, second)
    assert message_level_nodes(name, first).isdisjoint(message_level_nodes(name, second))
    merged = naive(name, first) + naive(name, second)
    assert violations(merged, [name]) == {}
    assert violations(merged, [name], engine="pyshacl") == {}  # standard SHACL (no SHACL-AF) agrees


@pytest.mark.parametrize("name", sorted(MESSAGE_LEVEL))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_two_different_payloads_share_no_message_level_node_that_they_describe_differently(
        name: str, data: st.DataObject) -> None:
    """A message-level node two payloads share is one both describe alike (the same entry in both);
    a message that says one thing (one setting, one response) shares none with one that differs; and
    the merge conforms to every shape."""
    first, second = data.draw(differing_pairs(name))
    # a HEMS said to be in two postal code areas is contradictory data, not a collision of our IRIs
    # (the HEMS is a thing, hems/{id}; the shapes rightly refuse two areas for it)
    assume(not _places_one_hems_twice(first, second))
    a, b = naive(name, first), naive(name, second)
    shared = message_level_nodes(name, first) & message_level_nodes(name, second)
    if name in SINGLE:
        assert shared == set()
    for node in shared:
        assert set(a.triples((node, None, None))) == set(b.triples((node, None, None))), node
    assert violations(a + b, [name]) == {}


# -- rules 2, 4 and 6: one description per class, values on measurements, the ontology --------------------


def test_every_message_that_types_one_of_our_classes_says_the_same_of_it() -> None:
    """No 'described differently' for any class an observability message types (the HEMS in the four
    HEMS messages, the measurements, the postal-code areas, the end user...)."""
    ours = {str(o) for name in OBSERVABILITY for _, p, o in dso_saref.catalog[name].pattern.triples
            if p == RDF.type and isinstance(o, URIRef)}
    assert [line for line in disagreements(dso_saref.catalog) if any(
        line.startswith(f"{_short(cls)} ") for cls in ours)] == []


def _short(iri: str) -> str:
    for prefix, ns in (("dso", str(DSO)), ("saref", str(SAREF)), ("s4grid", str(S4GRID))):
        if iri.startswith(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri


def test_one_template_and_one_class_per_kind_across_the_catalog() -> None:
    """hems/{id} a HEMS, postal-code/{code} a postal-code area, user/{id} an end user (disaggregation
    customers included), wherever the catalog types them (issue 10, item 5)."""
    kinds = {"hems": DSO.HomeEnergyManagementSystem, "postal-code": DSO.PostalCodeArea, "user": DSO.EndUser}
    for name in dso_saref.catalog:
        description = dso_saref.catalog[name]
        for s, p, o in description.pattern.triples:
            if p != RDF.type or not isinstance(s, Var):
                continue
            match = re.fullmatch(r"([a-z-]+)/\{\w+\}", description.variables[s.name].template or "")
            kind = match[1] if match else None
            assert (kind in kinds) == (o in kinds.values()) and kinds.get(kind or "", o) == o, (name, s, o)
    user = URIRef(BASE + "user/U123456")
    merged = dso_saref.saref("authorization-request", example("authorization-request"))
    merged += dso_saref.saref("disaggregated-data-request", {"customers_ids": ["U123456"]})
    assert set(merged.objects(user, RDF.type)) == {DSO.EndUser}
    assert (URIRef(BASE + "user/U123456/disaggregated-data-request"), SAREF.isAbout, user) in merged


@pytest.mark.parametrize("name", OBSERVABILITY)
def test_values_live_on_measurements_only(name: str) -> None:
    """Whatever carries saref:hasValue or saref:isMeasuredIn is a saref:Measurement with SAREF's
    four (issue 10, item 6): counts and thresholds included; no s4grid:PropertyValue value objects."""
    graph = dso_saref.saref(name, example(name))
    carriers = set(graph.subjects(SAREF.hasValue, None)) | set(graph.subjects(SAREF.isMeasuredIn, None))
    for node in carriers:
        assert (node, RDF.type, SAREF.Measurement) in graph
        for p in (SAREF.hasValue, SAREF.isMeasuredIn, SAREF.relatesToProperty, SAREF.isMeasurementOf):
            assert len(list(graph.objects(node, p))) == 1, (node, p)
        thing, prop = graph.value(node, SAREF.isMeasurementOf), graph.value(node, SAREF.relatesToProperty)
        assert (thing, SAREF.hasProperty, prop) in graph
    assert not list(graph.subjects(S4GRID.hasValue, None))


def test_a_measurement_in_a_part_is_still_required_to_say_what_it_measures() -> None:
    """The count of faulty HEMS is a part of the notification; its measurement points to the outage of
    the core, which is bound whenever the part is, so the shapes require it."""
    graph = dso_saref.saref("fault-notification", example("fault-notification"))
    (count,) = (m for m in graph.subjects(RDF.type, SAREF.Measurement))
    graph.remove((count, SAREF.isMeasurementOf, None))
    report = Validator(engine="compiled").validate("fault-notification", graph)
    assert not report.conforms
    assert any("saref:isMeasurementOf" in str(e) for e in report.errors)


@cache
def own_ontology() -> Graph:
    graph = Graph()
    for path in sorted((ROOT / "ontologies").glob("dso-saref*.ttl")):
        graph.parse(path, format="turtle")
    return graph


def test_our_terms_are_labelled_explained_and_tied_to_an_official_one() -> None:
    """Every term of ontologies/dso-saref-observability.ttl has a label, a comment and an axiom to an
    official term or to one of ours that has one (issue 10, item 10); no skos:related, no
    sub-property of rdfs:comment."""
    graph, mine = own_ontology(), Graph().parse(ROOT / "ontologies" / "dso-saref-observability.ttl")
    terms = {s for s in mine.subjects(RDF.type, None) if isinstance(s, URIRef) and str(s).startswith(str(DSO))}
    assert terms
    assert [t for t in terms if graph.value(t, RDFS.label) is None or graph.value(t, RDFS.comment) is None] == []
    assert not list(mine.subject_objects(SKOS.related)) and not list(mine.subject_objects(SKOS.definition))
    assert not list(mine.subjects(RDFS.subPropertyOf, RDFS.comment))
    axioms = (RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range, OWL.inverseOf, RDF.type)
    plain = {OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.NamedIndividual, OWL.FunctionalProperty,
             OWL.Restriction}

    def anchors(term: URIRef) -> set[URIRef]:
        found = set()
        for p in axioms:
            for o in graph.objects(term, p):
                named = [o] if isinstance(o, URIRef) else list(graph.objects(o)) if isinstance(o, BNode) else []
                found |= {x for x in named if isinstance(x, URIRef) and x not in plain}
        return found

    tied: set[URIRef] = set()
    every = {s for s in graph.subjects(RDF.type, None) if isinstance(s, URIRef) and str(s).startswith(str(DSO))}
    while True:
        more = {t for t in every - tied if any(not str(a).startswith(str(DSO)) or a in tied for a in anchors(t))}
        if not more:
            break
        tied |= more
    assert sorted(str(t) for t in terms - tied) == []


def test_our_enumerations_are_all_different() -> None:
    """Subscription statuses and on/off states: owl:oneOf classes whose members are declared
    owl:AllDifferent (issue 10, item 7)."""
    graph = Graph().parse(ROOT / "ontologies" / "dso-saref-observability.ttl")
    groups = [set(Collection(graph, graph.value(n, OWL.distinctMembers)))
              for n in graph.subjects(RDF.type, OWL.AllDifferent)]
    enumerations = {cls: set(Collection(graph, members)) for cls, members in graph.subject_objects(OWL.oneOf)}
    assert set(enumerations) == {DSO.SubscriptionStatus, DSO.HemsOnOffState}
    for members in enumerations.values():
        assert members in groups


# -- the proof: many valid messages merged stay valid ----------------------------------------------------


def inconsistencies(data: Graph) -> list[str]:
    """What the OWL-RL closure of the data with the official and our ontologies finds wrong (see
    :func:`tests.support.merges.inconsistencies`)."""
    return merges.inconsistencies(data, merges.proof_ontologies(), BASE)


def test_the_proof_catches_contradictions() -> None:
    """Were two statuses (or on and off) ever said of one node, OWL-RL would find them: the
    enumerations' members are all different and their properties functional."""
    response, state = URIRef(BASE + "subscription-response/x"), URIRef(BASE + "hems/x/status/t/y")
    graph = Graph()
    graph.add((response, DSO.hasSubscriptionStatus, DSO.SubscriptionAccepted))
    graph.add((response, DSO.hasSubscriptionStatus, DSO.SubscriptionDenied))
    graph.add((state, DSO.hasOnOffState, DSO.HemsOn))
    graph.add((state, DSO.hasOnOffState, DSO.HemsOff))
    found = inconsistencies(graph)
    assert any("SubscriptionAccepted" in f and "SubscriptionDenied" in f for f in found), found
    assert any("HemsOn" in f and "HemsOff" in f for f in found), found


def examples_and_collisions() -> Graph:
    """Every example and every pair that collided before, read as a peer reads their binding sets."""
    merged = Graph()
    for name in OBSERVABILITY:
        merged += naive(name, example(name))
    for name, first, second in COLLISIONS:
        merged += naive(name, first) + naive(name, second)
    return merged


def test_examples_and_collisions_merged_conform() -> None:
    """Every example and every pair that collided before in one graph: every shape holds (compiled
    engine and pySHACL in standard mode)."""
    merged = examples_and_collisions()
    assert violations(merged) == {}
    assert violations(merged, engine="pyshacl") == {}


def _one_hems_in_two_areas(graph: Graph) -> bool:
    """Whether ``graph`` puts one HEMS in two postal code areas."""
    return any(len(set(graph.objects(hems, DSO.isInPostalCodeArea))) > 1
               for hems in set(graph.subjects(DSO.isInPostalCodeArea, None)))


@cache
def everything_merged() -> Graph:
    """:func:`examples_and_collisions` and two differing generated pairs of every observability message
    (seeded: the same on every run), in one graph. A pair that would put a HEMS in a second postal code
    area is left out: that is contradictory data (the shapes rightly refuse it), not a collision of our
    IRIs."""
    merged = examples_and_collisions()
    for name in OBSERVABILITY:
        for first, second in merges.drawn(differing_pairs(name), 2):
            candidate = naive(name, first) + naive(name, second)
            if not _one_hems_in_two_areas(merged + candidate):
                merged += candidate
    return merged


def test_generated_pairs_merged_with_the_examples_conform() -> None:
    """Two differing payloads of every observability message, with every example and collision: the
    shapes hold."""
    assert violations(everything_merged()) == {}


def test_generated_pairs_merged_with_the_examples_and_collisions_are_owl_rl_consistent() -> None:
    """The same graph closed once: OWL-RL with the official ontologies and ours finds no inconsistency,
    no owl:Nothing, no owl:sameAs between two of our nodes (nor then in any part of it: OWL 2 RL is
    monotonic)."""
    merges.proof_ontologies()  # skip early without ../shared
    assert inconsistencies(everything_merged()) == []
