"""HLUC 10 flexibility messages (D4.2 2.1.2, 3.2.2): needs request, needs, offers, activation plan,
acknowledgement. Tests are named after the specification section they check."""

from __future__ import annotations

import copy
from datetime import timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import RDF, XSD, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.compare import isomorphic
from rdflib.namespace import OWL, RDFS, SKOS

import dso_saref
from dso_saref import PayloadError
from dso_saref.terms import DEFAULT_BASE, DSO, OM, QUDT_UNIT, S4GRID, SAREF, TIME, Settings
from tests.conftest import ROOT, shared_path
from tests.payload_checks import locations, problems, round_trips
from tests.strategies import payload_strategy
from tests.test_modelling import merge_inconsistencies, samples
from tests.truth_checks import (
    classes_as_values,
    example,
    graph_of,
    naive,
    nodes_of,
    nonconformance,
    untrue_readings,
    values_off_measurements,
)

ID = Namespace(DEFAULT_BASE)
FLEX = ["flexibility-needs-request", "flexibility-needs", "flexibility-offers", "activation-plan", "acknowledgement"]

# The tables of 3.2.2 written as JSON with the specification's own example values and forms
# (integer ids, "2021/09/27 10:00" timestamps, "0,1" decimal comma, "20 kW", Yes/No). D4.2 prints no
# JSON body for HLUC 10, so these are transcriptions, not syntax fixes.
SPEC_NEEDS_REQUEST = {"start": "2021/09/27 00:00", "end": "2021/09/28 00:00"}
SPEC_NEED = {"request_id": 1, "needs": 100, "unit": "kW", "direction": "Down", "power_type": "Active",
             "start": "2021/09/27 10:00", "end": "2021/09/27 13:00", "eligible_clients": ["ID Meter1", "ID Meter2"]}
SPEC_OFFER = {"request_id": 1, "offer_id": 1, "offer": 20, "price": "0,1", "start": "2021/09/27 10:00",
              "end": "2021/09/27 13:00", "meter_ids": ["ID Meter1", "ID Meter2"]}
SPEC_ACTIVATION = {"request_id": 1, "offer_id": 1, "activation": "Yes", "quantity": "20 kW",
                   "start": "2021/09/27 10:00", "end": "2021/09/27 13:00"}

HOSTILE = ["a b", "x>y", 'q"uote', "new\nline", "tab\there", "ünï©ødé", "😀/../?#", "back\\slash", "<M1>"]


def one(graph: Graph, cls: URIRef) -> URIRef:
    """The one node of a class in a graph."""
    (node,) = nodes_of(graph, cls)
    return node


def measured(graph: Graph, thing: URIRef, prop: URIRef) -> tuple[Literal, URIRef]:
    """The value and unit of the one measurement of a thing's property (the SAREF 3 idiom)."""
    (measurement,) = graph.subjects(SAREF.relatesToProperty, prop)
    assert (measurement, RDF.type, SAREF.Measurement) in graph
    assert (measurement, SAREF.isMeasurementOf, thing) in graph
    assert (thing, SAREF.hasProperty, prop) in graph
    return graph.value(measurement, SAREF.hasValue), graph.value(measurement, SAREF.isMeasuredIn)


def power_of(graph: Graph, thing: URIRef) -> tuple[Literal, URIRef]:
    """The value and unit of a flexibility's flexible power."""
    (power,) = [p for p in graph.objects(thing, SAREF.hasProperty) if (p, RDF.type, DSO.FlexibilityPower) in graph]
    return measured(graph, thing, power)


def need(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(SPEC_NEED), **changes}


def offer(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(SPEC_OFFER), **changes}


def activation(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(SPEC_ACTIVATION), **changes}


# ---------------------------------------------------------------------------------------------
# catalog: interactions, files


def test_hluc10_catalog_has_the_five_messages_with_models_patterns_examples_docs() -> None:
    for name in FLEX:
        description = dso_saref.catalog[name]
        assert description.model.name == name
        assert (ROOT / "examples" / f"{name}.json").is_file()
        assert f"`{name}`" in (ROOT / "docs" / "messages" / "flexibility.md").read_text(encoding="utf-8")


def test_spec_3_2_2_1_1_1_needs_request_is_post_react_answered_with_needs() -> None:
    interaction = dso_saref.catalog["flexibility-needs-request"].interaction
    assert (interaction.type, interaction.result) == ("post-react", "flexibility-needs")


@pytest.mark.parametrize("name", ["flexibility-needs", "flexibility-offers", "activation-plan"])
def test_spec_3_2_2_posts_are_acknowledged(name: str) -> None:
    """3.2.2.2.1.1 (needs publication), 3.2.2.1.1.2 (offers), 3.2.2.2.1.2 (activation plan): Response
    Acknowledgement."""
    interaction = dso_saref.catalog[name].interaction
    assert (interaction.type, interaction.result) == ("post-react", "acknowledgement")
    assert name in dso_saref.catalog["acknowledgement"].answers


def test_acknowledgement_pattern_is_generic_and_starts_nothing() -> None:
    description = dso_saref.catalog["acknowledgement"]
    assert description.interaction is None
    assert description.pattern.variables == {"acknowledgement", "acknowledgement_status",
                                             "acknowledgement_reference", "acknowledgement_reason"}
    for name in description.answers:  # the KE: a result agrees with its argument on shared names
        assert dso_saref.catalog[name].pattern.variables.isdisjoint(description.pattern.variables), name
    assert all(str(iri).startswith(str(DSO)) for iri in description.pattern.iris() if iri != str(RDF.type))


# ---------------------------------------------------------------------------------------------
# 3.2.2.1.1.1 flexibility needs request


def test_spec_3_2_2_1_1_1_needs_request_spec_values_accepted() -> None:
    assert round_trips("flexibility-needs-request", SPEC_NEEDS_REQUEST) == {
        "start": "2021-09-27T00:00:00Z", "end": "2021-09-28T00:00:00Z"}


def test_spec_3_2_2_1_1_1_needs_request_window_as_owl_time_interval() -> None:
    graph = dso_saref.saref("flexibility-needs-request", SPEC_NEEDS_REQUEST)
    (request,) = graph.subjects(RDF.type, DSO.FlexibilityNeedsRequest)
    (interval,) = graph.objects(request, SAREF.hasTime)
    assert (interval, RDF.type, TIME.Interval) in graph
    (beginning,) = graph.objects(interval, TIME.hasBeginning)
    assert graph.value(beginning, TIME.inXSDDateTimeStamp) == Literal("2021-09-27T00:00:00Z",
                                                                       datatype=XSD.dateTimeStamp)


def test_spec_3_2_2_1_1_1_the_needs_do_not_restate_the_requests_window() -> None:
    """Real-KE finding: the needs' windows were bound to ?interval, ?start, ... as the request's, and
    the KE requires a reactor's result to agree with the argument on shared variable names."""
    request = dso_saref.catalog["flexibility-needs-request"].pattern.variables
    assert request.isdisjoint(dso_saref.catalog["flexibility-needs"].pattern.variables)


def test_spec_3_2_2_1_1_1_needs_request_start_before_end() -> None:
    assert problems("flexibility-needs-request", {"start": "2021/09/28", "end": "2021/09/27"}) == [
        ("$", "start must be before end")]
    assert locations("flexibility-needs-request", {"start": "2021-09-27T00:00:00Z",
                                                   "end": "2021-09-27T00:00:00Z"}) == ["$"]


def test_needs_request_offsetless_timestamps_read_in_configured_time_zone() -> None:
    lisbon_summer = Settings(timezone=timezone(timedelta(hours=1)))
    assert dso_saref.canonical("flexibility-needs-request", SPEC_NEEDS_REQUEST, settings=lisbon_summer) == {
        "start": "2021-09-26T23:00:00Z", "end": "2021-09-27T23:00:00Z"}


def test_needs_request_unknown_and_missing_keys() -> None:
    assert locations("flexibility-needs-request", {"start": "2021-09-27", "end": "2021-09-28",
                                                   "zone": "Z1"}) == ["$.zone"]
    assert locations("flexibility-needs-request", {"start": "2021-09-27"}) == ["$.end"]
    assert locations("flexibility-needs-request", {"start": "tomorrow", "end": "2021-09-28"}) == ["$.start"]


# ---------------------------------------------------------------------------------------------
# 3.2.2.1.1.1 / 3.2.2.2.1.1 flexibility needs


def test_spec_3_2_2_1_1_1_needs_spec_values_accepted() -> None:
    assert round_trips("flexibility-needs", [SPEC_NEED]) == [{
        "start": "2021-09-27T10:00:00Z", "end": "2021-09-27T13:00:00Z", "request_id": "1", "needs": 100.0,
        "unit": "kW", "direction": "Down", "power_type": "Active", "eligible_clients": ["ID Meter1", "ID Meter2"]}]


def test_spec_3_2_2_1_1_1_need_triples() -> None:
    """Issue 10 item 6: a need carried saref:hasValue itself (SAREF's domain made it a measurement
    without a property); it is now a thing whose flexible power a measurement values."""
    graph = dso_saref.saref("flexibility-needs", [need(zone_id="Z123456")])
    subject = one(graph, DSO.FlexibilityNeed)
    assert str(subject).startswith(ID["need/1/"])
    assert graph.value(subject, DSO.hasIdentifier) == Literal("1", datatype=XSD.string)
    assert power_of(graph, subject) == (Literal("100.0", datatype=XSD.decimal), OM.kilowatt)
    assert graph.value(subject, DSO.hasDirection) == DSO.Downward
    assert graph.value(subject, DSO.hasPowerType) == S4GRID.ActivePower
    assert set(graph.objects(subject, DSO.hasEligibleMeter)) == {ID["meter/ID%20Meter1"], ID["meter/ID%20Meter2"]}
    assert (ID["meter/ID%20Meter1"], RDF.type, S4GRID.Meter) in graph
    assert graph.value(subject, DSO.isNeedOf) == ID["zone/Z123456"]
    assert (ID["zone/Z123456"], RDF.type, DSO.GridZone) in graph
    assert graph.value(ID["zone/Z123456"], DSO.hasIdentifier) == Literal("Z123456", datatype=XSD.string)
    window = graph.value(subject, SAREF.hasTime)
    assert (graph.value(window, TIME.hasEnd), RDF.type, TIME.Instant) in graph
    assert values_off_measurements(graph) == []


def test_spec_3_2_2_1_1_1_reactive_need_in_kvar() -> None:
    payload = [need(power_type="Reactive", unit="kVAr", direction="Up")]
    graph = dso_saref.saref("flexibility-needs", payload)
    subject = one(graph, DSO.FlexibilityNeed)
    assert power_of(graph, subject)[1] == QUDT_UNIT["KiloV-A_Reactive"]
    assert graph.value(subject, DSO.hasPowerType) == S4GRID.ReactivePower
    assert graph.value(subject, DSO.hasDirection) == DSO.Upward
    round_trips("flexibility-needs", payload)


def test_spec_3_2_2_2_1_1_a_need_revised_intraday_is_a_node_of_its_own() -> None:
    """Issue 10 item 4: need/{request_id} took the intraday revision's quantity as a second value;
    the reference DSO republishes a need with a larger quantity (add_to_needs)."""
    merged = graph_of({"flexibility-needs": [[SPEC_NEED], [need(needs=150)]]})
    needs = nodes_of(merged, DSO.FlexibilityNeed)
    assert len(needs) == 2
    assert {merged.value(n, DSO.hasIdentifier) for n in needs} == {Literal("1", datatype=XSD.string)}
    assert nonconformance(["flexibility-needs"], merged) == {}


def test_spec_3_2_2_1_1_1_zone_is_optional() -> None:
    without = dso_saref.saref("flexibility-needs", [SPEC_NEED])
    assert not list(without.objects(None, DSO.isNeedOf))
    assert round_trips("flexibility-needs", [need(zone_id=7)])[0]["zone_id"] == "7"


def test_spec_3_2_2_1_1_1_eligible_clients_may_be_empty() -> None:
    assert round_trips("flexibility-needs", [need(eligible_clients=[])])[0]["eligible_clients"] == []


def test_spec_3_2_2_2_1_1_published_needs_are_the_same_message() -> None:
    """The DSO's own publication (POST) carries the same array as the GET answer."""
    example = dso_saref.catalog["flexibility-needs"].example()
    assert len(round_trips("flexibility-needs", example)) == 2


def test_general_rule_needs_are_non_negative_direction_carries_the_sign() -> None:
    assert problems("flexibility-needs", [SPEC_NEED, need(request_id=2, needs=-5)]) == [
        ("$[1].needs", "must be zero or more (the direction carries the sign)")]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "NaN", "-Infinity", "lots", True, None])
def test_general_rule_needs_nan_and_non_numbers_refused(bad: Any) -> None:
    assert locations("flexibility-needs", [need(needs=bad)]) == ["$[0].needs"]


def test_general_rule_numeric_strings_accepted() -> None:
    assert dso_saref.canonical("flexibility-needs", [need(needs="12.5")])[0]["needs"] == 12.5


@pytest.mark.parametrize(("key", "value"), [("unit", "kWh"), ("unit", "kw"), ("direction", "up"),
                                            ("direction", "Upward"), ("power_type", "Apparent")])
def test_general_rule_closed_vocabularies(key: str, value: str) -> None:
    assert locations("flexibility-needs", [need(**{key: value})]) == [f"$[0].{key}"]


def test_unit_mw_and_mvar_accepted() -> None:
    assert dso_saref.canonical("flexibility-needs", [need(unit="MW")])[0]["unit"] == "MW"
    assert dso_saref.canonical("flexibility-needs", [need(unit="MVAr", power_type="Reactive")])[0]["unit"] == "MVAr"


def test_general_rule_needs_window_start_before_end() -> None:
    assert problems("flexibility-needs", [need(start="2021/09/27 13:00")]) == [("$[0]", "start must be before end")]


def test_general_rule_strict_unknown_keys_and_lenient_mode() -> None:
    assert locations("flexibility-needs", [need(Needs=3)]) == ["$[0].Needs"]
    lenient = Settings(strict=False)
    assert "Needs" not in dso_saref.canonical("flexibility-needs", [need(Needs=3)], settings=lenient)[0]


def test_general_rule_integer_ids_become_strings() -> None:
    data = dso_saref.canonical("flexibility-needs", [need(eligible_clients=[12, "M2"])])
    assert data[0]["request_id"] == "1"
    assert data[0]["eligible_clients"] == ["12", "M2"]


@pytest.mark.parametrize("bad", ["", "  ", 1.5, True, ["1"]])
def test_identifiers_must_be_non_empty_strings_or_integers(bad: Any) -> None:
    assert locations("flexibility-needs", [need(request_id=bad)]) == ["$[0].request_id"]


def test_one_need_per_request_id() -> None:
    """A need's IRI is minted from its request id: two needs with one id would merge into one node."""
    assert problems("flexibility-needs", [SPEC_NEED, need(needs=50)]) == [
        ("$", "request_id '1' appears more than once")]


def test_eligible_meter_listed_once() -> None:
    assert problems("flexibility-needs", [need(eligible_clients=["M1", "M1"])]) == [
        ("$[0]", "eligible meter 'M1' appears more than once")]


def test_needs_must_be_an_array() -> None:
    assert locations("flexibility-needs", SPEC_NEED) == ["$"]


# ---------------------------------------------------------------------------------------------
# 3.2.2.1.1.2 flexibility offers


def test_spec_3_2_2_1_1_2_offers_spec_values_accepted() -> None:
    assert round_trips("flexibility-offers", [SPEC_OFFER]) == [{
        "start": "2021-09-27T10:00:00Z", "end": "2021-09-27T13:00:00Z", "request_id": "1", "offer_id": "1",
        "offer": 20.0, "unit": "kW", "price": 0.1, "meter_ids": ["ID Meter1", "ID Meter2"]}]


def test_spec_3_2_2_1_1_2_offer_unit_defaults_to_kw() -> None:
    assert dso_saref.canonical("flexibility-offers", [SPEC_OFFER])[0]["unit"] == "kW"
    assert dso_saref.canonical("flexibility-offers", [offer(unit="MW")])[0]["unit"] == "MW"


def test_spec_3_2_2_1_1_2_offer_price_may_be_negative() -> None:
    payload = [offer(price=-0.05)]
    assert round_trips("flexibility-offers", payload)[0]["price"] == -0.05
    graph = dso_saref.saref("flexibility-offers", payload)
    offer_node = one(graph, DSO.FlexibilityOffer)
    price = graph.value(offer_node, SAREF.hasPrice)
    assert measured(graph, offer_node, price)[0] == Literal("-0.05", datatype=XSD.decimal)


def test_spec_3_2_2_1_1_2_offer_price_in_euro_per_kwh() -> None:
    """Issue 10 item 6: the price carried saref:hasValue itself; it is a saref:Price of the offer
    (saref:hasPrice and saref:hasProperty) valued by a measurement."""
    graph = dso_saref.saref("flexibility-offers", [SPEC_OFFER])
    offer_node = one(graph, DSO.FlexibilityOffer)
    price = graph.value(offer_node, SAREF.hasPrice)
    assert (price, RDF.type, SAREF.Price) in graph
    assert measured(graph, offer_node, price)[1] == DSO.euroPerKilowattHour
    assert values_off_measurements(graph) == []


def test_spec_3_2_2_1_1_2_offer_refers_to_the_need_by_request_id() -> None:
    graph = dso_saref.saref("flexibility-offers", [SPEC_OFFER])
    subject = one(graph, DSO.FlexibilityOffer)
    assert graph.value(subject, DSO.hasIdentifier) == Literal("1", datatype=XSD.string)
    assert graph.value(subject, DSO.hasNeedIdentifier) == Literal("1", datatype=XSD.string)
    assert not nodes_of(graph, DSO.FlexibilityNeed), "the need is the DSO's node: named, not described"
    assert power_of(graph, subject) == (Literal("20.0", datatype=XSD.decimal), OM.kilowatt)
    assert set(graph.objects(subject, DSO.hasProvidingMeter)) == {ID["meter/ID%20Meter1"], ID["meter/ID%20Meter2"]}


def test_spec_3_2_2_1_1_2_two_providers_offers_with_the_same_ids_are_two_offers() -> None:
    """Offer ids are a provider's own: SP001's and SP002's offer 1 for need 1 were one node."""
    merged = graph_of({"flexibility-offers": [[SPEC_OFFER], [offer(price="0,2", offer=5)]]})
    assert len(nodes_of(merged, DSO.FlexibilityOffer)) == 2
    assert nonconformance(["flexibility-offers"], merged) == {}


def test_general_rule_offer_quantity_non_negative() -> None:
    assert locations("flexibility-offers", [offer(offer=-1)]) == ["$[0].offer"]


@pytest.mark.parametrize("bad", [float("nan"), "NaN", "cheap"])
def test_general_rule_offer_price_must_be_a_finite_number(bad: Any) -> None:
    assert locations("flexibility-offers", [offer(price=bad)]) == ["$[0].price"]


def test_offer_window_start_before_end() -> None:
    assert locations("flexibility-offers", [SPEC_OFFER, offer(offer_id=2, end="2021/09/27 09:00")]) == ["$[1]"]


def test_one_offer_per_request_and_offer_id() -> None:
    assert locations("flexibility-offers", [SPEC_OFFER, offer(price=0.2)]) == ["$"]
    # the same offer id for another need is another offer
    assert len(round_trips("flexibility-offers", [SPEC_OFFER, offer(request_id=2)])) == 2


def test_offer_meter_listed_once() -> None:
    assert locations("flexibility-offers", [offer(meter_ids=["M1", "M1"])]) == ["$[0]"]


# ---------------------------------------------------------------------------------------------
# 3.2.2.2.1.2 activation plan


def test_spec_3_2_2_2_1_2_activation_plan_spec_values_accepted() -> None:
    assert round_trips("activation-plan", [SPEC_ACTIVATION]) == [{
        "start": "2021-09-27T10:00:00Z", "end": "2021-09-27T13:00:00Z", "request_id": "1", "offer_id": "1",
        "activation": True, "quantity": 20.0, "unit": "kW"}]


@pytest.mark.parametrize(("value", "expected"), [("Yes", True), ("No", False), ("yes", True), ("NO", False),
                                                 (True, True), (False, False), ("true", True)])
def test_spec_3_2_2_2_1_2_activation_yes_no_is_boolean(value: Any, expected: bool) -> None:
    payload = [activation(activation=value)]
    assert dso_saref.canonical("activation-plan", payload)[0]["activation"] is expected
    graph = dso_saref.saref("activation-plan", payload)
    assert list(graph.objects(None, DSO.isActivated)) == [Literal(expected)]


@pytest.mark.parametrize("bad", ["Maybe", 1, 0, None, ""])
def test_spec_3_2_2_2_1_2_activation_refuses_other_values(bad: Any) -> None:
    assert locations("activation-plan", [activation(activation=bad)]) == ["$[0].activation"]


def test_spec_3_2_2_2_1_2_quantity_with_unit_as_printed() -> None:
    """The spec prints ``Quantity 20 kW``: one string is split when ``unit`` is absent."""
    data = dso_saref.canonical("activation-plan", [activation(quantity="12,5 MW")])
    assert (data[0]["quantity"], data[0]["unit"]) == (12.5, "MW")
    assert locations("activation-plan", [activation(quantity="20 kWh")]) == ["$[0].unit"]
    assert locations("activation-plan", [activation(quantity="20")]) == ["$[0].unit"]


def test_spec_3_2_2_2_1_2_entry_refers_to_the_offer_and_need() -> None:
    graph = dso_saref.saref("activation-plan", [SPEC_ACTIVATION])
    entry = one(graph, DSO.ActivationPlanEntry)
    assert graph.value(entry, DSO.hasNeedIdentifier) == Literal("1", datatype=XSD.string)
    assert graph.value(entry, DSO.hasOfferIdentifier) == Literal("1", datatype=XSD.string)
    assert not nodes_of(graph, DSO.FlexibilityOffer) | nodes_of(graph, DSO.FlexibilityNeed)
    assert power_of(graph, entry) == (Literal("20.0", datatype=XSD.decimal), OM.kilowatt)


def test_spec_3_2_2_2_1_2_a_revised_plans_entry_does_not_overwrite_the_first() -> None:
    """Issue 10 item 4: entries were minted from the offer and the start, so the intraday re-clearing's
    revised plan put a second quantity (and end) on the first plan's entry."""
    revised = activation(quantity="15 kW", end="2021/09/27 12:00")
    merged = graph_of({"activation-plan": [[SPEC_ACTIVATION], [revised]]})
    assert len(nodes_of(merged, DSO.ActivationPlanEntry)) == 2
    assert nonconformance(["activation-plan"], merged) == {}


def test_general_rule_activation_quantity_non_negative() -> None:
    assert locations("activation-plan", [activation(quantity=-20, unit="kW")]) == ["$[0].quantity"]


def test_activation_entries_unique_per_offer_and_start() -> None:
    later = activation(start="2021/09/27 11:00")
    assert len(round_trips("activation-plan", [SPEC_ACTIVATION, later])) == 2
    assert locations("activation-plan", [SPEC_ACTIVATION, activation(quantity="10 kW")]) == ["$"]


def test_hluc10_needs_offers_and_activation_link_in_one_graph_by_identifiers() -> None:
    """Needs are the DSO's nodes, offers a provider's, each minted under its party's base: a store
    holding all three messages links an activation to its offer and need by the identifiers they
    carry; each message still reads back alone from the union."""
    payloads = {"flexibility-needs": [SPEC_NEED], "flexibility-offers": [SPEC_OFFER],
                "activation-plan": [SPEC_ACTIVATION]}
    union = Graph()
    for name, payload in payloads.items():
        union += dso_saref.saref(name, payload)
    query = """PREFIX dso: <https://w3id.org/dso-saref/ontology/> PREFIX saref: <https://saref.etsi.org/core/>
        SELECT ?needs ?price ?activated WHERE {
        ?entry a dso:ActivationPlanEntry ; dso:hasNeedIdentifier ?r ; dso:hasOfferIdentifier ?o ;
               dso:isActivated ?activated .
        ?offer a dso:FlexibilityOffer ; dso:hasNeedIdentifier ?r ; dso:hasIdentifier ?o ; saref:hasPrice ?p .
        ?pm saref:relatesToProperty ?p ; saref:hasValue ?price .
        ?need a dso:FlexibilityNeed ; dso:hasIdentifier ?r ; saref:hasProperty ?power .
        ?nm saref:relatesToProperty ?power ; saref:hasValue ?needs . }"""
    rows = [(float(r[0].toPython()), float(r[1].toPython()), r[2].toPython()) for r in union.query(query)]
    assert rows == [(100.0, 0.1, True)]
    for name, payload in payloads.items():
        assert dso_saref.unsaref(name, union) == dso_saref.canonical(name, payload)


# ---------------------------------------------------------------------------------------------
# acknowledgement


def test_acknowledgement_minimal_and_full() -> None:
    assert round_trips("acknowledgement", {"status": "rejected"}) == {"status": "rejected"}
    full = {"status": "accepted", "reference": 1, "reason": "registered"}
    assert round_trips("acknowledgement", full) == {"status": "accepted", "reference": "1", "reason": "registered"}
    graph = dso_saref.saref("acknowledgement", full)
    (ack,) = graph.subjects(RDF.type, DSO.Acknowledgement)
    assert graph.value(ack, DSO.hasAcknowledgementStatus) == DSO.Accepted
    assert graph.value(ack, DSO.hasReference) == Literal("1", datatype=XSD.string)


def test_acknowledgements_that_differ_are_different_nodes() -> None:
    """Issue 10 item 4: acknowledgement/{status} made every "accepted" of every exchange one node, with
    the references and reasons of all of them; two that say the same thing still share one."""
    acks = [{"status": "accepted", "reference": "1"}, {"status": "accepted", "reference": "2"},
            {"status": "accepted"}, {"status": "accepted", "reason": "1"}, {"status": "rejected", "reference": "1"}]
    merged = graph_of({"acknowledgement": [*acks, acks[0]]})
    assert len(nodes_of(merged, DSO.Acknowledgement)) == len(acks)
    assert nonconformance(["acknowledgement"], merged) == {}


@pytest.mark.parametrize(("payload", "where"), [({"status": "denied"}, "$.status"), ({"reference": "1"}, "$.status"),
                                                ({"status": "accepted", "note": "x"}, "$.note"),
                                                ({"status": "accepted", "reason": 3}, "$.reason")])
def test_acknowledgement_rules(payload: dict[str, Any], where: str) -> None:
    assert locations("acknowledgement", payload) == [where]


# ---------------------------------------------------------------------------------------------
# hostile identifiers and texts, KE bindings from another party


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_identifiers_make_no_extra_triples_and_valid_rdf(text: str) -> None:
    cases = {
        "flexibility-needs": ([need(request_id="1", eligible_clients=["M1"], zone_id="Z")],
                              [need(request_id=text, eligible_clients=[text], zone_id=text)]),
        "flexibility-offers": ([offer(request_id="1", offer_id="1", meter_ids=["M1"])],
                               [offer(request_id=text, offer_id=text, meter_ids=[text])]),
        "activation-plan": ([activation()], [activation(request_id=text, offer_id=text)]),
        "acknowledgement": ({"status": "rejected", "reference": "1", "reason": "r"},
                            {"status": "rejected", "reference": text, "reason": text}),
    }
    for name, (plain, hostile) in cases.items():
        reference = dso_saref.saref(name, plain)
        graph = dso_saref.saref(name, hostile)
        assert len(graph) == len(reference), name
        for fmt in ("nt", "turtle"):
            again = Graph().parse(data=graph.serialize(format=fmt), format=fmt)
            assert isomorphic(again, graph), (name, fmt)
            assert dso_saref.unsaref(name, again) == dso_saref.canonical(name, hostile)
        assert dso_saref.from_bindings(name, dso_saref.to_bindings(name, hostile)) == dso_saref.canonical(name, hostile)


def _explicit_strings(bindings: dict[str, list[dict[str, str]]]) -> dict[str, list[dict[str, str]]]:
    """Bindings as another party may write them: plain strings with an explicit ``^^xsd:string``."""
    return {key: [{k: (f"{v}^^<{XSD.string}>" if v.startswith('"') and v.endswith('"') else v)
                   for k, v in row.items()} for row in rows] for key, rows in bindings.items()}


@pytest.mark.parametrize("name", FLEX)
def test_ke_bindings_with_explicit_xsd_string_accepted(name: str) -> None:
    payload = example(name)
    bindings = dso_saref.to_bindings(name, payload)
    assert any('"^^<' + str(XSD.string) not in v for rows in bindings.values() for row in rows for v in row.values())
    assert dso_saref.from_bindings(name, _explicit_strings(bindings)) == dso_saref.canonical(name, payload)


def test_ke_bindings_with_other_lexical_forms_accepted() -> None:
    """Another party may write 100 for 100.0 and a timestamp with an offset."""
    bindings = dso_saref.to_bindings("flexibility-needs", [SPEC_NEED])
    core = bindings["flexibility-needs"]
    core[0]["needs"] = f'"100"^^<{XSD.decimal}>'
    core[0]["need_start"] = f'"2021-09-27T12:00:00+02:00"^^<{XSD.dateTimeStamp}>'
    data = dso_saref.from_bindings("flexibility-needs", bindings)
    assert (data[0]["needs"], data[0]["start"]) == (100.0, "2021-09-27T10:00:00Z")


def test_ke_bindings_with_a_peers_iris_are_read_as_they_are() -> None:
    """A peer mints its offers under its own base (docs/modelling.md rule 3); a literal where an IRI
    belongs is refused, naming the binding."""
    bindings = dso_saref.to_bindings("flexibility-offers", [SPEC_OFFER])
    for rows in bindings.values():
        for row in rows:
            row["offer"] = "<https://sp001.example.net/kb/offer/7>"
    assert dso_saref.from_bindings("flexibility-offers", bindings) == dso_saref.canonical(
        "flexibility-offers", [SPEC_OFFER])
    bindings["flexibility-offers"][0]["offer_power"] = '"power"'
    with pytest.raises(PayloadError) as info:
        dso_saref.from_bindings("flexibility-offers", bindings)
    assert info.value.problems[0].location == "bindings[0].offer_power"


# ---------------------------------------------------------------------------------------------
# ontology module


def _module() -> Graph:
    return Graph().parse(ROOT / "ontologies" / "dso-saref-flexibility.ttl", format="turtle")


def test_flexibility_vocabulary_terms_labelled_explained_and_aligned() -> None:
    """Issue 10 items 7 and 10: a label and a comment on every term, no skos:related, no own power
    types beside S4GRID's, and every enumeration used with a functional property all different."""
    graph = _module()
    terms = {s for s in graph.subjects(RDF.type, None) if isinstance(s, URIRef) and str(s).startswith(str(DSO))}
    shared = {"Flexibility", "FlexibilityPower", "FlexibilityNeed", "FlexibilityDataEntry", "hasDirection", "Upward",
              "Downward", "hasPowerType", "hasEligibleMeter", "isNeedOf", "hasNeedIdentifier", "hasOfferIdentifier"}
    assert {DSO[t] for t in shared} <= terms
    assert not {DSO.ActivePower, DSO.ReactivePower, DSO.isOfferFor, DSO.concernsOffer} & terms
    for term in terms:
        assert graph.value(term, RDFS.label) is not None, term
        assert graph.value(term, RDFS.comment) is not None, term
        assert graph.value(term, SKOS.definition) is None, term
    assert not list(graph.subject_objects(SKOS.related))
    assert graph.value(DSO.hasEligibleMeter, RDFS.range) == S4GRID.Meter
    assert (DSO.FlexibilityPower, RDFS.subClassOf, SAREF.Power) in graph
    different = [set(Collection(graph, graph.value(n, OWL.distinctMembers))) for n in graph.subjects(RDF.type,
                                                                                                     OWL.AllDifferent)]
    for members in ({DSO.Upward, DSO.Downward}, {DSO.Accepted, DSO.Rejected},
                    {S4GRID.ActivePower, S4GRID.ReactivePower}):
        assert members in different, members


def test_flexibility_vocabulary_external_terms_exist_in_official_files() -> None:
    official = Graph()
    for file in ("saref-core-v3.1.1.ttl", "saref4grid-v1.0.0-dev.ttl", "saref4ener-v1.1.2.ttl"):
        official.parse(shared_path("ontologies", file), format="turtle")
    defined = set(official.subjects())
    external = {o for o in _module().objects() if isinstance(o, URIRef)
                and str(o).startswith(("https://saref.etsi.org/",))}
    assert external
    assert sorted(str(o) for o in external - defined) == []


def test_every_iri_of_the_flexibility_patterns_is_declared() -> None:
    declared = dso_saref.catalog.declared_iris
    module = {str(s) for s in _module().subjects()}
    elsewhere = {DSO.hasIdentifier, DSO.euroPerKilowattHour, DSO.GridZone,  # core
                 DSO.hasReason}  # shared, in the data sharing module until it moves to the core
    for name in FLEX:
        for iri in dso_saref.catalog[name].pattern.iris():
            if iri.startswith(str(DSO)) and URIRef(iri) not in elsewhere:
                assert iri in module, iri
            assert iri in declared or iri == str(RDF.type), iri


# ---------------------------------------------------------------------------------------------
# every triple true (issue 10): what a peer reads, merges of valid payloads

#: Generated payloads are filtered by the model's cross-field rules (windows, unique ids).
SLOW_GENERATION = [HealthCheck.filter_too_much, HealthCheck.too_slow]
#: The nodes a message says something with: minted from everything that tells them apart.
RECORDS = {"flexibility-needs": DSO.FlexibilityNeed, "flexibility-offers": DSO.FlexibilityOffer,
           "activation-plan": DSO.ActivationPlanEntry, "acknowledgement": DSO.Acknowledgement,
           "flexibility-needs-request": DSO.FlexibilityNeedsRequest}


@pytest.mark.parametrize("name", FLEX)
@settings(max_examples=25, deadline=None, suppress_health_check=SLOW_GENERATION)
@given(data=st.data())
def test_a_peer_reading_the_binding_sets_naively_gets_true_saref(name: str, data: st.DataObject) -> None:
    """Issue 10 items 1, 3 and 6: no placeholder, no S4GRID individual used as a class, values only
    on measurements of one property; the naive reading is the message's graph."""
    assert untrue_readings(name, data.draw(payload_strategy(dso_saref.catalog[name].model))) == []


@pytest.mark.parametrize("name", FLEX)
def test_no_class_is_used_as_a_value(name: str) -> None:
    assert classes_as_values(dso_saref.saref(name, example(name))) == []


@pytest.mark.parametrize("name", sorted(RECORDS))
@settings(max_examples=25, deadline=None, suppress_health_check=SLOW_GENERATION)
@given(data=st.data())
def test_two_messages_that_differ_never_share_their_nodes(name: str, data: st.DataObject) -> None:
    """Issue 10 item 4: a need, an offer, an activation entry or an acknowledgement is minted from
    everything that tells it apart; two payloads share a node only where they say the same of it, and
    their merge conforms to the shapes. (The meters of a need or an offer, a list under it, are not in
    its digest: two that differ only in their meters share the node, which has the meters of both.)"""
    strategy = payload_strategy(dso_saref.catalog[name].model)
    first, second = data.draw(strategy), data.draw(strategy)
    merged = graph_of({name: [first, second]})
    if len(merged):  # an empty plan or list of needs says nothing: no graph to validate
        assert nonconformance([name], merged) == {}
    one_graph, other_graph = naive(name, first), naive(name, second)
    listed = {DSO.hasEligibleMeter, DSO.hasProvidingMeter}
    for node in nodes_of(one_graph, RECORDS[name]) & nodes_of(other_graph, RECORDS[name]):
        said = {(p, o) for p, o in one_graph.predicate_objects(node) if p not in listed}
        assert said == {(p, o) for p, o in other_graph.predicate_objects(node) if p not in listed}, node


def test_flexibility_examples_and_generated_payloads_merged_conform_and_are_consistent() -> None:
    """Every flexibility message's example and generated payloads (which often share identifiers
    and windows) in one graph: every shape holds, and the OWL-RL closure with the official ontologies
    finds no inconsistency (Upward = Downward, Accepted = Rejected) and no owl:sameAs between two data
    nodes (skipped without ../shared)."""
    merged = graph_of({name: [example(name), *samples(name)] for name in FLEX})
    assert nonconformance(FLEX, merged) == {}
    assert merge_inconsistencies() == []  # the closure of every message's payloads, these among them
