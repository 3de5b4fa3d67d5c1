"""HLUC 11 PUC 2 messages (D4.2 3.2.3.3 "OTHER REQUESTS"): the elasticity service's input and output,
and the engine's key steps and alternatives that read the output's wide JSON. Tests are named after
the specification section they check, or after the item of issue 10 whose fix they prove (the user is
the end user user/{id}; the optional signals are parts of their own; estimates are minted from all
they say; merged graphs conform to the shapes and their OWL-RL closure is consistent)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import SKOS, XSD

import dso_saref
from dso_saref import DescriptionError, PayloadError
from dso_saref.mapping import Rows, Variable, parse_path
from dso_saref.messages.elasticity import INTERVENTIONS, ElasticityOutput, flexibility_key
from dso_saref.patterns import Var
from dso_saref.shaping import disagreements
from dso_saref.terms import DEFAULT_BASE, DSO, NONE, OM, S4GRID, SAREF, Settings, parse_datetime
from tests.conftest import ROOT
from tests.payload_checks import locations, problems, round_trips
from tests.strategies import payload_strategy
from tests.support import rows_of
from tests.support.merges import Merging, drawn, naive_graph, own_term_problems

ID = Namespace(DEFAULT_BASE)
S4ENER = Namespace("https://saref.etsi.org/saref4ener/")
NAMES = ["elasticity-input", "elasticity-output"]
HOSTILE = ["a b", "x>y", 'q"uote', "new\nline", "tab\there", "ünï©ødé", "😀/../?#", "back\\slash", "<ID644>"]

# The specification's Input Dataset (3.2.3.3) with the obvious fixes (docs/messages/elasticity.md):
# the "(string)"/"(float)" annotations and the "..." elisions removed, the trailing comma after
# occupancy_rate removed, and the key "signal_incentive_unit", printed four times, renamed to one unit
# key per signal.
SPEC_INPUT_TEXT = """
{
  "user_profile" : [
    {
      "userID": "ID644",
      "timestamp": "2021-04-12T15:11:20Z",
      "customer_consumption": 0.2,
      "customer_consumption_unit": "kW",
      "signal_incentive_Class:Cost": 0.11,
      "signal_incentive_Class:Cost_unit": "€/kWh",
      "signal_incentive_Class:CO2_Emissions": 0.11,
      "signal_incentive_Class:CO2_Emissions_unit": "gCO2/kWh",
      "signal_incentive_Class:Renew_Energy_Percentage": 0.11,
      "signal_incentive_Class:Renew_Energy_Percentage_unit": "%/kWh",
      "signal_incentive_Class:maximum_power": 0.11,
      "signal_incentive_Class:maximum_power_unit": "kWh",
      "external_temperature": 19,
      "external_temperature_unit": "degreesCelcius",
      "indoor_temperature_sensor": 24,
      "indoor_temperature_sensor_unit": "degreesCelcius",
      "occupancy_rate": 4.3
    }
  ]
}
"""


def _flexibility_values(series: list[str], values: tuple[float, float, float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in series:
        for stat, value in zip(("Power", "lower", "upper"), values, strict=True):
            out[flexibility_key(stat, s)] = value
            out[f"{flexibility_key(stat, s)}_unit"] = "kW"
    return out


# The specification's Output of the Service (3.2.3.3), fixed: annotations and "..." removed, the
# stray "}," after the flexibility_response array and the trailing comma after
# "rank_Flex_i24_Price_scale" removed, and the "} ... {" inside flexibility_response and Ranking (whose
# second fragment has no hour of its own) read as an elision inside the one printed element, so its
# i24 keys belong to hour 7. The spec's own values: y_lower_i1 (2.4) is above y_Power_i1 (2.1).
SPEC_OUTPUT = {
    "userID": "ID644",
    "flexibility_response": [{
        "flexibility_hour": 7, "flexibility_hour_unit": "h",
        "y_PowerD": 2.1, "y_PowerD_unit": "kW", "y_lowerD": 1.5, "y_lowerD_unit": "kW",
        "y_upperD": 2.4, "y_upperD_unit": "kW",
        "y_Power_i1": 2.1, "y_Power_i1_unit": "kW", "y_lower_i1": 2.4, "y_lower_i1_unit": "kW",
        "y_upper_i1": 2.4, "y_upper_i1_unit": "kW",
        "y_Power_i2": 2.1, "y_Power_i2_unit": "kW", "y_lower_i2": 1.5, "y_lower_i2_unit": "kW",
        "y_upper_i2": 2.4, "y_upper_i2_unit": "kW",
        "y_Power_i24": 2.1, "y_Power_i24_unit": "kW", "y_lower_i24": 1.5, "y_lower_i24_unit": "kW",
        "y_upper_i24": 2.4, "y_upper_i24_unit": "kW",
    }],
    "Ranking": [{
        "Ranking_hour": 7, "Ranking_hour_unit": "h",
        "rank_Flex_i1_Price": 85, "rank_Flex_i1_Price_scale": "%",
        "rank_Flex_i2_Price": 85, "rank_Flex_i2_Price_scale": "%",
        "rank_Flex_i24_Price": 85, "rank_Flex_i24_Price_scale": "%",
    }],
    "Reliability_i1_hours": [{"Intervention_hour": 7, "Intervention_hour_unit": "h",
                              "i1_Signal_Power_reliability": 12, "i1_Signal_Power_reliability_scale": "%"}],
    "Reliability_i2_hours": [{"Intervention_hour": 7, "Intervention_hour_unit": "h",
                              "i2_Signal_Power_reliability": 23, "i2_Signal_Power_reliability_scale": "%"}],
    "Reliability_i24_hours": [{"Intervention_hour": 7, "Intervention_hour_unit": "h",
                               "i24_Signal_Power_reliability": 17, "i24_Signal_Power_reliability_scale": "%"}],
}


def spec_input() -> dict[str, Any]:
    return json.loads(SPEC_INPUT_TEXT)


def spec_output() -> dict[str, Any]:
    return copy.deepcopy(SPEC_OUTPUT)


def reading(**changes: Any) -> dict[str, Any]:
    return {**spec_input()["user_profile"][0], **changes}


# ---------------------------------------------------------------------------------------------
# catalog


def test_hluc11_puc2_catalog_has_both_messages_with_models_patterns_examples_docs() -> None:
    docs = (ROOT / "docs" / "messages" / "elasticity.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert dso_saref.catalog[name].model.name == name
        assert (ROOT / "examples" / f"{name}.json").is_file()
        assert f"`{name}`" in docs
        round_trips(name, dso_saref.catalog[name].example())


def test_spec_3_2_3_3_input_is_post_react_answered_with_the_output() -> None:
    interaction = dso_saref.catalog["elasticity-input"].interaction
    assert interaction is not None
    assert (interaction.type, interaction.result) == ("post-react", "elasticity-output")
    assert interaction.initiators == ("dso",)
    assert interaction.responders == ("service-provider",)
    assert dso_saref.catalog["elasticity-output"].interaction is None


# ---------------------------------------------------------------------------------------------
# input: the model


def test_spec_3_2_3_3_input_json_is_accepted_as_printed_after_the_documented_fixes() -> None:
    canonical = round_trips("elasticity-input", spec_input())
    assert canonical == spec_input()


def test_spec_3_2_3_3_input_repeated_signal_incentive_unit_key_is_refused() -> None:
    # json.loads keeps the last of the repeated keys: the printed key itself is not a key of the message
    payload = {"user_profile": [reading(signal_incentive_unit="kWh")]}
    assert locations("elasticity-input", payload) == ["$.user_profile[0].signal_incentive_unit"]


def test_spec_3_2_3_3_input_units_default_as_printed_and_are_kept_only_beside_values() -> None:
    payload = {"user_profile": [{"userID": "ID644", "timestamp": "2021-04-12T15:11:20Z",
                                 "customer_consumption": 0.2, "signal_incentive_Class:Cost": 0.11,
                                 "signal_incentive_Class:maximum_power": 0.5, "external_temperature": 19,
                                 "signal_incentive_Class:CO2_Emissions_unit": "gCO2/kWh"}]}
    (entry,) = round_trips("elasticity-input", payload)["user_profile"]
    assert entry["customer_consumption_unit"] == "kW"
    assert entry["signal_incentive_Class:Cost_unit"] == "€/kWh"
    assert entry["signal_incentive_Class:maximum_power_unit"] == "kWh"
    assert entry["external_temperature_unit"] == "degreesCelcius"
    assert "signal_incentive_Class:CO2_Emissions_unit" not in entry


def test_spec_3_2_3_3_input_general_rules_numeric_strings_integer_ids_spec_timestamps() -> None:
    payload = {"user_profile": [reading(userID=644, timestamp="2021/04/12 15:11", customer_consumption="0.2",
                                        external_temperature="19", external_temperature_unit="°C")]}
    (entry,) = round_trips("elasticity-input", payload)["user_profile"]
    assert entry["userID"] == "644"
    assert entry["timestamp"] == "2021-04-12T15:11:00Z"
    assert entry["customer_consumption"] == 0.2
    assert entry["external_temperature_unit"] == "degreesCelcius"


@pytest.mark.parametrize(("key", "value", "location"), [
    ("customer_consumption", float("nan"), "$.user_profile[0].customer_consumption"),
    ("customer_consumption", "lots", "$.user_profile[0].customer_consumption"),
    ("signal_incentive_Class:CO2_Emissions", -1, "$.user_profile[0]['signal_incentive_Class:CO2_Emissions']"),
    ("signal_incentive_Class:Renew_Energy_Percentage", -0.5,
     "$.user_profile[0]['signal_incentive_Class:Renew_Energy_Percentage']"),
    ("signal_incentive_Class:maximum_power", -2, "$.user_profile[0]['signal_incentive_Class:maximum_power']"),
    ("occupancy_rate", -1, "$.user_profile[0].occupancy_rate"),
    ("signal_incentive_Class:Cost_unit", "€/MWh", "$.user_profile[0]['signal_incentive_Class:Cost_unit']"),
    ("customer_consumption_unit", "kWh", "$.user_profile[0].customer_consumption_unit"),
    ("external_temperature_unit", "kelvin", "$.user_profile[0].external_temperature_unit"),
    ("timestamp", "12/04/2021", "$.user_profile[0].timestamp"),
    ("userID", "  ", "$.user_profile[0].userID"),
])
def test_spec_3_2_3_3_input_refuses_bad_values_at_their_json_path(key: str, value: Any, location: str) -> None:
    assert locations("elasticity-input", {"user_profile": [reading(**{key: value})]}) == [location]


def test_spec_3_2_3_3_input_cost_signal_and_consumption_may_be_negative() -> None:
    payload = {"user_profile": [reading(**{"signal_incentive_Class:Cost": -0.05, "customer_consumption": -1.2})]}
    (entry,) = round_trips("elasticity-input", payload)["user_profile"]
    assert entry["signal_incentive_Class:Cost"] == -0.05
    assert entry["customer_consumption"] == -1.2


def test_spec_3_2_3_3_input_keys_are_exact_python_field_names_are_unknown_keys() -> None:
    entry = reading()
    entry["cost"] = entry.pop("signal_incentive_Class:Cost")
    assert locations("elasticity-input", {"user_profile": [entry]}) == ["$.user_profile[0].cost"]
    assert locations("elasticity-input", {"user_profile": [reading(Occupancy_rate=3)]}) == [
        "$.user_profile[0].Occupancy_rate"]


def test_spec_3_2_3_3_input_needs_readings_one_per_user_and_time() -> None:
    assert locations("elasticity-input", {"user_profile": []}) == ["$.user_profile"]
    assert locations("elasticity-input", {"user_profile": [reading(customer_consumption=None)]}) == [
        "$.user_profile[0].customer_consumption"]
    twice = {"user_profile": [reading(), reading(timestamp="2021-04-12T16:11:20+01:00")]}
    ((where, message),) = problems("elasticity-input", twice)
    assert where == "$" and "more than once" in message
    other_user = {"user_profile": [reading(), reading(userID="ID645")]}
    assert len(round_trips("elasticity-input", other_user)["user_profile"]) == 2


# ---------------------------------------------------------------------------------------------
# input: the triples


def test_spec_3_2_3_3_input_each_number_is_a_saref_measurement_of_the_end_user() -> None:
    graph = dso_saref.saref("elasticity-input", spec_input())
    user = ID["user/ID644"]
    assert (user, DSO.hasIdentifier, Literal("ID644", datatype=XSD.string)) in graph
    assert graph.value(user, RDF.type) is None, "referred to by its IRI: the data-sharing messages type it"
    expected = {
        "consumption": (DSO.ActivePowerProperty, OM.kilowatt, "0.2"),
        "cost-signal": (DSO.CostSignal, DSO.euroPerKilowattHour, "0.11"),
        "co2-emissions-signal": (DSO.CO2EmissionsSignal, OM.gramOfCarbonDioxideEquivalentPerKilowattHour, "0.11"),
        "renewable-share-signal": (DSO.RenewableEnergyShareSignal, DSO.percentPerKilowattHour, "0.11"),
        "maximum-power-signal": (DSO.MaximumPowerSignal, OM.kilowattHour, "0.11"),
        "outdoor-temperature": (DSO.OutdoorTemperature, OM.degreeCelsius, "19.0"),
        "indoor-temperature": (DSO.IndoorTemperature, OM.degreeCelsius, "24.0"),
        "occupancy": (SAREF.Occupancy, OM.one, "4.3"),
    }
    for slug, (kind, unit, value) in expected.items():
        prop = ID[f"user/ID644/{slug}"]
        (measurement,) = graph.subjects(SAREF.relatesToProperty, prop)  # the one reading's
        assert str(measurement).startswith(ID[f"user/ID644/{slug}/2021-04-12T15%3A11%3A20Z/"])
        assert (prop, RDF.type, kind) in graph, slug
        assert (user, SAREF.hasProperty, prop) in graph
        assert (measurement, RDF.type, SAREF.Measurement) in graph
        assert (measurement, SAREF.isMeasurementOf, user) in graph
        assert (measurement, SAREF.relatesToProperty, prop) in graph
        assert (measurement, SAREF.isMeasuredIn, unit) in graph
        (stamp,) = graph.objects(measurement, SAREF.hasTimestamp)
        assert (str(stamp), stamp.datatype) == ("2021-04-12T15:11:20Z", XSD.dateTime)
        (number,) = graph.objects(measurement, SAREF.hasValue)
        assert number.datatype == XSD.decimal and float(number) == float(value)
    assert (ID["user/ID644/consumption"], SKOS.broader, S4GRID.ActivePower) in graph
    assert (user, SAREF.hasPrice, ID["user/ID644/cost-signal"]) in graph, "the cost signal is the user's price"
    assert not [s for s, o in graph.subject_objects(RDF.type) if str(o).startswith(str(S4GRID))]


def test_spec_3_2_3_3_input_absent_signal_makes_no_measurement_node() -> None:
    graph = dso_saref.saref("elasticity-input", {"user_profile": [reading(**{
        "signal_incentive_Class:CO2_Emissions": None, "occupancy_rate": None})]})
    assert not list(graph.triples((None, SAREF.relatesToProperty, ID["user/ID644/co2-emissions-signal"])))
    assert not list(graph.triples((ID["user/ID644/occupancy"], None, None)))
    assert not list(graph.triples((None, None, OM.one)))


def test_spec_3_2_3_3_input_readings_with_different_signals_do_not_borrow_each_others_measurements() -> None:
    # the second reading has a CO2 signal, the first none: unsaref's OPTIONAL blocks keep them apart
    first = reading(**{"signal_incentive_Class:CO2_Emissions": None})
    second = reading(timestamp="2021-04-12T16:11:20Z", **{"signal_incentive_Class:CO2_Emissions": 200})
    for readings in ([first, second], [second, first]):
        canonical = round_trips("elasticity-input", {"user_profile": readings})
        by_time = {r["timestamp"]: r for r in canonical["user_profile"]}
        assert "signal_incentive_Class:CO2_Emissions" not in by_time["2021-04-12T15:11:20Z"]
        assert by_time["2021-04-12T16:11:20Z"]["signal_incentive_Class:CO2_Emissions"] == 200


@pytest.mark.parametrize("user", HOSTILE)
def test_spec_3_2_3_3_hostile_user_ids_make_no_extra_triples_and_valid_rdf(user: str) -> None:
    for name, payload in (("elasticity-input", {"user_profile": [reading(userID=user)]}),
                          ("elasticity-output", {**spec_output(), "userID": user})):
        graph = dso_saref.saref(name, payload)
        plain = dso_saref.saref(name, {"user_profile": [reading()]} if name == "elasticity-input" else spec_output())
        assert len(graph) == len(plain)
        for fmt in ("turtle", "nt"):
            again = Graph().parse(data=graph.serialize(format=fmt), format=fmt)
            assert len(again) == len(graph)
            assert dso_saref.unsaref(name, again) == dso_saref.canonical(name, payload)
        assert (None, DSO.hasIdentifier, Literal(user, datatype=XSD.string)) in graph
        round_trips(name, payload)


@pytest.mark.parametrize("user", [".", ".."])
def test_issue_10_12_dot_user_ids_mint_no_dot_segment(user: str) -> None:
    # RFC 3986 remove_dot_segments would turn user/../consumption into consumption: another node
    for name, payload in (("elasticity-input", {"user_profile": [reading(userID=user)]}),
                          ("elasticity-output", {**spec_output(), "userID": user})):
        graph = dso_saref.saref(name, payload)
        segments = {part for node in graph.all_nodes() if isinstance(node, URIRef) and str(node).startswith(str(ID))
                    for part in str(node)[len(str(ID)):].split("/")}
        assert not segments & {".", ".."}, name
        assert dso_saref.unsaref(name, graph) == dso_saref.canonical(name, payload)


def test_spec_3_2_3_3_input_bindings_from_another_party_in_ke_syntax_are_accepted() -> None:
    bindings = dso_saref.to_bindings("elasticity-input", spec_input())
    for rows in bindings.values():
        for row in rows:
            assert row["user_id"] == '"ID644"'
            row["user_id"] = '"ID644"^^<http://www.w3.org/2001/XMLSchema#string>'
            for key, value in row.items():
                row[key] = value.replace(DEFAULT_BASE, "https://peer.example/ns/")  # their base, not ours
    assert dso_saref.from_bindings("elasticity-input", bindings) == dso_saref.canonical("elasticity-input",
                                                                                         spec_input())


# ---------------------------------------------------------------------------------------------
# output: the model


def test_spec_3_2_3_3_output_json_is_accepted_as_printed_after_the_documented_fixes() -> None:
    canonical = round_trips("elasticity-output", spec_output())
    assert canonical == spec_output()
    # the spec's values are kept as they are: no lower <= expected <= upper rule
    assert canonical["flexibility_response"][0]["y_lower_i1"] > canonical["flexibility_response"][0]["y_Power_i1"]


def test_spec_3_2_3_3_output_other_reading_of_the_elision_is_accepted_too() -> None:
    # "} ... {" read as two elements: the second needs an hour of its own
    payload = spec_output()
    first = payload["flexibility_response"][0]
    second = {"flexibility_hour": 8, **{k: first.pop(k) for k in list(first) if "i24" in k}}
    payload["flexibility_response"].append(second)
    assert len(round_trips("elasticity-output", payload)["flexibility_response"]) == 2
    del second["flexibility_hour"]
    assert locations("elasticity-output", payload) == ["$.flexibility_response[1].flexibility_hour"]


def test_spec_3_2_3_3_output_units_default_and_sections_may_be_absent() -> None:
    payload = {"userID": "ID644", "flexibility_response": [{"flexibility_hour": "7", "y_PowerD": "2.1"}],
               "Reliability_i3_hours": []}
    canonical = round_trips("elasticity-output", payload)
    assert canonical == {"userID": "ID644", "flexibility_response": [
        {"flexibility_hour": 7, "flexibility_hour_unit": "h", "y_PowerD": 2.1, "y_PowerD_unit": "kW"}],
        "Ranking": []}
    only_reliability = {"userID": "ID644", "Reliability_i5_hours": [{"Intervention_hour": 0,
                                                                      "i5_Signal_Power_reliability": 50}]}
    assert round_trips("elasticity-output", only_reliability)["flexibility_response"] == []


@pytest.mark.parametrize(("change", "location"), [
    (lambda p: p["flexibility_response"][0].update(y_Power_i25=1.0), "$.flexibility_response[0].y_Power_i25"),
    (lambda p: p["flexibility_response"][0].update(y_power_i1=1.0), "$.flexibility_response[0].y_power_i1"),
    (lambda p: p["flexibility_response"][0].update(y_PowerD_unit="kVAr"), "$.flexibility_response[0].y_PowerD_unit"),
    (lambda p: p["flexibility_response"][0].update(y_PowerD=float("inf")), "$.flexibility_response[0].y_PowerD"),
    (lambda p: p["flexibility_response"][0].update(flexibility_hour=25), "$.flexibility_response[0].flexibility_hour"),
    (lambda p: p["flexibility_response"][0].update(flexibility_hour=7.5),
     "$.flexibility_response[0].flexibility_hour"),
    (lambda p: p["flexibility_response"][0].update(flexibility_hour_unit="min"),
     "$.flexibility_response[0].flexibility_hour_unit"),
    (lambda p: p["Ranking"][0].update(rank_Flex_i1_Price=101), "$.Ranking[0].rank_Flex_i1_Price"),
    (lambda p: p["Ranking"][0].update(rank_Flex_i1_Price=-1), "$.Ranking[0].rank_Flex_i1_Price"),
    (lambda p: p["Ranking"][0].update(rank_Flex_i1_Price_scale="‰"), "$.Ranking[0].rank_Flex_i1_Price_scale"),
    (lambda p: p["Reliability_i1_hours"][0].update(i2_Signal_Power_reliability=3),
     "$.Reliability_i1_hours[0].i2_Signal_Power_reliability"),
    (lambda p: p["Reliability_i1_hours"][0].pop("i1_Signal_Power_reliability"),
     "$.Reliability_i1_hours[0].i1_Signal_Power_reliability"),
    (lambda p: p.update(Reliability_i25_hours=[]), "$.Reliability_i25_hours"),
    (lambda p: p.pop("userID"), "$.userID"),
])
def test_spec_3_2_3_3_output_refuses_bad_keys_and_values_at_their_json_path(change: Any, location: str) -> None:
    payload = spec_output()
    change(payload)
    assert locations("elasticity-output", payload) == [location]


def test_spec_3_2_3_3_output_elements_carry_values_and_distinct_hours() -> None:
    payload = spec_output()
    payload["Ranking"].append({"Ranking_hour": 8})
    ((where, message),) = problems("elasticity-output", payload)
    assert where == "$.Ranking[1]" and "at least one value" in message
    payload = spec_output()
    payload["flexibility_response"].append({"flexibility_hour": 7, "y_PowerD": 1.0})
    ((where, message),) = problems("elasticity-output", payload)
    assert where == "$" and "flexibility_hour 7 appears more than once" in message
    ((where, message),) = problems("elasticity-output", {"userID": "ID644", "flexibility_response": []})
    assert "no value" in message


# ---------------------------------------------------------------------------------------------
# output: wide JSON -> long rows -> triples


def test_spec_3_2_3_3_output_every_value_is_one_binding_row_of_the_long_form() -> None:
    payload = spec_output()
    bindings = dso_saref.to_bindings("elasticity-output", payload)["elasticity-output"]
    values = 12 + 3 + 3  # 4 series x 3 statistics, 3 ranks, 3 reliabilities
    assert len(bindings) == values
    rows = {(r["kind"], r["series"], r["hour"]): r for r in bindings}
    integer = "^^<http://www.w3.org/2001/XMLSchema#integer>"
    row = rows[(f"<{S4ENER.PowerExpected}>", '"i1"', f'"7"{integer}')]
    assert row["value"] == '"2.1"^^<http://www.w3.org/2001/XMLSchema#decimal>'
    assert row["unit"] == f"<{OM.kilowatt}>"
    assert row["estimate"].startswith(f"<{ID['elasticity-estimate/']}")
    assert len({r["estimate"] for r in bindings}) == values
    assert rows[(f"<{S4ENER.PowerMin}>", '"D"', f'"7"{integer}')]["value"].startswith('"1.5"')
    assert rows[(f"<{S4ENER.PowerMax}>", '"i24"', f'"7"{integer}')]["value"].startswith('"2.4"')
    rank = rows[(f"<{DSO.FlexibilityPriceRank}>", '"i2"', f'"7"{integer}')]
    assert rank["unit"] == f"<{OM.percent}>" and rank["value"].startswith('"85.0"')
    reliability = rows[(f"<{DSO.SignalPowerReliability}>", '"i24"', f'"7"{integer}')]
    assert reliability["value"].startswith('"17.0"')


def test_spec_3_2_3_3_output_estimates_are_saref_measurements_of_the_end_user() -> None:
    graph = dso_saref.saref("elasticity-output", spec_output())
    user = ID["user/ID644"]
    lower = ID["user/ID644/elasticity/lower"]
    (estimate,) = [e for e in graph.subjects(DSO.underScenario, Literal("D", datatype=XSD.string))
                   if (e, SAREF.relatesToProperty, lower) in graph]
    assert (estimate, RDF.type, DSO.ElasticityEstimate) in graph
    assert (estimate, SAREF.isMeasurementOf, user) in graph
    assert (lower, RDF.type, S4ENER.PowerMin) in graph
    assert (user, SAREF.hasProperty, lower) in graph
    assert (estimate, DSO.hasHour, Literal("7", datatype=XSD.integer)) in graph
    assert (estimate, SAREF.isMeasuredIn, OM.kilowatt) in graph
    assert graph.value(estimate, SAREF.hasValue) == Literal("1.5", datatype=XSD.decimal)
    assert len(set(graph.subjects(RDF.type, DSO.ElasticityEstimate))) == 18
    assert graph.value(user, RDF.type) is None


def test_issue_10_4_two_outputs_for_one_user_never_share_an_estimate_and_merge_into_a_valid_graph() -> None:
    # the output has no date: an estimate is minted from all it says (user, kind, scenario, hour, value, unit)
    first = spec_output()
    second = spec_output()
    second["flexibility_response"][0]["y_lowerD"] = 1.6
    one, two = (dso_saref.saref("elasticity-output", p) for p in (first, second))
    shared = set(one.subjects(RDF.type, DSO.ElasticityEstimate)) & set(two.subjects(RDF.type, DSO.ElasticityEstimate))
    assert len(shared) == 17, "the 17 numbers both say are the same estimates; the one that differs is two"
    merged = one + two
    report = dso_saref.validate("elasticity-output", merged)
    assert report.conforms, [str(e) for e in report.errors]
    assert set(dso_saref.saref("elasticity-output", first)) == set(one), "minting is stable"
    other_user = dso_saref.saref("elasticity-output", {**first, "userID": "ID645"})
    assert not set(one.subjects(RDF.type, DSO.ElasticityEstimate)) & set(
        other_user.subjects(RDF.type, DSO.ElasticityEstimate))


def test_spec_3_2_3_3_output_keys_are_written_back_exactly_as_the_spec_spells_them() -> None:
    payload = {"userID": "ID644", "flexibility_response": [
        {"flexibility_hour": h, **_flexibility_values(["D", *INTERVENTIONS], (1.0, 0.5, 1.5))} for h in (0, 24)],
        "Ranking": [{"Ranking_hour": 3, **{f"rank_Flex_{i}_Price": n for n, i in enumerate(INTERVENTIONS)}}],
        **{f"Reliability_{i}_hours": [{"Intervention_hour": 9, f"{i}_Signal_Power_reliability": 99.5}]
           for i in INTERVENTIONS}}
    canonical = round_trips("elasticity-output", payload)
    assert len(dso_saref.to_bindings("elasticity-output", payload)["elasticity-output"]) == 2 * 75 + 24 + 24
    assert set(canonical["flexibility_response"][0]) == set(payload["flexibility_response"][0]) | {
        "flexibility_hour_unit"}
    first = canonical["flexibility_response"][0]
    assert "y_PowerD" in first and "y_Power_D" not in first
    assert set(canonical) == set(payload)


def test_spec_3_2_3_3_output_bindings_from_another_party_in_ke_syntax_are_accepted() -> None:
    bindings = dso_saref.to_bindings("elasticity-output", spec_output())["elasticity-output"]
    for row in bindings:
        row["series"] = row["series"][:-1] + '"^^<http://www.w3.org/2001/XMLSchema#string>'
        row["user_id"] = '"ID644"^^<http://www.w3.org/2001/XMLSchema#string>'
        row["estimate"] = "<urn:uuid:" + row["estimate"][-21:-1] + ">"  # minted their way
    assert dso_saref.from_bindings("elasticity-output", list(reversed(bindings))) == dso_saref.canonical(
        "elasticity-output", spec_output())


def test_spec_3_2_3_3_output_binding_that_fits_no_section_is_refused() -> None:
    bindings = dso_saref.to_bindings("elasticity-output", spec_output())["elasticity-output"]
    rank = next(r for r in bindings if r["kind"] == f"<{DSO.FlexibilityPriceRank}>")
    rank["series"] = '"D"'  # ranks exist for i1..i24 only: no key rank_Flex_D_Price
    with pytest.raises(PayloadError) as info:
        dso_saref.from_bindings("elasticity-output", bindings)
    assert "none of the message's alternatives" in str(info.value)


def test_spec_3_2_3_3_output_graph_from_elsewhere_reads_back() -> None:
    graph = Graph().parse(data=dso_saref.saref("elasticity-output", spec_output()).serialize(format="nt"),
                          format="nt")
    graph.add((URIRef("https://example.org/other"), RDF.type, SAREF.Measurement))
    assert dso_saref.unsaref("elasticity-output", graph) == dso_saref.canonical("elasticity-output", spec_output())


def test_spec_3_2_3_3_output_base_iri_is_configurable() -> None:
    settings = Settings(base="https://pilot.example/")
    graph = dso_saref.saref("elasticity-output", spec_output(), settings=settings)
    user = URIRef("https://pilot.example/user/ID644")
    assert (user, DSO.hasIdentifier, Literal("ID644", datatype=XSD.string)) in graph
    assert dso_saref.unsaref("elasticity-output", graph, settings=settings) == dso_saref.canonical(
        "elasticity-output", spec_output())


def test_spec_3_2_3_3_output_model_generates_its_wide_keys() -> None:
    element = ElasticityOutput.model_fields["flexibility_response"].annotation.__args__[0]
    assert len(element.model_fields) == 2 + 2 * 75
    assert {"y_PowerD", "y_lowerD_unit", "y_upper_i24", "y_Power_i13_unit"} <= set(element.model_fields)


# ---------------------------------------------------------------------------------------------
# issue 10: one end user, parts instead of placeholders, what merged graphs mean


GENERATED = settings(max_examples=15, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
#: The classes the elasticity messages type.
ELASTICITY_CLASSES = {DSO.ElasticityEstimate, DSO.ActivePowerProperty, DSO.CostSignal, DSO.CO2EmissionsSignal,
                      DSO.RenewableEnergyShareSignal, DSO.MaximumPowerSignal, DSO.OutdoorTemperature,
                      DSO.IndoorTemperature, SAREF.Occupancy, SAREF.Measurement}


def test_issue_10_5_the_user_is_the_end_user_minted_user_id_in_both_messages() -> None:
    for name in NAMES:
        description = dso_saref.catalog[name]
        assert description.variables["user"].template == "user/{user_id}"
        templates = [v.template for v in description.variables.values() if v.template]
        assert all(t.startswith(("user/{user_id}", "elasticity-estimate/{digest}")) for t in templates), templates
        typed = {s.name for s, p, _ in description.pattern.triples if p == RDF.type and isinstance(s, Var)}
        assert "user" not in typed, "referred to by IRI and identifier: the data-sharing messages type dso:EndUser"
    both = dso_saref.saref("elasticity-input", spec_input()) + dso_saref.saref("elasticity-output", spec_output())
    assert set(both.subjects(DSO.hasIdentifier, Literal("ID644", datatype=XSD.string))) == {ID["user/ID644"]}


def test_issue_10_1_optional_signals_are_parts_that_a_reading_without_them_has_no_row_in() -> None:
    description = dso_saref.catalog["elasticity-input"]
    assert sorted(p.key for p in description.parts) == [f"elasticity-input{s}" for s in (
        "", ".co2-emissions", ".cost", ".indoor-temperature", ".maximum-power", ".occupancy", ".outdoor-temperature",
        ".renewable-share")]
    for part in description.parts[1:]:
        assert part.anchors == {"user", "user_id", "timestamp"}, part.key
    payload = {"user_profile": [reading(**{"signal_incentive_Class:CO2_Emissions": None}),
                                reading(timestamp="2021-04-12T16:11:20Z")]}
    bindings = dso_saref.to_bindings("elasticity-input", payload)
    assert [r["timestamp"][1:21] for r in bindings["elasticity-input.co2-emissions"]] == ["2021-04-12T16:11:20Z"]
    assert len(bindings["elasticity-input.cost"]) == 2
    assert not [v for rows in bindings.values() for row in rows for v in row.values() if v == f"<{NONE}>"]


@pytest.mark.parametrize("name", NAMES)
@GENERATED
@given(data=st.data())
def test_issue_10_1_binding_sets_instantiated_naively_are_our_graph_without_placeholders(
        name: str, data: st.DataObject) -> None:
    payload = data.draw(payload_strategy(dso_saref.catalog[name].model))
    naive = naive_graph(name, payload)  # fails on an unbound or rdf:nil variable
    assert set(naive) == set(dso_saref.saref(name, payload))
    assert not [s for s, o in naive.subject_objects(RDF.type) if str(o).startswith(str(S4GRID))]


def _readings_of(user: str, readings: list[dict[str, Any]], taken: set[Any]) -> list[dict[str, Any]]:
    """The readings given to ``user``, one per instant (none at an instant in ``taken``, which grows)."""
    out = []
    for entry in readings:
        instant = parse_datetime(entry["timestamp"])
        if instant not in taken:
            taken.add(instant)
            out.append({**entry, "userID": user})
    return out


@st.composite
def same_user_pair(draw: st.DrawFn, name: str) -> tuple[Any, Any]:
    """Two valid payloads about one user (inputs: readings at other times, or at one time saying else)."""
    model = dso_saref.catalog[name].model
    first, second = draw(payload_strategy(model)), draw(payload_strategy(model))
    if name == "elasticity-output":
        return first, {**second, "userID": first["userID"]}
    user = first["user_profile"][0]["userID"]
    first = {"user_profile": _readings_of(user, first["user_profile"], set())}
    second = {"user_profile": _readings_of(user, second["user_profile"], set())}
    if draw(st.booleans()):  # a reading at an instant of the first's, saying something else
        moved = [{**second["user_profile"][0], "timestamp": first["user_profile"][0]["timestamp"]}]
        second = {"user_profile": _readings_of(user, moved + second["user_profile"][1:], set())}
    return first, second


@pytest.mark.parametrize("name", NAMES)
@GENERATED
@given(data=st.data())
def test_issue_10_4_two_payloads_about_one_user_merge_into_a_valid_graph(name: str, data: st.DataObject) -> None:
    first, second = data.draw(same_user_pair(name))
    merged = dso_saref.saref(name, first) + dso_saref.saref(name, second)
    report = dso_saref.validate(name, merged)
    assert report.conforms, [str(e) for e in report.errors]


def test_issue_10_every_message_that_types_an_elasticity_class_describes_it_alike() -> None:
    mine = {str(c).replace(str(DSO), "dso:").replace(str(SAREF), "saref:") for c in ELASTICITY_CLASSES}
    four = "saref:hasValue, saref:isMeasuredIn, saref:isMeasurementOf, saref:relatesToProperty"
    for problem in disagreements(dso_saref.catalog):
        cls, _, rest = problem.partition(" is described differently: ")
        if cls == "saref:Measurement":  # the input says SAREF's four; what differs is another family's
            assert f"elasticity-input: {four};" in rest
        else:
            assert cls not in mine, problem


def test_issue_10_merged_elasticity_graphs_conform_to_the_shapes_and_their_owl_rl_closure_is_consistent(
        merging: Merging) -> None:
    """The specification's payloads and two seeded draws of a pair about one user of each elasticity
    message, in one graph closed once."""
    graph = Graph()
    for payload in (spec_input(), {"user_profile": [reading(timestamp="2021-04-12T17:11:20Z")]}):
        graph += naive_graph("elasticity-input", payload)
    changed = spec_output()
    changed["Ranking"][0]["rank_Flex_i1_Price"] = 70
    for payload in (spec_output(), changed):
        graph += naive_graph("elasticity-output", payload)
    for pairs in drawn(st.tuples(*(same_user_pair(name) for name in NAMES)), 2):
        for name, pair in zip(NAMES, pairs, strict=True):
            for payload in pair:
                graph += naive_graph(name, payload)
    assert merging.problems(graph) == []


def test_issue_10_10_every_term_of_the_elasticity_module_has_label_comment_and_an_axiom() -> None:
    assert own_term_problems(ROOT / "ontologies" / "dso-saref-elasticity.ttl") == []
    module = Graph().parse(ROOT / "ontologies" / "dso-saref-elasticity.ttl", format="turtle")
    for gone in ("ElasticityCustomer", "ElasticityScenario"):  # the end user; a scenario is its name
        assert not list(module.triples((DSO[gone], None, None)))


# ---------------------------------------------------------------------------------------------
# the engine: key steps and alternatives (generic, used by elasticity-output)


def _variables(spec: dict[str, dict[str, Any]]) -> dict[str, Variable]:
    prefixes = {"dso": str(DSO)}
    return {name: Variable.from_declaration(name, decl, prefixes) for name, decl in spec.items()}


def test_engine_key_step_reads_and_writes_keys_with_captures() -> None:
    path = parse_path("$.a[*][~'v_{s:x|y}{n:D}' 'v_{s:x|y}_{n:i[0-9]+}']@n")
    assert path.capture == "n"
    assert path.steps[0].name == "a" and len(path.tail) == 1
    step = path.tail[0]
    assert step.match("v_xD", {}) == {"s": "x", "n": "D"}
    assert step.match("v_y_i12", {}) == {"s": "y", "n": "i12"}
    assert step.match("v_zD", {}) is None
    assert step.format({"s": "x", "n": "i3"}) == "v_x_i3"
    assert step.format({"s": "x", "n": "D"}) == "v_xD"
    assert step.format({"s": "z", "n": "D"}) is None


@pytest.mark.parametrize(("text", "error"), [
    ("$.a[~'v_{s}' 'w_{t}']", "same fields"),
    ("$.a[~'v_s']", "fields"),
    ("$.a[~'v_{s}_{s}']", "distinct"),
    ("$.a[~'v_{s:(}']", "field s"),
    ("$.a@s", "must follow a key step"),
    ("$.a[~'v_{s}']@t", "must follow a key step"),
])
def test_engine_key_step_errors_are_description_errors(text: str, error: str) -> None:
    with pytest.raises(DescriptionError, match=error):
        parse_path(text)


def test_engine_alternatives_unite_rows_and_keep_sibling_arrays_apart() -> None:
    rows = Rows(_variables({
        "id": {"from": "$.id", "datatype": "xsd:string"},
        # the captures tell the alternatives apart (a row goes to the first alternative that can write it)
        "k": {"from": ["$.a[*][~'a_{k:p|q}']@k", "$.b[*][~'b_{k:r|s}']@k"], "datatype": "xsd:string",
              "optional": "entries"},
        "v": {"from": ["$.a[*][~'a_{k:p|q}']", "$.b[*][~'b_{k:r|s}']"], "datatype": "xsd:decimal",
              "optional": "entries"},
        "h": {"from": ["$.a[*].h", "$.b[*].h"], "datatype": "xsd:integer", "optional": "entries"},
        "holder": {"iri": "h/{id}"},
        "node": {"iri": "n/{id}/{k}/{h}"},
    }))
    pattern = ("?holder <urn:test:id> ?id . ?node <urn:test:of> ?holder . ?node <urn:test:k> ?k . "
               "?node <urn:test:v> ?v . ?node <urn:test:h> ?h .")
    data = {"id": "x", "a": [{"h": 1, "a_p": 1.0, "a_q": 2.0}], "b": [{"h": 1, "b_r": 3.0}, {"h": 2, "b_s": 4.0}]}
    terms = rows_of(rows.variables, data, pattern=pattern)
    assert len(terms) == 4
    assert rows.rebuild(list(reversed(terms)), DEFAULT_BASE, top_list=False) == data
    empty = rows_of(rows.variables, {"id": "x", "a": [], "b": []}, pattern=pattern)
    assert len(empty) == 1
    assert rows.rebuild(empty, DEFAULT_BASE, top_list=False) == {"id": "x", "a": [], "b": []}
    assert rows.optional() == {"k", "v", "h", "node"}


def test_engine_alternatives_must_not_share_arrays_and_must_list_one_path_each() -> None:
    with pytest.raises(DescriptionError, match="share the array"):
        Rows(_variables({"v": {"from": ["$[*].a", "$[*].b"], "datatype": "xsd:string"}}))
    with pytest.raises(DescriptionError, match="one path"):
        Rows(_variables({"v": {"from": ["$.a", "$.b"], "datatype": "xsd:string"},
                         "w": {"from": ["$.a"], "datatype": "xsd:string"}}))
    with pytest.raises(DescriptionError, match="siblings"):
        Rows(_variables({"v": {"from": "$.a[*]", "datatype": "xsd:string"},
                         "w": {"from": "$.b[*]", "datatype": "xsd:string"}}))


def test_engine_requires_mints_an_iri_only_where_the_variable_is_bound() -> None:
    rows = Rows(_variables({
        "t": {"from": "$[*].t", "datatype": "xsd:string"},
        "c": {"from": "$[*].c", "datatype": "xsd:decimal", "optional": True},
        "m": {"iri": "m/{t}", "requires": ["c"]},
        "n": {"iri": "n/{t}"},
    }))
    pattern = "?n <urn:test:t> ?t . ?m <urn:test:of> ?n . ?m <urn:test:c> ?c ."
    terms = rows_of(rows.variables, [{"t": "1", "c": 2.0}, {"t": "2"}], pattern=pattern)
    assert [str(r["m"]) for r in terms] == [f"{DEFAULT_BASE}m/1", str(RDF.nil)]
    assert rows.optional() == {"c", "m"}
    with pytest.raises(DescriptionError, match="requires"):
        _variables({"m": {"from": "$.m", "iri": "m/{m}", "requires": ["c"]}})


def test_engine_ambiguous_key_templates_are_refused_at_their_key() -> None:
    rows = Rows(_variables({"s": {"from": "$[~'{s:a+}' '{s:a}x']@s", "datatype": "xsd:string"},
                            "v": {"from": "$[~'{s:a+}' '{s:a}x']", "datatype": "xsd:string"}}))
    assert [str(r["s"]) for r in rows_of(rows.variables, {"aa": "1"})] == ["aa"]
    with pytest.raises(Exception, match="ambiguous"):
        rows_of(rows.variables, {"ax": "1", "a": "2"})
