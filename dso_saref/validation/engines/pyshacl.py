"""pySHACL, the reference engine: any shape, any graph, optional RDFS inference.

The only module that imports pyshacl, on its first validation. Results are read back from pySHACL's report graph into
engine-neutral :class:`~dso_saref.validation.results.Result` s. Shapes graphs come from the catalog
(parsed once per message); SPARQL texts are parsed once per engine (see :class:`_PreparedQueries`)::

    PyShaclEngine().results(catalog["hems-voltage"], Triples.of_graph(graph))
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import rdflib.term
from rdflib import Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH
from rdflib.plugins.sparql import prepareQuery

from dso_saref.validation.results import Result, shape_label

if TYPE_CHECKING:
    from dso_saref.catalog import Description
    from dso_saref.validation.triples import Triples

__all__ = ["INFERENCE", "PyShaclEngine", "literal_rules_kept", "ontology", "read_results"]

#: Inference options: ``none`` (default) or ``rdfs`` (the project's ontologies/ mixed in, then owlrl).
INFERENCE = ("none", "rdfs")

#: One RDFS-inference validation at a time: owlrl rebinds rdflib's literal conversions while it runs.
_INFERRING = threading.Lock()

_SEVERITY = {SH.Violation: "violation", SH.Warning: "warning", SH.Info: "info"}
_SUFFIX = "ConstraintComponent"


class PyShaclEngine:
    """pySHACL on an rdflib graph; ``inference="rdfs"`` mixes the project's ontologies into a copy of
    the data first (for graphs typed with subclasses of the pattern's classes). Raises ValueError for
    an unknown inference option."""

    name = "pyshacl"

    def __init__(self, *, inference: str = "none") -> None:
        if inference not in INFERENCE:
            raise ValueError(f"inference must be one of {', '.join(INFERENCE)}, not {inference!r}")
        self.inference = inference
        self._queries: dict[Any, Any] = {}

    def results(self, description: Description, triples: Triples) -> list[Result]:
        """Every result of the message's shape on the triples."""
        queries = description.compiled("pyshacl-queries", lambda _: {})
        return self.validate(triples.graph(), description.shapes_graph, own_graph=triples.is_payload,
                             queries=queries)

    def validate(self, graph: Graph, shapes: Graph, *, own_graph: bool = False,
                 queries: dict[Any, Any] | None = None) -> list[Result]:
        """Every result of ``shapes`` on ``graph`` (which is not modified unless ``own_graph``);
        ``queries`` keeps parsed SPARQL between calls with the same shapes."""
        import pyshacl  # loaded on the first pySHACL validation only (it takes a while to import)

        if self.inference == "rdfs":  # owlrl's literal conversions must not outlive the validation
            with _INFERRING, literal_rules_kept():
                _conforms, report, _text = pyshacl.validate(
                    graph, shacl_graph=shapes, ont_graph=ontology(), inference="rdfs", advanced=False,
                    inplace=own_graph, allow_warnings=True, allow_infos=True)
        else:
            data = _PreparedQueries.view(graph, self._queries if queries is None else queries)
            _conforms, report, _text = pyshacl.validate(
                data, shacl_graph=shapes, inference="none", advanced=False, inplace=True,
                allow_warnings=True, allow_infos=True)
        return read_results(report)


@contextmanager
def literal_rules_kept() -> Iterator[None]:
    """rdflib's conversions between literals and Python values (module globals) put back as they were
    when the block ends: owlrl (RDFS inference, OWL-RL closures) binds its own, ``xsd:dateTimeStamp``
    among them, and restores none, so every later literal of the process would compare differently."""
    term = rdflib.term
    mapping = dict(term._toPythonMapping)
    generic, specific = list(term._GenericPythonToXSDRules), list(term._SpecificPythonToXSDRules)
    try:
        yield
    finally:
        if term._toPythonMapping != mapping:
            term._toPythonMapping.clear()
            term._toPythonMapping.update(mapping)
        term._GenericPythonToXSDRules[:] = generic
        term._SpecificPythonToXSDRules[:] = specific


@functools.lru_cache(maxsize=1)
def ontology() -> Graph:
    """The project's ontologies/ (class and property hierarchy), parsed once; never modified."""
    from dso_saref.resources import data_dir

    graph = Graph()
    for path in sorted(data_dir("ontologies").glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


def read_results(report: Graph) -> list[Result]:
    """The results of a SHACL validation report graph."""
    found = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        component = str(report.value(result, SH.sourceConstraintComponent) or "")
        local = component[len(str(SH)):] if component.startswith(str(SH)) else component
        found.append(Result(
            shape_label(report.value(result, SH.sourceShape)),
            local[: -len(_SUFFIX)] if local.endswith(_SUFFIX) else local,
            report.value(result, SH.focusNode),
            _path(report, report.value(result, SH.resultPath)),
            report.value(result, SH.value),
            tuple(str(m) for m in report.objects(result, SH.resultMessage)),
            _SEVERITY.get(report.value(result, SH.resultSeverity), "violation")))
    return found


def _path(graph: Graph, node: Any, depth: int = 0) -> Any:
    """A SHACL path node as an IRI or a ``(kind, parts)`` tuple."""
    if node is None or isinstance(node, URIRef) or depth > 8:
        return node
    inverse = graph.value(node, SH.inversePath)
    if inverse is not None:
        return ("inverse", _path(graph, inverse, depth + 1))
    alternative = graph.value(node, SH.alternativePath)
    if alternative is not None:
        return ("alternative", tuple(_path(graph, p, depth + 1) for p in Collection(graph, alternative)))
    for predicate, kind in ((SH.zeroOrMorePath, "*"), (SH.oneOrMorePath, "+"), (SH.zeroOrOnePath, "?")):
        inner = graph.value(node, predicate)
        if inner is not None:
            return (kind, _path(graph, inner, depth + 1))
    if graph.value(node, RDF.first) is not None:
        return ("sequence", tuple(_path(graph, p, depth + 1) for p in Collection(graph, node)))
    return node


class _PreparedQueries(Graph):
    """A view of a graph (same store, nothing copied) that parses each SPARQL text once.

    pySHACL evaluates a SHACL-SPARQL constraint or target by sending its text to ``Graph.query`` with
    the focus node in ``initBindings``, once per focus node; rdflib would parse the same text every
    time (most of the validation time). The view keeps the parsed queries in the engine's cache.
    """

    def __init__(self, graph: Graph, cache: dict[Any, Any]) -> None:
        super().__init__(store=graph.store, identifier=graph.identifier, namespace_manager=graph.namespace_manager)
        self._cache = cache

    @classmethod
    def view(cls, graph: Graph, cache: dict[Any, Any]) -> Graph:
        """The view of a plain ``Graph``; any other kind of graph (a dataset) as it is."""
        return cls(graph, cache) if type(graph) is Graph else graph

    def query(self, query_object: Any, processor: Any = "sparql", result: Any = "sparql", initNs: Any = None,
              initBindings: Any = None, use_store_provided: bool = True, **kwargs: Any) -> Any:
        if isinstance(query_object, str):
            key = (query_object, tuple(sorted((initNs or {}).items())))
            prepared = self._cache.get(key)
            if prepared is None:
                prepared = self._cache[key] = prepareQuery(query_object, initNs=dict(initNs or {}))
            query_object = prepared
        return super().query(query_object, processor, result, initNs, initBindings, use_store_provided, **kwargs)
