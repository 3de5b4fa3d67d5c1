"""What a merge of our graphs means: does it conform to the shapes, and what does an OWL 2 RL reasoner
conclude from it with the official ontologies (issue 10's proof)?

:func:`shape_problems` validates a graph merged from any messages with pySHACL in standard mode (no
SHACL-AF) against every class shape of ``shapes/`` (the same in every file).
:func:`ontologies` loads the official ontologies a family's triples reach (from ../shared/ontologies,
skipping the test without it) with the project's ``ontologies/``; :func:`inconsistencies` closes a data
graph with them (owlrl) and lists what would make the merge wrong: members of ``owl:Nothing``, owlrl's
own inconsistency reports (disjoint classes, ``owl:differentFrom`` against ``owl:sameAs``, ill-typed
literals), a node of two disjoint classes, and ``owl:sameAs`` between two of our data nodes (two
things merged because a functional property got two values). :func:`naive_graph` is what a generic
Knowledge Engine peer makes of our binding sets: every part's pattern instantiated with every row,
with nothing left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import owlrl
import pyshacl
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.strategies import SearchStrategy
from owlrl.Namespaces import ERRNS
from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SH, SKOS, XSD

import dso_saref
from dso_saref.patterns import Var
from dso_saref.terms import DEFAULT_BASE, DSO, NONE, UNITS, parse_term
from dso_saref.validation.engines.pyshacl import literal_rules_kept
from tests.conftest import ROOT, shared_by_workers, shared_path

#: The official ontologies whose axioms the grid, elasticity and observability triples reach.
CORE = ("saref-core-v3.1.1.ttl", "saref4ener-v1.1.2.ttl", "saref4grid-v1.0.0-dev.ttl")
#: Unit vocabularies: only the units the catalog uses are taken (their 50 000 triples would make the
#: closure take minutes; neither has a disjointness axiom).
UNIT_FILES = ("om-2.0.rdf", "qudt-2.1-unit.ttl")


def drawn(strategy: SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` values of ``strategy``, the same on every run (derandomised, no database): the data of
    a proof that closes them all in one graph, instead of one closure per Hypothesis example."""
    found: list[Any] = []

    @settings(max_examples=count, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found


def shapes() -> Graph:
    """Every class shape of ``shapes/`` in one graph, each once (a shape is the same in every file that
    has it, but its blank-node paths would be parsed anew from each)."""
    graph = Graph()
    for path in sorted((ROOT / "shapes").glob("*.ttl")):
        known = {s for s in graph.subjects() if isinstance(s, URIRef)}
        for triple in Graph().parse(path, format="turtle"):
            if triple[0] not in known:
                graph.add(triple)
    return graph


def shape_problems(data: Graph, shapes_graph: Graph) -> list[str]:
    """The messages of every SHACL result of ``data`` (pySHACL, standard mode), empty when it conforms."""
    conforms, results, _ = pyshacl.validate(data, shacl_graph=shapes_graph, advanced=False, inference="none")
    if conforms:
        return []
    return sorted(f"{results.value(r, SH.focusNode)}: {results.value(r, SH.resultMessage)}"
                  for r in results.subjects(RDF.type, SH.ValidationResult))


#: The predicates whose literal objects carry meaning in an ontology (cardinalities, values).
_LOGICAL = (OWL.cardinality, OWL.minCardinality, OWL.maxCardinality, OWL.qualifiedCardinality,
            OWL.minQualifiedCardinality, OWL.maxQualifiedCardinality, OWL.hasValue)


def _units() -> set[URIRef]:
    used = {URIRef(iri) for vocabulary in UNITS.values() for _, iri in vocabulary.labels}
    for description in dso_saref.messages():
        used |= {URIRef(iri) for iri in description.pattern.iris()}
    return used


def ontologies(extra: Iterable[str] = ()) -> Graph:
    """The official ontologies (:data:`CORE` and ``extra`` file names of ../shared/ontologies), the
    catalog's units from OM-2 and QUDT, and the project's own ontologies; skips without ../shared."""
    folder = shared_path("ontologies")
    graph = Graph()
    for name in (*CORE, *extra):
        for s, p, o in Graph().parse(folder / name, format="turtle"):
            if not isinstance(o, Literal) or p in _LOGICAL or str(p).startswith(str(XSD)):
                graph.add((s, p, o))  # annotations (labels, comments) are left out: no OWL-RL rule reads them
    units = _units()
    for name in UNIT_FILES:
        source = Graph().parse(folder / name, format="xml" if name.endswith(".rdf") else "turtle")
        for s, p, o in source:
            if s in units and isinstance(o, URIRef):  # types and links; not their HTML descriptions
                graph.add((s, p, o))
    graph += project_ontologies()
    return graph


#: OWL constructs by which an ontology can make a graph inconsistent or equate two of its nodes.
_CLASHING = (OWL.FunctionalProperty, OWL.InverseFunctionalProperty, OWL.AllDifferent, OWL.AllDisjointClasses,
             OWL.AllDisjointProperties, OWL.IrreflexiveProperty, OWL.AsymmetricProperty, OWL.maxCardinality,
             OWL.maxQualifiedCardinality, OWL.cardinality, OWL.qualifiedCardinality, OWL.hasKey, OWL.differentFrom,
             OWL.sameAs, OWL.complementOf, OWL.disjointWith, OWL.propertyDisjointWith, OWL.oneOf)
#: The axioms that carry a type or a property up DPV's hierarchy (the symmetric ones both ways).
_HIERARCHY = {RDFS.subClassOf, RDFS.subPropertyOf, OWL.equivalentClass, OWL.equivalentProperty, OWL.inverseOf,
              RDFS.domain, RDFS.range, RDF.type}
_SYMMETRIC = (OWL.equivalentClass, OWL.equivalentProperty, OWL.inverseOf)
_DPV = "https://w3id.org/dpv#"


def dpv_reached(seeds: Iterable[URIRef]) -> Graph:
    """Of DPV 2.3, the hierarchy axioms of the terms ``seeds`` reach through it. DPV has no axiom that
    can clash or equate two nodes (checked here), so the rest of its 15,000 triples change no verdict
    of a closure and would only make it five times slower."""
    dpv = Graph().parse(shared_path("ontologies") / "dpv-2.3.ttl")
    clashing = [c for c in _CLASHING if (None, RDF.type, c) in dpv or (None, c, None) in dpv]
    assert not clashing, f"DPV now has axioms that can clash ({clashing}): close with all of it"
    todo = [t for t in seeds if str(t).startswith(_DPV)]
    reached = set(todo)
    while todo:
        term = todo.pop()
        linked = [o for p, o in dpv.predicate_objects(term) if p in _HIERARCHY]
        linked += [s for p in _SYMMETRIC for s in dpv.subjects(p, term)]
        for other in linked:
            if isinstance(other, URIRef) and str(other).startswith(_DPV) and other not in reached:
                reached.add(other)
                todo.append(other)
    graph = Graph()
    graph += [(s, p, o) for s in reached for p, o in dpv.predicate_objects(s) if p in _HIERARCHY]
    return graph


@cache
def proof_ontologies() -> Graph:
    """What every proof closes a merge with: :func:`ontologies` with OWL-Time, and the part of DPV that
    the project's ontologies and graph patterns reach (:func:`dpv_reached`); made once, never changed
    (callers copy it). Skips without ../shared."""

    def make() -> bytes:
        graph = ontologies(("owl-time.ttl",))
        seeds = {t for t in graph.all_nodes() if isinstance(t, URIRef)}
        for description in dso_saref.messages():
            seeds |= {URIRef(iri) for iri in description.pattern.iris()}
        graph += dpv_reached(seeds)
        return graph.serialize(format="nt", encoding="utf-8")

    shared_path("ontologies")  # skips without ../shared, in every worker
    return Graph().parse(data=shared_by_workers("proof-ontologies.nt", make), format="nt")


def project_ontologies() -> Graph:
    """The project's own ontologies alone (enough to see the clashes their axioms make)."""
    graph = Graph()
    for path in sorted((ROOT / "ontologies").glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


@dataclass(frozen=True)
class Merging:
    """What a merged graph is checked against: every class shape and the official ontologies."""

    shapes: Graph
    ontologies: Graph

    @classmethod
    def load(cls) -> Merging:
        """The shapes of ``shapes/`` and :func:`proof_ontologies` (skips without ../shared)."""
        return cls(shapes(), proof_ontologies())

    def problems(self, data: Graph) -> list[str]:
        """Every shape violation, individual used as a class and inconsistency of ``data``."""
        return [*shape_problems(data, self.shapes), *individuals_used_as_classes(data, self.ontologies),
                *inconsistencies(data, self.ontologies)]


def closure(graph: Graph) -> Graph:
    """``graph`` expanded in place with its OWL 2 RL closure (owlrl), and returned. The pairs of each
    ``owl:AllDifferent`` are added as ``owl:differentFrom`` first (owlrl 7.6's eq-diff2/3 skip the last
    member, so a two-member one is never checked: RDFLib/OWL-RL#85); rdflib's lexical-to-Python
    conversions, which owlrl rebinds (xsd:dateTimeStamp among them) and does not all restore, are
    restored, or every later test of the session would compare literals differently."""
    for group in list(graph.subjects(RDF.type, OWL.AllDifferent)):
        for members in [*graph.objects(group, OWL.distinctMembers), *graph.objects(group, OWL.members)]:
            items = list(Collection(graph, members))
            graph += [(x, OWL.differentFrom, y) for i, x in enumerate(items) for y in items[i + 1:]]
    with literal_rules_kept():
        owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(graph)
    return graph


def inconsistencies(data: Graph, ontology: Graph, base: str = DEFAULT_BASE) -> list[str]:
    """What is wrong with the OWL-RL closure of ``data`` with ``ontology`` (empty when nothing)."""
    graph = Graph()
    graph += ontology
    graph += data
    closure(graph)
    problems = sorted(str(m) for m in graph.objects(None, ERRNS.error))
    problems += [f"{s} is an owl:Nothing" for s in graph.subjects(RDF.type, OWL.Nothing)]
    pairs = list(graph.subject_objects(OWL.disjointWith))
    for group in graph.subjects(RDF.type, OWL.AllDisjointClasses):
        members = list(Collection(graph, graph.value(group, OWL.members)))
        pairs += [(a, b) for i, a in enumerate(members) for b in members[i + 1:]]
    for a, b in pairs:
        both = set(graph.subjects(RDF.type, a)) & set(graph.subjects(RDF.type, b))
        problems += [f"{node} is both {a} and {b}" for node in sorted(both)]
    problems += [f"{s} owl:sameAs {o}" for s, o in graph.subject_objects(OWL.sameAs)
                 if s != o and str(s).startswith(base) and str(o).startswith(base)]
    return problems


def individuals_used_as_classes(data: Graph, ontology: Graph) -> list[str]:
    """Objects of ``rdf:type`` in ``data`` that the ontologies declare individuals (punning)."""
    individuals = set(ontology.subjects(RDF.type, OWL.NamedIndividual))
    return sorted(f"{s} a {o}" for s, o in data.subject_objects(RDF.type) if o in individuals)


def naive_graph(name: str, payload: Any) -> Graph:
    """Every part's pattern instantiated with every one of its binding rows, as a generic peer reads
    them; raises AssertionError where a row leaves a variable unbound or binds it to ``rdf:nil``."""
    description = dso_saref.catalog[name]
    bindings = dso_saref.to_bindings(name, payload)
    graph = Graph()
    for part in description.parts:
        for row in bindings.get(part.key, []):
            terms = {variable: parse_term(text) for variable, text in row.items()}
            missing = sorted(v for v in part.variables if terms.get(v) is None or terms[v] == NONE)
            assert not missing, f"{part.key}: {missing} unbound or rdf:nil"
            for s, p, o in part.pattern.triples:
                graph.add((_bound(s, terms), _bound(p, terms), _bound(o, terms)))
    return graph


def _bound(term: Any, terms: dict[str, Any]) -> Any:
    return terms[term.name] if isinstance(term, Var) else term


#: The axioms that tie an own term to another term (docs/modelling.md, rule 6).
_AXIOMS = (RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range, RDF.type)
_STANDARD = (str(RDF), str(RDFS), str(OWL), str(XSD))


def own_term_problems(module_path: Path) -> list[str]:
    """What an ontology module's own terms lack: an ``rdfs:label``, an ``rdfs:comment``, an axiom tying
    them to an official term or to an own term that has one (a class, property or individual
    declaration alone is none); and what they must not have (``skos:definition``, ``skos:related``, a
    sub-property of ``rdfs:comment``)."""
    module = Graph().parse(module_path, format="turtle")
    everything = project_ontologies()
    problems = []

    def tied(term: URIRef, seen: frozenset[URIRef]) -> bool:
        for predicate in _AXIOMS:
            for target in everything.objects(term, predicate):
                if not isinstance(target, URIRef) or str(target).startswith(_STANDARD) or target in seen:
                    continue
                if not str(target).startswith(str(DSO)) or tied(target, seen | {term}):
                    return True
        return False

    for term in sorted({s for s in module.subjects() if isinstance(s, URIRef) and str(s).startswith(str(DSO))}):
        for predicate, what in ((RDFS.label, "rdfs:label"), (RDFS.comment, "rdfs:comment")):
            if module.value(term, predicate) is None:
                problems.append(f"{term}: no {what}")
        if not tied(term, frozenset()):
            problems.append(f"{term}: no axiom ties it to an official term")
        for predicate in (SKOS.definition, SKOS.related):
            if module.value(term, predicate) is not None:
                problems.append(f"{term}: {predicate}")
        if (term, RDFS.subPropertyOf, RDFS.comment) in module:
            problems.append(f"{term}: a sub-property of rdfs:comment")
    return problems
