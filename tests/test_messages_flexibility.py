"""HLUC 10 flexibility messages (D4.2 2.1.2, 3.2.2): needs request, needs, offers, activation plan,
acknowledgement. Tests are named after the specification section they check."""

from __future__ import annotations

import copy
from datetime import timedelta, timezone
from typing import Any

import pytest
from rdflib import RDF, XSD, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic

import dso_saref
from dso_saref import PayloadError
from dso_saref.terms import DEFAULT_BASE, DSO, OM, QUDT_UNIT, S4GRID, SAREF, TIME, Settings
from tests.conftest import ROOT, shared_path
from tests.payload_checks import locations, problems, round_trips

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
    assert description.pattern.variables == {"acknowledgement", "status", "reference", "reason"}
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
    graph = dso_saref.saref("flexibility-needs", [need(zone_id="Z123456")])
    subject = ID["need/1"]
    assert (subject, RDF.type, DSO.FlexibilityNeed) in graph
    assert graph.value(subject, DSO.hasIdentifier) == Literal("1", datatype=XSD.string)
    assert graph.value(subject, SAREF.hasValue) == Literal("100.0", datatype=XSD.decimal)
    assert graph.value(subject, SAREF.isMeasuredIn) == OM.kilowatt
    assert graph.value(subject, DSO.hasDirection) == DSO.Downward
    assert graph.value(subject, DSO.hasPowerType) == DSO.ActivePower
    assert set(graph.objects(subject, DSO.hasEligibleMeter)) == {ID["meter/ID%20Meter1"], ID["meter/ID%20Meter2"]}
    assert (ID["meter/ID%20Meter1"], RDF.type, S4GRID.Meter) in graph
    assert graph.value(subject, DSO.isNeedOf) == ID["zone/Z123456"]
    assert (ID["zone/Z123456"], RDF.type, DSO.GridZone) in graph
    assert graph.value(ID["zone/Z123456"], DSO.hasIdentifier) == Literal("Z123456", datatype=XSD.string)


def test_spec_3_2_2_1_1_1_reactive_need_in_kvar() -> None:
    payload = [need(power_type="Reactive", unit="kVAr", direction="Up")]
    graph = dso_saref.saref("flexibility-needs", payload)
    assert graph.value(ID["need/1"], SAREF.isMeasuredIn) == QUDT_UNIT["KiloV-A_Reactive"]
    assert graph.value(ID["need/1"], DSO.hasPowerType) == DSO.ReactivePower
    assert graph.value(ID["need/1"], DSO.hasDirection) == DSO.Upward
    round_trips("flexibility-needs", payload)


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
    price = graph.value(ID["need/1/offer/1"], SAREF.hasPrice)
    assert graph.value(price, SAREF.hasValue) == Literal("-0.05", datatype=XSD.decimal)


def test_spec_3_2_2_1_1_2_offer_price_in_euro_per_kwh() -> None:
    graph = dso_saref.saref("flexibility-offers", [SPEC_OFFER])
    price = graph.value(ID["need/1/offer/1"], SAREF.hasPrice)
    assert (price, RDF.type, SAREF.Price) in graph
    assert graph.value(price, SAREF.isMeasuredIn) == DSO.euroPerKilowattHour


def test_spec_3_2_2_1_1_2_offer_refers_to_the_need_by_request_id() -> None:
    graph = dso_saref.saref("flexibility-offers", [SPEC_OFFER])
    subject = ID["need/1/offer/1"]
    assert (subject, RDF.type, DSO.FlexibilityOffer) in graph
    assert graph.value(subject, DSO.isOfferFor) == ID["need/1"]
    assert graph.value(subject, SAREF.hasValue) == Literal("20.0", datatype=XSD.decimal)
    assert set(graph.objects(subject, DSO.hasProvidingMeter)) == {ID["meter/ID%20Meter1"], ID["meter/ID%20Meter2"]}


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
    (entry,) = graph.subjects(RDF.type, DSO.ActivationPlanEntry)
    assert graph.value(entry, DSO.concernsOffer) == ID["need/1/offer/1"]
    assert graph.value(ID["need/1/offer/1"], DSO.isOfferFor) == ID["need/1"]
    assert graph.value(entry, SAREF.isMeasuredIn) == OM.kilowatt


def test_general_rule_activation_quantity_non_negative() -> None:
    assert locations("activation-plan", [activation(quantity=-20, unit="kW")]) == ["$[0].quantity"]


def test_activation_entries_unique_per_offer_and_start() -> None:
    later = activation(start="2021/09/27 11:00")
    assert len(round_trips("activation-plan", [SPEC_ACTIVATION, later])) == 2
    assert locations("activation-plan", [SPEC_ACTIVATION, activation(quantity="10 kW")]) == ["$"]


def test_hluc10_needs_offers_and_activation_link_in_one_graph() -> None:
    """The three messages mint the same need and offer IRIs, so a store holding all of them links an
    activation to its offer and need; each message still reads back alone from the union."""
    payloads = {"flexibility-needs": [SPEC_NEED], "flexibility-offers": [SPEC_OFFER],
                "activation-plan": [SPEC_ACTIVATION]}
    union = Graph()
    for name, payload in payloads.items():
        union += dso_saref.saref(name, payload)
    query = """SELECT ?needs ?price WHERE {
        ?entry <https://w3id.org/dso-saref/ontology/concernsOffer> ?offer .
        ?offer <https://w3id.org/dso-saref/ontology/isOfferFor> ?need ; <https://saref.etsi.org/core/hasPrice> ?p .
        ?p <https://saref.etsi.org/core/hasValue> ?price .
        ?need <https://saref.etsi.org/core/hasValue> ?needs . }"""
    assert [(float(r[0].toPython()), float(r[1].toPython())) for r in union.query(query)] == [(100.0, 0.1)]
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


def _explicit_strings(bindings: list[dict[str, str]]) -> list[dict[str, str]]:
    """Bindings as another party may write them: plain strings with an explicit ``^^xsd:string``."""
    out = []
    for row in bindings:
        out.append({k: (f"{v}^^<{XSD.string}>" if v.startswith('"') and v.endswith('"') else v)
                    for k, v in row.items()})
    return out


@pytest.mark.parametrize("name", FLEX)
def test_ke_bindings_with_explicit_xsd_string_accepted(name: str) -> None:
    example = dso_saref.catalog[name].example()
    bindings = dso_saref.to_bindings(name, example)
    assert any('"^^<' + str(XSD.string) not in v for row in bindings for v in row.values())
    assert dso_saref.from_bindings(name, _explicit_strings(bindings)) == dso_saref.canonical(name, example)


def test_ke_bindings_with_other_lexical_forms_accepted() -> None:
    """Another party may write 100 for 100.0 and a timestamp with an offset."""
    bindings = dso_saref.to_bindings("flexibility-needs", [SPEC_NEED])
    for row in bindings:
        row["needs"] = f'"100"^^<{XSD.decimal}>'
        row["start"] = f'"2021-09-27T12:00:00+02:00"^^<{XSD.dateTimeStamp}>'
    data = dso_saref.from_bindings("flexibility-needs", bindings)
    assert (data[0]["needs"], data[0]["start"]) == (100.0, "2021-09-27T10:00:00Z")


def test_ke_bindings_with_a_wrong_need_iri_refused() -> None:
    bindings = dso_saref.to_bindings("flexibility-offers", [SPEC_OFFER])
    for row in bindings:
        row["need"] = "<https://dso.example.org/id/need/2>"
    with pytest.raises(PayloadError) as info:
        dso_saref.from_bindings("flexibility-offers", bindings)
    assert info.value.problems[0].location == "bindings[0].need"


# ---------------------------------------------------------------------------------------------
# ontology module


def _module() -> Graph:
    return Graph().parse(ROOT / "ontologies" / "dso-saref-flexibility.ttl", format="turtle")


def test_flexibility_vocabulary_terms_defined_with_label_definition_alignment() -> None:
    graph = _module()
    skos = Namespace("http://www.w3.org/2004/02/skos/core#")
    rdfs = Namespace("http://www.w3.org/2000/01/rdf-schema#")
    terms = {s for s in graph.subjects(RDF.type, None) if isinstance(s, URIRef) and str(s).startswith(str(DSO))}
    shared = {"FlexibilityNeed", "GridZone", "hasDirection", "Upward", "Downward", "hasPowerType", "ActivePower",
              "ReactivePower", "hasEligibleMeter", "isNeedOf"}
    assert {DSO[t] for t in shared} <= terms
    for term in terms:
        assert graph.value(term, rdfs.label) is not None, term
        assert graph.value(term, skos.definition) is not None, term
    assert graph.value(DSO.hasEligibleMeter, rdfs.range) == S4GRID.Meter
    assert (DSO.ActivePower, skos.related, S4GRID.ActivePower) in graph
    assert (DSO.ReactivePower, skos.related, S4GRID.ReactivePower) in graph


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
    for name in FLEX:
        for iri in dso_saref.catalog[name].pattern.iris():
            if iri.startswith(str(DSO)) and iri != str(DSO.hasIdentifier) and iri != str(DSO.euroPerKilowattHour):
                assert iri in module, iri
            assert iri in declared or iri == str(RDF.type), iri
