"""Every constraint of every shape, broken once: the table-driven refusal suite of shapes/*.ttl.

Each row of :data:`ROWS` names one constraint of one message's shape (the property or node shape's
local name in ``shapes/NAME.ttl`` and the SHACL constraint, such as ``sh:minInclusive``) and a
mutation of the message's example that breaks exactly that constraint, with the JSON location where
the refusal must be reported:

- JSON mutations (``Set``, ``Delete``) change the payload. The shape layer alone
  (:meth:`Validator.shape_layer`) must refuse it with that constraint only, at that location, and the
  model layer (:func:`dso_saref.validate`) must refuse it too (at ``model_at`` when the model reports
  the element rather than the key, as for start < end): the two layers agree.
- Graph mutations (``Drop``, ``Add``, ``Replace``, ``Untype``) change the example's triples; they test
  what no JSON payload can break (cardinalities above one, classes of linked nodes, cross-node rules):
  these are the shape-only cases, listed in docs/shapes.md.

``test_every_constraint_has_a_row`` lists the constraints no row breaks, so a constraint added to a
shape without a refused payload is visible.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, SH

import dso_saref
from dso_saref.terms import NONE, PREFIXES, parse_term
from dso_saref.validation import SHAPES, Validator
from tests.conftest import NAMES

# -- the mutation language ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Set:
    """JSON: set the value at ``path`` (a concrete JSONPath such as ``$[0].needs``)."""

    path: str
    value: Any


@dataclass(frozen=True)
class Delete:
    """JSON: delete the key at ``path``."""

    path: str


@dataclass(frozen=True)
class Drop:
    """Graph: remove every ``(node, predicate, *)`` triple; ``node`` is a pattern variable, taken from
    the first binding row that binds it."""

    node: str
    predicate: str


@dataclass(frozen=True)
class Add:
    """Graph: add ``obj`` to ``node`` along ``path`` (CURIEs separated by spaces: fresh intermediate
    nodes are minted for a sequence); ``cls`` types the added object."""

    node: str
    path: str
    obj: str
    cls: str | None = None


@dataclass(frozen=True)
class Replace:
    """Graph: replace every object of ``(node, predicate)`` with ``obj`` (typed ``cls`` if given)."""

    node: str
    predicate: str
    obj: str
    cls: str | None = None


@dataclass(frozen=True)
class Untype:
    """Graph: remove ``(node, rdf:type, cls)``."""

    node: str
    cls: str


Mutation = Set | Delete | Drop | Add | Replace | Untype


@dataclass(frozen=True)
class Row:
    """One constraint broken once: message, shape (local name), rule, mutation, expected location
    (default: the mutated JSON path) and the model layer's location when it differs."""

    message: str
    shape: str
    rule: str
    mutation: Mutation
    at: str | None = None
    model_at: str | None = None

    @property
    def location(self) -> str:
        if self.at is not None:
            return self.at
        if isinstance(self.mutation, Set | Delete):
            return self.mutation.path
        raise ValueError(f"{self}: a graph mutation needs an explicit location")

    def __str__(self) -> str:
        return f"{self.message}:{self.shape}:{self.rule}"


def term(text: str) -> URIRef | Literal:
    """A term from a CURIE (``om:volt``), ``<iri>`` or an N-Triples literal (``"1.5"^^xsd:double``)."""
    if text.startswith(('"', "<")):
        text = re.sub(r"\^\^(\w+):(\S+)$", lambda m: f"^^<{PREFIXES[m.group(1)]}{m.group(2)}>", text)
        return parse_term(text)
    prefix, _, local = text.partition(":")
    return URIRef(PREFIXES[prefix] + local)


_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]")


def json_steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    pos = 1
    while pos < len(path):
        match = _STEP.match(path, pos)
        assert match, f"cannot read {path!r} at {path[pos:]!r}"
        steps.append(int(match.group(3)) if match.group(3) else (match.group(1) or match.group(2)))
        pos = match.end()
    return steps


def mutate_json(payload: Any, mutation: Set | Delete) -> Any:
    data = copy.deepcopy(payload)
    *parents, last = json_steps(mutation.path)
    node = data
    for step in parents:
        node = node[step]
    if isinstance(mutation, Delete):
        del node[last]
    else:
        node[last] = mutation.value
    return data


def graph_edit(mutation: Drop | Add | Replace | Untype):
    def edit(graph: Graph, rows: list[dict[str, Any]]) -> None:
        node = next(row[mutation.node] for row in rows if row.get(mutation.node, NONE) != NONE)
        if isinstance(mutation, Drop):
            graph.remove((node, term(mutation.predicate), None))
        elif isinstance(mutation, Untype):
            assert (node, RDF.type, term(mutation.cls)) in graph, mutation
            graph.remove((node, RDF.type, term(mutation.cls)))
        elif isinstance(mutation, Replace):
            predicate = term(mutation.predicate)
            assert (node, predicate, None) in graph, mutation
            graph.remove((node, predicate, None))
            graph.add((node, predicate, term(mutation.obj)))
            if mutation.cls:
                graph.add((term(mutation.obj), RDF.type, term(mutation.cls)))
        else:
            *hops, last = mutation.path.split()
            subject = node
            for i, hop in enumerate(hops):
                fresh = URIRef(f"urn:dso-saref:test:hop{i}")
                graph.add((subject, term(hop), fresh))
                subject = fresh
            graph.add((subject, term(last), term(mutation.obj)))
            if mutation.cls:
                graph.add((term(mutation.obj), RDF.type, term(mutation.cls)))

    return edit


# -- the constraints of a shape ------------------------------------------------------------------------

PARAMETERS = {
    SH.minCount: "sh:minCount", SH.maxCount: "sh:maxCount", SH.datatype: "sh:datatype", SH.pattern: "sh:pattern",
    SH.minInclusive: "sh:minInclusive", SH.maxInclusive: "sh:maxInclusive", SH.minExclusive: "sh:minExclusive",
    SH["in"]: "sh:in", SH["class"]: "sh:class", SH.nodeKind: "sh:nodeKind", SH.hasValue: "sh:hasValue",
    SH.qualifiedMinCount: "sh:qualifiedMinCount", SH.qualifiedMaxCount: "sh:qualifiedMaxCount",
    SH.sparql: "sh:sparql",
}


@cache
def validator() -> Validator:
    return Validator()


def constraints(name: str) -> set[tuple[str, str]]:
    """Every (shape local name, rule) of message ``name``'s shape."""
    graph = validator().shapes_graph(name)
    prefix = f"{SHAPES}{name}#"
    found = set()
    for shape in set(graph.subjects(RDF.type, SH.PropertyShape)) | set(graph.subjects(RDF.type, SH.NodeShape)):
        for parameter, rule in PARAMETERS.items():
            if (shape, parameter, None) in graph:
                found.add((str(shape).removeprefix(prefix), rule))
    return found


# -- the table ----------------------------------------------------------------------------------------

# BEGIN ROWS
ROWS: list[Row] = []
# END ROWS


@pytest.mark.parametrize("name", NAMES)
def test_every_constraint_has_a_row(name: str) -> None:
    covered = {(row.shape, row.rule) for row in ROWS if row.message == name}
    missing = constraints(name) - covered
    assert not missing, f"constraints of shapes/{name}.ttl that no row breaks: {sorted(missing)}"
    unknown = covered - constraints(name)
    assert not unknown, f"rows of {name} for constraints its shape does not have: {sorted(unknown)}"


@pytest.mark.parametrize("row", [r for r in ROWS if r.message in NAMES], ids=str)
def test_row_is_refused_by_exactly_its_constraint(row: Row) -> None:
    example = dso_saref.catalog[row.message].example()
    if isinstance(row.mutation, Set | Delete):
        payload = mutate_json(example, row.mutation)
        report = validator().shape_layer(row.message, payload)
    else:
        payload = example
        report = validator().shape_layer(row.message, example, edit=graph_edit(row.mutation))
    broken = {(e.shape.partition("#")[2] if e.shape else None, e.rule) for e in report.errors}
    assert broken == {(row.shape, row.rule)}, [str(e) for e in report.errors]
    assert {e.location for e in report.errors} == {row.location}, [str(e) for e in report.errors]
    assert all(e.layer == "shape" and e.message for e in report.errors)
    if isinstance(row.mutation, Set | Delete):
        model = dso_saref.validate(row.message, payload)
        assert not model.conforms
        where = row.model_at or row.location
        assert any(e.layer == "model" and e.location == where for e in model.errors), \
            f"the model layer does not refuse it at {where}: {[str(e) for e in model.errors]}"


def test_rows_are_unique_and_name_known_messages() -> None:
    keys = [(row.message, row.shape, row.rule) for row in ROWS]
    assert len(keys) == len(set(keys))
