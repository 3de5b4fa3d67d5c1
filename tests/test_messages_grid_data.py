"""DSO data layer (spec 4.2, Tables 15-19): client and substation readings, grid topology.

Tests are named after the table they check, or after the item of issue 10 whose fix they prove. The
generic round trips (example, hypothesis) run for these messages in tests/test_catalog.py; here are the
rules of each table, the fixed units, the topology's secondary side as a part of its own, hostile
identifiers, bindings written by another party, and what the triples mean when graphs are merged: they
conform to the shapes and their OWL-RL closure with the official ontologies is consistent.
"""

from __future__ import annotations

import copy
import math
import re
from datetime import timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SKOS, XSD

import dso_saref
from dso_saref.patterns import Var
from dso_saref.shaping import disagreements
from dso_saref.terms import DSO, NONE, OM, QUDT_UNIT, S4GRID, SAREF
from tests.conftest import ROOT
from tests.payload_checks import locations, problems
from tests.strategies import payload_strategy
from tests.support.merges import (
    Merging,
    closure,
    drawn,
    inconsistencies,
    naive_graph,
    own_term_problems,
    project_ontologies,
)

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
#: S4GRID's quantities: individuals of s4grid:EnergyAndPowerProperty, never classes (issue 10, item 3).
QUANTITIES = {S4GRID.ActivePower, S4GRID.ReactivePower, S4GRID.Voltage, S4GRID.Current}
#: The classes the grid-data messages type, each described by one message only (or alike by all).
GRID_CLASSES = {DSO.GridClient, DSO.PrimarySubstation, DSO.SecondarySubstation, DSO.Feeder, DSO.TapPosition,
                DSO.ActivePowerInjected, DSO.ActivePowerWithdrawn, DSO.ReactivePowerInjected,
                DSO.ReactivePowerWithdrawn, DSO.ActivePowerProperty, DSO.ReactivePowerProperty, DSO.VoltageProperty,
                DSO.CurrentProperty}
HOSTILE = ["LV 0001", "a>b", 'say "hi"', "line\nbreak", "tab\there", "ünïcødé ⚡ 電", "back\\slash", "<x>", "%41", "'"]


def value_of(graph: Graph, quantity_at: str) -> tuple[Literal, URIRef]:
    """The value and unit of the measurement minted under ``quantity_at`` (``.../voltage/{timestamp}``;
    the IRI ends with a digest of the value)."""
    (measurement,) = [m for m in graph.subjects(RDF.type, SAREF.Measurement) if quantity_at + "/" in str(m)]
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
    assert bindings[name][0]["id"] == '"1234"'


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
    kinds = {(graph.value(p, RDF.type), graph.value(p, SKOS.broader))
             for p in graph.objects(feature, SAREF.hasProperty)}
    assert kinds == {(DSO.ActivePowerInjected, S4GRID.ActivePower), (DSO.ActivePowerWithdrawn, S4GRID.ActivePower),
                     (DSO.ReactivePowerInjected, S4GRID.ReactivePower),
                     (DSO.ReactivePowerWithdrawn, S4GRID.ReactivePower), (DSO.VoltageProperty, S4GRID.Voltage)}
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


@pytest.mark.parametrize("name", READINGS)
def test_issue_10_3_quantities_are_property_nodes_narrower_than_s4grid_individuals_never_typed_with_them(
        name: str) -> None:
    graph = dso_saref.saref(name, PAYLOADS[name])
    assert not [s for s, o in graph.subject_objects(RDF.type) if o in QUANTITIES]
    (feature,) = graph.subjects(DSO.hasIdentifier, None)
    for prop in graph.objects(feature, SAREF.hasProperty):
        if (prop, RDF.type, DSO.TapPosition) in graph:
            assert graph.value(prop, SKOS.broader) is None  # S4GRID has no quantity for a tap position
            continue
        assert graph.value(prop, SKOS.broader) in QUANTITIES, prop
        assert str(graph.value(prop, RDF.type)).startswith(str(DSO)), prop


def test_spec_4_2_table_18_signed_quantities_are_the_core_kinds_without_a_direction() -> None:
    graph = dso_saref.saref("primary-substation-reading", PS)
    base = BASE + "primary-substation/PS01/"
    assert (URIRef(base + "active-power"), RDF.type, DSO.ActivePowerProperty) in graph
    assert (URIRef(base + "reactive-power"), RDF.type, DSO.ReactivePowerProperty) in graph
    assert (URIRef(base + "current"), RDF.type, DSO.CurrentProperty) in graph
    assert (URIRef(base + "current"), SKOS.broader, S4GRID.Current) in graph
    assert (URIRef(base + "tap-position"), RDF.type, DSO.TapPosition) in graph


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
    assert dso_saref.to_bindings("grid-topology", []) == {"grid-topology": []}
    assert dso_saref.from_bindings("grid-topology", {"grid-topology": []}) == []
    assert locations("grid-topology", {"client_id": "LV0001"}) == ["$"]


def test_issue_10_1_mv_client_has_no_secondary_side_row_and_no_placeholder() -> None:
    bindings = dso_saref.to_bindings("grid-topology", [MV_ENTRY])
    assert list(bindings) == ["grid-topology"], "an MV client has no row in the secondary-substation part"
    (row,) = bindings["grid-topology"]
    assert f"<{NONE}>" not in row.values()
    graph = dso_saref.saref("grid-topology", [MV_ENTRY])
    assert not list(graph.triples((None, DSO.isConnectedTo, None)))
    assert not list(graph.triples((None, DSO.isSuppliedBy, None)))
    assert dso_saref.from_bindings("grid-topology", bindings) == [MV_ENTRY]


def test_issue_10_1_lv_client_secondary_side_is_a_part_joined_by_the_client_and_its_ps_feeder() -> None:
    description = dso_saref.catalog["grid-topology"]
    (part,) = [p for p in description.parts if p.parent is not None]
    assert part.key == "grid-topology.secondary-substation"
    assert part.own == {"ss", "secondary_substation", "ss_feeder_node", "ss_feeder"}
    assert part.anchors == {"client", "client_id", "ps_feeder_node", "ps_feeder"}
    bindings = dso_saref.to_bindings("grid-topology", [LV_ENTRY, MV_ENTRY])
    assert [row["client_id"] for row in bindings["grid-topology.secondary-substation"]] == ['"LV0001"']
    assert dso_saref.from_bindings("grid-topology", bindings) == [LV_ENTRY, MV_ENTRY]


def test_spec_4_2_table_19_mv_client_on_a_feeder_shared_with_a_secondary_substation_reads_back_alone() -> None:
    # PS01-F7 feeds both MV0001 and SS01: reading the graph back must not hang SS01 under MV0001.
    topology = [LV_ENTRY, MV_ENTRY, {**LV_ENTRY, "client_id": "LV0002", "secondary_substation": "SS02",
                                     "ss_feeder": "SS02-F1"}]
    graph = dso_saref.saref("grid-topology", topology)
    assert dso_saref.unsaref("grid-topology", graph) == dso_saref.canonical("grid-topology", topology)


def test_spec_4_2_table_19_feeders_are_minted_under_their_substation() -> None:
    # Two substations may both number a feeder "F1": they are two feeders; one feeder is one node.
    topology = [{**LV_ENTRY, "ss_feeder": "F1"},
                {**LV_ENTRY, "client_id": "LV0002", "secondary_substation": "SS02", "ss_feeder": "F1"},
                MV_ENTRY]
    graph = dso_saref.saref("grid-topology", topology)
    feeders = set(graph.subjects(DSO.hasIdentifier, Literal("F1", datatype=XSD.string)))
    assert feeders == {URIRef(BASE + "secondary-substation/SS01/feeder/F1"),
                       URIRef(BASE + "secondary-substation/SS02/feeder/F1")}
    assert set(graph.subjects(DSO.isFedBy, None)) == {URIRef(BASE + p) for p in (
        "client/LV0001", "client/LV0002", "client/MV0001", "secondary-substation/SS01", "secondary-substation/SS02")}
    assert set(graph.objects(None, DSO.isFedBy)) == {URIRef(BASE + "primary-substation/PS01/feeder/PS01-F7")}
    assert dso_saref.unsaref("grid-topology", graph) == dso_saref.canonical("grid-topology", topology)
    assert dso_saref.validate("grid-topology", topology).conforms


def test_spec_4_2_table_19_links_clients_feeders_and_substations() -> None:
    graph = dso_saref.saref("grid-topology", [LV_ENTRY])
    client, ss, ps = (URIRef(BASE + p) for p in ("client/LV0001", "secondary-substation/SS01",
                                                  "primary-substation/PS01"))
    ss_feeder = URIRef(BASE + "secondary-substation/SS01/feeder/SS01-F2")
    ps_feeder = URIRef(BASE + "primary-substation/PS01/feeder/PS01-F7")
    for triple in [(client, RDF.type, DSO.GridClient), (client, DSO.hasVoltageLevel, DSO.LowVoltage),
                   (client, DSO.isConnectedTo, ss_feeder), (client, DSO.isSuppliedBy, ss),
                   (client, DSO.isFedBy, ps_feeder), (ss_feeder, DSO.isFeederOf, ss), (ss, DSO.isFedBy, ps_feeder),
                   (ps_feeder, DSO.isFeederOf, ps), (ss_feeder, RDF.type, DSO.Feeder),
                   (ps_feeder, RDF.type, DSO.Feeder),
                   (ss, DSO.hasIdentifier, Literal("SS01", datatype=XSD.string)),
                   (ps, DSO.hasIdentifier, Literal("PS01", datatype=XSD.string))]:
        assert triple in graph, triple
    # the substations are referred to, not typed: their readings type them and say more of them
    assert graph.value(ss, RDF.type) is None and graph.value(ps, RDF.type) is None


def test_issue_10_5_readings_and_topology_name_the_same_nodes_and_each_class_is_typed_by_one_message() -> None:
    topology = dso_saref.saref("grid-topology", PAYLOADS["grid-topology"])
    graph = Graph()
    for name in GRID_DATA:
        graph += dso_saref.saref(name, PAYLOADS[name])
    client, ss, ps = (URIRef(BASE + p) for p in ("client/LV0001", "secondary-substation/SS01",
                                                  "primary-substation/PS01"))
    # the topology types the client dso:GridClient, its reading with its table's narrower class
    assert set(graph.objects(client, RDF.type)) == {DSO.GridClient, DSO.LowVoltageClient}
    assert set(graph.objects(URIRef(BASE + "client/MV0001"), RDF.type)) == {
        DSO.GridClient, DSO.SpecialLowOrMediumVoltageClient}
    assert set(graph.objects(client, SAREF.hasProperty)) and (client, DSO.isSuppliedBy, ss) in graph
    assert set(graph.objects(ss, RDF.type)) == {DSO.SecondarySubstation}
    assert set(graph.objects(ps, RDF.type)) == {DSO.PrimarySubstation}
    assert set(graph.objects(ss, SAREF.hasProperty)) and set(graph.objects(ps, SAREF.hasProperty))
    assert (URIRef(BASE + "client/MV0001"), DSO.hasVoltageLevel, DSO.MediumVoltage) in graph
    for name in READINGS:
        assert not list(dso_saref.saref(name, PAYLOADS[name]).subjects(RDF.type, DSO.GridClient)), name
    # each message reads back from its own triples merged with the topology's
    assert dso_saref.unsaref("grid-topology", graph) == dso_saref.canonical("grid-topology", PAYLOADS["grid-topology"])
    for name in READINGS:
        merged = topology + dso_saref.saref(name, PAYLOADS[name])
        assert dso_saref.unsaref(name, merged) == dso_saref.canonical(name, PAYLOADS[name]), name


def _template(template: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", template)


def test_issue_10_5_one_iri_template_per_kind_of_grid_thing() -> None:
    # every node of the family hangs from a client or a substation (a feeder under the substation it leaves)
    kinds = {"client": "client/{}", "primary-substation": "primary-substation/{}",
             "secondary-substation": "secondary-substation/{}"}
    typed: dict[str, set[str]] = {}
    for name in GRID_DATA:
        description = dso_saref.catalog[name]
        for variable in description.variables.values():
            if variable.template:
                template = _template(variable.template)
                kind = template.split("/")[0]
                assert kind in kinds and template.startswith(kinds[kind]), (name, variable.name, template)
        for s, p, o in description.pattern.triples:
            if p == RDF.type and isinstance(s, Var):
                typed.setdefault(str(o), set()).add(name)
    assert typed[str(DSO.GridClient)] == {"grid-topology"}
    assert typed[str(DSO.Feeder)] == {"grid-topology"}
    assert typed[str(DSO.PrimarySubstation)] == {"primary-substation-reading"}
    assert typed[str(DSO.SecondarySubstation)] == {"secondary-substation-reading"}


def test_issue_10_every_message_that_types_a_grid_class_describes_it_alike() -> None:
    mine = {f"dso:{c.removeprefix(str(DSO))}" for c in GRID_CLASSES}
    assert [d for d in disagreements(dso_saref.catalog) if d.split(" ")[0] in mine] == []


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


@pytest.mark.parametrize("name", GRID_DATA)
@pytest.mark.parametrize("dots", [".", ".."])
def test_issue_10_12_dot_identifiers_mint_no_dot_segment(name: str, dots: str) -> None:
    # RFC 3986 remove_dot_segments would turn client/../voltage into voltage: another node
    payload = copy.deepcopy(PAYLOADS[name])
    if name == "grid-topology":
        for key in ("client_id", "secondary_substation", "ss_feeder", "primary_substation", "ps_feeder"):
            payload[0][key] = dots
    else:
        payload["id"] = dots
    graph = dso_saref.saref(name, payload)
    segments = {part for node in graph.all_nodes() if isinstance(node, URIRef) and str(node).startswith(BASE)
                for part in str(node)[len(BASE):].split("/")}
    assert not segments & {".", ".."}
    assert dso_saref.unsaref(name, graph) == dso_saref.canonical(name, payload)


Bindings = dict[str, list[dict[str, str]]]


def _rewritten(bindings: Bindings, change: Any) -> Bindings:
    return {key: [{k: change(v) for k, v in row.items()} for row in rows] for key, rows in bindings.items()}


def _plain_string(value: str) -> str:
    return value.removesuffix(f"^^<{XSD.string}>")


def _typed_string(value: str) -> str:
    return value + f"^^<{XSD.string}>" if value.startswith('"') and value.endswith('"') else value


@pytest.mark.parametrize("name", GRID_DATA)
def test_spec_4_2_bindings_from_another_party_with_or_without_xsd_string_are_accepted(name: str) -> None:
    bindings = dso_saref.to_bindings(name, PAYLOADS[name])
    expected = dso_saref.canonical(name, PAYLOADS[name])
    typed = _rewritten(bindings, _typed_string)
    assert dso_saref.from_bindings(name, typed) == expected
    assert dso_saref.from_bindings(name, _rewritten(typed, _plain_string)) == expected


@pytest.mark.parametrize("name", GRID_DATA)
def test_issue_10_2_bindings_minted_under_another_partys_base_read_back(name: str) -> None:
    bindings = dso_saref.to_bindings(name, PAYLOADS[name])
    theirs = _rewritten(bindings, lambda v: v.replace(BASE, "urn:peer:grid:"))
    assert dso_saref.from_bindings(name, theirs) == dso_saref.canonical(name, PAYLOADS[name])
    graph = dso_saref.saref(name, PAYLOADS[name], settings=dso_saref.Settings(base="https://peer.example/id/"))
    assert dso_saref.unsaref(name, graph) == dso_saref.canonical(name, PAYLOADS[name])


def test_spec_4_2_bindings_with_other_lexical_forms_of_numbers_and_times_are_accepted() -> None:
    (row,) = dso_saref.to_bindings("primary-substation-reading", PS)["primary-substation-reading"]
    row.update({"tap_position": f'"+05"^^<{XSD.integer}>', "current": f'"310.000"^^<{XSD.decimal}>', "id": '"PS01"',
                "timestamp": f'"2021-09-27T11:00:00+01:00"^^<{XSD.dateTime}>'})
    assert dso_saref.from_bindings("primary-substation-reading", [row]) == dso_saref.canonical(
        "primary-substation-reading", PS)


@pytest.mark.parametrize("name", READINGS)
def test_spec_4_2_bindings_missing_a_variable_are_refused(name: str) -> None:
    (row,) = dso_saref.to_bindings(name, PAYLOADS[name])[name]
    row.pop("timestamp")
    with pytest.raises(dso_saref.PayloadError) as info:
        dso_saref.from_bindings(name, [row])
    assert "timestamp" in info.value.problems[0].message


def test_spec_4_2_bindings_with_a_wrong_voltage_level_iri_are_refused() -> None:
    (row,) = dso_saref.to_bindings("grid-topology", [MV_ENTRY])["grid-topology"]
    row["voltage_level"] = f"<{DSO.MediumVoltageClient}>"
    with pytest.raises(dso_saref.PayloadError) as info:
        dso_saref.from_bindings("grid-topology", [row])
    assert info.value.problems[0].location == "bindings[0].voltage_level"


# -- what merged graphs mean (issue 10: naive instantiation, merges, OWL-RL closure) ---------------


GENERATED = settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@st.composite
def two_readings(draw: st.DrawFn, name: str) -> tuple[Any, Any]:
    """Two valid readings of the same thing, at two times or (sometimes) at the same time."""
    model = dso_saref.catalog[name].model
    first = draw(payload_strategy(model))
    second = {**draw(payload_strategy(model)), "id": first["id"]}
    if draw(st.booleans()):
        second["timestamp"] = first["timestamp"]
    return first, second


@pytest.mark.parametrize("name", GRID_DATA)
@GENERATED
@given(data=st.data())
def test_issue_10_1_binding_sets_instantiated_naively_are_our_graph_without_placeholders(
        name: str, data: st.DataObject) -> None:
    payload = data.draw(payload_strategy(dso_saref.catalog[name].model))
    naive = naive_graph(name, payload)  # fails on an unbound or rdf:nil variable
    assert set(naive) == set(dso_saref.saref(name, payload))
    assert not [o for o in naive.objects() if o == NONE]
    assert not [s for s, o in naive.subject_objects(RDF.type) if o in QUANTITIES]


@pytest.mark.parametrize("name", READINGS)
@GENERATED
@given(data=st.data())
def test_issue_10_4_two_readings_of_one_thing_merge_into_a_valid_graph(name: str, data: st.DataObject) -> None:
    first, second = data.draw(two_readings(name))
    merged = dso_saref.saref(name, first) + dso_saref.saref(name, second)
    report = dso_saref.validate(name, merged)
    assert report.conforms, [str(e) for e in report.errors]
    (thing,) = set(merged.subjects(DSO.hasIdentifier, None))
    assert len(set(merged.objects(thing, SAREF.hasProperty))) == len(set(dso_saref.saref(name, first).objects(
        thing, SAREF.hasProperty))), "the same properties"


def test_issue_10_4_readings_of_one_client_at_one_time_that_differ_are_two_measurements() -> None:
    # an LV and an MV reading (or a corrected one) of one client at one time: nothing is overwritten
    merged = dso_saref.saref("lv-client-reading", LV) + dso_saref.saref(
        "mv-client-reading", {**MV, "id": LV["id"]}) + dso_saref.saref("lv-client-reading", LV)
    client = URIRef(BASE + "client/LV0001")
    assert len(set(merged.subjects(SAREF.isMeasurementOf, client))) == 5 + 3
    assert dso_saref.validate("lv-client-reading", merged).conforms
    assert dso_saref.validate("mv-client-reading", merged).conforms


def _merged_family(extra: Graph) -> Graph:
    """The examples, two readings of each example's thing an hour apart, and ``extra``, merged."""
    graph = Graph()
    graph += extra
    for name in GRID_DATA:
        graph += naive_graph(name, PAYLOADS[name])
    for name in READINGS:
        graph += naive_graph(name, {**PAYLOADS[name], "timestamp": "2021-09-27T11:00:00Z"})
    return graph


def test_issue_10_merged_grid_graphs_conform_to_the_shapes_and_their_owl_rl_closure_is_consistent(
        merging: Merging) -> None:
    """Two seeded draws of two readings of every reading message and of a topology, with the examples,
    in one graph closed once."""
    family = st.tuples(st.tuples(*(two_readings(name) for name in READINGS)),
                       payload_strategy(dso_saref.catalog["grid-topology"].model))
    generated = Graph()
    for pairs, topology in drawn(family, 2):
        for name, pair in zip(READINGS, pairs, strict=True):
            for payload in pair:
                generated += naive_graph(name, payload)
        generated += naive_graph("grid-topology", topology)
    assert merging.problems(_merged_family(generated)) == []


def test_issue_10_7_a_reasoner_refuses_a_client_said_lv_and_mv_and_infers_each_level_from_the_topology() -> None:
    ontology = project_ontologies()
    lv_then_mv = dso_saref.saref("grid-topology", [LV_ENTRY]) + dso_saref.saref(
        "grid-topology", [{**MV_ENTRY, "client_id": "LV0001"}])
    assert inconsistencies(lv_then_mv, ontology), "LV and MV are all different, the level is functional"
    graph = naive_graph("grid-topology", [LV_ENTRY, MV_ENTRY])
    assert inconsistencies(graph, ontology) == []
    closed = closure(Graph() + graph + ontology)
    lv, mv = URIRef(BASE + "client/LV0001"), URIRef(BASE + "client/MV0001")
    assert (lv, RDF.type, DSO.LowVoltageClient) in closed and (lv, RDF.type, DSO.MediumVoltageClient) not in closed
    assert (mv, RDF.type, DSO.MediumVoltageClient) in closed and (mv, RDF.type, DSO.LowVoltageClient) not in closed


def test_spec_4_2_a_primary_and_a_secondary_substation_may_share_an_identifier() -> None:
    # one template per class: primary-substation/{id}, secondary-substation/{id} (two disjoint classes)
    same = dso_saref.saref("primary-substation-reading", PS) + dso_saref.saref(
        "secondary-substation-reading", {**SS, "id": PS["id"]})
    assert len(set(same.subjects(DSO.hasIdentifier, Literal(PS["id"], datatype=XSD.string)))) == 2
    assert inconsistencies(same, project_ontologies()) == []


# -- the grid module of the ontology (issue 10, items 3, 7 and 10) ---------------------------------


def test_issue_10_10_every_term_of_the_grid_module_has_label_comment_and_an_axiom() -> None:
    assert own_term_problems(ROOT / "ontologies" / "dso-saref-grid.ttl") == []


def test_issue_10_3_and_7_grid_module_declares_no_subclass_of_an_individual_and_distinct_voltage_levels() -> None:
    module = Graph().parse(ROOT / "ontologies" / "dso-saref-grid.ttl", format="turtle")
    assert not [s for s, o in module.subject_objects(RDFS.subClassOf) if o in QUANTITIES]
    (group,) = module.subjects(RDF.type, OWL.AllDifferent)
    members = set(Collection(module, module.value(group, OWL.distinctMembers)))
    levels = set(Collection(module, module.value(DSO.VoltageLevel, OWL.oneOf)))
    assert members == {DSO.LowVoltage, DSO.MediumVoltage} == levels
    assert (DSO.hasVoltageLevel, RDF.type, OWL.FunctionalProperty) in module
