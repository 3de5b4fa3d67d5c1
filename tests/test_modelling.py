"""Every triple true (issue 10): the modelling conventions of docs/modelling.md, checked over the
whole catalog, and the proof that a graph merged from many valid messages stays valid.

- one IRI template per kind of thing, and one class all its classes fall under, across the 33 messages (rule 2);
- every message that types a class says the same required things of it (rule 2, ``disagreements``);
- no binding set holds a placeholder, and each one, instantiated naively into its part's pattern as
  a Knowledge Engine peer would, gives exactly triples of the message's graph (rule 1);
- the published ontology: imports, version IRI, a label, a comment and an axiom on every own term,
  closed enumerations whose members are all different (rule 6);
- all examples and generated payloads of every message, merged into one graph, conform to every
  shape, and their OWL-RL closure with the official ontologies (../shared/ontologies; skipped without
  it) has no inconsistency, no owl:Nothing member and no owl:sameAs between two data nodes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from rdflib import BNode, Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SKOS

import dso_saref
from dso_saref.patterns import Var
from dso_saref.resources import data_dir
from dso_saref.shaping import disagreements
from dso_saref.terms import DSO, NONE, Settings, parse_term
from dso_saref.validation import Validator
from tests.conftest import NAMES
from tests.strategies import payload_strategy
from tests.support import merges

#: What the OWL-RL proof reads of the official files (the ontologies our terms build on).
ENTITY = re.compile(r"^([a-z-]+)/\{\w+\}$")  # a thing named by one identifier: user/{end_user}


def _typed(name: str) -> dict[str, frozenset[str]]:
    """The classes the message's pattern gives each variable."""
    types: dict[str, set[str]] = defaultdict(set)
    for s, p, o in dso_saref.catalog[name].pattern.triples:
        if p == RDF.type and isinstance(s, Var) and isinstance(o, URIRef):
            types[s.name].add(str(o))
    return {k: frozenset(v) for k, v in types.items()}


# -- rule 2: one template, one class, one description per kind of thing ----------------------------------


def test_one_iri_template_and_one_class_per_kind_of_thing() -> None:
    """A kind's node may be typed with narrower classes where a message knows more of it (client/{id}: a
    dso:GridClient in grid-topology, a dso:LowVoltageClient in an LV client's reading, whose pattern
    must not be covered by a substation's at reasoner level 1), but all of them fall under one of them,
    by the subclass axioms of our ontologies."""
    classes_of: dict[str, set[str]] = defaultdict(set)
    kinds_of: dict[str, set[str]] = defaultdict(set)
    where: dict[str, set[str]] = defaultdict(set)
    for name in NAMES:
        variables = dso_saref.catalog[name].variables
        for var, classes in _typed(name).items():
            match = ENTITY.match(variables[var].template or "")
            if match is None:
                continue
            classes_of[match[1]].update(classes)
            where[match[1]].add(f"{name} ?{var}: {sorted(classes)}")
            for cls in classes:
                kinds_of[cls].add(match[1])
    ontology = own_ontology()

    def broader(cls: str) -> set[str]:
        return {str(c) for c in ontology.transitive_objects(URIRef(cls), RDFS.subClassOf)}

    def has_one_class(classes: set[str]) -> bool:
        return any(all(top in broader(cls) for cls in classes) for top in classes)

    assert {k: sorted(where[k]) for k, v in classes_of.items() if not has_one_class(v)} == {}, "one class per kind"
    assert {c: sorted(v) for c, v in kinds_of.items() if len(v) > 1} == {}, "one template per class"
    assert classes_of["client"] == {str(DSO.GridClient), str(DSO.LowVoltageClient),
                                    str(DSO.SpecialLowOrMediumVoltageClient)}


def test_every_message_that_types_a_class_says_the_same_of_it() -> None:
    assert disagreements(dso_saref.catalog) == []


# -- rule 1: binding sets a peer can read naively ----------------------------------------------------------


def _naive(name: str, payload: Any) -> Graph:
    """The triples a peer that knows nothing of dso-saref reads from the message's binding sets: each
    part's pattern instantiated with each binding (every variable bound, nothing skipped)."""
    description = dso_saref.catalog[name]
    bindings = dso_saref.to_bindings(name, payload)
    graph = Graph()
    parts = {part.key: part for part in description.parts}
    for key, rows in bindings.items():
        pattern = parts[key].pattern
        for row in rows:
            terms = {var: parse_term(text) for var, text in row.items()}
            assert NONE not in terms.values(), (name, key, row)
            for triple in pattern.triples:
                out = [terms[t.name] if isinstance(t, Var) else t for t in triple]
                graph.add((out[0], out[1], out[2]))
    return graph


@pytest.mark.parametrize("name", NAMES)
def test_binding_sets_instantiated_naively_are_the_message_s_triples(name: str) -> None:
    payload = dso_saref.catalog[name].example()
    naive = _naive(name, payload)
    assert set(naive) == set(dso_saref.saref(name, payload))
    assert not any(NONE in triple for triple in naive)


# -- rule 6: the ontology we publish -------------------------------------------------------------------


@cache
def own_ontology() -> Graph:
    graph = Graph()
    for path in sorted(data_dir("ontologies").glob("dso-saref*.ttl")):
        graph.parse(path, format="turtle")
    return graph


def _own_terms(graph: Graph) -> set[URIRef]:
    return {s for s in graph.subjects() if isinstance(s, URIRef) and str(s).startswith(str(DSO))
            and (s, RDF.type, None) in graph}


def test_the_ontology_imports_what_it_builds_on_and_has_a_version() -> None:
    graph = own_ontology()
    (ontology,) = graph.subjects(RDF.type, OWL.Ontology)
    assert graph.value(ontology, OWL.versionIRI) is not None
    imports = {str(i) for i in graph.objects(ontology, OWL.imports)}
    assert {"https://saref.etsi.org/core/v3.1.1/", "http://www.w3.org/2006/time#", "https://w3id.org/dpv"} <= imports


def test_every_own_term_is_labelled_explained_and_tied_to_an_official_one() -> None:
    graph = own_ontology()
    terms = _own_terms(graph)
    unlabelled = sorted(str(t) for t in terms if graph.value(t, RDFS.label) is None)
    unexplained = sorted(str(t) for t in terms if graph.value(t, RDFS.comment) is None)
    assert (unlabelled, unexplained) == ([], [])
    axioms = (RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range, OWL.equivalentClass,
              OWL.inverseOf, RDF.type)

    def anchors(term: URIRef) -> set[URIRef]:
        found = set()
        for p in axioms:
            for o in graph.objects(term, p):
                if isinstance(o, URIRef) and o not in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty,
                                                       OWL.NamedIndividual, OWL.FunctionalProperty, RDFS.Class):
                    found.add(o)
                elif isinstance(o, BNode):  # a restriction or class expression: the terms it names
                    found |= {x for x in graph.objects(o) if isinstance(x, URIRef) and x not in (
                        OWL.Restriction, OWL.Class)}
        return found

    tied: set[URIRef] = set()
    changed = True
    while changed:  # tied: an anchor outside our namespace, or one of our terms already tied
        changed = False
        for term in terms - tied:
            if any(not str(a).startswith(str(DSO)) or a in tied for a in anchors(term)):
                tied.add(term)
                changed = True
    assert sorted(str(t) for t in terms - tied) == []
    assert not list(graph.subjects(RDFS.subPropertyOf, RDFS.comment)), "no sub-property of rdfs:comment"
    assert not list(graph.subject_objects(SKOS.related)), "skos:related is not an alignment"


def test_closed_enumerations_declare_their_members_all_different() -> None:
    graph = own_ontology()
    different: list[set[Any]] = []
    for node in graph.subjects(RDF.type, OWL.AllDifferent):
        different.append(set(Collection(graph, graph.value(node, OWL.distinctMembers) or graph.value(
            node, OWL.members))))
    for cls, members in graph.subject_objects(OWL.oneOf):
        items = set(Collection(graph, members))
        assert len(items) < 2 or any(items <= group for group in different), f"{cls}: {sorted(items)}"


# -- the proof: a merge of valid messages stays valid ------------------------------------------------


def _merged(payloads: dict[str, list[Any]]) -> Graph:
    graph = Graph()
    for name, items in payloads.items():
        for payload in items:
            graph += _naive(name, payload)
    return graph


def _inconsistencies(data: Graph) -> list[str]:
    """What the OWL-RL closure of the data with the official and own ontologies finds wrong."""
    return merges.inconsistencies(data, merges.proof_ontologies())


def _conformance(graph: Graph, names: Iterable[str] = NAMES) -> dict[str, list[str]]:
    """Each message's shape violations on a graph (the compiled engine), by message."""
    validator = Validator(engine="compiled")
    out = {}
    for name in names:
        report = validator.validate(name, graph)
        if not report.conforms:
            out[name] = [str(e) for e in report.errors][:5]
    return out


def test_all_examples_merged_conform() -> None:
    merged = _merged({name: [dso_saref.catalog[name].example()] for name in NAMES})
    assert _conformance(merged) == {}


@cache
def samples(name: str, count: int = 3) -> list[Any]:
    """``count`` valid generated payloads of a message (seeded: the same on every run; small
    alphabets, so payloads of one message often share identifiers and windows)."""
    return merges.drawn(payload_strategy(dso_saref.catalog[name].model), count)


def every_payload() -> dict[str, list[Any]]:
    """Every message's example and :func:`samples`."""
    return {name: [dso_saref.catalog[name].example(), *samples(name)] for name in NAMES}


def test_generated_payloads_merged_with_the_examples_conform() -> None:
    assert _conformance(_merged(every_payload())) == {}


@cache
def merge_inconsistencies() -> list[str]:
    """What OWL-RL finds wrong with one graph of every example and generated payload of every message.
    One closure (seconds) serves every test of a merge's consistency: were the whole merge consistent,
    so is any part of it (OWL 2 RL is monotonic), e.g. a family's examples and samples."""
    return _inconsistencies(_merged(every_payload()))


def test_every_example_and_generated_payload_merged_are_consistent() -> None:
    """Generated payloads of every message with every example, in one graph: OWL-RL finds nothing
    wrong (every pair of them is in the merge)."""
    assert merge_inconsistencies() == []


def test_the_proof_can_fail() -> None:
    """A graph that says one substation is both primary and secondary (disjoint classes) is caught."""
    graph = Graph()
    substation = URIRef(Settings().base + "substation/X")
    graph.add((substation, RDF.type, DSO.PrimarySubstation))
    graph.add((substation, RDF.type, DSO.SecondarySubstation))
    found = _inconsistencies(graph)
    assert any(str(substation) in f and "PrimarySubstation" in f for f in found), found


def test_examples_folder_is_the_catalog_s() -> None:
    assert sorted(p.stem for p in Path(data_dir("examples")).glob("*.json")) == sorted(NAMES)
    assert all(isinstance(dso_saref.catalog[name].example(), dict | list) for name in NAMES)
