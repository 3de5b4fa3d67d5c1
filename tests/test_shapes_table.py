"""Every constraint of every generated shape, broken once, on every engine (pySHACL in standard mode).

The shapes are generated from the graph patterns (dso_saref/shaping.py), so the table is generated
too: for each message, each constraint of each shape its file holds, a mutation of the message's
example graph that breaks that constraint on one node (a value removed, doubled, replaced by a
string, by an IRI outside the closed vocabulary, by a negative number, a window turned around...).
The validator must report that very shape and constraint, on that node. ``test_every_constraint_has_a_row``
lists the constraints no example can break, so a shape no payload exercises is visible.

pySHACL runs without its advanced (SHACL-AF) mode, as ``pyshacl -s shapes/NAME.ttl data.ttl`` and
any standard SHACL engine would: the shapes are SHACL Core plus SPARQL-based constraints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH, XSD

import dso_saref
from dso_saref.shaping import CLASSES
from dso_saref.terms import SAREF, TIME
from dso_saref.validation import Validator
from tests.conftest import NAMES

OUTSIDE = URIRef("urn:dso-saref:test:outside-the-vocabulary")
UNTYPED = URIRef("urn:dso-saref:test:a-node-of-no-class")
ENGINES = ["compiled", "pyshacl"]


@dataclass(frozen=True)
class Row:
    """One constraint of one shape, and how to break it on the message's example graph."""

    message: str
    shape: str  # local name in the classes namespace
    rule: str  # sh:minCount, sh:sparql, ...
    focus: URIRef
    mutate: Callable[[Graph], None]

    @property
    def id(self) -> str:
        return f"{self.message}:{self.shape}:{self.rule}"


#: Payloads beside the examples, for the optional parts no example has (wire JSON: MESSAGES.md).
MORE = {
    "authorization-response": {"end_user": "U123456", "service_provider": "SP001", "granted": False,
                               "reason": "the end user refused", "start": "2021-09-27T10:00:00Z",
                               "end": "2021-09-27T11:00:00Z"},
}


@cache
def example_graph(name: str) -> Graph:
    graph = dso_saref.saref(name, dso_saref.catalog[name].example())
    if name in MORE:
        graph += dso_saref.saref(name, MORE[name])
    return graph


def _path(shapes: Graph, node: object) -> tuple[object, ...]:
    """A shape's path as steps: a predicate, or ``("^", predicate)``."""
    if isinstance(node, URIRef):
        return (node,)
    inverse = shapes.value(node, SH.inversePath)
    if inverse is not None:
        return (("^", inverse),)
    return tuple(step for part in Collection(shapes, node) for step in _path(shapes, part))


def _step(graph: Graph, nodes: list[object], step: object) -> list[object]:
    if isinstance(step, tuple):
        return [s for n in nodes for s in graph.subjects(step[1], n)]
    return [o for n in nodes for o in graph.objects(n, step)]


def _edges(graph: Graph, focus: object, path: tuple[object, ...]) -> list[tuple[object, object, object]]:
    """The triples of the path's last step from ``focus`` (subject, predicate, object as in the graph)."""
    ends = [focus]
    for step in path[:-1]:
        ends = _step(graph, ends, step)
    last = path[-1]
    if isinstance(last, tuple):
        return [(s, last[1], n) for n in ends for s in graph.subjects(last[1], n)]
    return [(n, last, o) for n in ends for o in graph.objects(n, last)]


def _replace(triple: tuple[object, object, object], value: object) -> Callable[[Graph], None]:
    def mutate(graph: Graph) -> None:
        graph.remove(triple)
        graph.add((triple[0], triple[1], value))
    return mutate


def _breakers(shapes: Graph, shape: object, graph: Graph, focus: object
              ) -> Iterator[tuple[str, Callable[[Graph], None]]]:
    """``(rule, mutation)`` for each constraint of a property shape, on one focus node."""
    path = _path(shapes, shapes.value(shape, SH.path))
    edges = _edges(graph, focus, path)
    if not edges:
        return
    first = edges[0]
    value = first[2] if not isinstance(path[-1], tuple) else first[0]
    if (shape, SH.minCount, None) in shapes:
        yield "sh:minCount", lambda g: [g.remove(t) for t in edges]
    if (shape, SH.maxCount, None) in shapes:
        extra = Literal("another", datatype=XSD.string) if isinstance(value, Literal) else OUTSIDE
        yield "sh:maxCount", lambda g: g.add((first[0], first[1], extra))
    datatype = shapes.value(shape, SH.datatype)
    if datatype is not None:
        yield "sh:datatype", _replace(first, Literal(str(value), datatype=XSD.token
                                                     if datatype == XSD.string else XSD.string))
    if (shape, SH["in"], None) in shapes or (shape, SH.hasValue, None) in shapes:
        rule = "sh:in" if (shape, SH["in"], None) in shapes else "sh:hasValue"
        yield rule, _replace(first, OUTSIDE)
    if (shape, SH["class"], None) in shapes:
        yield "sh:class", _replace(first, UNTYPED)
    if (shape, SH.pattern, None) in shapes:
        yield "sh:pattern", _replace(first, Literal(" ", datatype=XSD.string))
    if (shape, SH.minInclusive, None) in shapes and isinstance(value, Literal):
        yield "sh:minInclusive", _replace(first, Literal("-1", datatype=value.datatype))
    for constraint in shapes.objects(shape, SH.sparql):  # every measurement of the kind has a predicate
        select = str(shapes.value(constraint, SH.select))
        predicate = URIRef(select.split("FILTER NOT EXISTS { ?value <", 1)[1].split(">", 1)[0])
        measurement = first[0]
        yield "sh:sparql", lambda g, m=measurement, p=predicate: g.remove((m, p, None))


def _node_breakers(cls: URIRef, graph: Graph, focus: object) -> Iterator[tuple[str, Callable[[Graph], None]]]:
    """The SPARQL rules of node shapes (docs/modelling.md, rule 7)."""
    if cls == TIME.Interval:
        begin, end = graph.value(focus, TIME.hasBeginning), graph.value(focus, TIME.hasEnd)
        if begin is not None and end is not None:
            def turn(g: Graph, f: object = focus, b: object = begin, e: object = end) -> None:
                g.remove((f, TIME.hasBeginning, b))
                g.remove((f, TIME.hasEnd, e))
                g.add((f, TIME.hasBeginning, e))
                g.add((f, TIME.hasEnd, b))
            yield "sh:sparql", turn
    if cls == SAREF.Measurement:
        thing, prop = graph.value(focus, SAREF.isMeasurementOf), graph.value(focus, SAREF.relatesToProperty)
        if thing is not None and prop is not None:
            yield "sh:sparql", lambda g, t=thing, p=prop: g.remove((t, SAREF.hasProperty, p))


def rows(name: str) -> tuple[list[Row], list[str]]:
    """The rows of a message, and the shapes of its file (node and property shapes, local names)."""
    description = dso_saref.catalog[name]
    shapes, graph = description.shapes_graph, example_graph(name)
    found: list[Row] = []
    shapes_of: list[str] = []
    for node_shape in sorted(shapes.subjects(RDF.type, SH.NodeShape), key=str):
        cls = shapes.value(node_shape, SH.targetClass)
        focus = sorted(graph.subjects(RDF.type, cls), key=str)
        local = str(node_shape)[len(CLASSES):]
        if cls in (TIME.Interval, SAREF.Measurement):  # node shapes with SPARQL rules
            shapes_of.append(local)
        if not focus:
            continue
        for rule, mutate in _node_breakers(cls, graph, focus[0]):
            found.append(Row(name, local, rule, focus[0], mutate))
        for shape in sorted(shapes.objects(node_shape, SH.property), key=str):
            local = str(shape)[len(CLASSES):]
            shapes_of.append(local)
            broken = False
            for node in focus:  # the first node the path leads somewhere from
                for rule, mutate in _breakers(shapes, shape, graph, node):
                    found.append(Row(name, local, rule, node, mutate))
                    broken = True
                if broken:
                    break
    return found, shapes_of


ROWS = [row for name in NAMES for row in rows(name)[0]]


@cache
def validator(engine: str) -> Validator:
    return Validator(engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_every_constraint_broken_once_is_refused(row: Row, engine: str) -> None:
    graph = Graph()
    for triple in example_graph(row.message):
        graph.add(triple)
    row.mutate(graph)
    report = validator(engine).validate(row.message, graph)
    hits = [v for v in report.errors if v.shape == f"classes#{row.shape}" and v.rule == row.rule]
    assert hits, (row.id, [v.to_dict() for v in report.errors])
    assert all(v.location for v in hits) and all(v.message and "{" not in v.message for v in hits)
    assert any(str(row.focus) in (v.focus or "") for v in hits), (row.focus, [v.focus for v in hits])
    if row.rule != "sh:sparql" or hits[0].path:
        assert all(v.path for v in hits), "a property shape's result names its RDF path"


@pytest.mark.parametrize("name", NAMES)
def test_every_example_conforms_on_every_engine(name: str) -> None:
    for engine in ENGINES:
        report = validator(engine).validate(name, example_graph(name))
        assert report.conforms, (engine, [str(v) for v in report.errors])


def test_every_constraint_has_a_row() -> None:
    """Every shape (the same in every message's file) is broken by at least one message's example;
    the list of those none can break is explicit, so it cannot grow silently."""
    shapes = {local for name in NAMES for local in rows(name)[1]}
    covered = {row.shape for row in ROWS}
    assert shapes - covered == set(), sorted(shapes - covered)


def test_the_table_covers_every_kind_of_constraint() -> None:
    kinds = {row.rule for row in ROWS}
    assert kinds >= {"sh:minCount", "sh:maxCount", "sh:datatype", "sh:in", "sh:class", "sh:pattern",
                     "sh:minInclusive", "sh:sparql"}, kinds
