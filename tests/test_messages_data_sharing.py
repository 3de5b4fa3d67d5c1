"""HLUC 5 data sharing messages (D4.2 2.1.1, 3.2.1): authorization, metering data, flexibility data,
contracted power incentives. Tests are named after the specification section they check."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib import RDF, Graph, Literal, Namespace, URIRef

import dso_saref
from dso_saref import PayloadError
from dso_saref.terms import DEFAULT_BASE, DPV, DSO, OM, S4GRID, SAREF, TIME, XSD
from tests.payload_checks import locations, problems, round_trips

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


def test_spec_3_2_1_1_1_1_authorization_request_is_a_requested_dpv_consent() -> None:
    graph = dso_saref.saref("authorization-request", with_(SPEC_AUTHORIZATION, service_provider="SP001"))
    consent = next(graph.subjects(RDF.type, DPV.Consent))
    assert (consent, DPV.hasConsentStatus, DPV.ConsentRequested) in graph
    assert (consent, DPV.hasDataSubject, ID["user/U123456"]) in graph
    assert (ID["user/U123456"], RDF.type, DSO.EndUser) in graph
    assert (consent, DPV.hasRecipient, ID["service-provider/SP001"]) in graph
    assert (ID["service-provider/SP001"], RDF.type, DPV.ServiceProvider) in graph


def test_spec_3_2_1_1_1_1_service_provider_is_optional() -> None:
    graph = dso_saref.saref("authorization-request", SPEC_AUTHORIZATION)
    assert not list(graph.triples((None, DPV.hasRecipient, None)))


def test_spec_3_2_1_1_1_1_request_and_response_name_the_same_consent() -> None:
    asked = dso_saref.saref("authorization-request", with_(RESPONSE, granted=None, authorization_token=None))
    answered = dso_saref.saref("authorization-response", RESPONSE)
    assert set(asked.subjects(RDF.type, DPV.Consent)) == set(answered.subjects(RDF.type, DPV.Consent))


def test_spec_3_2_1_1_1_1_granted_gives_consent_and_token() -> None:
    graph = dso_saref.saref("authorization-response", RESPONSE)
    consent = next(graph.subjects(RDF.type, DPV.Consent))
    assert (consent, DPV.hasConsentStatus, DPV.ConsentGiven) in graph
    token = ID[f"token/{TOKEN}"]
    assert (consent, DSO.hasAuthorizationToken, token) in graph
    assert (token, DSO.hasIdentifier, Literal(TOKEN, datatype=XSD.string)) in graph


def test_spec_3_2_1_1_1_1_refusal_has_no_token_and_may_give_a_reason() -> None:
    refused = with_(RESPONSE, granted=False, authorization_token=None, reason="the end user refused")
    graph = dso_saref.saref("authorization-response", refused)
    assert (None, DPV.hasConsentStatus, DPV.ConsentRefused) in graph
    assert not list(graph.triples((None, DSO.hasAuthorizationToken, None)))
    assert round_trips("authorization-response", refused)["reason"] == "the end user refused"


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
    subject = ID["metering-subject/Z123456"]
    assert (subject, RDF.type, DSO.GridZone) in graph
    assert (None, DPV.hasData, DPV.AnonymisedData) in graph
    assert not list(graph.triples((None, DSO.hasAuthorizationToken, None)))


def test_spec_3_2_1_1_1_2_user_data_is_personal_data_of_an_end_user_with_token() -> None:
    graph = dso_saref.saref("metering-request", SPEC_METERING_REQUEST)
    request = next(graph.subjects(RDF.type, DSO.MeteringDataRequest))
    assert (request, DPV.hasData, DPV.PersonalData) in graph
    assert (request, SAREF.isAbout, ID["metering-subject/U123456"]) in graph
    assert (ID["metering-subject/U123456"], RDF.type, DSO.EndUser) in graph
    assert (request, DSO.hasAuthorizationToken, ID[f"token/{TOKEN}"]) in graph
    assert (request, DSO.hasGranularity, DSO.QuarterHourly) in graph


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
    assert (prop, RDF.type, S4GRID.ActivePower) in graph
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
    assert dso_saref.to_bindings("metering-data", []) == []
    assert dso_saref.unsaref("metering-data", Graph()) == []


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


def test_spec_3_2_1_1_1_3_needs_use_the_flexibility_modules_terms_and_iris() -> None:
    graph = dso_saref.saref("flexibility-data", SPEC_FLEXIBILITY_DATA)
    needs = set(graph.subjects(RDF.type, DSO.FlexibilityNeed))
    assert len(needs) == 2
    for need in needs:
        assert (need, DSO.isNeedOf, ID["zone/Z123456"]) in graph
        assert (need, DSO.hasPowerType, DSO.ActivePower) in graph
        assert (need, DSO.hasEligibleMeter, ID["meter/ID%20Meter1"]) in graph
        assert graph.value(need, DSO.hasDirection) in (DSO.Upward, DSO.Downward)
    assert (ID["zone/Z123456"], RDF.type, DSO.GridZone) in graph
    assert (ID["meter/ID%20Meter1"], RDF.type, S4GRID.Meter) in graph


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
_METER = st.text(min_size=1, max_size=6).filter(lambda s: s.strip() != "")


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


def test_spec_2_1_1_puc2_scn2_incentive_offer_and_response_name_the_same_offer() -> None:
    offer = dso_saref.saref("incentive-offer", OFFER)
    answer = dso_saref.saref("incentive-response", {"offer_id": "IO-1", "end_user": "U123456", "accepted": True})
    assert set(offer.subjects(RDF.type, DSO.IncentiveOffer)) == set(answer.subjects(RDF.type, DSO.IncentiveOffer))
    assert (ID["incentive-offer/IO-1"], DSO.hasIncentiveDecision, DSO.IncentiveAccepted) in answer
    assert (ID["incentive-offer/IO-1"], DSO.isOfferedTo, ID["user/U123456"]) in offer
    price = offer.value(ID["incentive-offer/IO-1"], SAREF.hasPrice)
    assert (price, RDF.type, SAREF.Price) in offer
    assert (price, SAREF.isMeasuredIn, DSO.euroPerKilowattHour) in offer


@pytest.mark.parametrize(("label", "canonical", "iri"), [
    ("EUR/kWh", "EUR/kWh", DSO.euroPerKilowattHour), ("€/kWh", "EUR/kWh", DSO.euroPerKilowattHour),
    ("EUR", "EUR", OM.euro), ("€", "EUR", OM.euro)])
def test_spec_2_1_1_puc2_scn2_incentive_in_eur_per_kwh_or_eur(label: str, canonical: str, iri: URIRef) -> None:
    payload = with_(OFFER, incentive_unit=label)
    assert round_trips("incentive-offer", payload)["incentive_unit"] == canonical
    assert (None, SAREF.isMeasuredIn, iri) in dso_saref.saref("incentive-offer", payload)


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
    xsd = str(XSD)
    bindings = [{
        "subject": f"<{ID['metering-subject/U1']}>", "id": '"U1"^^<' + xsd + 'string>',
        "property": f"<{ID['metering-subject/U1/active-power']}>",
        "reading": f"<{ID['metering-subject/U1/active-power/2021-09-27T10%3A00%3A00Z']}>",
        "measured_at": f'"2021-09-27T12:00:00+02:00"^^<{xsd}dateTime>',
        "measurement": f'"890"^^<{xsd}decimal>', "measurement_unit": f"<{OM.kilowatt}>",
    }]
    assert dso_saref.from_bindings("metering-data", bindings) == [
        {"id": "U1", "readings": [{"time": "2021-09-27T10:00:00Z", "measurement": 890.0, "unit": "kW"}]}]
    response = {"offer_id": "1", "end_user": "U", "accepted": True}
    typed = [{k: (f'{v}^^<{xsd}string>' if v.startswith('"') and "^^" not in v else v) for k, v in row.items()}
             for row in dso_saref.to_bindings("incentive-response", response)]
    assert any("^^" in v for row in typed for v in row.values())
    assert dso_saref.from_bindings("incentive-response", typed) == response


def test_spec_3_4_ke_bindings_with_a_foreign_token_iri_are_refused() -> None:
    rows = dso_saref.to_bindings("authorization-response", RESPONSE)
    rows[0]["token"] = "<https://elsewhere.example/token/x>"
    with pytest.raises(PayloadError) as info:
        dso_saref.from_bindings("authorization-response", rows)
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
