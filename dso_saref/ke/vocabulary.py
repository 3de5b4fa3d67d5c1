"""The terms we know are declared somewhere, and the nearest declared term for one that is not.

Declared means: a subject of the project's ``ontologies/`` (our own terms, the external terms we use
re-declared in ``external-terms.ttl``, and the InterConnect terms once they are there), or a term of one
of rdflib's bundled namespaces (RDF, RDFS, OWL, XSD, OWL-Time, SOSA/SSN, SKOS, PROV, ...). A term an
ontology marks ``owl:deprecated`` with an ``rdfs:seeAlso`` is a known misspelling seen on the wire (the
"wire variants" of the InterConnect pilots): it is not declared, and its ``seeAlso`` is the suggestion::

    >>> vocabulary = Vocabulary.load()
    >>> vocabulary.suggest("http://www.ontology-of-units-of-measure.org/resource/om-2/kiloWatt")
    'http://www.ontology-of-units-of-measure.org/resource/om-2/kilowatt'
"""

from __future__ import annotations

import difflib
import inspect
import re
from dataclasses import dataclass

import rdflib.namespace
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDFS, DefinedNamespace

from dso_saref.resources import data_dir

__all__ = ["Vocabulary", "split_iri"]

_CUTOFF = 0.75


def split_iri(iri: str) -> tuple[str, str]:
    """``iri`` as (namespace, local name): split after the last ``#`` or ``/``."""
    match = re.match(r"(.*[#/])([^#/]*)\Z", iri)
    return (match.group(1), match.group(2)) if match else ("", iri)


@dataclass(frozen=True)
class Vocabulary:
    """Declared IRIs, and known misspellings with the term they stand for."""

    declared: frozenset[str]
    misspelt: dict[str, str]

    @classmethod
    def load(cls) -> Vocabulary:
        """The project's ``ontologies/`` and rdflib's bundled namespaces (read from disk each call)."""
        graph = Graph()
        for path in sorted(data_dir("ontologies").glob("*.ttl")):
            graph.parse(path, format="turtle")
        deprecated = {str(s) for s in graph.subjects(OWL.deprecated, None) if isinstance(s, URIRef)}
        misspelt = {str(s): str(o) for s, o in graph.subject_objects(RDFS.seeAlso) if str(s) in deprecated}
        declared = {str(s) for s in graph.subjects() if isinstance(s, URIRef)} - deprecated
        declared |= _bundled_terms()
        declared.discard(str(OWL.Ontology))
        return cls(frozenset(declared), misspelt)

    def __contains__(self, iri: object) -> bool:
        return iri in self.declared

    def suggest(self, iri: str) -> str | None:
        """The declared term ``iri`` most likely stands for, or ``None``: a known misspelling's
        correction, else the closest local name in the same namespace, else (for a namespace we know
        nothing of: a wrong namespace?) a term of the same local name elsewhere."""
        if iri in self.misspelt:
            return self.misspelt[iri]
        namespace, local = split_iri(iri)
        same = sorted(t for t in self.declared if split_iri(t)[0] == namespace)
        if same:
            by_local = {split_iri(term)[1].lower(): term for term in reversed(same)}
            found = difflib.get_close_matches(local.lower(), list(by_local), n=1, cutoff=_CUTOFF)
            return by_local[found[0]] if found else None
        elsewhere = sorted(t for t in self.declared if split_iri(t)[1] == local)
        return elsewhere[0] if len(elsewhere) == 1 else None


def _bundled_terms() -> set[str]:
    """Every term of rdflib's closed namespaces (``DefinedNamespace`` classes)."""
    terms: set[str] = set()
    for _, value in inspect.getmembers(rdflib.namespace, inspect.isclass):
        if issubclass(value, DefinedNamespace) and value is not DefinedNamespace:
            base = str(value._NS)
            names = [*getattr(value, "__annotations__", {}), *getattr(value, "_extras", [])]
            terms.update(base + name for name in names)
    return terms
