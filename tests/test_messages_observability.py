"""HLUC 11 observability messages, PUC 1 and PUC 3 (D4.2 2.1.3, 3.2.3.1, 3.2.3.2, 3.2.3.3.1.1): fault
notification, opportunities, fault-location settings and subscription, HEMS status and voltage,
disaggregated data. Tests are named after the specification section they check."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from rdflib import RDF, XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import SKOS

import dso_saref
from dso_saref import PayloadError
from dso_saref.terms import DEFAULT_BASE, DSO, OM, S4GRID, SAREF, Settings
from tests.conftest import ROOT
from tests.payload_checks import locations, problems, round_trips

ID = Namespace(DEFAULT_BASE)
OBSERVABILITY = [
    "fault-notification", "opportunities-request", "opportunities", "fault-min-hems", "fault-min-elapsed-time",
    "fault-postal-codes", "subscription-response", "hems-status-request", "hems-status", "hems-voltage-request",
    "hems-voltage", "disaggregated-data-request", "disaggregated-data",
]

# ---------------------------------------------------------------------------------------------
# The JSON bodies D4.2 prints, after the obvious syntax fixes listed in docs/messages/observability.md
# (type annotations such as "(string)" dropped, trailing commas dropped, missing commas added, a
# repeated key renamed, the extra braces of the opportunities output removed, Yes quoted).

# 3.2.3.1.1.1.1: {"Fault_Location_Identification": [{"Postal_Code": "4405-123ID", (string)},],}
SPEC_FAULT_NOTIFICATION = {"Fault_Location_Identification": [{"Postal_Code": "4405-123ID"}]}
# 3.2.3.1.1.1.2 input: {"zip_codes": ["4200", "4250", "4265", "4280",]}
SPEC_OPPORTUNITIES_REQUEST = {"zip_codes": ["4200", "4250", "4265", "4280"]}
# 3.2.3.1.1.1.2 output: {"opportunities": [{ {...}, {...} }]} -> the two entries directly in the list
SPEC_OPPORTUNITIES = {"opportunities": [
    {"zip_code": "4200-013", "message": [
        "The number of EVs charging during 14h00 and 16h30 should increase by 6.",
        "Distributed storage devices were not found in this area."]},
    {"zip_code": "4260-339", "message": [
        "The number of EVs charging during 19h00 and 21h30 should decrease by 4.",
        "Distributed storage devices were not found in this area."]},
]}
# 3.2.3.2.1.1: {"Fault_Location_Inputs": [{"Min_nbr_Hems_faulty": "3", (integer)}]}
SPEC_FAULT_MIN_HEMS = {"Fault_Location_Inputs": [{"Min_nbr_Hems_faulty": "3"}]}
# 3.2.3.2.1.2: {"Fault_Location_Inputs": [{"Min_time_of_interruption": "180", (float)
#               "Min_time_of_interruption": "seconds"},],}  -> the second key is the unit
SPEC_FAULT_MIN_ELAPSED_TIME_PRINTED = (
    '{"Fault_Location_Inputs": [{"Min_time_of_interruption": "180", "Min_time_of_interruption": "seconds"}]}')
SPEC_FAULT_MIN_ELAPSED_TIME = {"Fault_Location_Inputs": [
    {"Min_time_of_interruption": "180", "Min_time_of_interruption_unit": "seconds"}]}
# 3.2.3.2.1.3: {"Fault_Location_Inputs": [{"Postal_Code": "4405-123", (string)},],}
SPEC_FAULT_POSTAL_CODES = {"Fault_Location_Inputs": [{"Postal_Code": "4405-123"}]}
# 3.2.3.2.1.4 data: "Notification Type (requests data on: Hems_ID), "Postal_Code": "4405-123", (string)"
SPEC_HEMS_STATUS_REQUEST = {"Hems_ID": "ID1234", "Postal_Code": "4405-123"}
# 3.2.3.2.1.4 response: {"Voltage_Monitoring": [{"Hems_ID": "ID1234" "Abnormal_Voltage": Yes (boolean)
#                        "timestamp": "2021-12-03T15:11:20Z", (timestamp)},]}
SPEC_HEMS_STATUS = {"Voltage_Monitoring": [
    {"Hems_ID": "ID1234", "Abnormal_Voltage": "Yes", "timestamp": "2021-12-03T15:11:20Z"}]}
# 3.2.3.3.1.1: printed as valid JSON
SPEC_DISAGGREGATED_DATA_REQUEST = {"customers_ids": [
    "xvc989007", "ert552555", "uio999900", "alo092883", "fty838399", "eur989820"]}

HOSTILE = ["a b", "x>y", 'q"uote', "new\nline", "tab\there", "ünï©ødé", "😀/../?#", "back\\slash", "<P1>", "{x}"]


def example(name: str) -> Any:
    return json.loads((ROOT / "examples" / f"{name}.json").read_text(encoding="utf-8"))


def the(graph: Graph, cls: URIRef, **about: URIRef) -> URIRef:
    """The one node of ``cls`` in ``graph`` (with ``saref:isAbout`` ``about["area"]`` when given)."""
    nodes = [n for n in graph.subjects(RDF.type, cls)
             if "area" not in about or (n, SAREF.isAbout, about["area"]) in graph]
    assert len(nodes) == 1, (cls, nodes)
    return nodes[0]


def measured(graph: Graph, thing: URIRef, kind: URIRef) -> tuple[URIRef, URIRef]:
    """The property of ``thing`` of class ``kind`` and its one measurement (which is of ``thing``)."""
    (prop,) = (p for p in graph.objects(thing, SAREF.hasProperty) if (p, RDF.type, kind) in graph)
    (measurement,) = graph.subjects(SAREF.relatesToProperty, prop)
    assert (measurement, RDF.type, SAREF.Measurement) in graph
    assert (measurement, SAREF.isMeasurementOf, thing) in graph
    return prop, measurement


# ---------------------------------------------------------------------------------------------
# catalog: files, interactions, roles


def test_hluc11_catalog_has_the_messages_with_models_patterns_examples_docs() -> None:
    docs = (ROOT / "docs" / "messages" / "observability.md").read_text(encoding="utf-8")
    for name in OBSERVABILITY:
        description = dso_saref.catalog[name]
        assert description.model.name == name
        assert description.model.__module__ == "dso_saref.messages.observability"
        assert (ROOT / "examples" / f"{name}.json").is_file()
        assert f"`{name}`" in docs


@pytest.mark.parametrize(("name", "result", "initiator", "responder"), [
    ("fault-notification", "acknowledgement", "service-provider", "dso"),
    ("fault-min-hems", "acknowledgement", "dso", "service-provider"),
    ("fault-min-elapsed-time", "acknowledgement", "dso", "service-provider"),
    ("fault-postal-codes", "subscription-response", "dso", "service-provider"),
    ("opportunities-request", "opportunities", "third-party", "dso"),
    ("disaggregated-data-request", "disaggregated-data", "dso", "data-service-provider"),
])
def test_spec_3_2_3_posts_and_requests_with_parameters_are_post_react(
        name: str, result: str, initiator: str, responder: str) -> None:
    """Tables 7 and 8: the POSTs are acknowledged (the postal-code subscription with accepted/denied);
    the GETs with parameters (zip codes, customer ids) are POST/REACT with the answer as result."""
    interaction = dso_saref.catalog[name].interaction
    assert (interaction.type, interaction.result) == ("post-react", result)
    assert (interaction.initiators, interaction.responders) == ((initiator,), (responder,))
    assert name in dso_saref.catalog[result].answers


@pytest.mark.parametrize(("request_name", "answer"), [
    ("hems-status-request", "hems-status"), ("hems-voltage-request", "hems-voltage")])
def test_spec_3_2_3_2_1_4_and_5_hems_lookups_are_ask_answer_on_a_subset(request_name: str, answer: str) -> None:
    request = dso_saref.catalog[request_name]
    assert (request.interaction.type, request.interaction.answer) == ("ask-answer", answer)
    assert set(request.pattern.triples) <= set(dso_saref.catalog[answer].pattern.triples)
    assert request.pattern.variables <= dso_saref.catalog[answer].pattern.variables


@pytest.mark.parametrize("name", ["opportunities", "subscription-response", "hems-status", "hems-voltage",
                                  "disaggregated-data"])
def test_answers_start_no_exchange(name: str) -> None:
    assert dso_saref.catalog[name].interaction is None


def test_request_and_result_patterns_share_no_variable_names() -> None:
    """The zip codes (customers) of a result are not those of the request (the DSO answers for nearby,
    more precise codes), so the argument and result patterns do not share variable names."""
    for name in ("opportunities-request", "disaggregated-data-request", "fault-postal-codes"):
        description = dso_saref.catalog[name]
        result = dso_saref.catalog[description.interaction.result]
        assert description.pattern.variables.isdisjoint(result.pattern.variables)


@pytest.mark.parametrize("name", OBSERVABILITY)
def test_examples_round_trip_through_serialised_graphs(name: str) -> None:
    round_trips(name, example(name))


# ---------------------------------------------------------------------------------------------
# 3.2.3.1.1.1.1 fault notification


def test_spec_3_2_3_1_1_1_1_fault_notification_printed_json_accepted() -> None:
    assert round_trips("fault-notification", SPEC_FAULT_NOTIFICATION) == SPEC_FAULT_NOTIFICATION


def test_spec_3_2_3_1_1_1_1_fault_notification_table_values_accepted() -> None:
    """The table: Fault Location ID 1 (an integer id becomes "1"), Postal Code [4405-123, 1200-000]."""
    payload = {"Fault_Location_ID": 1, "Fault_Location_Identification": [
        {"Postal_Code": "4405-123"}, {"Postal_Code": "1200-000"}]}
    assert round_trips("fault-notification", payload)["Fault_Location_ID"] == "1"


def test_spec_3_2_3_1_1_1_1_fault_notification_triples() -> None:
    """One potential outage per postal code, about its area; the count is a measurement (om:one) of
    the outage's dso:FaultyHemsCount, the time its saref:hasTimestamp; the located fault consists of
    the outages."""
    graph = dso_saref.saref("fault-notification", example("fault-notification"))
    area = ID["postal-code/4405-123"]
    assert (area, RDF.type, DSO.PostalCodeArea) in graph
    assert (area, DSO.hasIdentifier, Literal("4405-123", datatype=XSD.string)) in graph
    outage = the(graph, DSO.PotentialOutage, area=area)
    assert str(outage).startswith(ID["potential-outage/"])
    _, count = measured(graph, outage, DSO.FaultyHemsCount)
    assert graph.value(count, SAREF.hasValue) == Literal(4, datatype=XSD.integer)
    assert graph.value(count, SAREF.isMeasuredIn) == OM.one
    assert graph.value(outage, SAREF.hasTimestamp) == Literal("2021-12-03T15:11:20Z", datatype=XSD.dateTime,
                                                              normalize=False)
    other = the(graph, DSO.PotentialOutage, area=ID["postal-code/1200-000"])
    fault = ID["fault-location/1"]
    assert (fault, RDF.type, DSO.FaultLocation) in graph
    assert set(graph.objects(fault, DSO.hasPotentialOutage)) == {outage, other}
    # the second entry has neither count nor time: no triple says anything about them
    assert graph.value(other, SAREF.hasProperty) is None
    assert graph.value(other, SAREF.hasTimestamp) is None


def test_spec_3_2_3_1_1_1_1_count_and_time_are_parts_hanging_from_the_outage() -> None:
    """The optional values are parts the data fills completely, each joined to the outage (issue 10,
    item 1): a notification without them gives the core (and the fault location) only."""
    keys = [part.key for part in dso_saref.catalog["fault-notification"].parts]
    assert keys == ["fault-notification", "fault-notification.fault-location-id",
                    "fault-notification.nbr-faulty-hems", "fault-notification.timestamp"]
    for part in dso_saref.catalog["fault-notification"].parts[1:]:
        assert part.anchors == {"outage"}
    assert set(dso_saref.to_bindings("fault-notification", SPEC_FAULT_NOTIFICATION)) == {"fault-notification"}


def test_spec_3_2_3_1_1_1_1_fault_location_id_optional() -> None:
    graph = dso_saref.saref("fault-notification", SPEC_FAULT_NOTIFICATION)
    assert not list(graph.subjects(RDF.type, DSO.FaultLocation))
    assert the(graph, DSO.PotentialOutage, area=ID["postal-code/4405-123ID"])


def test_spec_3_2_3_1_1_1_1_nbr_faulty_hems_is_a_count_of_at_least_one() -> None:
    for bad in (0, -2, 2.5, "two", True):
        payload = {"Fault_Location_Identification": [{"Postal_Code": "4405-123", "Nbr_Faulty_Hems": bad}]}
        assert locations("fault-notification", payload) == ["$.Fault_Location_Identification[0].Nbr_Faulty_Hems"]
    payload = {"Fault_Location_Identification": [{"Postal_Code": "4405-123", "Nbr_Faulty_Hems": "4"}]}
    assert round_trips("fault-notification", payload)["Fault_Location_Identification"][0]["Nbr_Faulty_Hems"] == 4


def test_spec_3_2_3_1_1_1_1_timestamp_forms() -> None:
    payload = {"Fault_Location_Identification": [{"Postal_Code": "4405-123", "timestamp": "2021/12/03 16:11"}]}
    entry = round_trips("fault-notification", payload)["Fault_Location_Identification"][0]
    assert entry["timestamp"] == "2021-12-03T16:11:00Z"
    payload["Fault_Location_Identification"][0]["timestamp"] = "2021-12-03T16:11:20+01:00"
    entry = dso_saref.canonical("fault-notification", payload)["Fault_Location_Identification"][0]
    assert entry["timestamp"] == "2021-12-03T15:11:20Z"
    payload["Fault_Location_Identification"][0]["timestamp"] = "yesterday"
    assert locations("fault-notification", payload) == ["$.Fault_Location_Identification[0].timestamp"]


def test_spec_3_2_3_1_1_1_1_postal_codes_once_and_at_least_one() -> None:
    twice = {"Fault_Location_Identification": [{"Postal_Code": "4405-123"}, {"Postal_Code": "4405-123",
                                                                             "Nbr_Faulty_Hems": 3}]}
    assert problems("fault-notification", twice) == [
        ("$.Fault_Location_Identification", "Postal_Code '4405-123' appears more than once")]
    assert locations("fault-notification", {"Fault_Location_Identification": []}) == [
        "$.Fault_Location_Identification"]
    assert locations("fault-notification", {"Fault_Location_ID": "1"}) == ["$.Fault_Location_Identification"]


def test_spec_3_2_3_1_1_1_1_unknown_keys_refused_in_strict_mode_only() -> None:
    payload = {"Fault_Location_Identification": [{"Postal_Code": "4405-123", "Nbr_Faulty_HEMS": 3}]}
    assert locations("fault-notification", payload) == ["$.Fault_Location_Identification[0].Nbr_Faulty_HEMS"]
    assert dso_saref.canonical("fault-notification", payload, settings=Settings(strict=False)) == {
        "Fault_Location_Identification": [{"Postal_Code": "4405-123"}]}


# ---------------------------------------------------------------------------------------------
# 3.2.3.1.1.1.2 flexibility opportunities


def test_spec_3_2_3_1_1_1_2_opportunities_request_printed_json_accepted() -> None:
    assert round_trips("opportunities-request", SPEC_OPPORTUNITIES_REQUEST) == SPEC_OPPORTUNITIES_REQUEST


def test_spec_3_2_3_1_1_1_2_zip_codes_as_integers_become_strings() -> None:
    assert dso_saref.canonical("opportunities-request", {"zip_codes": [4250, 4200]}) == {"zip_codes": ["4200", "4250"]}
    assert locations("opportunities-request", {"zip_codes": []}) == ["$.zip_codes"]
    assert locations("opportunities-request", {"zip_codes": ["4200", " "]}) == ["$.zip_codes[1]"]


def test_spec_3_2_3_1_1_1_2_opportunities_request_triples() -> None:
    graph = dso_saref.saref("opportunities-request", SPEC_OPPORTUNITIES_REQUEST)
    requests = set(graph.subjects(RDF.type, DSO.OpportunitiesRequest))
    assert len(requests) == 4
    assert (ID["postal-code/4200/opportunities-request"], SAREF.isAbout, ID["postal-code/4200"]) in graph


def test_spec_3_2_3_1_1_1_2_opportunities_printed_json_accepted_after_removing_extra_braces() -> None:
    canonical = round_trips("opportunities", SPEC_OPPORTUNITIES)
    assert {o["zip_code"]: set(o["message"]) for o in canonical["opportunities"]} == {
        o["zip_code"]: set(o["message"]) for o in SPEC_OPPORTUNITIES["opportunities"]}


def test_spec_3_2_3_1_1_1_2_opportunities_triples() -> None:
    """Each recommendation is one flexibility opportunity about the zip code's area."""
    graph = dso_saref.saref("opportunities", SPEC_OPPORTUNITIES)
    area = ID["postal-code/4200-013"]
    opportunities = set(graph.subjects(SAREF.isAbout, area))
    assert len(opportunities) == 2
    for opportunity in opportunities:
        assert (opportunity, RDF.type, DSO.FlexibilityOpportunity) in graph
        assert len(list(graph.objects(opportunity, DSO.hasRecommendation))) == 1
    assert {str(graph.value(o, DSO.hasRecommendation)) for o in opportunities} == set(
        SPEC_OPPORTUNITIES["opportunities"][0]["message"])
    # the same text in two areas is two opportunities
    same = "Distributed storage devices were not found in this area."
    assert len(set(graph.subjects(DSO.hasRecommendation, Literal(same, datatype=XSD.string)))) == 2


def test_spec_3_2_3_1_1_1_2_opportunity_without_message_round_trips() -> None:
    payload = {"opportunities": [{"zip_code": "4200-013", "message": []}]}
    assert round_trips("opportunities", payload) == payload


def test_spec_3_2_3_1_1_1_2_one_entry_per_zip_code() -> None:
    payload = {"opportunities": [{"zip_code": "4200", "message": ["a"]}, {"zip_code": "4200", "message": ["b"]}]}
    assert problems("opportunities", payload) == [("$.opportunities", "zip_code '4200' appears more than once")]
    assert locations("opportunities", {"opportunities": [{"zip_code": "4200", "message": [1]}]}) == [
        "$.opportunities[0].message[0]"]


# ---------------------------------------------------------------------------------------------
# 3.2.3.2.1.1 minimum number of faulty HEMS


def test_spec_3_2_3_2_1_1_min_nbr_hems_faulty_written_as_string_accepted() -> None:
    assert round_trips("fault-min-hems", SPEC_FAULT_MIN_HEMS) == {"Fault_Location_Inputs": [{"Min_nbr_Hems_faulty": 3}]}


@pytest.mark.parametrize("bad", [0, -1, "0", 2.5, "three", True, None])
def test_spec_3_2_3_2_1_1_min_nbr_hems_faulty_is_a_count_of_at_least_one(bad: Any) -> None:
    payload = {"Fault_Location_Inputs": [{"Min_nbr_Hems_faulty": bad}]}
    assert locations("fault-min-hems", payload) == ["$.Fault_Location_Inputs[0].Min_nbr_Hems_faulty"]


def test_spec_3_2_3_2_1_1_setting_triples_with_and_without_postal_code() -> None:
    """The setting is about its area when it names one; its threshold is a measured property. The
    global setting (no postal code) is another node than the same value for one area (issue 10,
    item 4)."""
    graph = dso_saref.saref("fault-min-hems", example("fault-min-hems"))
    setting = the(graph, DSO.FaultLocationSetting)
    _, value = measured(graph, setting, DSO.MinimumFaultyHems)
    assert graph.value(value, SAREF.hasValue) == Literal(3, datatype=XSD.integer)
    assert graph.value(value, SAREF.isMeasuredIn) == OM.one
    assert (setting, SAREF.isAbout, ID["postal-code/4405-123"]) in graph
    everywhere = dso_saref.saref("fault-min-hems", SPEC_FAULT_MIN_HEMS)
    global_setting = the(everywhere, DSO.FaultLocationSetting)
    assert global_setting != setting
    assert everywhere.value(global_setting, SAREF.isAbout) is None
    assert not list(everywhere.subjects(RDF.type, DSO.PostalCodeArea))
    assert not list(graph.predicates(None, S4GRID.hasValue))  # values live on measurements only


def test_spec_3_2_3_2_1_1_one_setting_per_message() -> None:
    two = {"Fault_Location_Inputs": [{"Min_nbr_Hems_faulty": 3}, {"Min_nbr_Hems_faulty": 5}]}
    assert problems("fault-min-hems", two) == [
        ("$.Fault_Location_Inputs", "one setting per message: the entries give 2 different values")]
    repeated = {"Fault_Location_Inputs": [{"Min_nbr_Hems_faulty": 3}, {"Min_nbr_Hems_faulty": "3"}]}
    assert round_trips("fault-min-hems", repeated) == {"Fault_Location_Inputs": [{"Min_nbr_Hems_faulty": 3}]}
    assert locations("fault-min-hems", {"Postal_Code": "4405-123", "Fault_Location_Inputs": []}) == [
        "$.Fault_Location_Inputs"]


# ---------------------------------------------------------------------------------------------
# 3.2.3.2.1.2 minimum elapsed time


def test_spec_3_2_3_2_1_2_printed_json_repeats_the_key_so_the_unit_has_its_own_key() -> None:
    printed = json.loads(SPEC_FAULT_MIN_ELAPSED_TIME_PRINTED)  # a repeated key: JSON keeps the last value
    assert printed["Fault_Location_Inputs"][0] == {"Min_time_of_interruption": "seconds"}
    assert locations("fault-min-elapsed-time", printed) == ["$.Fault_Location_Inputs[0].Min_time_of_interruption"]
    assert round_trips("fault-min-elapsed-time", SPEC_FAULT_MIN_ELAPSED_TIME) == {"Fault_Location_Inputs": [
        {"Min_time_of_interruption": 180.0, "Min_time_of_interruption_unit": "seconds"}]}


def test_spec_3_2_3_2_1_2_unit_defaults_to_seconds_and_is_a_closed_vocabulary() -> None:
    payload = {"Fault_Location_Inputs": [{"Min_time_of_interruption": 180}]}
    entry = dso_saref.canonical("fault-min-elapsed-time", payload)["Fault_Location_Inputs"][0]
    assert entry["Min_time_of_interruption_unit"] == "seconds"
    payload = {"Fault_Location_Inputs": [{"Min_time_of_interruption": 3, "Min_time_of_interruption_unit": "minutes"}]}
    graph = dso_saref.saref("fault-min-elapsed-time", payload)
    _, value = measured(graph, the(graph, DSO.FaultLocationSetting), DSO.MinimumInterruptionTime)
    assert graph.value(value, SAREF.isMeasuredIn) == OM["minute-Time"]
    assert graph.value(value, SAREF.hasValue) == Literal("3.0", datatype=XSD.decimal)
    alias = {"Fault_Location_Inputs": [{"Min_time_of_interruption": 1, "Min_time_of_interruption_unit": "s"}]}
    assert dso_saref.canonical("fault-min-elapsed-time", alias)["Fault_Location_Inputs"][0][
        "Min_time_of_interruption_unit"] == "seconds"
    bad = {"Fault_Location_Inputs": [{"Min_time_of_interruption": 1, "Min_time_of_interruption_unit": "fortnights"}]}
    assert locations("fault-min-elapsed-time", bad) == ["$.Fault_Location_Inputs[0].Min_time_of_interruption_unit"]


@pytest.mark.parametrize("bad", [-1, "-0.5", "NaN", float("nan"), float("inf"), "soon", True])
def test_spec_3_2_3_2_1_2_duration_is_a_finite_non_negative_number(bad: Any) -> None:
    payload = {"Postal_Code": "4405-123", "Fault_Location_Inputs": [{"Min_time_of_interruption": bad}]}
    assert locations("fault-min-elapsed-time", payload) == ["$.Fault_Location_Inputs[0].Min_time_of_interruption"]


def test_spec_3_2_3_2_1_2_one_setting_per_message() -> None:
    two = {"Fault_Location_Inputs": [{"Min_time_of_interruption": 180},
                                     {"Min_time_of_interruption": 180, "Min_time_of_interruption_unit": "minutes"}]}
    assert locations("fault-min-elapsed-time", two) == ["$.Fault_Location_Inputs"]
    alias = {"Fault_Location_Inputs": [{"Min_time_of_interruption": 180},
                                       {"Min_time_of_interruption": "180", "Min_time_of_interruption_unit": "s"}]}
    assert len(round_trips("fault-min-elapsed-time", alias)["Fault_Location_Inputs"]) == 1


def test_spec_3_2_3_2_1_2_setting_triples() -> None:
    graph = dso_saref.saref("fault-min-elapsed-time", example("fault-min-elapsed-time"))
    setting = the(graph, DSO.FaultLocationSetting, area=ID["postal-code/4405-123"])
    _, value = measured(graph, setting, DSO.MinimumInterruptionTime)
    assert graph.value(value, SAREF.isMeasuredIn) == OM["second-Time"]
    assert graph.value(value, SAREF.hasValue) == Literal("180.0", datatype=XSD.decimal)


# ---------------------------------------------------------------------------------------------
# 3.2.3.2.1.3 postal codes to monitor, subscription response


def test_spec_3_2_3_2_1_3_postal_codes_printed_json_and_table_values_accepted() -> None:
    assert round_trips("fault-postal-codes", SPEC_FAULT_POSTAL_CODES) == SPEC_FAULT_POSTAL_CODES
    table = {"Fault_Location_Inputs": [{"Postal_Code": "4120-233"}, {"Postal_Code": "4120-200"}]}
    graph = dso_saref.saref("fault-postal-codes", table)
    assert set(graph.subjects(RDF.type, DSO.FaultMonitoringSubscription)) == {
        ID["postal-code/4120-233/fault-monitoring"], ID["postal-code/4120-200/fault-monitoring"]}
    assert (ID["postal-code/4120-200/fault-monitoring"], SAREF.isAbout, ID["postal-code/4120-200"]) in graph
    assert locations("fault-postal-codes", {"Fault_Location_Inputs": []}) == ["$.Fault_Location_Inputs"]


@pytest.mark.parametrize("status", ["accepted", "denied"])
def test_spec_3_2_3_2_1_3_subscription_is_accepted_or_denied(status: str) -> None:
    payload = {"status": status, "reason": "couldn't reach postal code 4120-200"}
    assert round_trips("subscription-response", payload) == payload
    graph = dso_saref.saref("subscription-response", payload)
    response = the(graph, DSO.SubscriptionResponse)
    assert graph.value(response, DSO.hasSubscriptionStatus) == DSO[f"Subscription{status.title()}"]
    assert graph.value(response, DSO.hasReason) == Literal(payload["reason"], datatype=XSD.string)


def test_spec_3_2_3_2_1_3_subscription_status_is_not_the_acknowledgements() -> None:
    assert locations("subscription-response", {"status": "rejected"}) == ["$.status"]
    assert locations("subscription-response", {"status": "Denied"}) == ["$.status"]
    assert locations("acknowledgement", {"status": "denied"}) == ["$.status"]
    assert locations("subscription-response", {"reason": "no"}) == ["$.status"]


# ---------------------------------------------------------------------------------------------
# 3.2.3.2.1.4 HEMS status


def test_spec_3_2_3_2_1_4_hems_status_printed_json_yes_accepted_as_true() -> None:
    assert round_trips("hems-status", SPEC_HEMS_STATUS) == {"Voltage_Monitoring": [
        {"Hems_ID": "ID1234", "Abnormal_Voltage": True, "timestamp": "2021-12-03T15:11:20Z"}]}


@pytest.mark.parametrize(("given", "value"), [("Yes", True), ("no", False), ("NO", False), (True, True),
                                              ("true", True), (False, False)])
def test_spec_3_2_3_2_1_4_abnormal_voltage_yes_no_or_boolean(given: Any, value: bool) -> None:
    payload = {"Voltage_Monitoring": [{"Hems_ID": "ID1234", "Abnormal_Voltage": given,
                                       "timestamp": "2021-12-03T15:11:20Z"}]}
    assert dso_saref.canonical("hems-status", payload)["Voltage_Monitoring"][0]["Abnormal_Voltage"] is value


@pytest.mark.parametrize("bad", ["maybe", 1, 0, None, ""])
def test_spec_3_2_3_2_1_4_abnormal_voltage_refuses_non_booleans(bad: Any) -> None:
    payload = {"Voltage_Monitoring": [{"Hems_ID": "ID1234", "Abnormal_Voltage": bad,
                                       "timestamp": "2021-12-03T15:11:20Z"}]}
    assert locations("hems-status", payload) == ["$.Voltage_Monitoring[0].Abnormal_Voltage"]


def test_spec_3_2_3_2_1_4_status_on_off_as_saref_states() -> None:
    payload = {"Voltage_Monitoring": [
        {"Hems_ID": "ID1234", "Status": "ON", "Abnormal_Voltage": False, "timestamp": "2021-12-03T15:11:20Z"},
        {"Hems_ID": "ID1234", "Status": "off", "Abnormal_Voltage": "Yes", "timestamp": "2021-12-03T15:26:20Z"},
        {"Hems_ID": "ID9", "Abnormal_Voltage": "No", "timestamp": "2021-12-03T15:26:20Z"}]}
    canonical = round_trips("hems-status", payload)
    assert {(e["Hems_ID"], e["timestamp"]): e.get("Status") for e in canonical["Voltage_Monitoring"]} == {
        ("ID1234", "2021-12-03T15:11:20Z"): "on", ("ID1234", "2021-12-03T15:26:20Z"): "off",
        ("ID9", "2021-12-03T15:26:20Z"): None}
    graph = dso_saref.saref("hems-status", payload)
    hems = ID["hems/ID1234"]

    def state(hems_id: str, at: str) -> URIRef:
        (found,) = (s for s in graph.subjects(DSO.isStateOf, ID[f"hems/{hems_id}"])
                    if graph.value(s, SAREF.hasTimestamp) == Literal(at, datatype=XSD.dateTime, normalize=False))
        assert (found, RDF.type, DSO.HemsStatus) in graph
        return found

    on, off = state("ID1234", "2021-12-03T15:11:20Z"), state("ID1234", "2021-12-03T15:26:20Z")
    assert set(graph.subjects(DSO.isStateOf, hems)) == {on, off}
    assert graph.value(on, DSO.hasOnOffState) == DSO.HemsOn
    assert graph.value(off, DSO.hasOnOffState) == DSO.HemsOff
    assert graph.value(off, DSO.hasAbnormalVoltage) == Literal(True, datatype=XSD.boolean)
    assert graph.value(on, SAREF.hasTimestamp) == Literal("2021-12-03T15:11:20Z", datatype=XSD.dateTime,
                                                          normalize=False)
    assert graph.value(state("ID9", "2021-12-03T15:26:20Z"), DSO.hasOnOffState) is None  # no Status
    bad = copy.deepcopy(payload)
    bad["Voltage_Monitoring"][0]["Status"] = "standby"
    assert locations("hems-status", bad) == ["$.Voltage_Monitoring[0].Status"]


@pytest.mark.parametrize("name", ["hems-status-request", "hems-status", "hems-voltage-request", "hems-voltage"])
def test_spec_3_2_3_2_1_4_and_5_every_message_describes_the_hems_alike(name: str) -> None:
    """One node, one class and the same description in the four HEMS messages (issue 10, items 3 and
    5): its identifier and its voltage, a dso:VoltageProperty narrower than s4grid:Voltage."""
    graph = dso_saref.saref(name, example(name))
    hems = ID["hems/ID1234"]
    assert set(graph.subjects(RDF.type, DSO.HomeEnergyManagementSystem)) == {hems}
    assert graph.value(hems, DSO.hasIdentifier) == Literal("ID1234", datatype=XSD.string)
    assert set(graph.objects(hems, SAREF.hasProperty)) == {ID["hems/ID1234/voltage"]}
    assert set(graph.predicate_objects(ID["hems/ID1234/voltage"])) == {
        (RDF.type, DSO.VoltageProperty), (SKOS.broader, S4GRID.Voltage)}
    assert {p for p, _ in graph.predicate_objects(hems)} <= {
        RDF.type, DSO.hasIdentifier, SAREF.hasProperty, DSO.isInPostalCodeArea}


def test_spec_3_2_3_2_1_4_one_status_per_hems_and_time() -> None:
    entry = {"Hems_ID": "ID1234", "Abnormal_Voltage": True, "timestamp": "2021-12-03T15:11:20Z"}
    same_instant = {**entry, "Abnormal_Voltage": False, "timestamp": "2021-12-03T16:11:20+01:00"}
    assert locations("hems-status", {"Voltage_Monitoring": [entry, same_instant]}) == ["$.Voltage_Monitoring"]
    assert locations("hems-status", {"Voltage_Monitoring": []}) == ["$.Voltage_Monitoring"]
    assert locations("hems-status", {"Voltage_Monitoring": [{**entry, "timestamp": None}]}) == [
        "$.Voltage_Monitoring[0].timestamp"]


def test_spec_3_2_3_2_1_4_request_printed_fields_accepted() -> None:
    assert round_trips("hems-status-request", SPEC_HEMS_STATUS_REQUEST) == SPEC_HEMS_STATUS_REQUEST
    assert round_trips("hems-status-request", {"Hems_ID": 1234}) == {"Hems_ID": "1234"}
    assert locations("hems-status-request", {"Postal_Code": "4405-123"}) == ["$.Hems_ID"]


@pytest.mark.parametrize(("request_name", "answer"), [
    ("hems-status-request", "hems-status"), ("hems-voltage-request", "hems-voltage")])
def test_spec_3_2_3_2_1_4_and_5_ask_binds_a_subset_of_the_answers_variables(request_name: str, answer: str) -> None:
    """The asker binds the HEMS (and, when given, its postal code, a part of both messages); the
    answer binds the same values for them, plus the state or reading, so the KE can join them."""
    ask = dso_saref.to_bindings(request_name, example(request_name))
    given = example(answer)
    given["Voltage_Monitoring"][0]["Hems_ID"] = example(request_name)["Hems_ID"]
    told = dso_saref.to_bindings(answer, given)
    for key, rows in ask.items():
        answer_key = key.replace(request_name, answer)
        assert len(rows) == len(told[answer_key]) == 1
        assert set(rows[0]) <= set(told[answer_key][0])
        assert {k: told[answer_key][0][k] for k in rows[0]} == rows[0]
    only_id = dso_saref.to_bindings("hems-status-request", {"Hems_ID": "ID1234"})
    assert only_id == {"hems-status-request": [{"hems": f"<{ID['hems/ID1234']}>", "hems_id": '"ID1234"',
                                                "property": f"<{ID['hems/ID1234/voltage']}>"}]}


def test_spec_3_2_3_2_1_4_a_hems_lies_in_one_postal_code() -> None:
    entry = {"Hems_ID": "ID1234", "Abnormal_Voltage": True, "timestamp": "2021-12-03T15:11:20Z", "Postal_Code": "A"}
    later = {**entry, "timestamp": "2021-12-03T15:26:20Z", "Postal_Code": "B"}
    assert locations("hems-status", {"Voltage_Monitoring": [entry, later]}) == ["$.Voltage_Monitoring"]
    absent = {k: v for k, v in later.items() if k != "Postal_Code"}
    assert locations("hems-status", {"Voltage_Monitoring": [entry, absent]}) == ["$.Voltage_Monitoring"]
    other_hems = {**later, "Hems_ID": "ID9"}
    assert round_trips("hems-status", {"Voltage_Monitoring": [entry, {**later, "Postal_Code": "A"}, other_hems]})


# ---------------------------------------------------------------------------------------------
# 3.2.3.2.1.5 HEMS voltage (the reference messages, kept working)


def test_spec_3_2_3_2_1_5_a_reading_is_a_measurement_of_the_hems_s_voltage() -> None:
    """Like the other readings (issue 10, item 11): of the HEMS (saref:isMeasurementOf), made by it,
    relating to its voltage property, in volts, at its time."""
    graph = dso_saref.saref("hems-voltage", example("hems-voltage"))
    hems = ID["hems/ID1234"]
    prop, reading = measured(graph, hems, DSO.VoltageProperty)
    assert graph.value(reading, SAREF.measurementMadeBy) == hems
    assert graph.value(reading, SAREF.hasValue) == Literal("240.0", datatype=XSD.decimal)
    assert graph.value(reading, SAREF.isMeasuredIn) == OM.volt
    assert graph.value(reading, SAREF.hasTimestamp) == Literal("2021-12-03T15:11:20Z", datatype=XSD.dateTime,
                                                               normalize=False)
    assert (prop, RDF.type, S4GRID.Voltage) not in graph  # s4grid:Voltage is an individual, not a class


def test_spec_3_2_3_2_1_5_hems_voltage_printed_fields_accepted() -> None:
    payload = {"Voltage_Monitoring": [{"Hems_ID": "ID1234", "timestamp": "2021-12-03T15:11:20Z",
                                       "Voltage_from_Hems": "240", "Voltage_from_Hems_unit": "Volts"}]}
    assert round_trips("hems-voltage", payload)["Voltage_Monitoring"][0]["Voltage_from_Hems_unit"] == "volts"
    assert round_trips("hems-voltage-request", {"Hems_ID": "ID1234"}) == {"Hems_ID": "ID1234"}


# ---------------------------------------------------------------------------------------------
# 3.2.3.3.1.1 disaggregated data


def test_spec_3_2_3_3_1_1_request_printed_json_accepted() -> None:
    canonical = round_trips("disaggregated-data-request", SPEC_DISAGGREGATED_DATA_REQUEST)
    assert canonical == {"customers_ids": sorted(SPEC_DISAGGREGATED_DATA_REQUEST["customers_ids"])}
    graph = dso_saref.saref("disaggregated-data-request", SPEC_DISAGGREGATED_DATA_REQUEST)
    assert len(set(graph.subjects(RDF.type, DSO.DisaggregatedDataRequest))) == 6
    assert (ID["user/xvc989007/disaggregated-data-request"], SAREF.isAbout, ID["user/xvc989007"]) in graph
    assert (ID["user/xvc989007"], RDF.type, DSO.EndUser) in graph
    assert locations("disaggregated-data-request", {"customers_ids": []}) == ["$.customers_ids"]
    assert locations("disaggregated-data-request", {"customer_ids": ["x"]}) == ["$.customers_ids", "$.customer_ids"]


def test_spec_3_2_3_3_1_1_disaggregated_data_as_saref_measurements() -> None:
    data = example("disaggregated-data")
    graph = dso_saref.saref("disaggregated-data", data)
    points = sum(len(load["series"]) for customer in data["customers"] for load in customer["loads"])
    assert len(set(graph.subjects(RDF.type, SAREF.Measurement))) == points
    user = ID["user/xvc989007"]  # the DSO's end user, the same node as in every message (issue 10, item 5)
    assert (user, RDF.type, DSO.EndUser) in graph
    load = ID["user/xvc989007/load/EV"]
    assert (load, DSO.isLoadOf, user) in graph
    assert graph.value(load, DSO.hasLoadType) == Literal("EV", datatype=XSD.string)
    consumption = ID["user/xvc989007/load/EV/consumption"]
    (measurement,) = (m for m in graph.subjects(SAREF.relatesToProperty, consumption)
                      if str(graph.value(m, SAREF.hasTimestamp)) == "2021-12-03T14:15:00Z")
    assert graph.value(measurement, SAREF.isMeasurementOf) == load
    assert graph.value(measurement, SAREF.hasValue) == Literal("7.4", datatype=XSD.decimal)
    assert graph.value(measurement, SAREF.isMeasuredIn) == OM.kilowatt
    (heat_pump,) = graph.subjects(SAREF.relatesToProperty, ID["user/ert552555/load/heat_pump/consumption"])
    assert graph.value(heat_pump, SAREF.isMeasuredIn) == OM.kilowattHour


def test_spec_3_2_3_3_1_1_disaggregated_data_rules() -> None:
    def data(**load: Any) -> dict[str, Any]:
        base = {"load_type": "EV", "unit": "kW", "series": [{"timestamp": "2021-12-03T14:00:00Z", "consumption": 1}]}
        return {"customers": [{"customer_id": "xvc989007", "loads": [{**base, **load}]}]}

    assert locations("disaggregated-data", data(unit="horsepower")) == ["$.customers[0].loads[0].unit"]
    assert locations("disaggregated-data", data(series=[])) == ["$.customers[0].loads[0].series"]
    nan = [{"timestamp": "2021-12-03T14:00:00Z", "consumption": "NaN"}]
    assert locations("disaggregated-data", data(series=nan)) == ["$.customers[0].loads[0].series[0].consumption"]
    twice = [{"timestamp": "2021-12-03T14:00:00Z", "consumption": 1},
             {"timestamp": "2021/12/03 14:00", "consumption": 2}]
    assert locations("disaggregated-data", data(series=twice)) == ["$.customers[0].loads[0].series"]
    injection = data(load_type="PV", series=[{"timestamp": "2021-12-03T14:00:00Z", "consumption": "-2.5"}])
    assert round_trips("disaggregated-data", injection)["customers"][0]["loads"][0]["series"][0]["consumption"] == -2.5
    two_loads = data()
    two_loads["customers"][0]["loads"].append(copy.deepcopy(two_loads["customers"][0]["loads"][0]))
    assert locations("disaggregated-data", two_loads) == ["$.customers[0].loads"]
    two_customers = data()
    two_customers["customers"].append(copy.deepcopy(two_customers["customers"][0]))
    assert locations("disaggregated-data", two_customers) == ["$.customers"]
    assert locations("disaggregated-data", {"customers": []}) == ["$.customers"]


def test_spec_3_2_3_3_1_1_integer_customer_ids_become_strings() -> None:
    assert dso_saref.canonical("disaggregated-data-request", {"customers_ids": [12, "12"]}) == {"customers_ids": ["12"]}


# ---------------------------------------------------------------------------------------------
# hostile identifiers and texts; bindings from another party


def hostile_payloads(text: str) -> dict[str, Any]:
    return {
        "fault-notification": {"Fault_Location_ID": text, "Fault_Location_Identification": [
            {"Postal_Code": text, "Nbr_Faulty_Hems": 2, "timestamp": "2021-12-03T15:11:20Z"}]},
        "opportunities-request": {"zip_codes": [text]},
        "opportunities": {"opportunities": [{"zip_code": text, "message": [text]}]},
        "fault-min-hems": {"Postal_Code": text, "Fault_Location_Inputs": [{"Min_nbr_Hems_faulty": 3}]},
        "fault-min-elapsed-time": {"Postal_Code": text, "Fault_Location_Inputs": [{"Min_time_of_interruption": 1}]},
        "fault-postal-codes": {"Fault_Location_Inputs": [{"Postal_Code": text}]},
        "subscription-response": {"status": "denied", "reason": text},
        "hems-status-request": {"Hems_ID": text, "Postal_Code": text},
        "hems-status": {"Voltage_Monitoring": [{"Hems_ID": text, "Status": "on", "Abnormal_Voltage": True,
                                                "timestamp": "2021-12-03T15:11:20Z", "Postal_Code": text}]},
        "disaggregated-data-request": {"customers_ids": [text]},
        "disaggregated-data": {"customers": [{"customer_id": text, "loads": [
            {"load_type": text, "unit": "W", "series": [{"timestamp": "2021-12-03T15:11:20Z", "consumption": 1}]}]}]},
    }


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_identifiers_and_texts_make_no_extra_triples(text: str) -> None:
    benign = hostile_payloads("P1")
    for name, payload in hostile_payloads(text).items():
        assert round_trips(name, payload) == dso_saref.canonical(name, payload)
        graph = dso_saref.saref(name, payload)
        assert len(graph) == len(dso_saref.saref(name, benign[name])), name
        for s, _, o in graph:
            for term in (s, o):
                if isinstance(term, URIRef):
                    assert not any(c in str(term) for c in ' <>"{}\n\t\\'), (name, term)
        literals = {str(o) for o in graph.objects() if isinstance(o, Literal)}
        assert text in literals, name


def test_bindings_from_another_party_in_ke_syntax_are_accepted() -> None:
    """Plain "x" and "x"^^xsd:string are one literal; a time with an offset is read as the same instant;
    IRIs minted by another party under its own base are read as they are (docs/modelling.md, rule 3)."""
    peer = "https://sp.example.net/things/"
    hems, state, voltage = f"<{peer}h1>", f"<{peer}s1>", f"<{peer}h1v>"
    sets = {"hems-status": [{
        "hems": hems, "hems_id": '"ID1234"^^<http://www.w3.org/2001/XMLSchema#string>', "property": voltage,
        "state": state, "timestamp": '"2021-12-03T16:11:20+01:00"^^<http://www.w3.org/2001/XMLSchema#dateTime>',
        "abnormal_voltage": '"1"^^<http://www.w3.org/2001/XMLSchema#boolean>'}],
        "hems-status.status": [{"state": state, "timestamp": '"2021-12-03T16:11:20+01:00"^^<http://www.w3.org/'
                                '2001/XMLSchema#dateTime>', "status": f"<{DSO.HemsOn}>"}]}
    assert dso_saref.from_bindings("hems-status", sets) == {"Voltage_Monitoring": [
        {"Hems_ID": "ID1234", "Status": "on", "Abnormal_Voltage": True, "timestamp": "2021-12-03T15:11:20Z"}]}
    plain = {"hems-status-request": [{"hems": hems, "hems_id": '"ID1234"', "property": voltage}],
             "hems-status-request.postal-code": [{"hems": hems, "hems_id": '"ID1234"', "postal_code": '"4405-123"',
                                                  "postal_code_area": f"<{peer}pc>"}]}
    assert dso_saref.from_bindings("hems-status-request", plain) == SPEC_HEMS_STATUS_REQUEST
    rows = [{"postal_code_area": f"<{peer}pc>", "postal_code": '"4120-233"', "subscription": f"<{peer}sub>"}]
    assert dso_saref.from_bindings("fault-postal-codes", rows) == {
        "Fault_Location_Inputs": [{"Postal_Code": "4120-233"}]}
    rows = [{"setting": f"<{peer}set>", "threshold": f"<{peer}thr>", "threshold_measurement": f"<{peer}m>",
             "min_nbr_hems_faulty": '"3"^^<http://www.w3.org/2001/XMLSchema#integer>'}]
    assert dso_saref.from_bindings("fault-min-hems", rows) == {"Fault_Location_Inputs": [{"Min_nbr_Hems_faulty": 3}]}


def test_bindings_outside_the_vocabulary_or_the_parts_are_refused() -> None:
    rows = [{"response": f"<{ID['subscription-response/x']}>", "status": f"<{DSO.Accepted}>"}]
    with pytest.raises(PayloadError) as info:
        dso_saref.from_bindings("subscription-response", rows)
    assert info.value.problems[0].location == "bindings[0].status"
    with pytest.raises(PayloadError) as info:  # rdf:nil is no longer a placeholder: a part is left out
        dso_saref.from_bindings("subscription-response", [{**rows[0], "status": f"<{DSO.SubscriptionDenied}>",
                                                           "reason": f"<{RDF.nil}>"}])
    assert info.value.problems[0].location == "bindings[0].reason"
    with pytest.raises(PayloadError) as info:  # a part's row must hang from a row of its parent
        dso_saref.from_bindings("subscription-response", {
            "subscription-response": [{**rows[0], "status": f"<{DSO.SubscriptionDenied}>"}],
            "subscription-response.reason": [{"response": "<urn:other>", "reason": '"no"'}]})
    assert info.value.problems[0].location == "bindings['subscription-response.reason']"
