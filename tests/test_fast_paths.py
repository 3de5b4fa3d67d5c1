"""Issue 6, fast at pilot scale: the fast paths give the reference answers.

- ``serialize`` (N-Triples, bindings, Turtle, JSON-LD) gives the triples of ``saref()`` by value and the
  binding set of ``to_bindings()``, on every example and on generated payloads.
- The compiled model reader gives pydantic's JSON, or declines.
- The compiled shapes give pySHACL's report (verdict and every violation: location, message, rule,
  shape, focus, path, value): on every example, on every refused payload of the shapes table
  (tests/test_shapes_table.py), on graph mutations of every example (a triple dropped, doubled or
  replaced), and on generated valid and mutated payloads.
- Every shape of the catalog compiles, and a zone-day of metering takes the fast path.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import XSD

import dso_saref
from dso_saref.fastshacl import SHAPES, FastValidator, Uncertain
from dso_saref.fastshacl.engine import Data, run
from dso_saref.fastshacl.model import Bail, Unsupported, compile_model
from dso_saref.report import Locator, Report
from dso_saref.serialize import _decimal_text, fast_bindings, iter_ntriples, serialize
from dso_saref.terms import Settings, lexical, parse_term
from dso_saref.validation import Validator, raw_rows
from tests.conftest import NAMES
from tests.strategies import payload_strategy

_LINE = re.compile(r"(\S+) (\S+) (.*) \.\Z")
#: Messages whose model the compiled reader declines (their validators change values): pydantic reads them.
READER_DECLINES = {"elasticity-input", "elasticity-output"}
SLOW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                       HealthCheck.too_slow])
QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                         HealthCheck.too_slow])


@cache
def fast() -> FastValidator:
    return FastValidator()


@cache
def reference() -> Validator:
    """pySHACL: the validator with engine="pyshacl" once validation.py has engines."""
    if "engine" in inspect.signature(Validator).parameters:
        return Validator(engine="pyshacl")  # type: ignore[call-arg]
    return Validator()


def example(name: str) -> Any:
    return dso_saref.catalog[name].example()


def triples(text: str) -> set[tuple[Any, Any, Any]]:
    out = set()
    for line in text.split("\n")[:-1]:
        match = _LINE.match(line)
        assert match, line
        out.add(tuple(parse_term(term) for term in match.groups()))
    return out


def binding_set(rows: list[dict[str, str]]) -> set[tuple[tuple[str, str], ...]]:
    return {tuple(sorted(row.items())) for row in rows}


def same(left: Report, right: Report) -> bool:
    """Same verdict, same violations (Report.of orders ties by arrival, which differs by engine)."""
    return (left.conforms, set(left.errors), set(left.warnings)) == (right.conforms, set(right.errors),
                                                                     set(right.warnings))


def shown(report: Report) -> list[str]:
    return sorted(f"{e} {e.shape} {e.focus} {e.path} {e.value}" for e in report.errors)


# -- the text path -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_serialize_nt_and_bindings_equal_saref_and_to_bindings_on_the_example(name: str) -> None:
    payload = example(name)
    assert triples(serialize(name, payload)) == set(dso_saref.saref(name, payload))
    assert binding_set(json.loads(serialize(name, payload, "bindings"))) == \
        binding_set(dso_saref.to_bindings(name, payload))


@pytest.mark.parametrize("fmt", ["turtle", "json-ld"])
def test_serialize_turtle_and_json_ld_parse_back_to_the_saref_graph(fmt: str) -> None:
    payload = example("metering-data")
    graph = Graph().parse(data=serialize("metering-data", payload, fmt), format=fmt)
    expected = Graph().parse(data=dso_saref.saref("metering-data", payload).serialize(format=fmt), format=fmt)
    assert set(graph) == set(expected)  # both through rdflib's parser (which normalises timestamps)


def test_iter_ntriples_streams_the_same_document() -> None:
    payload = zone_day(3, 5)
    assert "".join(iter_ntriples("metering-data", payload)) == serialize("metering-data", payload)


def test_serialize_refuses_what_saref_refuses() -> None:
    bad = {"Voltage_Monitoring": [{"Hems_ID": "x"}]}
    with pytest.raises(dso_saref.PayloadError) as expected:
        dso_saref.saref("hems-voltage", bad)
    with pytest.raises(dso_saref.PayloadError) as got:
        serialize("hems-voltage", bad)
    assert got.value.problems == expected.value.problems
    with pytest.raises(ValueError, match="format"):
        serialize("hems-voltage", example("hems-voltage"), "rdf/xml")


def test_an_empty_top_level_array_makes_no_triple_and_no_binding() -> None:
    assert serialize("metering-data", []) == "" and dso_saref.to_bindings("metering-data", []) == []
    assert json.loads(serialize("metering-data", [], "bindings")) == []


@pytest.mark.parametrize("name", NAMES)
@QUICK
@given(data=st.data())
def test_serialize_equals_saref_on_generated_payloads(name: str, data: st.DataObject) -> None:
    description = dso_saref.catalog[name]
    payload = data.draw(payload_strategy(description.model))
    assert triples(serialize(name, payload)) == set(dso_saref.saref(name, payload))
    assert binding_set(fast_bindings(description, payload)) == binding_set(dso_saref.to_bindings(name, payload))


@given(number=st.floats(allow_nan=False, allow_infinity=False))
def test_the_decimal_shortcut_is_terms_lexical(number: float) -> None:
    assert _decimal_text(number) == lexical(number, XSD.decimal)


# -- the model reader ----------------------------------------------------------------------------


def _dump(name: str, payload: Any, settings: Settings) -> Any:
    model = dso_saref.catalog[name].parse(payload, settings)
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


@pytest.mark.parametrize("name", NAMES)
@QUICK
@given(data=st.data())
def test_the_compiled_reader_gives_pydantics_json_or_declines(name: str, data: st.DataObject) -> None:
    description = dso_saref.catalog[name]
    reader = _reader(name)
    if reader is None:
        return  # the model uses pydantic features the reader does not compile: pydantic reads it
    settings = Settings(timezone=data.draw(st.sampled_from([Settings().timezone, *_ZONES])))
    payload = data.draw(payload_strategy(description.model))
    if data.draw(st.booleans()):
        payload = data.draw(mutated(payload))
    try:
        got = reader(payload, settings)
    except Bail:
        return
    assert got == _dump(name, payload, settings)


@cache
def _reader(name: str) -> Any:
    try:
        return compile_model(dso_saref.catalog[name].model)
    except Unsupported:
        return None


def _zones() -> list[Any]:
    from zoneinfo import ZoneInfo

    return [ZoneInfo("Europe/Lisbon"), ZoneInfo("America/Sao_Paulo")]


_ZONES = _zones()


@pytest.mark.parametrize("name", sorted(set(NAMES) - READER_DECLINES))
def test_the_reader_vouches_for_every_example(name: str) -> None:
    reader = _reader(name)
    assert reader is not None
    assert reader(example(name), Settings()) == _dump(name, example(name), Settings())


# -- the compiled shapes ---------------------------------------------------------------------------


def test_every_shape_of_the_catalog_compiles() -> None:
    for name in NAMES:
        fast().plan(dso_saref.catalog[name])
    assert fast().unsupported == {}


def test_the_shapes_namespace_is_validations() -> None:
    from dso_saref import validation

    assert validation.SHAPES == SHAPES


@pytest.mark.parametrize("name", NAMES)
def test_fast_and_pyshacl_agree_on_the_example(name: str) -> None:
    payload = example(name)
    report = fast().validate(name, payload)
    if name in READER_DECLINES:
        assert report is None
        data = _dump(name, payload, Settings())
        found = fast().shape_violations(name, data, Settings().base)
        assert found == []
        return
    assert report is not None and report.conforms, shown(report)
    assert same(report, reference().validate(name, payload))


def shape_layer_graph(name: str, payload: Any, edit: Any = None) -> tuple[Graph, list[Any]]:
    """The graph and located rows Validator.shape_layer builds (raw values, no model)."""
    description = dso_saref.catalog[name]
    rows = list(raw_rows(description, payload, Settings().base))
    graph = description.pattern.graph(row for _, row in rows)
    if edit is not None:
        edit(graph, [row for _, row in rows])
    return graph, rows


def fast_shape_layer(name: str, payload: Any, edit: Any = None) -> Report | None:
    description = dso_saref.catalog[name]
    graph, rows = shape_layer_graph(name, payload, edit)
    found = fast().graph_violations(name, graph, Locator(description.pattern, description.rows, rows))
    return None if found is None else Report.of(name, found)


def _table_rows() -> list[Any]:
    from tests import test_shapes_table

    return [row for row in test_shapes_table.ROWS if row.message in NAMES]


def _row_case(row: Any) -> tuple[Any, Any]:
    """The payload and graph edit of a row of the shapes table, applied as that table applies them."""
    from tests import test_shapes_table as table

    payload, edits = example(row.message), []
    mutations = row.mutation if isinstance(row.mutation, tuple) else (row.mutation,)
    for mutation in mutations:
        if isinstance(mutation, table.Set | table.Delete):
            payload = table.mutate_json(payload, mutation)
        else:
            edits.append(table.graph_edit(mutation))

    def edit(graph: Graph, rows: list[Any]) -> None:
        for one in edits:
            one(graph, rows)

    return payload, edit if edits else None


@pytest.mark.parametrize("row", _table_rows(), ids=str)
def test_fast_and_pyshacl_agree_on_every_refused_payload_of_the_shapes_table(row: Any) -> None:
    payload, edit = _row_case(row)
    if edit is None:  # a JSON mutation: validate() (model layer first) agrees too
        full = fast().validate(row.message, payload)
        if full is not None:
            assert same(full, reference().validate(row.message, payload))
    expected = reference().shape_layer(row.message, payload, edit=edit)
    got = fast_shape_layer(row.message, payload, edit)
    assert got is not None, "the engine declined (Uncertain) a case of the table"
    assert same(got, expected), (shown(got), shown(expected))


def _graph_mutations(name: str) -> list[tuple[str, int]]:
    graph, _ = shape_layer_graph(name, example(name))
    return [(kind, i) for i in range(len(graph)) for kind in ("drop", "twin", "literal", "iri")]


MUTATIONS = [(name, kind, i) for name in NAMES for kind, i in _graph_mutations(name)]


@pytest.mark.parametrize(("name", "kind", "index"), MUTATIONS[::3], ids=lambda v: str(v))
def test_fast_and_pyshacl_agree_on_graph_mutations(name: str, kind: str, index: int) -> None:
    def edit(graph: Graph, _rows: list[Any]) -> None:
        s, p, o = sorted(graph)[index]
        if kind == "drop":
            graph.remove((s, p, o))
        elif kind == "twin":
            graph.add((s, p, URIRef("urn:test:twin") if isinstance(o, URIRef) else Literal("twin")))
        elif kind == "literal":
            graph.remove((s, p, o))
            graph.add((s, p, Literal("-5", datatype=XSD.decimal)))
        else:
            graph.remove((s, p, o))
            graph.add((s, p, URIRef("urn:test:other")))

    got = fast_shape_layer(name, example(name), edit)
    if got is None:
        return  # Uncertain: a window compared with a non-timestamp; pySHACL decides (exactly)
    assert same(got, reference().shape_layer(name, example(name), edit=edit))


def test_the_engine_declines_what_it_cannot_judge() -> None:
    # a date where a non-negative decimal belongs: pySHACL's comparison of the two is rdflib's to decide
    name = "activation-plan"
    graph, _ = shape_layer_graph(name, example(name))
    quantity = next((s, p, o) for s, p, o in graph if str(p).endswith("hasValue"))
    graph.remove(quantity)
    graph.add((quantity[0], quantity[1], Literal("2021-09-27", datatype=XSD.date)))
    with pytest.raises(Uncertain):
        run(fast().plan(dso_saref.catalog[name]), Data.from_graph(graph))
    assert fast().graph_violations(name, graph) is None


# -- generated payloads through validate() ---------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, payload: Any) -> Any:
    """One change to a payload: a value replaced (by another of the payload's values, a wrong type,
    an empty string, a negative number), a key deleted, or an unknown key added."""
    payload = copy.deepcopy(payload)
    slots: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            slots.extend((node, key) for key in node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            slots.extend((node, i) for i in range(len(node)))
            for value in node:
                walk(value)

    walk(payload)
    if not slots:
        return payload
    holder, key = draw(st.sampled_from(slots))
    leaves = [h[k] for h, k in slots if not isinstance(h[k], dict | list)]
    action = draw(st.sampled_from(["swap", "type", "blank", "negative", "delete", "unknown"]))
    if action == "swap" and leaves:
        holder[key] = draw(st.sampled_from(leaves))
    elif action == "type":
        holder[key] = draw(st.sampled_from([None, True, 0, 1.5, "x", [], {}]))
    elif action == "blank":
        holder[key] = " "
    elif action == "negative":
        holder[key] = -1
    elif action == "delete" and isinstance(holder, dict):
        del holder[key]
    elif isinstance(holder, dict):
        holder["unexpected"] = 1
    return payload


@pytest.mark.parametrize("name", NAMES)
@SLOW
@given(data=st.data())
def test_fast_and_pyshacl_agree_on_generated_payloads(name: str, data: st.DataObject) -> None:
    description = dso_saref.catalog[name]
    payload = data.draw(payload_strategy(description.model))
    if data.draw(st.booleans()):
        payload = data.draw(mutated(payload))
    report = fast().validate(name, payload)
    if report is None:  # not on the fast path: pydantic reads it, then the compiled shapes check it
        try:
            data = _dump(name, payload, Settings())
        except dso_saref.PayloadError:
            return
        found = fast().shape_violations(name, data, Settings().base)
        assume(found is not None)
        report = Report.of(name, found)
    assert same(report, reference().validate(name, payload)), shown(report)


# -- pilot scale -----------------------------------------------------------------------------------


def zone_day(meters: int, quarters: int) -> list[dict[str, Any]]:
    from datetime import UTC, datetime, timedelta

    start = datetime(2021, 9, 27, tzinfo=UTC)
    return [{"id": f"U{m:06d}", "readings": [
        {"time": (start + timedelta(minutes=15 * q)).strftime("%Y-%m-%dT%H:%M:%SZ"),
         "measurement": round((m * 7 + q * 13) % 5000 / 100, 2), "unit": "kW"} for q in range(quarters)]}
        for m in range(meters)]


def test_metering_takes_the_fast_path_and_agrees_with_pyshacl() -> None:
    payload = zone_day(4, 96)
    report = fast().validate("metering-data", payload)
    assert report is not None and report.conforms
    assert same(report, reference().validate("metering-data", payload))
    payload[1]["readings"][5]["unit"] = "furlongs"
    assert fast().validate("metering-data", payload) is None  # the model refuses it: the reference reports


def test_fast_violations_are_located_in_the_json() -> None:
    payload = zone_day(2, 3)
    payload[1]["readings"][2]["measurement"] = "high"  # the shape layer alone sees a string literal
    report = fast_shape_layer("metering-data", payload)
    assert report is not None
    assert [(v.location, v.rule) for v in report.errors] == [("$[1].readings[2].measurement", "sh:datatype")]
    assert same(report, reference().shape_layer("metering-data", payload))
