"""Validation (issue 3): one call, two layers, JSON locations; shapes that cannot drift; the CLI contract."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SH, XSD

import dso_saref
from dso_saref import shaping
from dso_saref.cli import main
from dso_saref.terms import NONE, SAREF, Settings
from dso_saref.validation import SHAPES, Validator
from dso_saref.validation.report import Locator, Report, Violation
from tests.conftest import NAMES, ROOT
from tests.strategies import payload_strategy
from tests.support.shape_layer import raw_rows, shape_layer
from tests.test_catalog import by_value

DSOSH_VARIABLE = URIRef(SHAPES + "variable")
HEMS = {"Voltage_Monitoring": [{"Hems_ID": "ID1234", "timestamp": "2021-12-03T15:11:20Z", "Voltage_from_Hems": 240.0,
                                "Voltage_from_Hems_unit": "volts"}]}


@cache
def validator() -> Validator:
    return Validator()


def example(name: str) -> Any:
    return dso_saref.catalog[name].example()


# -- every message --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_message_has_a_shape_and_its_example_validates(name: str) -> None:
    assert dso_saref.catalog[name].shape_path.is_file(), f"shapes/{name}.ttl is missing"
    report = dso_saref.validate(name, example(name))
    assert report.conforms, [str(e) for e in report.errors]
    assert report.errors == () and report.warnings == ()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("fmt", ["turtle", "nt", "json-ld"])
def test_every_example_graph_validates_as_rdf(name: str, fmt: str) -> None:
    text = dso_saref.saref(name, example(name)).serialize(format=fmt)
    report = dso_saref.validate(name, text, format=fmt)
    assert report.conforms and report.input == "rdf", [str(e) for e in report.errors]


@pytest.mark.parametrize("name", NAMES)
def test_validated_triples_are_the_saref_triples(name: str) -> None:
    """The triples the shape sees (the payload's table, in payload order for locations) are the ones
    saref() gives and the bindings mean (the pattern instantiated with every binding row)."""
    description = dso_saref.catalog[name]
    table = description.table(example(name))
    graph = dso_saref.saref(name, example(name))
    assert by_value(Graph().parse(data=table.ntriples(), format="nt")) == by_value(graph)
    rows = description.parse_bindings(table.bindings())
    assert set(description.pattern.instantiate(rows)) == set(graph)


def test_targets_only_hit_their_own_message_s_nodes() -> None:
    """Every example, each under its own base IRI, in one graph: every shape still conforms, so no
    shape's targets take in (and refuse) the nodes of another message."""
    union = Graph()
    for name in NAMES:
        settings = Settings(base=f"https://dso.example.org/{name}/")
        union += dso_saref.saref(name, example(name), settings=settings)
    for name in NAMES:
        report = validator().validate(name, union)
        assert report.conforms, (name, [str(e) for e in report.errors][:5])


# -- the shapes cannot drift from the patterns ----------------------------------------------------------


def _shapes(name: str) -> Graph:
    return dso_saref.catalog[name].shapes_graph


def test_the_shapes_are_the_generated_ones() -> None:
    """shapes/*.ttl are what `python -m dso_saref.shaping` writes from the patterns (no hand edits)."""
    generated = shaping.generate(dso_saref.catalog)
    stale = [name for name, text in generated.items()
             if dso_saref.catalog[name].shape_path.read_text(encoding="utf-8") != text]
    assert stale == [], f"run `python -m dso_saref.shaping`: {stale}"
    assert shaping.main(["--check"]) == 0


@pytest.mark.parametrize("name", NAMES)
def test_every_class_a_pattern_types_has_a_shape_targeting_it(name: str) -> None:
    graph = _shapes(name)
    typed = {o for _, p, o in dso_saref.catalog[name].pattern.triples if p == RDF.type and isinstance(o, URIRef)}
    targeted = set(graph.objects(None, SH.targetClass))
    assert typed == targeted
    assert not list(graph.objects(None, SH.target)), "no SHACL-AF targets: standard engines ignore them"


@pytest.mark.parametrize("name", NAMES)
def test_every_shape_is_named_labelled_and_explained(name: str) -> None:
    graph = _shapes(name)
    node_shapes = set(graph.subjects(RDF.type, SH.NodeShape))
    property_shapes = set(graph.subjects(RDF.type, SH.PropertyShape))
    assert node_shapes and property_shapes
    for shape in node_shapes | property_shapes:
        assert str(shape).startswith(shaping.CLASSES), f"{shape}: class shapes are named in {shaping.CLASSES}"
    for shape in node_shapes:
        assert graph.value(shape, RDFS.label) and graph.value(shape, SH.targetClass), shape
    for shape in property_shapes:
        message = str(graph.value(shape, SH.message) or "")
        assert message and not re.search(r"\ba [aeiou]\w", message), (shape, message)
        assert (None, SH.property, shape) in graph, f"{shape} belongs to no node shape"
    for constraint in graph.objects(None, SH.sparql):
        assert graph.value(constraint, SH.message), constraint


@pytest.mark.parametrize("name", NAMES)
def test_shapes_use_only_declared_terms(name: str) -> None:
    graph = _shapes(name)
    declared = dso_saref.catalog.declared_iris
    own = (str(SH), str(RDF), str(RDFS), str(XSD), str(OWL), SHAPES)  # OWL: pySHACL's system triples
    used = {str(t) for triple in graph for t in triple if isinstance(t, URIRef)}
    undeclared = sorted(i for i in used if not i.startswith(own) and i not in declared)
    assert not undeclared, f"shapes/{name}.ttl uses IRIs not declared in ontologies/: {undeclared}"


# -- the report -----------------------------------------------------------------------------------------


def test_report_is_typed_and_serialisable() -> None:
    bad = copy.deepcopy(HEMS)
    bad["Voltage_Monitoring"][0]["Voltage_from_Hems_unit"] = "parsecs"
    report = dso_saref.validate("hems-voltage", bad)
    assert isinstance(report, Report) and not report and not report.conforms
    (error,) = report.errors
    assert isinstance(error, Violation)
    assert error.location == "$.Voltage_Monitoring[0].Voltage_from_Hems_unit"
    assert error.layer == "model" and error.rule == "value_error" and "parsecs" in error.message
    assert json.loads(json.dumps(report.to_dict()))["errors"][0]["location"] == error.location
    with pytest.raises(dso_saref.PayloadError) as info:
        report.raise_for_errors()
    assert info.value.problems == [error.problem]


def test_model_errors_required_and_unknown_keys_and_types() -> None:
    report = dso_saref.validate("hems-voltage", {"Voltage_Monitoring": [{"Hems_ID": "x", "Voltage_from_Hems": "high",
                                                                         "Voltage_from_Hems_unit": "V", "extra": 1}]})
    found = {(e.location, e.rule) for e in report.errors}
    assert ("$.Voltage_Monitoring[0].timestamp", "missing") in found
    assert ("$.Voltage_Monitoring[0].extra", "extra_forbidden") in found
    assert ("$.Voltage_Monitoring[0].Voltage_from_Hems", "value_error") in found


def test_array_locations_name_the_element() -> None:
    offers = example("flexibility-offers")
    offers = [offers[0], {**offers[0], "offer_id": "second", "price": "cheap"}]
    report = dso_saref.validate("flexibility-offers", offers)
    assert [e.location for e in report.errors] == ["$[1].price"]


def test_lenient_mode_reports_unknown_keys_as_warnings() -> None:
    payload = {**example("hems-voltage-request"), "extra": 1}
    assert not dso_saref.validate("hems-voltage-request", payload).conforms
    report = dso_saref.validate("hems-voltage-request", payload, settings=Settings(strict=False))
    assert report.conforms and [w.location for w in report.warnings] == ["$.extra"]


def test_malformed_json_text_is_an_input_error() -> None:
    report = dso_saref.validate("hems-voltage", '{"Voltage_Monitoring": [')
    (error,) = report.errors
    assert (error.layer, error.location, error.rule) == ("input", "$", "json")
    assert dso_saref.validate("hems-voltage", json.dumps(HEMS)).conforms


def test_shape_violations_of_a_graph_name_focus_node_and_property() -> None:
    graph = dso_saref.saref("hems-voltage", HEMS)
    measurement = next(graph.subjects(RDF.type, SAREF.Measurement))
    graph.remove((measurement, SAREF.hasValue, None))
    graph.add((measurement, SAREF.hasValue, Literal("high")))
    report = dso_saref.validate("hems-voltage", graph)
    (error,) = report.errors
    prop = graph.value(measurement, SAREF.relatesToProperty)
    assert (error.layer, error.rule, error.focus, error.value) == ("shape", "sh:datatype", f"<{prop}>", '"high"')
    assert error.path == "^saref:relatesToProperty/saref:hasValue"
    assert error.location == f"<{prop}> ^saref:relatesToProperty/saref:hasValue"
    assert "a number" in error.message and error.shape.startswith("classes#")


def test_rdf_syntax_errors_and_empty_graphs_are_reported() -> None:
    report = dso_saref.validate("hems-voltage", "@prefix broken", format="turtle")
    assert [(e.layer, e.location, e.rule) for e in report.errors] == [("input", "<document>", "syntax")]
    report = dso_saref.validate("hems-voltage", Graph())
    assert [e.rule for e in report.errors] == ["instance"]


def test_every_node_of_a_class_is_checked_whatever_its_siblings() -> None:
    """A node missing a required triple is refused even when another node of its class is complete
    (issue 10, item 8: shapes target every node of the class)."""
    payload = {"Voltage_Monitoring": [HEMS["Voltage_Monitoring"][0],
                                      {**HEMS["Voltage_Monitoring"][0], "Hems_ID": "ID5678"}]}
    graph = dso_saref.saref("hems-voltage", payload)
    first, second = sorted(graph.subjects(RDF.type, SAREF.Measurement), key=str)
    graph.remove((second, SAREF.hasValue, None))
    graph.remove((first, SAREF.isMeasuredIn, None))
    for engine in ("compiled", "pyshacl"):
        report = Validator(engine=engine).validate("hems-voltage", graph)
        assert {(e.rule, e.value or e.focus, e.path) for e in report.errors} == {
            ("sh:minCount", f"<{second}>", "saref:hasValue"),
            ("sh:minCount", f"<{first}>", "saref:isMeasuredIn")}, engine


def test_validation_does_not_change_a_graph() -> None:
    graph = dso_saref.saref("hems-voltage", HEMS)
    before = set(graph)
    graph.remove((next(graph.subjects(RDF.type, SAREF.Measurement)), SAREF.isMeasuredIn, None))
    before = set(graph)
    assert not dso_saref.validate("hems-voltage", graph).conforms
    assert set(graph) == before
    assert not Validator(inference="rdfs").validate("hems-voltage", graph).conforms
    assert set(graph) == before


def test_unknown_message_and_options_raise() -> None:
    with pytest.raises(dso_saref.UnknownMessageError):
        dso_saref.validate("hems-voltag", HEMS)
    with pytest.raises(ValueError):
        Validator(inference="owl-everything")
    with pytest.raises(ValueError):
        dso_saref.validate("hems-voltage", "x", format="yaml")


@pytest.mark.parametrize("name", ["hems-voltage", "metering-data", "flexibility-offers"])
def test_rdfs_inference_option_validates_the_examples(name: str) -> None:
    report = Validator(inference="rdfs").validate(name, example(name))
    assert report.conforms, [str(e) for e in report.errors]


def test_subclass_typed_node_needs_the_hierarchy_in_the_data_or_the_ontology() -> None:
    """sh:class and sh:targetClass follow rdfs:subClassOf found in the data graph (SHACL), so a
    pilot's own subclass conforms when the graph says so."""
    graph = dso_saref.saref("hems-voltage", HEMS)
    measurement = next(graph.subjects(RDF.type, SAREF.Measurement))
    prop = graph.value(measurement, SAREF.relatesToProperty)
    (kind,) = graph.objects(prop, RDF.type)
    special = URIRef("https://pilot.example.org/SinglePhaseVoltage")
    graph.remove((prop, RDF.type, None))
    graph.add((prop, RDF.type, special))
    assert not dso_saref.validate("hems-voltage", graph).conforms
    graph.add((special, RDFS.subClassOf, kind))
    assert dso_saref.validate("hems-voltage", graph).conforms


def test_locator_uses_payload_order_not_canonical_order() -> None:
    description = dso_saref.catalog["hems-voltage"]
    payload = {"Voltage_Monitoring": [{**HEMS["Voltage_Monitoring"][0], "Hems_ID": "Z"},
                                      {**HEMS["Voltage_Monitoring"][0], "Hems_ID": "A"}]}
    rows = list(raw_rows(description, payload, Settings().base))
    locator = Locator(description.pattern, description.rows, rows)
    hems_a = next(row["hems"] for _, row in rows if "/A" in str(row["hems"]))
    assert locator.locate(hems_a, URIRef("https://w3id.org/dso-saref/ontology/hasIdentifier"), None) \
        == "$.Voltage_Monitoring[1].Hems_ID"
    measurement = next(row["measurement"] for _, row in rows if "/A/" in str(row["measurement"]))
    assert locator.locate(measurement, SAREF.hasValue, Literal("240.0", datatype=XSD.double)) \
        == "$.Voltage_Monitoring[1].Voltage_from_Hems"
    assert locator.locate(measurement, None, None) == "$.Voltage_Monitoring[1]"


def test_shape_layer_alone_refuses_what_the_model_refuses() -> None:
    bad = copy.deepcopy(HEMS)
    bad["Voltage_Monitoring"][0]["Voltage_from_Hems"] = "high"
    del bad["Voltage_Monitoring"][0]["timestamp"]
    report = shape_layer("hems-voltage", bad)
    # the class shapes require of a measurement what every message says of one (a threshold or an
    # offer's quantity has no timestamp): the timestamp of a reading is required by the message's model
    assert {(e.location, e.rule) for e in report.errors} == {
        ("$.Voltage_Monitoring[0].Voltage_from_Hems", "sh:datatype")}
    model = dso_saref.validate("hems-voltage", bad)
    assert {(e.location, e.rule) for e in model.errors} >= {("$.Voltage_Monitoring[0].timestamp", "missing")}


# -- hypothesis: never raise, never change the input, layers agree -------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
SLOW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.filter_too_much])


@pytest.mark.parametrize("name", NAMES)
@SLOW
@given(payload=JSON)
def test_arbitrary_json_always_gives_a_report(name: str, payload: Any) -> None:
    frozen = copy.deepcopy(payload)
    for report in (dso_saref.validate(name, payload), shape_layer(name, payload)):
        assert isinstance(report, Report)
        assert all(e.location.startswith("$") and e.message and e.rule for e in report.errors)
    assert json.dumps(payload, sort_keys=True) == json.dumps(frozen, sort_keys=True)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out.extend(_paths(value, (*prefix, i)))
    return out


@st.composite
def mutated(draw: st.DrawFn, name: str) -> Any:
    payload = copy.deepcopy(draw(payload_strategy(dso_saref.catalog[name].model)))
    path = draw(st.sampled_from(_paths(payload)))
    if not path:
        return draw(JSON)
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(JSON)
    return payload


@pytest.mark.parametrize("name", NAMES)
@SLOW
@given(data=st.data())
def test_mutations_of_valid_payloads_give_reports_and_the_layers_agree(name: str, data: st.DataObject) -> None:
    payload = data.draw(mutated(name))
    frozen = json.dumps(payload, sort_keys=True)
    report = dso_saref.validate(name, payload)
    assert json.dumps(payload, sort_keys=True) == frozen
    model_accepts = not any(e.layer in ("input", "model") for e in report.errors)
    if model_accepts:
        assert report.conforms, f"the model accepts but the shape refuses: {[str(e) for e in report.errors]}"


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_valid_payloads_conform_to_both_layers(name: str, data: st.DataObject) -> None:
    payload = data.draw(payload_strategy(dso_saref.catalog[name].model))
    report = dso_saref.validate(name, payload)
    assert report.conforms, [str(e) for e in report.errors]


# -- the command line -----------------------------------------------------------------------------------


def cli(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.output


EXAMPLE = str(ROOT / "examples" / "hems-voltage.json")


def test_cli_validate_valid_file_exits_0() -> None:
    code, out = cli("validate", "hems-voltage", EXAMPLE)
    assert code == 0 and "1 valid, 0 invalid" in out


def test_cli_validate_invalid_file_prints_file_location_message_and_exits_1(tmp_path: Path) -> None:
    bad = copy.deepcopy(HEMS)
    bad["Voltage_Monitoring"][0]["Voltage_from_Hems_unit"] = "parsecs"
    del bad["Voltage_Monitoring"][0]["timestamp"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    code, out = cli("validate", "hems-voltage", str(path), EXAMPLE)
    assert code == 1
    lines = [line for line in out.splitlines() if line.startswith(str(path))]
    assert lines == [f"{path}: $.Voltage_Monitoring[0].Voltage_from_Hems_unit: unknown unit 'parsecs' (expected one "
                     "of volts, V, Volts) [value_error]",
                     f"{path}: $.Voltage_Monitoring[0].timestamp: required key is missing [missing]"]


def test_cli_validate_malformed_json_and_rdf_files_are_invalid_not_crashes(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{")
    (tmp_path / "b.ttl").write_text("@prefix broken")
    code, out = cli("validate", "hems-voltage", str(tmp_path / "a.json"), str(tmp_path / "b.ttl"))
    assert code == 1 and "not valid JSON" in out and "not valid turtle" in out


def test_cli_validate_rdf_files_by_suffix(tmp_path: Path) -> None:
    graph = dso_saref.saref("hems-voltage", HEMS)
    for suffix, fmt in ((".ttl", "turtle"), (".nt", "nt"), (".jsonld", "json-ld")):
        (tmp_path / f"g{suffix}").write_text(graph.serialize(format=fmt))
    code, out = cli("validate", "hems-voltage", str(tmp_path))
    assert code == 0 and "3 valid" in out


def test_cli_validate_directory_glob_json_format_and_progress(tmp_path: Path) -> None:
    for i in range(6):
        (tmp_path / f"p{i}.json").write_text(json.dumps(HEMS))
    (tmp_path / "p5.json").write_text(json.dumps({"Voltage_Monitoring": [{}]}))
    code, out = cli("validate", "hems-voltage", str(tmp_path / "p*.json"), "--format", "json")
    assert code == 1
    document = json.loads(out[out.index("{"):])
    assert len(document["files"]) == 6 and document["conforms"] is False
    assert [f["conforms"] for f in document["files"]] == [True] * 5 + [False]
    code, _ = cli("validate", "hems-voltage", str(tmp_path), "--input-format", "json")
    assert code == 1


def test_cli_validate_stdin() -> None:
    code, _ = cli("validate", "hems-voltage", "-", stdin=json.dumps(HEMS))
    assert code == 0


@pytest.mark.parametrize("args", [
    ("validate", "hems-voltag", EXAMPLE),
    ("validate", "hems-voltage", "/nonexistent/x.json"),
    ("validate", "hems-voltage", "/nonexistent/*.json"),
    ("validate", "hems-voltage"),
    ("shapes", "hems-voltag"),
])
def test_cli_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    code, _ = cli(*args)
    assert code == 2


def test_cli_shapes_prints_the_shape() -> None:
    code, out = cli("shapes", "hems-voltage")
    assert code == 0
    graph = Graph().parse(data=out, format="turtle")
    assert (None, RDF.type, SH.NodeShape) in graph


def test_no_rows_are_bound_to_nil_in_a_located_graph() -> None:
    description = dso_saref.catalog["flexibility-offers"]
    rows = list(raw_rows(description, [{**example("flexibility-offers")[0], "meter_ids": []}], Settings().base))
    assert all(row["providing_meter"] == NONE for _, row in rows)


def test_rdfs_inference_leaves_rdflibs_literal_conversions_as_they_were() -> None:
    """owlrl (pySHACL's RDFS inference) rebinds how rdflib reads ``xsd:dateTimeStamp`` and restores
    nothing: after a validation with inference a user's literals still compare as rdflib's own."""
    import rdflib.term

    before = dict(rdflib.term._toPythonMapping)
    stamp = Literal("2021-12-03T15:11:00Z", datatype=XSD.dateTimeStamp)
    report = Validator(inference="rdfs").validate("hems-voltage", example("hems-voltage"))
    assert report.conforms
    assert dict(rdflib.term._toPythonMapping) == before
    assert Literal("2021-12-03T15:11:00Z", datatype=XSD.dateTimeStamp).value == stamp.value
