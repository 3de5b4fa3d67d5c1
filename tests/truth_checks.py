"""Checks that a message's triples are true under the axioms of the ontologies we use (issue 10,
docs/modelling.md), shared by the per-family message tests: what a peer reads from the binding sets,
values only on measurements, no S4GRID individual used as a class, no class used as a value, the
message-level nodes of a graph, and a merged graph's conformance to the shapes."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

import dso_saref
from dso_saref.terms import DEFAULT_BASE, S4GRID, SAREF
from tests.conftest import ROOT, shared_path
from tests.test_modelling import _conformance, _merged, _naive

__all__ = ["class_typed_individuals", "classes_as_values", "example", "graph_of", "naive",
           "nodes_of", "nonconformance", "untrue_readings", "values_off_measurements"]

#: SAREF4GRID's quantities: individuals of s4grid:EnergyAndPowerProperty / s4grid:MeterProperty.
S4GRID_QUANTITIES = {S4GRID.ActivePower, S4GRID.ReactivePower, S4GRID.Voltage, S4GRID.Current, S4GRID.PowerLimit}
_META = {OWL.Class, RDFS.Class, SKOS.Concept, OWL.NamedIndividual, RDFS.Datatype}


def naive(name: str, payload: Any) -> Graph:
    """What a peer that knows nothing of dso-saref reads from the message's binding sets: each part's
    pattern instantiated with each binding row (fails on a placeholder, rdf:nil)."""
    return _naive(name, payload)


def nodes_of(graph: Graph, cls: URIRef) -> set[URIRef]:
    """The nodes of a class in a graph."""
    return {s for s in graph.subjects(RDF.type, cls) if isinstance(s, URIRef)}


def values_off_measurements(graph: Graph) -> list[str]:
    """Nodes carrying saref:hasValue or saref:isMeasuredIn that are not a measurement of exactly one
    property (SAREF's domains would make them measurements lacking what SAREF requires)."""
    out = []
    for predicate in (SAREF.hasValue, SAREF.isMeasuredIn):
        for node in set(graph.subjects(predicate, None)):
            properties = set(graph.objects(node, SAREF.relatesToProperty))
            if (node, RDF.type, SAREF.Measurement) not in graph or len(properties) != 1:
                out.append(f"{node} {predicate}")
    return sorted(out)


def class_typed_individuals(graph: Graph) -> list[str]:
    """Nodes typed with one of SAREF4GRID's quantities, which are individuals, not classes."""
    return sorted(f"{s} a {o}" for s, o in graph.subject_objects(RDF.type) if o in S4GRID_QUANTITIES)


def untrue_readings(name: str, payload: Any) -> list[str]:
    """What is wrong in what a peer reads from a payload's binding sets (issue 10 items 1, 3 and 6):
    triples the message's graph does not hold (or lacks), S4GRID individuals used as classes, values
    off measurements of one property."""
    graph = naive(name, payload)
    expected = dso_saref.saref(name, payload)
    differ = [f"extra {t}" for t in set(graph) - set(expected)] + [f"missing {t}" for t in set(expected) - set(graph)]
    return sorted(differ) + class_typed_individuals(graph) + values_off_measurements(graph)


@cache
def _vocabulary() -> Graph:
    """The project's ontologies and the official files (skips the test without ../shared)."""
    graph = Graph()
    for path in sorted((ROOT / "ontologies").glob("*.ttl")):
        graph.parse(path, format="turtle")
    folder = shared_path("ontologies")
    for name in ("saref-core-v3.1.1.ttl", "saref4ener-v1.1.2.ttl", "saref4grid-v1.0.0-dev.ttl", "owl-time.ttl",
                 "dpv-2.3.ttl", "qudt-2.1-unit.ttl", "om-2.0.rdf"):
        graph.parse(folder / name, format="xml" if name.endswith(".rdf") else "turtle")
    return graph


def classes_as_values(graph: Graph) -> list[str]:
    """Vocabulary terms used as the value of a property (not of rdf:type) that their ontology
    declares a class without declaring them an instance of anything (``dpv:PersonalData`` as a value;
    DPV's statuses, declared instances of dpv:ConsentStatus, are values)."""
    vocabulary = _vocabulary()
    out = set()
    for _, p, o in graph:
        if p == RDF.type or not isinstance(o, URIRef) or str(o).startswith(DEFAULT_BASE):
            continue
        types = set(vocabulary.objects(o, RDF.type))
        if types & {OWL.Class, RDFS.Class} and not types - _META:
            out.add(f"{p} {o}")
    return sorted(out)


def nonconformance(names: Iterable[str], graph: Graph) -> dict[str, list[str]]:
    """Each message's shape violations on a graph (the compiled engine), by message."""
    return _conformance(graph, names)


def graph_of(payloads: dict[str, list[Any]]) -> Graph:
    """One graph of many messages' payloads, each read as a peer reads its binding sets."""
    return _merged(payloads)


def example(name: str) -> Any:
    """The message's example payload."""
    return dso_saref.catalog[name].example()


