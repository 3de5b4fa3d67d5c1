"""HLUC 5 data sharing messages (D4.2 2.1.1, 3.2.1): authorization, metering data, flexibility data,
contracted power incentives. Tests are named after the specification section they check."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import SKOS

import dso_saref
from dso_saref import PayloadError
from dso_saref.terms import DEFAULT_BASE, DPV, DSO, OM, S4GRID, SAREF, TIME, XSD
from tests.payload_checks import locations, problems, round_trips
from tests.strategies import payload_strategy
from tests.test_modelling import merge_inconsistencies, samples
from tests.truth_checks import (
    class_typed_individuals,
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
DATA_SHARING = ["authorization-request", "authorization-response", "metering-request", "metering-data",
                "flexibility-data-request", "flexibility-data", "incentive-offer", "incentive-response"]
TOKEN = "49d259db-755c-4929-8410-15ede30dbc2d"

# The tables of 3.2.1 written as JSON with the specification's own example values and forms
# ("2021/09/27 10:00" timestamps, "2021/09/27" dates, the "Dates [2021/09/27 10:00, ...]" array).
# D4.2 prints no JSON body for HLUC 5, so these are transcriptions, not syntax fixes.
SPEC_AUTHORIZATION = {"end_user": "U123456", "start": "2021/09/27 10:00", "end": "2021/09/27 11:00"}
SPEC_METERING_REQUEST = {"data_type": "User", "id": "U123456", "authorization_token": TOKEN, "granularity": 1,
                         "start": "2021/09/27 10:00", "end": "2021/09/27 11:00"}
SPEC_METERING_DATA = [{"id": "U123456", "readings": [{"time": "2021/09/27 10:00", "measurement": 890, "unit": "kW"}]}]
SPEC_FLEXIBILITY_REQUEST = {"zone_id": "Z123456", "start": "2021/09/27", "end": "2021/10/27"}
SPEC_FLEXIBILITY_DATA = {"zone_id": "Z123456", "dates": ["2021/09/27 10:00", "2021/09/27 11:00"],
                         "needs": [100, 50], "units": ["kW", "kW"], "directions": ["Down", "Up"],
                         "power_types": ["Active", "Active"],
                         "eligible_clients": [["ID Meter1", "ID Meter2"], ["ID Meter1", "ID Meter2"]]}
RESPONSE = {"end_user": "U123456", "service_provider": "SP001", "granted": True, "authorization_token": TOKEN,
            "start": "2021-09-27T10:00:00Z", "end": "2021-09-27T11:00:00Z"}
OFFER = {"offer_id": "IO-1", "end_user": "U123456", "contracted_power": 4.6, "contracted_power_unit": "kW",
         "incentive": 0.02, "incentive_unit": "EUR/kWh", "start": "2021-10-01T00:00:00Z", "end": "2022-10-01T00:00:00Z"}

HOSTILE = ["a b", "x>y", 'q"uote', "new\nline", "tab\there", "ünï©ødé", "😀/../?#", "back\\slash", "<U1>", "%41"]


def with_(base: Any, **changes: Any) -> Any:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------------------------------------
# the catalog: interactions


@pytest.mark.parametrize(("request_name", "answer"), [
    ("authorization-request", "authorization-response"),
    ("metering-request", "metering-data"),
    ("flexibility-data-request", "flexibility-data"),
    ("incentive-offer", "incentive-response"),
])
def test_spec_3_2_1_1_every_request_is_a_post_react_with_its_answer_as_result(request_name: str, answer: str) -> None:
    interaction = dso_saref.catalog[request_name].interaction
    assert interaction is not None
    assert (interaction.type, interaction.result) == (dso_saref.POST_REACT, answer)
    assert dso_saref.catalog[answer].interaction is None


def test_spec_3_2_1_1_initiators_and_responders() -> None:
    for name in ("authorization-request", "metering-request", "flexibility-data-request"):
        interaction = dso_saref.catalog[name].interaction
        assert (interaction.initiators, interaction.responders) == (("service-provider",), ("dso",))
    offer = dso_saref.catalog["incentive-offer"].interaction
    assert (offer.initiators, offer.responders) == (("dso",), ("service-provider",))


# ---------------------------------------------------------------------------------------------------
# 3.2.1.1.1.1 authorization


def test_spec_3_2_1_1_1_1_authorization_table_values_are_accepted() -> None:
    assert round_trips("authorization-request", SPEC_AUTHORIZATION) == {
        "end_user": "U123456", "start": "2021-09-27T10:00:00Z", "end": "2021-09-27T11:00:00Z"}


def test_spec_3_2_1_1_1_1_authorization_request_is_a_dpv_consent_and_a_record_that_it_is_requested() -> None:
    graph = dso_saref.saref("authorization-request", with_(SPEC_AUTHORIZATION, service_provider="SP001"))
    (consent,) = graph.subjects(RDF.type, DPV.Consent)
    assert (consent, DPV.hasDataSubject, ID["user/U123456"]) in graph
    assert (ID["user/U123456"], RDF.type, DSO.EndUser) in graph
    assert (consent, DPV.hasDataController, ID["dso"]) in graph
    assert (consent, DPV.hasRecipient, ID["party/SP001"]) in graph
    assert (ID["party/SP001"], RDF.type, DSO.ServiceProvider) in graph
    assert (consent, DPV.hasPurpose, DSO.EnergyServiceProvision) in graph
    assert (consent, DPV.hasPersonalData, DSO.EndUserMeteringData) in graph
    window = graph.value(consent, DPV.hasDuration)
    assert (window, RDF.type, TIME.Interval) in graph
    assert (graph.value(window, TIME.hasBeginning), RDF.type, TIME.Instant) in graph
    assert not list(graph.objects(consent, DPV.hasConsentStatus)), "the status is the record's"
    (record,) = graph.subjects(RDF.type, DSO.ConsentStatusRecord)
    assert (record, DSO.concernsConsent, consent) in graph
    assert (record, DPV.hasConsentStatus, DPV.ConsentRequested) in graph


def test_spec_3_2_1_1_1_1_service_provider_is_optional() -> None:
    graph = dso_saref.saref("authorization-request", SPEC_AUTHORIZATION)
    assert not list(graph.triples((None, DPV.hasRecipient, None)))


def test_spec_3_2_1_1_1_1_request_and_response_name_the_same_consent_and_record_apart() -> None:
    asked = dso_saref.saref("authorization-request", with_(RESPONSE, granted=None, authorization_token=None))
    answered = dso_saref.saref("authorization-response", RESPONSE)
    assert set(asked.subjects(RDF.type, DPV.Consent)) == set(answered.subjects(RDF.type, DPV.Consent))
    assert set(asked.subjects(RDF.type, DSO.ConsentStatusRecord)).isdisjoint(
        answered.subjects(RDF.type, DSO.ConsentStatusRecord))


def test_spec_3_2_1_1_1_1_a_consent_for_another_provider_is_another_consent() -> None:
    """Issue 10 item 4: the consent was minted from the user and the window only."""
    one = dso_saref.saref("authorization-request", with_(SPEC_AUTHORIZATION, service_provider="SP001"))
    other = dso_saref.saref("authorization-request", with_(SPEC_AUTHORIZATION, service_provider="SP002"))
    nobody = dso_saref.saref("authorization-request", SPEC_AUTHORIZATION)
    consents = [set(g.subjects(RDF.type, DPV.Consent)) for g in (one, other, nobody)]
    assert all(len(c) == 1 for c in consents)
    assert len(set().union(*consents)) == 3


def test_spec_3_2_1_1_1_1_granted_gives_consent_and_token() -> None:
    graph = dso_saref.saref("authorization-response", RESPONSE)
    (consent,) = graph.subjects(RDF.type, DPV.Consent)
    (record,) = graph.subjects(RDF.type, DSO.ConsentStatusRecord)
    assert (record, DSO.concernsConsent, consent) in graph
    assert (record, DPV.hasConsentStatus, DPV.ConsentGiven) in graph
    token = graph.value(consent, DSO.hasAuthorizationToken)
    assert (token, RDF.type, DSO.AuthorizationToken) in graph
    assert (token, DSO.hasIdentifier, Literal(TOKEN, datatype=XSD.string)) in graph


def test_spec_3_2_1_1_1_1_the_token_is_never_minted_into_an_iri() -> None:
    """Issue 10 item 12: the token's node is minted from a digest of it; the token is a literal only
    where the message carries it, and the metering request names the same token node."""
    answered = dso_saref.saref("authorization-response", RESPONSE)
    asked = dso_saref.saref("metering-request", SPEC_METERING_REQUEST)
    for graph in (answered, asked):
        iris = {str(t) for triple in graph for t in triple if isinstance(t, URIRef)}
        assert not [i for i in iris if TOKEN in i or TOKEN.replace("-", "%2D") in i]
    assert set(answered.subjects(RDF.type, DSO.AuthorizationToken)) == set(
        asked.subjects(RDF.type, DSO.AuthorizationToken))


def test_spec_3_2_1_1_1_1_not_granted_is_a_status_invalid_for_processing_with_a_reason() -> None:
    """granted false covers a refusal and a consent still pending (the reference DSO answers both so):
    not dpv:ConsentRefused, which would be false of a pending consent."""
    refused = with_(RESPONSE, granted=False, authorization_token=None, reason="the end user refused")
    graph = dso_saref.saref("authorization-response", refused)
    (record,) = graph.subjects(RDF.type, DSO.ConsentStatusRecord)
    assert (record, DPV.hasConsentStatus, DPV.ConsentStatusInvalidForProcessing) in graph
    assert (record, DSO.hasReason, Literal("the end user refused", datatype=XSD.string)) in graph
    assert not list(graph.triples((None, DSO.hasAuthorizationToken, None)))
    assert round_trips("authorization-response", refused)["reason"] == "the end user refused"


def test_spec_3_2_1_1_1_1_request_given_and_refused_merged_conform() -> None:
    """Issue 10 item 9: request and responses shared one consent node, so a merge said it was both
    requested and given (and refused); now each says it on a record of its own."""
    refused = with_(RESPONSE, granted=False, authorization_token=None, reason="pending")
    merged = graph_of({"authorization-request": [with_(RESPONSE, granted=None, authorization_token=None)],
                       "authorization-response": [RESPONSE, refused]})
    assert len(nodes_of(merged, DPV.Consent)) == 1
    assert len(nodes_of(merged, DSO.ConsentStatusRecord)) == 3
    assert nonconformance(["authorization-request", "authorization-response"], merged) == {}


def test_spec_3_2_1_1_1_1_granted_requires_a_token() -> None:
    assert locations("authorization-response", with_(RESPONSE, authorization_token=None)) == [
        "$.authorization_token"]


def test_spec_3_2_1_1_1_1_refused_carries_no_token() -> None:
    assert locations("authorization-response", with_(RESPONSE, granted=False)) == ["$.authorization_token"]


@pytest.mark.parametrize("granted", ["yes", 1, None, "True"])
def test_spec_3_2_1_1_1_1_granted_is_a_boolean(granted: Any) -> None:
    payload = with_(RESPONSE)
    payload["granted"] = granted
    assert "$.granted" in locations("authorization-response", payload)


def test_spec_3_2_1_1_1_1_window_start_before_end() -> None:
    assert problems("authorization-request", with_(SPEC_AUTHORIZATION, end="2021/09/27 10:00")) == [
        ("$", "start must be before end")]


def test_spec_3_2_1_1_1_1_integer_user_id_becomes_a_string() -> None:
    assert round_trips("authorization-request", with_(SPEC_AUTHORIZATION, end_user=123456))["end_user"] == "123456"


def test_spec_3_2_1_1_1_1_unknown_key_is_an_error() -> None:
    assert locations("authorization-request", with_(SPEC_AUTHORIZATION, enduser="U1")) == ["$.enduser"]


def test_spec_3_2_1_1_1_1_missing_user_is_an_error() -> None:
    assert problems("authorization-request", with_(SPEC_AUTHORIZATION, end_user=None)) == [
        ("$.end_user", "required key is missing")]


# ---------------------------------------------------------------------------------------------------
# 3.2.1.1.1.2 metering data


def test_spec_3_2_1_1_1_2_metering_request_table_values_are_accepted() -> None:
    assert round_trips("metering-request", SPEC_METERING_REQUEST) == {
        "data_type": "User", "id": "U123456", "authorization_token": TOKEN, "granularity": 1,
        "start": "2021-09-27T10:00:00Z", "end": "2021-09-27T11:00:00Z"}


def test_spec_3_2_1_1_1_2_user_data_needs_a_token() -> None:
    assert locations("metering-request", with_(SPEC_METERING_REQUEST, authorization_token=None)) == [
        "$.authorization_token"]


def test_spec_3_2_1_1_1_2_anonymized_zone_data_needs_no_token() -> None:
    payload = with_(SPEC_METERING_REQUEST, data_type="Anonymized", id="Z123456", authorization_token=None)
    round_trips("metering-request", payload)
    graph = dso_saref.saref("metering-request", payload)
    (request,) = graph.subjects(RDF.type, DSO.MeteringDataRequest)
    assert (request, SAREF.isAbout, ID["metering-subject/Z123456"]) in graph
    assert (request, DPV.hasData, DSO.AnonymisedZoneMeteringData) in graph
    assert not list(graph.triples((None, DSO.hasAuthorizationToken, None)))


def test_spec_3_2_1_1_1_2_user_data_is_the_end_users_metering_data_with_token() -> None:
    graph = dso_saref.saref("metering-request", SPEC_METERING_REQUEST)
    (request,) = graph.subjects(RDF.type, DSO.MeteringDataRequest)
    assert (request, DPV.hasData, DSO.EndUserMeteringData) in graph
    assert (request, SAREF.isAbout, ID["metering-subject/U123456"]) in graph
    (token,) = graph.objects(request, DSO.hasAuthorizationToken)
    assert (token, DSO.hasIdentifier, Literal(TOKEN, datatype=XSD.string)) in graph
    assert (request, DSO.hasGranularity, DSO.QuarterHourly) in graph


def test_spec_3_2_1_1_1_2_a_user_and_a_zone_of_one_id_are_never_typed_on_one_node() -> None:
    """Issue 10 item 5: the subject was typed dso:EndUser or dso:GridZone by data_type, so a user and a
    zone with the same id became one node typed both; the subject is now untyped (the answer cannot
    say which it is) and the data asked for says what kind of data it is."""
    user = dso_saref.saref("metering-request", with_(SPEC_METERING_REQUEST, id="X1"))
    zone = dso_saref.saref("metering-request", with_(SPEC_METERING_REQUEST, id="X1", data_type="Anonymized",
                                                     authorization_token=None))
    merged = user + zone
    assert not list(merged.objects(ID["metering-subject/X1"], RDF.type))
    assert set(merged.objects(None, DPV.hasData)) == {DSO.EndUserMeteringData, DSO.AnonymisedZoneMeteringData}
    assert len(nodes_of(merged, DSO.MeteringDataRequest)) == 2


@pytest.mark.parametrize(("code", "iri"), [(1, DSO.QuarterHourly), ("2", DSO.Hourly), (3.0, DSO.Daily)])
def test_spec_3_2_1_1_1_2_granularity_codes(code: Any, iri: URIRef) -> None:
    payload = with_(SPEC_METERING_REQUEST, granularity=code)
    assert round_trips("metering-request", payload)["granularity"] == int(float(code))
    assert (None, DSO.hasGranularity, iri) in dso_saref.saref("metering-request", payload)


@pytest.mark.parametrize("code", [0, 4, "hourly", True, 1.5])
def test_spec_3_2_1_1_1_2_granularity_is_1_2_or_3(code: Any) -> None:
    assert locations("metering-request", with_(SPEC_METERING_REQUEST, granularity=code)) == ["$.granularity"]


def test_spec_3_2_1_1_1_2_data_type_is_user_or_anonymized() -> None:
    assert locations("metering-request", with_(SPEC_METERING_REQUEST, data_type="Zone")) == ["$.data_type"]


def test_spec_3_2_1_1_1_2_metering_data_table_values_are_accepted() -> None:
    assert round_trips("metering-data", SPEC_METERING_DATA) == [
        {"id": "U123456", "readings": [{"time": "2021-09-27T10:00:00Z", "measurement": 890.0, "unit": "kW"}]}]


def test_spec_3_2_1_1_1_2_each_reading_is_a_saref_measurement_of_active_power() -> None:
    graph = dso_saref.saref("metering-data", SPEC_METERING_DATA)
    subject = ID["metering-subject/U123456"]
    reading = next(graph.subjects(RDF.type, SAREF.Measurement))
    assert (reading, SAREF.isMeasurementOf, subject) in graph
    prop = graph.value(reading, SAREF.relatesToProperty)
    assert (subject, SAREF.hasProperty, prop) in graph
    assert (prop, RDF.type, DSO.ActivePowerProperty) in graph
    assert (prop, SKOS.broader, S4GRID.ActivePower) in graph
    assert class_typed_individuals(graph) == [], "s4grid:ActivePower is an individual (issue 10 item 3)"
    assert (reading, SAREF.isMeasuredIn, OM.kilowatt) in graph
    value = graph.value(reading, SAREF.hasValue)
    assert (str(value), value.datatype) == ("890.0", XSD.decimal)
    timestamp = graph.value(reading, SAREF.hasTimestamp)
    assert (str(timestamp), timestamp.datatype) == ("2021-09-27T10:00:00Z", XSD.dateTime)


def test_spec_3_2_1_1_1_2_a_series_may_be_empty_and_keeps_its_own_readings() -> None:
    payload = [{"id": "A", "readings": []}, {"id": "B", "readings": [
        {"time": "2021-09-27T10:00:00Z", "measurement": 1, "unit": "kW"},
        {"time": "2021-09-27T10:15:00Z", "measurement": -0.5, "unit": "W"}]}]
    assert round_trips("metering-data", payload)[0] == {"id": "A", "readings": []}


def test_spec_3_2_1_1_1_2_metering_data_may_be_empty() -> None:
    assert dso_saref.to_bindings("metering-data", []) == {"metering-data": []}
    assert dso_saref.from_bindings("metering-data", {"metering-data": []}) == []
    assert dso_saref.unsaref("metering-data", Graph()) == []


def test_spec_3_2_1_1_1_2_an_hourly_and_a_quarter_hourly_reading_at_one_time_are_two_readings() -> None:
    quarter = [{"id": "U1", "readings": [{"time": "2021-09-27T10:00:00Z", "measurement": 890, "unit": "kW"}]}]
    hourly = [{"id": "U1", "readings": [{"time": "2021-09-27T10:00:00Z", "measurement": 880.5, "unit": "kW"}]}]
    merged = graph_of({"metering-data": [quarter, hourly]})
    assert len(nodes_of(merged, SAREF.Measurement)) == 2
    assert nonconformance(["metering-data"], merged) == {}


def test_spec_3_2_1_1_1_2_numeric_string_measurement_is_accepted() -> None:
    payload = [{"id": 7, "readings": [{"time": "2021-09-27T10:00:00+01:00", "measurement": "890", "unit": "MW"}]}]
    assert round_trips("metering-data", payload) == [
        {"id": "7", "readings": [{"time": "2021-09-27T09:00:00Z", "measurement": 890.0, "unit": "MW"}]}]


@pytest.mark.parametrize(("change", "location"), [
    ({"unit": "kWh"}, "$[0].readings[0].unit"),
    ({"measurement": "NaN"}, "$[0].readings[0].measurement"),
    ({"measurement": float("inf")}, "$[0].readings[0].measurement"),
    ({"time": "yesterday"}, "$[0].readings[0].time"),
    ({"value": 1}, "$[0].readings[0].value"),
])
def test_spec_3_2_1_1_1_2_bad_reading_is_located(change: dict[str, Any], location: str) -> None:
    payload = copy.deepcopy(SPEC_METERING_DATA)
    payload[0]["readings"][0].update(change)
    assert location in locations("metering-data", payload)


def test_spec_3_2_1_1_1_2_one_series_per_id_and_one_reading_per_time() -> None:
    series = SPEC_METERING_DATA[0]
    assert locations("metering-data", [series, series]) == ["$"]
    twice = {"id": "U1", "readings": series["readings"] * 2}
    assert locations("metering-data", [twice]) == ["$[0]"]


# ---------------------------------------------------------------------------------------------------
# 3.2.1.1.1.3 flexibility data


def test_spec_3_2_1_1_1_3_flexibility_data_request_table_values_are_accepted() -> None:
    assert round_trips("flexibility-data-request", SPEC_FLEXIBILITY_REQUEST) == {
        "zone_id": "Z123456", "start": "2021-09-27", "end": "2021-10-27"}


def test_spec_3_2_1_1_1_3_request_window_is_of_dates() -> None:
    graph = dso_saref.saref("flexibility-data-request", SPEC_FLEXIBILITY_REQUEST)
    assert (None, TIME.inXSDDate, Literal("2021-09-27", datatype=XSD.date)) in graph
    assert (None, SAREF.isAbout, ID["zone/Z123456"]) in graph
    assert "$.start" in locations("flexibility-data-request",
                                  with_(SPEC_FLEXIBILITY_REQUEST, start="2021-09-27T10:00:00Z"))
    assert problems("flexibility-data-request", with_(SPEC_FLEXIBILITY_REQUEST, end="2021/09/27")) == [
        ("$", "start must be before end")]


def test_spec_3_2_1_1_1_3_flexibility_data_table_values_are_accepted() -> None:
    assert round_trips("flexibility-data", SPEC_FLEXIBILITY_DATA) == {
        "zone_id": "Z123456", "dates": ["2021-09-27T10:00:00Z", "2021-09-27T11:00:00Z"], "needs": [100.0, 50.0],
        "units": ["kW", "kW"], "directions": ["Down", "Up"], "power_types": ["Active", "Active"],
        "eligible_clients": [["ID Meter1", "ID Meter2"], ["ID Meter1", "ID Meter2"]]}


def test_spec_3_2_1_1_1_3_entries_use_the_flexibility_modules_terms_and_iris() -> None:
    graph = dso_saref.saref("flexibility-data", SPEC_FLEXIBILITY_DATA)
    entries = nodes_of(graph, DSO.FlexibilityDataEntry)
    assert len(entries) == 2
    assert not nodes_of(graph, DSO.FlexibilityNeed), "no request id, no window: not a flexibility need"
    for entry in entries:
        assert (entry, DSO.isNeedOf, ID["zone/Z123456"]) in graph
        assert (entry, DSO.hasPowerType, S4GRID.ActivePower) in graph
        assert (entry, DSO.hasEligibleMeter, ID["meter/ID%20Meter1"]) in graph
        assert graph.value(entry, DSO.hasDirection) in (DSO.Upward, DSO.Downward)
        power = graph.value(entry, SAREF.hasProperty)
        assert (power, RDF.type, DSO.FlexibilityPower) in graph
        (quantity,) = graph.subjects(SAREF.relatesToProperty, power)
        assert (quantity, SAREF.isMeasurementOf, entry) in graph
        assert graph.value(quantity, SAREF.isMeasuredIn) == OM.kilowatt
    assert (ID["zone/Z123456"], RDF.type, DSO.GridZone) in graph
    assert (ID["meter/ID%20Meter1"], RDF.type, S4GRID.Meter) in graph


def test_spec_3_2_1_1_1_3_an_entry_is_at_an_instant_not_in_a_window_with_a_beginning_only() -> None:
    graph = dso_saref.saref("flexibility-data", SPEC_FLEXIBILITY_DATA)
    assert not nodes_of(graph, TIME.Interval)
    times = {graph.value(entry, SAREF.hasTime) for entry in nodes_of(graph, DSO.FlexibilityDataEntry)}
    assert {graph.value(t, TIME.inXSDDateTimeStamp) for t in times} == {
        Literal("2021-09-27T10:00:00Z", datatype=XSD.dateTimeStamp),
        Literal("2021-09-27T11:00:00Z", datatype=XSD.dateTimeStamp)}
    assert all((t, RDF.type, TIME.Instant) in graph for t in times)


def test_spec_3_2_1_1_1_3_historical_and_forecast_data_of_one_time_are_two_entries() -> None:
    forecast = with_(SPEC_FLEXIBILITY_DATA, needs=[120, 50])
    merged = graph_of({"flexibility-data": [SPEC_FLEXIBILITY_DATA, forecast]})
    assert len(nodes_of(merged, DSO.FlexibilityDataEntry)) == 3
    assert nonconformance(["flexibility-data"], merged) == {}


def test_spec_3_2_1_1_1_3_canonical_form_sorts_the_needs_together() -> None:
    order = list(range(4))
    data = {"zone_id": "Z", "dates": [f"2021-09-27T1{i}:00:00Z" for i in order], "needs": [4, 3, 2, 1],
            "units": ["kW", "MW", "kVAr", "kW"], "directions": ["Up", "Down", "Up", "Down"],
            "power_types": ["Active", "Active", "Reactive", "Active"],
            "eligible_clients": [["M2", "M1"], [], ["M3"], ["M1"]]}
    expected = round_trips("flexibility-data", data)
    shuffled = copy.deepcopy(data)
    random.Random(5).shuffle(order)
    for key in ("dates", "needs", "units", "directions", "power_types", "eligible_clients"):
        shuffled[key] = [data[key][i] for i in order]
    assert dso_saref.canonical("flexibility-data", shuffled) == expected
    by_date = dict(zip(expected["dates"], zip(expected["needs"], expected["eligible_clients"], strict=True),
                       strict=True))
    assert by_date["2021-09-27T10:00:00Z"] == (4.0, ["M1", "M2"])
    assert by_date["2021-09-27T11:00:00Z"] == (3.0, [])


def test_spec_3_2_1_1_1_3_arrays_are_parallel() -> None:
    assert problems("flexibility-data", with_(SPEC_FLEXIBILITY_DATA, needs=[100])) == [
        ("$.needs", "has 1 elements, dates has 2: the arrays are parallel")]
    assert locations("flexibility-data", with_(SPEC_FLEXIBILITY_DATA, eligible_clients=[["M1"]])) == [
        "$.eligible_clients"]


def test_spec_3_2_1_1_1_3_needs_are_non_negative() -> None:
    assert locations("flexibility-data", with_(SPEC_FLEXIBILITY_DATA, needs=[100, -50])) == ["$.needs[1]"]


def test_spec_3_2_1_1_1_3_unit_fits_power_type() -> None:
    assert locations("flexibility-data", with_(SPEC_FLEXIBILITY_DATA, units=["kW", "kVAr"])) == ["$.power_types"]
    reactive = with_(SPEC_FLEXIBILITY_DATA, units=["kW", "MVAr"], power_types=["Active", "Reactive"])
    assert round_trips("flexibility-data", reactive)["units"] == ["kW", "MVAr"]


@pytest.mark.parametrize(("key", "value", "location"), [
    ("units", ["kW", "kWh"], "$.units[1]"),
    ("directions", ["Down", "Sideways"], "$.directions[1]"),
    ("power_types", ["Active", "Apparent"], "$.power_types[1]"),
    ("dates", ["2021/09/27 10:00", "soon"], "$.dates[1]"),
])
def test_spec_3_2_1_1_1_3_closed_vocabularies(key: str, value: list[str], location: str) -> None:
    assert location in locations("flexibility-data", with_(SPEC_FLEXIBILITY_DATA, **{key: value}))


def test_spec_3_2_1_1_1_3_one_need_per_time_direction_and_power_type() -> None:
    same = with_(SPEC_FLEXIBILITY_DATA, dates=["2021/09/27 10:00", "2021-09-27T11:00:00+01:00"],
                 directions=["Up", "Up"])
    assert locations("flexibility-data", same) == ["$"]


def test_spec_3_2_1_1_1_3_an_eligible_meter_is_listed_once_per_need() -> None:
    assert locations("flexibility-data", with_(SPEC_FLEXIBILITY_DATA, eligible_clients=[["M1", "M1"], []])) == [
        "$.eligible_clients"]


def test_spec_3_2_1_1_1_3_empty_data_and_needs_without_meters() -> None:
    empty = {"zone_id": "Z1", "dates": [], "needs": [], "units": [], "directions": [], "power_types": [],
             "eligible_clients": []}
    assert round_trips("flexibility-data", empty) == empty
    no_meters = with_(SPEC_FLEXIBILITY_DATA, eligible_clients=[[], ["M9"]])
    assert round_trips("flexibility-data", no_meters)["eligible_clients"] == [[], ["M9"]]


_DIRECTIONS = st.sampled_from(["Up", "Down"])
_POWER = st.sampled_from([("Active", "kW"), ("Active", "MW"), ("Reactive", "kVAr"), ("Reactive", "MVAr")])
#: Identifiers: any text but NUL and lone surrogates (which no identifier may hold: they cannot be sent).
_METER = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=6).filter(
    lambda s: s.strip() != "")


@st.composite
def flexibility_data(draw: st.DrawFn) -> dict[str, Any]:
    """Valid flexibility-data payloads: parallel arrays of one length, needs unique by
    (date, direction, power type), unit fitting the power type, meters unique per need."""
    hours = draw(st.lists(st.integers(0, 23), max_size=5))
    rows = []
    seen = set()
    for hour in hours:
        direction = draw(_DIRECTIONS)
        power_type, unit = draw(_POWER)
        if (hour, direction, power_type) in seen:
            continue
        seen.add((hour, direction, power_type))
        meters = draw(st.lists(_METER, max_size=3, unique=True))
        rows.append((f"2021-09-27T{hour:02d}:00:00Z", draw(st.floats(0, 1e6)), unit, direction, power_type, meters))
    keys = ("dates", "needs", "units", "directions", "power_types", "eligible_clients")
    return {"zone_id": draw(_METER), **{k: [row[i] for row in rows] for i, k in enumerate(keys)}}


@settings(max_examples=60, deadline=None)
@given(payload=flexibility_data())
def test_spec_3_2_1_1_1_3_hypothesis_round_trip_of_parallel_arrays(payload: dict[str, Any]) -> None:
    expected = round_trips("flexibility-data", payload)
    assert dso_saref.canonical("flexibility-data", expected) == expected


# ---------------------------------------------------------------------------------------------------
# 2.1.1 PUC 2 SCN2 / 3.2.1.2 Table 4: contracted power incentives


def _measured(graph: Graph, thing: URIRef, prop: URIRef) -> tuple[Literal, URIRef]:
    """The value and unit of the one measurement of a thing's property."""
    (measurement,) = graph.subjects(SAREF.relatesToProperty, prop)
    assert (measurement, SAREF.isMeasurementOf, thing) in graph
    assert (thing, SAREF.hasProperty, prop) in graph
    return graph.value(measurement, SAREF.hasValue), graph.value(measurement, SAREF.isMeasuredIn)


def test_spec_2_1_1_puc2_scn2_incentive_offer_has_a_power_limit_and_a_price_valued_by_measurements() -> None:
    """Issue 10 item 6: the contracted power (dso:ContractedPower) and the price carried
    saref:hasValue themselves; now they are properties of the offer, each with a measurement."""
    offer = dso_saref.saref("incentive-offer", OFFER)
    (node,) = offer.subjects(RDF.type, DSO.IncentiveOffer)
    assert (node, DSO.isOfferedTo, ID["user/U123456"]) in offer
    limit = next(p for p in offer.objects(node, SAREF.hasProperty) if (p, RDF.type, DSO.PowerLimitProperty) in offer)
    assert (limit, SKOS.broader, S4GRID.PowerLimit) in offer
    assert _measured(offer, node, limit) == (Literal("4.6", datatype=XSD.decimal), OM.kilowatt)
    price = offer.value(node, SAREF.hasPrice)
    assert (price, RDF.type, SAREF.Price) in offer
    assert _measured(offer, node, price) == (Literal("0.02", datatype=XSD.decimal), DSO.euroPerKilowattHour)
    assert values_off_measurements(offer) == []


def test_spec_2_1_1_puc2_scn2_a_response_is_a_record_that_names_the_offer_by_id() -> None:
    answer = dso_saref.saref("incentive-response", {"offer_id": "IO-1", "end_user": "U123456", "accepted": True})
    (response,) = answer.subjects(RDF.type, DSO.IncentiveResponse)
    assert (response, DSO.hasOfferIdentifier, Literal("IO-1", datatype=XSD.string)) in answer
    assert (response, DSO.hasIncentiveDecision, DSO.IncentiveAccepted) in answer
    assert (response, DPV.isIndicatedBy, ID["user/U123456"]) in answer
    assert not nodes_of(answer, DSO.IncentiveOffer), "the answer refers to the offer, it does not describe it"


def test_spec_2_1_1_puc2_scn2_an_accepted_and_a_rejected_answer_are_two_records() -> None:
    """Issue 10 items 4 and 7: the decision sat on the offer (a functional property), so two answers
    made OWL-RL merge IncentiveAccepted and IncentiveRejected."""
    yes = {"offer_id": "IO-1", "end_user": "U123456", "accepted": True}
    merged = graph_of({"incentive-offer": [OFFER, with_(OFFER, incentive=0.03)],
                       "incentive-response": [yes, {**yes, "accepted": False}]})
    assert len(nodes_of(merged, DSO.IncentiveResponse)) == 2
    assert len(nodes_of(merged, DSO.IncentiveOffer)) == 2
    assert nonconformance(["incentive-offer", "incentive-response"], merged) == {}


@pytest.mark.parametrize(("label", "canonical", "iri"), [
    ("EUR/kWh", "EUR/kWh", DSO.euroPerKilowattHour), ("€/kWh", "EUR/kWh", DSO.euroPerKilowattHour),
    ("EUR", "EUR", OM.euro), ("€", "EUR", OM.euro)])
def test_spec_2_1_1_puc2_scn2_incentive_in_eur_per_kwh_or_eur(label: str, canonical: str, iri: URIRef) -> None:
    payload = with_(OFFER, incentive_unit=label)
    assert round_trips("incentive-offer", payload)["incentive_unit"] == canonical
    graph = dso_saref.saref("incentive-offer", payload)
    (price,) = graph.objects(None, SAREF.hasPrice)
    assert (next(graph.subjects(SAREF.relatesToProperty, price)), SAREF.isMeasuredIn, iri) in graph


def test_spec_2_1_1_puc2_scn2_incentive_may_be_negative_contracted_power_may_not() -> None:
    assert round_trips("incentive-offer", with_(OFFER, incentive=-0.01))["incentive"] == -0.01
    assert locations("incentive-offer", with_(OFFER, contracted_power=-1)) == ["$.contracted_power"]


@pytest.mark.parametrize(("change", "location"), [
    ({"incentive_unit": "USD"}, "$.incentive_unit"),
    ({"contracted_power_unit": "kVAr"}, "$.contracted_power_unit"),
    ({"incentive": "NaN"}, "$.incentive"),
    ({"offer_id": ""}, "$.offer_id"),
    ({"end": "2021-10-01T00:00:00Z"}, "$"),
])
def test_spec_2_1_1_puc2_scn2_offer_rules(change: dict[str, Any], location: str) -> None:
    assert locations("incentive-offer", with_(OFFER, **change)) == [location]


def test_spec_2_1_1_puc2_scn2_response_is_accepted_or_rejected() -> None:
    for accepted, iri in ((True, DSO.IncentiveAccepted), (False, DSO.IncentiveRejected)):
        payload = {"offer_id": 42, "end_user": "U1", "accepted": accepted}
        assert round_trips("incentive-response", payload) == {**payload, "offer_id": "42"}
        assert (None, DSO.hasIncentiveDecision, iri) in dso_saref.saref("incentive-response", payload)
    assert locations("incentive-response", {"offer_id": "1", "end_user": "U1", "accepted": "yes"}) == [
        "$.accepted"]


# ---------------------------------------------------------------------------------------------------
# hostile identifiers and texts, bindings from other parties


def hostile_payload(name: str, text: str) -> Any:
    """The message's example with every identifier (and free text) replaced by ``text`` variants."""
    example = dso_saref.catalog[name].example()
    if name == "metering-data":
        return [{**series, "id": text + series["id"]} for series in example]
    if name == "flexibility-data":
        return {**example, "zone_id": text, "eligible_clients": [[text + m for m in ms] for ms in
                                                                  example["eligible_clients"]]}
    out = dict(example)
    for key in ("end_user", "service_provider", "authorization_token", "id", "zone_id", "offer_id"):
        if key in out:
            out[key] = text + str(out[key])
    if name == "authorization-response":
        out = {**out, "granted": False, "reason": text}
        out.pop("authorization_token")
    return out


@pytest.mark.parametrize("name", DATA_SHARING)
@pytest.mark.parametrize("text", HOSTILE)
def test_spec_3_5_hostile_identifiers_make_no_extra_triples(name: str, text: str) -> None:
    payload = hostile_payload(name, text)
    plain = hostile_payload(name, "plain")
    graph = dso_saref.saref(name, payload)
    assert len(graph) == len(dso_saref.saref(name, plain))
    expected = round_trips(name, payload)
    for fmt in ("turtle", "nt"):
        again = Graph().parse(data=graph.serialize(format=fmt), format=fmt)
        assert len(again) == len(graph)
        assert dso_saref.unsaref(name, again) == expected


def test_spec_3_4_ke_bindings_plain_and_typed_strings_and_offsets_are_accepted() -> None:
    """Bindings written by another party, under its own base: typed strings, offsets, 890 for 890.0."""
    xsd = str(XSD)
    peer = "https://sp.example.net/kb/"
    bindings = {
        "metering-data": [{"subject": f"<{peer}s/U1>", "id": '"U1"^^<' + xsd + 'string>',
                           "property": f"<{peer}s/U1/p>"}],
        "metering-data.readings": [{
            "subject": f"<{peer}s/U1>", "id": '"U1"^^<' + xsd + 'string>', "property": f"<{peer}s/U1/p>",
            "reading": f"<{peer}r/1>", "measured_at": f'"2021-09-27T12:00:00+02:00"^^<{xsd}dateTime>',
            "measurement": f'"890"^^<{xsd}decimal>', "measurement_unit": f"<{OM.kilowatt}>"}],
    }
    assert dso_saref.from_bindings("metering-data", bindings) == [
        {"id": "U1", "readings": [{"time": "2021-09-27T10:00:00Z", "measurement": 890.0, "unit": "kW"}]}]
    response = {"offer_id": "1", "end_user": "U", "accepted": True}
    typed = {key: [{k: (f'{v}^^<{xsd}string>' if v.startswith('"') and "^^" not in v else v) for k, v in row.items()}
                   for row in rows] for key, rows in dso_saref.to_bindings("incentive-response", response).items()}
    assert any("^^" in v for rows in typed.values() for row in rows for v in row.values())
    assert dso_saref.from_bindings("incentive-response", typed) == response


def test_spec_3_4_ke_bindings_with_a_peers_token_iri_are_read_as_they_are() -> None:
    """A peer mints under its own base (docs/modelling.md rule 3): its token IRI is its business; a
    literal where an IRI belongs is still refused, naming the binding."""
    bindings = dso_saref.to_bindings("authorization-response", RESPONSE)
    bindings["authorization-response.token"][0]["token"] = "<https://elsewhere.example/token/x>"
    assert dso_saref.from_bindings("authorization-response", bindings) == dso_saref.canonical(
        "authorization-response", RESPONSE)
    bindings["authorization-response.token"][0]["token"] = '"x"'
    with pytest.raises(PayloadError) as info:
        dso_saref.from_bindings("authorization-response", bindings)
    assert info.value.problems[0].location == "bindings[0].token"


def test_spec_3_4_messages_read_back_from_a_graph_holding_other_messages() -> None:
    metering = [{"id": "A", "readings": []}, {"id": "B", "readings": [
        {"time": "2021-09-27T10:00:00Z", "measurement": 1, "unit": "kW"}]}]
    flexibility = with_(SPEC_FLEXIBILITY_DATA, eligible_clients=[[], ["M9"]])
    graph = Graph()
    for name, payload in (("metering-data", metering), ("flexibility-data", flexibility),
                          ("authorization-request", SPEC_AUTHORIZATION), ("incentive-offer", OFFER),
                          ("metering-request", SPEC_METERING_REQUEST)):
        graph += dso_saref.saref(name, payload)
    assert dso_saref.unsaref("metering-data", graph) == dso_saref.canonical("metering-data", metering)
    assert dso_saref.unsaref("flexibility-data", graph) == dso_saref.canonical("flexibility-data", flexibility)
    assert dso_saref.unsaref("authorization-request", graph) == dso_saref.canonical(
        "authorization-request", SPEC_AUTHORIZATION)


# ---------------------------------------------------------------------------------------------------
# every triple true (issue 10): what a peer reads, merges of valid payloads, KE exchanges

EXCHANGES = [("authorization-request", "authorization-response"), ("metering-request", "metering-data"),
             ("flexibility-data-request", "flexibility-data"), ("incentive-offer", "incentive-response")]
#: Generated payloads are filtered by the model's cross-field rules (granted and token, parallel arrays).
SLOW_GENERATION = [HealthCheck.filter_too_much, HealthCheck.too_slow]
#: The node a message says something with (one per payload): minted from everything it says.
RECORDS = {"authorization-request": DSO.ConsentStatusRecord, "authorization-response": DSO.ConsentStatusRecord,
           "metering-request": DSO.MeteringDataRequest, "flexibility-data-request": DSO.FlexibilityDataRequest,
           "incentive-offer": DSO.IncentiveOffer, "incentive-response": DSO.IncentiveResponse}


@pytest.mark.parametrize(("request_name", "answer"), EXCHANGES)
def test_an_answer_agrees_with_its_request_on_every_variable_they_share(request_name: str, answer: str) -> None:
    """The real KE requires a reactor's result to agree with the argument on shared variable names:
    the variables a request and its answer share are the same thing (the consent, the zone, the
    user), bound to the same value when the answer echoes the request."""
    shared = dso_saref.catalog[request_name].pattern.variables & dso_saref.catalog[answer].pattern.variables
    asked = dso_saref.to_bindings(request_name, example(request_name))[request_name][0]
    answered = dso_saref.to_bindings(answer, example(answer))[answer][0]
    assert {v: asked[v] for v in shared if v in answered} == {v: answered[v] for v in shared if v in answered}


@pytest.mark.parametrize("name", DATA_SHARING)
@settings(max_examples=25, deadline=None, suppress_health_check=SLOW_GENERATION)
@given(data=st.data())
def test_a_peer_reading_the_binding_sets_naively_gets_true_saref(name: str, data: st.DataObject) -> None:
    """Issue 10 items 1, 3 and 6: no placeholder, no S4GRID individual used as a class, values only
    on measurements of one property; the naive reading is the message's graph."""
    strategy = flexibility_data() if name == "flexibility-data" else payload_strategy(dso_saref.catalog[name].model)
    assert untrue_readings(name, data.draw(strategy)) == []


@pytest.mark.parametrize("name", DATA_SHARING)
def test_no_class_is_used_as_a_value(name: str) -> None:
    """Issue 10 item 9: dpv:PersonalData (a class) was the value of dpv:hasData."""
    assert classes_as_values(dso_saref.saref(name, example(name))) == []
    if name == "metering-request":
        anonymised = with_(SPEC_METERING_REQUEST, data_type="Anonymized", authorization_token=None)
        assert classes_as_values(dso_saref.saref(name, anonymised)) == []


@pytest.mark.parametrize("name", sorted(RECORDS))
@settings(max_examples=25, deadline=None, suppress_health_check=SLOW_GENERATION)
@given(data=st.data())
def test_two_messages_that_differ_never_share_their_node(name: str, data: st.DataObject) -> None:
    """Issue 10 item 4: a message-level node is minted from everything that tells it apart, so two
    valid payloads that say different things never share it, and their merge conforms."""
    strategy = payload_strategy(dso_saref.catalog[name].model)
    one, other = data.draw(strategy), data.draw(strategy)
    merged = graph_of({name: [one, other]})
    assert nonconformance([name], merged) == {}
    if dso_saref.canonical(name, one) != dso_saref.canonical(name, other):
        assert nodes_of(naive(name, one), RECORDS[name]).isdisjoint(nodes_of(naive(name, other), RECORDS[name]))


def test_data_sharing_examples_and_generated_payloads_merged_conform_and_are_consistent() -> None:
    """Every data sharing message's example and generated payloads (which often share identifiers
    and windows) in one graph: every shape holds, and the OWL-RL closure with the official ontologies
    finds no inconsistency and no owl:sameAs between two data nodes (skipped without ../shared)."""
    merged = graph_of({name: [example(name), *samples(name)] for name in DATA_SHARING})
    assert nonconformance(DATA_SHARING, merged) == {}
    assert merge_inconsistencies() == []  # the closure of every message's payloads, these among them
