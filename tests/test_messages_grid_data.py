"""DSO data layer (spec 4.2, Tables 15-19): client and substation readings, grid topology.

Tests are named after the table they check. The generic round trips (example, hypothesis) run for these
messages in tests/test_catalog.py; here are the rules of each table, the fixed units, the topology's
optional secondary side, hostile identifiers and bindings written by another party.
"""

from __future__ import annotations

import copy
import math
from datetime import timedelta, timezone
from typing import Any

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD

import dso_saref
from dso_saref.terms import DSO, OM, QUDT_UNIT, S4GRID, SAREF
from tests.payload_checks import locations, problems

READINGS = ["lv-client-reading", "mv-client-reading", "secondary-substation-reading", "primary-substation-reading"]
GRID_DATA = [*READINGS, "grid-topology"]
BASE = "https://dso.example.org/id/"

LV = {"id": "LV0001", "timestamp": "2021-09-27T10:00:00Z", "active_power_injected": 0.0,
      "active_power_withdrawn": 1.2, "reactive_power_injected": 0.1, "reactive_power_withdrawn": 0.0,
      "voltage": 231.4}
MV = {"id": "MV0001", "timestamp": "2021-09-27T10:00:00Z", "active_power_withdrawn": 120.0,
      "reactive_power_injected": 3.0, "reactive_power_withdrawn": 10.0}
SS = {"id": "SS01", "timestamp": "2021-09-27T10:00:00Z", "active_power_injected": 4.8,
      "active_power_withdrawn": 186.5, "reactive_power_injected": 0.0, "reactive_power_withdrawn": 22.3,
      "voltage": 229.8}
PS = {"id": "PS01", "timestamp": "2021-09-27T10:00:00Z", "active_power": 12.5, "reactive_power": 2.1,
      "current": 310.0, "voltage": 15.1, "tap_position": 5}
LV_ENTRY = {"client_id": "LV0001", "voltage_level": "LV", "secondary_substation": "SS01", "ss_feeder": "SS01-F2",
            "primary_substation": "PS01", "ps_feeder": "PS01-F7"}
MV_ENTRY = {"client_id": "MV0001", "voltage_level": "MV", "primary_substation": "PS01", "ps_feeder": "PS01-F7"}
PAYLOADS: dict[str, Any] = {
    "lv-client-reading": LV, "mv-client-reading": MV, "secondary-substation-reading": SS,
    "primary-substation-reading": PS, "grid-topology": [LV_ENTRY, MV_ENTRY],
}
HOSTILE = ["LV 0001", "a>b", 'say "hi"', "line\nbreak", "tab\there", "ünïcødé ⚡ 電", "back\\slash", "<x>", "%41", "'"]


def value_of(graph: Graph, measurement_suffix: str) -> tuple[Literal, URIRef]:
    """The value and unit of the measurement whose IRI ends with ``measurement_suffix``."""
    (measurement,) = [m for m in graph.subjects(RDF.type, SAREF.Measurement) if str(m).endswith(measurement_suffix)]
    return graph.value(measurement, SAREF.hasValue), graph.value(measurement, SAREF.isMeasuredIn)


# -- the tables as printed (MESSAGES.md rows) ------------------------------------------------------


@pytest.mark.parametrize("name", GRID_DATA)
def test_spec_4_2_messages_md_rows_are_accepted_as_printed_and_round_trip(name: str) -> None:
    expected = dso_saref.canonical(name, PAYLOADS[name])
    assert expected == PAYLOADS[name] or name == "grid-topology"
    assert dso_saref.from_bindings(name, dso_saref.to_bindings(name, PAYLOADS[name])) == expected
    assert dso_saref.unsaref(name, dso_saref.saref(name, PAYLOADS[name])) == expected


@pytest.mark.parametrize("name", GRID_DATA)
def test_spec_4_2_data_layer_lookups_are_ask_answer_on_their_own_pattern(name: str) -> None:
    description = dso_saref.catalog[name]
    assert description.interaction is not None
    assert (description.interaction.type, description.interaction.answer) == (dso_saref.ASK_ANSWER, name)
    assert "dso" in description.interaction.responders
    key = "client_id" if name == "grid-topology" else "id"
    assert key in description.pattern.variables, "the asker binds the identifier"


@pytest.mark.parametrize("name", READINGS)
def test_spec_4_2_unique_identifier_is_a_number_and_becomes_a_string(name: str) -> None:
    payload = {**PAYLOADS[name], "id": 1234}
    assert dso_saref.canonical(name, payload)["id"] == "1234"
    bindings = dso_saref.to_bindings(name, payload)
    assert bindings[0]["id"] == '"1234"'


@pytest.mark.parametrize("name", READINGS)
def test_spec_4_2_numeric_strings_and_spec_timestamps_are_accepted(name: str) -> None:
    payload = {key: (str(value) if isinstance(value, float | int) else value) for key, value in PAYLOADS[name].items()}
    payload["timestamp"] = "2021/09/27 11:00"
    lisbon_summer = timezone(timedelta(hours=1))
    canonical = dso_saref.canonical(name, payload, settings=dso_saref.Settings(timezone=lisbon_summer))
    assert canonical == dso_saref.canonical(name, PAYLOADS[name])


@pytest.mark.parametrize("name", READINGS)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "NaN", "inf", True, "231 V", None])
def test_spec_4_2_nan_infinities_and_non_numbers_are_refused(name: str, bad: Any) -> None:
    key = "voltage" if name != "mv-client-reading" else "active_power_withdrawn"
    assert locations(name, {**PAYLOADS[name], key: bad}) == [f"$.{key}"]


@pytest.mark.parametrize("name", ["lv-client-reading", "secondary-substation-reading"])
@pytest.mark.parametrize("key", ["active_power_injected", "active_power_withdrawn", "reactive_power_injected",
                                 "reactive_power_withdrawn", "voltage"])
def test_spec_4_2_tables_15_17_injected_and_withdrawn_are_non_negative_magnitudes(name: str, key: str) -> None:
    (location, message), = problems(name, {**PAYLOADS[name], key: -0.5})
    assert location == f"$.{key}" and "zero or more" in message


@pytest.mark.parametrize("key", ["active_power_withdrawn", "reactive_power_injected", "reactive_power_withdrawn"])
def test_spec_4_2_table_16_quantities_are_non_negative(key: str) -> None:
    assert locations("mv-client-reading", {**MV, key: -1}) == [f"$.{key}"]


def test_spec_4_2_table_16_has_no_voltage_nor_active_power_injected() -> None:
    assert sorted(locations("mv-client-reading", {**MV, "voltage": 15000.0, "active_power_injected": 0})) == [
        "$.active_power_injected", "$.voltage"]


def test_spec_4_2_table_18_power_is_signed_current_and_voltage_are_not() -> None:
    reverse_flow = {**PS, "active_power": -3.2, "reactive_power": -0.4}
    assert dso_saref.canonical("primary-substation-reading", reverse_flow)["active_power"] == -3.2
    assert locations("primary-substation-reading", {**PS, "current": -1}) == ["$.current"]
    assert locations("primary-substation-reading", {**PS, "voltage": -15.1}) == ["$.voltage"]


@pytest.mark.parametrize(("given", "expected"), [(5, 5), ("5", 5), (5.0, 5), (-3, -3), (0, 0)])
def test_spec_4_2_table_18_tap_position_is_a_whole_number(given: Any, expected: int) -> None:
    canonical = dso_saref.canonical("primary-substation-reading", {**PS, "tap_position": given})
    assert canonical["tap_position"] == expected and isinstance(canonical["tap_position"], int)


@pytest.mark.parametrize("bad", [2.5, "five", True, None])
def test_spec_4_2_table_18_tap_position_refuses_fractions_and_words(bad: Any) -> None:
    assert locations("primary-substation-reading", {**PS, "tap_position": bad}) == ["$.tap_position"]


@pytest.mark.parametrize("name", READINGS)
def test_spec_4_2_every_measure_of_the_tables_is_required(name: str) -> None:
    for key in PAYLOADS[name]:
        payload = {k: v for k, v in PAYLOADS[name].items() if k != key}
        assert problems(name, payload) == [(f"$.{key}", "required key is missing")]


@pytest.mark.parametrize("name", READINGS)
def test_spec_4_2_unknown_keys_are_refused_in_strict_mode_and_dropped_in_lenient_mode(name: str) -> None:
    payload = {**PAYLOADS[name], "voltage_unit": "V"}
    (location, message), = problems(name, payload)
    assert location == "$.voltage_unit" and "unknown key" in message
    lenient = dso_saref.canonical(name, payload, settings=dso_saref.Settings(strict=False))
    assert lenient == dso_saref.canonical(name, PAYLOADS[name])


# -- triples: fixed units, one measurement per quantity --------------------------------------------


LV_UNITS = {"active-power-injected": OM.kilowatt, "active-power-withdrawn": OM.kilowatt,
            "reactive-power-injected": QUDT_UNIT["KiloV-A_Reactive"],
            "reactive-power-withdrawn": QUDT_UNIT["KiloV-A_Reactive"], "voltage": OM.volt}


@pytest.mark.parametrize("name", ["lv-client-reading", "secondary-substation-reading"])
def test_spec_4_2_tables_15_17_units_are_kw_kvar_and_v(name: str) -> None:
    graph = dso_saref.saref(name, PAYLOADS[name])
    for quantity, unit in LV_UNITS.items():
        value, got = value_of(graph, f"/{quantity}/2021-09-27T10%3A00%3A00Z")
        assert got == unit, quantity
        assert value.datatype == XSD.decimal
    assert float(value_of(graph, "/voltage/2021-09-27T10%3A00%3A00Z")[0]) == PAYLOADS[name]["voltage"]


def test_spec_4_2_table_18_units_are_mw_mvar_a_kv_and_tap_position_is_a_dimensionless_integer() -> None:
    graph = dso_saref.saref("primary-substation-reading", PS)
    expected = {"active-power": (OM.megawatt, 12.5), "reactive-power": (QUDT_UNIT["MegaV-A_Reactive"], 2.1),
                "current": (OM.ampere, 310.0), "voltage": (OM.kilovolt, 15.1), "tap-position": (OM.one, 5)}
    for quantity, (unit, number) in expected.items():
        value, got = value_of(graph, f"primary-substation/PS01/{quantity}/2021-09-27T10%3A00%3A00Z")
        assert (got, float(value)) == (unit, number), quantity
    assert value_of(graph, "/tap-position/2021-09-27T10%3A00%3A00Z")[0].datatype == XSD.integer


@pytest.mark.parametrize("name", ["lv-client-reading", "secondary-substation-reading"])
def test_spec_4_2_injected_and_withdrawn_are_distinct_property_nodes_of_distinct_classes(name: str) -> None:
    graph = dso_saref.saref(name, PAYLOADS[name])
    (feature,) = graph.subjects(DSO.hasIdentifier, Literal(PAYLOADS[name]["id"], datatype=XSD.string))
    classes = {graph.value(p, RDF.type) for p in graph.objects(feature, SAREF.hasProperty)}
    assert classes == {DSO.ActivePowerInjected, DSO.ActivePowerWithdrawn, DSO.ReactivePowerInjected,
                       DSO.ReactivePowerWithdrawn, S4GRID.Voltage}
    measurements = set(graph.subjects(SAREF.isMeasurementOf, feature))
    assert len(measurements) == 5
    assert {str(graph.value(m, SAREF.hasTimestamp)) for m in measurements} == {"2021-09-27T10:00:00Z"}


def test_spec_4_2_readings_at_two_times_are_distinct_measurements_of_the_same_properties() -> None:
    later = {**LV, "timestamp": "2021-09-27T10:15:00Z", "voltage": 229.0}
    graph = dso_saref.saref("lv-client-reading", LV) + dso_saref.saref("lv-client-reading", later)
    client = URIRef(BASE + "client/LV0001")
    assert len(set(graph.objects(client, SAREF.hasProperty))) == 5
    assert len(set(graph.subjects(SAREF.isMeasurementOf, client))) == 10


@pytest.mark.parametrize("name", ["lv-client-reading", "secondary-substation-reading"])
def test_spec_4_2_values_keep_every_digit_through_turtle(name: str) -> None:
    payload = {**PAYLOADS[name], "active_power_withdrawn": 10000001.0, "voltage": 231.123456789012}
    again = Graph().parse(data=dso_saref.saref(name, payload).serialize(format="turtle"), format="turtle")
    assert dso_saref.unsaref(name, again) == dso_saref.canonical(name, payload)


def test_spec_4_2_a_graph_in_other_units_does_not_read_back_as_this_message() -> None:
    graph = dso_saref.saref("lv-client-reading", LV)
    (measurement,) = graph.subjects(SAREF.isMeasuredIn, OM.volt)
    graph.set((measurement, SAREF.isMeasuredIn, OM.kilovolt))
    with pytest.raises(dso_saref.PayloadError):
        dso_saref.unsaref("lv-client-reading", graph)


# -- Table 19: topology ----------------------------------------------------------------------------


def test_spec_4_2_table_19_lv_client_without_secondary_side_is_refused() -> None:
    entry = {k: v for k, v in LV_ENTRY.items() if k not in ("secondary_substation", "ss_feeder")}
    assert locations("grid-topology", [MV_ENTRY, entry]) == ["$[1].secondary_substation", "$[1].ss_feeder"]
    assert locations("grid-topology", [{**LV_ENTRY, "ss_feeder": None}]) == ["$[0].ss_feeder"]


def test_spec_4_2_table_19_mv_client_with_secondary_side_is_refused() -> None:
    (location, message), = problems("grid-topology", [{**MV_ENTRY, "ss_feeder": "SS01-F2"}])
    assert location == "$[0].ss_feeder" and "MV client" in message
    assert locations("grid-topology", [{**MV_ENTRY, "secondary_substation": "SS01"}]) == [
        "$[0].secondary_substation"]


def test_spec_4_2_table_19_mv_client_may_write_the_absent_secondary_side_as_null() -> None:
    entry = {**MV_ENTRY, "secondary_substation": None, "ss_feeder": None}
    assert dso_saref.canonical("grid-topology", [entry]) == [MV_ENTRY]


@pytest.mark.parametrize("bad", ["HV", "lv", "", None, 1])
def test_spec_4_2_table_19_voltage_level_is_lv_or_mv(bad: Any) -> None:
    assert "$[0].voltage_level" in locations("grid-topology", [{**MV_ENTRY, "voltage_level": bad}])


def test_spec_4_2_table_19_a_client_appears_once() -> None:
    (location, message), = problems("grid-topology", [LV_ENTRY, {**LV_ENTRY, "ss_feeder": "SS01-F3"}])
    assert location == "$" and "LV0001" in message


def test_spec_4_2_table_19_topology_is_a_top_level_array_and_may_be_empty() -> None:
    assert dso_saref.to_bindings("grid-topology", []) == []
    assert dso_saref.from_bindings("grid-topology", []) == []
    assert locations("grid-topology", {"client_id": "LV0001"}) == ["$"]


def test_spec_4_2_table_19_mv_client_binds_its_absent_secondary_side_to_nil() -> None:
    (row,) = dso_saref.to_bindings("grid-topology", [MV_ENTRY])
    nil = f"<{RDF.nil}>"
    assert {k for k, v in row.items() if v == nil} == {"ss", "secondary_substation", "ss_feeder_node", "ss_feeder"}
    graph = dso_saref.saref("grid-topology", [MV_ENTRY])
    assert not list(graph.subjects(RDF.type, DSO.SecondarySubstation))
    assert dso_saref.from_bindings("grid-topology", [row]) == [MV_ENTRY]


def test_spec_4_2_table_19_mv_client_on_a_feeder_shared_with_a_secondary_substation_reads_back_alone() -> None:
    # PS01-F7 feeds both MV0001 and SS01: reading the graph back must not hang SS01 under MV0001.
    topology = [LV_ENTRY, MV_ENTRY, {**LV_ENTRY, "client_id": "LV0002", "secondary_substation": "SS02",
                                     "ss_feeder": "SS02-F1"}]
    graph = dso_saref.saref("grid-topology", topology)
    assert dso_saref.unsaref("grid-topology", graph) == dso_saref.canonical("grid-topology", topology)


def test_spec_4_2_table_19_feeders_are_minted_under_their_substation() -> None:
    # Two substations may both number a feeder "F1": they are two feeders.
    topology = [{**LV_ENTRY, "ss_feeder": "F1"},
                {**LV_ENTRY, "client_id": "LV0002", "secondary_substation": "SS02", "ss_feeder": "F1"}]
    graph = dso_saref.saref("grid-topology", topology)
    feeders = set(graph.subjects(DSO.hasIdentifier, Literal("F1", datatype=XSD.string)))
    assert feeders == {URIRef(BASE + "secondary-substation/SS01/feeder/F1"),
                       URIRef(BASE + "secondary-substation/SS02/feeder/F1")}
    assert dso_saref.unsaref("grid-topology", graph) == dso_saref.canonical("grid-topology", topology)


def test_spec_4_2_table_19_links_clients_feeders_and_substations() -> None:
    graph = dso_saref.saref("grid-topology", [LV_ENTRY])
    client, ss, ps = (URIRef(BASE + p) for p in ("client/LV0001", "secondary-substation/SS01",
                                                  "primary-substation/PS01"))
    ss_feeder = URIRef(BASE + "secondary-substation/SS01/feeder/SS01-F2")
    ps_feeder = URIRef(BASE + "primary-substation/PS01/feeder/PS01-F7")
    for triple in [(client, DSO.hasVoltageLevel, DSO.LowVoltage), (client, DSO.isConnectedTo, ss_feeder),
                   (client, DSO.isSuppliedBy, ss), (client, DSO.isFedBy, ps_feeder),
                   (ss_feeder, DSO.isFeederOf, ss), (ss, DSO.isFedBy, ps_feeder), (ps_feeder, DSO.isFeederOf, ps),
                   (ss, RDF.type, DSO.SecondarySubstation), (ps, RDF.type, DSO.PrimarySubstation),
                   (ss_feeder, RDF.type, DSO.Feeder), (ps_feeder, RDF.type, DSO.Feeder)]:
        assert triple in graph, triple


def test_spec_4_2_readings_and_topology_name_the_same_nodes() -> None:
    topology = dso_saref.saref("grid-topology", PAYLOADS["grid-topology"])
    graph = Graph()
    for name in GRID_DATA:
        graph += dso_saref.saref(name, PAYLOADS[name])
    client, ss, ps = (URIRef(BASE + p) for p in ("client/LV0001", "secondary-substation/SS01",
                                                  "primary-substation/PS01"))
    assert (client, RDF.type, DSO.LowVoltageClient) in graph and (client, RDF.type, DSO.GridClient) in graph
    assert set(graph.objects(client, SAREF.hasProperty)) and (client, DSO.isSuppliedBy, ss) in graph
    assert set(graph.objects(ss, SAREF.hasProperty)) and set(graph.objects(ps, SAREF.hasProperty))
    assert (URIRef(BASE + "client/MV0001"), DSO.hasVoltageLevel, DSO.MediumVoltage) in graph
    # each message reads back from its own triples merged with the topology's
    assert dso_saref.unsaref("grid-topology", graph) == dso_saref.canonical("grid-topology", PAYLOADS["grid-topology"])
    for name in READINGS:
        merged = topology + dso_saref.saref(name, PAYLOADS[name])
        assert dso_saref.unsaref(name, merged) == dso_saref.canonical(name, PAYLOADS[name]), name


# -- hostile identifiers and bindings from another party -------------------------------------------


@pytest.mark.parametrize("name", GRID_DATA)
@pytest.mark.parametrize("hostile", HOSTILE)
def test_spec_4_2_hostile_identifiers_make_no_extra_triples_and_valid_rdf(name: str, hostile: str) -> None:
    plain = dso_saref.saref(name, PAYLOADS[name])
    payload = copy.deepcopy(PAYLOADS[name])
    if name == "grid-topology":
        for key in ("client_id", "secondary_substation", "ss_feeder", "primary_substation", "ps_feeder"):
            payload[0][key] = f"{hostile}-{key}"
        payload[1]["ps_feeder"] = payload[0]["ps_feeder"]
        payload[1]["primary_substation"] = payload[0]["primary_substation"]
    else:
        payload["id"] = hostile
    graph = dso_saref.saref(name, payload)
    assert len(graph) == len(plain)
    for fmt in ("turtle", "nt"):
        again = Graph().parse(data=graph.serialize(format=fmt), format=fmt)
        assert len(again) == len(graph)
        assert dso_saref.unsaref(name, again) == dso_saref.canonical(name, payload)
    bindings = dso_saref.to_bindings(name, payload)
    assert dso_saref.from_bindings(name, bindings) == dso_saref.canonical(name, payload)


def _plain_strings(bindings: list[dict[str, str]]) -> list[dict[str, str]]:
    suffix = f'^^<{XSD.string}>'
    return [{k: v.removesuffix(suffix) for k, v in row.items()} for row in bindings]


def _typed_strings(bindings: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: (v + f"^^<{XSD.string}>" if v.startswith('"') and v.endswith('"') else v) for k, v in row.items()}
            for row in bindings]


@pytest.mark.parametrize("name", GRID_DATA)
def test_spec_4_2_bindings_from_another_party_with_or_without_xsd_string_are_accepted(name: str) -> None:
    bindings = dso_saref.to_bindings(name, PAYLOADS[name])
    expected = dso_saref.canonical(name, PAYLOADS[name])
    assert dso_saref.from_bindings(name, _typed_strings(bindings)) == expected
    assert dso_saref.from_bindings(name, _plain_strings(_typed_strings(bindings))) == expected


def test_spec_4_2_bindings_with_other_lexical_forms_of_numbers_and_times_are_accepted() -> None:
    (row,) = dso_saref.to_bindings("primary-substation-reading", PS)
    row.update({"tap_position": f'"+05"^^<{XSD.integer}>', "current": f'"310.000"^^<{XSD.decimal}>', "id": '"PS01"',
                "timestamp": f'"2021-09-27T11:00:00+01:00"^^<{XSD.dateTime}>'})
    assert dso_saref.from_bindings("primary-substation-reading", [row]) == dso_saref.canonical(
        "primary-substation-reading", PS)


@pytest.mark.parametrize("name", READINGS)
def test_spec_4_2_bindings_missing_a_variable_are_refused(name: str) -> None:
    (row,) = dso_saref.to_bindings(name, PAYLOADS[name])
    row.pop("timestamp")
    with pytest.raises(dso_saref.PayloadError) as info:
        dso_saref.from_bindings(name, [row])
    assert "timestamp" in info.value.problems[0].message


def test_spec_4_2_bindings_with_a_measurement_iri_not_minted_from_its_fields_are_refused() -> None:
    (row,) = dso_saref.to_bindings("lv-client-reading", LV)
    row["voltage_measurement"] = f"<{BASE}client/LV0002/voltage/2021-09-27T10%3A00%3A00Z>"
    with pytest.raises(dso_saref.PayloadError) as info:
        dso_saref.from_bindings("lv-client-reading", [row])
    assert info.value.problems[0].location == "bindings[0].voltage_measurement"


def test_spec_4_2_bindings_with_a_wrong_voltage_level_iri_are_refused() -> None:
    (row,) = dso_saref.to_bindings("grid-topology", [MV_ENTRY])
    row["voltage_level"] = f"<{DSO.MediumVoltageClient}>"
    with pytest.raises(dso_saref.PayloadError) as info:
        dso_saref.from_bindings("grid-topology", [row])
    assert info.value.problems[0].location == "bindings[0].voltage_level"
