"""The standard SHACL validation report (``sh:ValidationReport``) of a validation :class:`Report`, for
``dso-saref validate --format turtle``.

One ``sh:ValidationResult`` per violation of the shape layer, whichever engine found it, with its focus
node, path, value, message, severity, source shape and constraint component, as SHACL 1.0 section 3.6
writes them. Problems of the input and model layers come before any triple exists, so they have no
SHACL form: the report then says ``sh:conforms false`` with an ``rdfs:comment`` counting them (the
command prints them on standard error).
"""

from __future__ import annotations

import re

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, XSD, Namespace

from dso_saref.terms import PREFIXES
from dso_saref.validation import SHAPES, Report, Violation

__all__ = ["DCTERMS", "shacl_report", "term"]

DCTERMS = Namespace("http://purl.org/dc/terms/")
_SEVERITY = {"violation": SH.Violation, "warning": SH.Warning, "info": SH.Info}
_MODIFIERS = {"*": SH.zeroOrMorePath, "+": SH.oneOrMorePath, "?": SH.zeroOrOnePath}
_TOKEN = re.compile(r"<[^>]*>|[A-Za-z][\w.-]*:[\w.-]*|[\^/|()*+?]")


def term(text: str) -> URIRef | BNode | Literal:
    """The RDF term of its short form in a violation (``<iri>``, ``saref:hasValue``, ``_:b0``,
    ``"240"^^xsd:double``, ``"text"@en``); raises ValueError for anything else."""
    if text.startswith("<") and text.endswith(">"):
        return URIRef(text[1:-1])
    if text.startswith("_:"):
        return BNode(text[2:])
    if text.startswith('"'):
        body, sep, datatype = text[1:].rpartition('"^^')
        if sep:
            return Literal(body, datatype=_iri(datatype))
        body, sep, language = text[1:].rpartition('"@')
        if sep and re.fullmatch(r"[A-Za-z]+(-[A-Za-z0-9]+)*", language):
            return Literal(body, lang=language)
        if text.endswith('"') and len(text) > 1:
            return Literal(text[1:-1], datatype=XSD.string)
    return _iri(text)


def _iri(text: str) -> URIRef:
    if text.startswith("<") and text.endswith(">"):
        return URIRef(text[1:-1])
    prefix, sep, local = text.partition(":")
    if sep and prefix in PREFIXES:
        return URIRef(PREFIXES[prefix] + local)
    raise ValueError(f"not an IRI: {text!r}")


class _Path:
    """Reads a rendered SHACL path (``saref:a/^saref:b``, ``(a|b)*``) back into its RDF form."""

    def __init__(self, graph: Graph, text: str) -> None:
        self.graph = graph
        self.tokens = _TOKEN.findall(text)
        if "".join(self.tokens) != re.sub(r"\s+", "", text):
            raise ValueError(f"not a SHACL path: {text!r}")
        self.pos = 0

    def read(self) -> URIRef | BNode:
        node = self._alternative()
        if self.pos != len(self.tokens):
            raise ValueError("trailing tokens in a SHACL path")
        return node

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise ValueError("a SHACL path ends too early")
        self.pos += 1
        return token

    def _list(self, items: list[URIRef | BNode]) -> BNode:
        head = BNode()
        Collection(self.graph, head, list(items))
        return head

    def _alternative(self) -> URIRef | BNode:
        items = [self._sequence()]
        while self._peek() == "|":
            self._take()
            items.append(self._sequence())
        if len(items) == 1:
            return items[0]
        node = BNode()
        self.graph.add((node, SH.alternativePath, self._list(items)))
        return node

    def _sequence(self) -> URIRef | BNode:
        items = [self._unary()]
        while self._peek() == "/":
            self._take()
            items.append(self._unary())
        return items[0] if len(items) == 1 else self._list(items)

    def _unary(self) -> URIRef | BNode:
        token = self._take()
        if token == "^":
            node = BNode()
            self.graph.add((node, SH.inversePath, self._unary()))
            return node
        if token == "(":
            inner = self._alternative()
            if self._take() != ")":
                raise ValueError("unbalanced parentheses in a SHACL path")
            if self._peek() in _MODIFIERS:
                node = BNode()
                self.graph.add((node, _MODIFIERS[self._take()], inner))
                return node
            return inner
        return _iri(token)


def _component(rule: str) -> URIRef:
    local = rule.removeprefix("sh:")
    if rule.startswith("sh:"):
        name = "SPARQL" if local == "sparql" else local[:1].upper() + local[1:]
        return SH[f"{name}ConstraintComponent"]
    return URIRef(f"{SHAPES}{local[:1].upper()}{local[1:]}ConstraintComponent")


def _shape(label: str) -> URIRef:
    if label.startswith("<") or (re.match(r"[A-Za-z][\w.-]*:", label) and label.split(":")[0] in PREFIXES):
        return _iri(label)
    return URIRef(SHAPES + label)


def _result(graph: Graph, report: BNode, violation: Violation) -> None:
    result = BNode()
    graph.add((report, SH.result, result))
    graph.add((result, RDF.type, SH.ValidationResult))
    graph.add((result, SH.resultSeverity, _SEVERITY.get(violation.severity, SH.Violation)))
    graph.add((result, SH.sourceConstraintComponent, _component(violation.rule)))
    graph.add((result, SH.resultMessage, Literal(violation.message)))
    if violation.focus is not None:
        graph.add((result, SH.focusNode, term(violation.focus)))
    if violation.path:
        graph.add((result, SH.resultPath, _Path(graph, violation.path).read()))
    if violation.value is not None:
        graph.add((result, SH.value, term(violation.value)))
    if violation.shape is not None:
        graph.add((result, SH.sourceShape, _shape(violation.shape)))


def shacl_report(report: Report, graph: Graph | None = None, *, source: str | None = None) -> Graph:
    """The ``sh:ValidationReport`` of ``report`` added to ``graph`` (a new one by default), with
    ``dcterms:source`` naming the ``source`` validated when given."""
    graph = graph if graph is not None else Graph()
    graph.bind("sh", SH)
    graph.bind("dcterms", DCTERMS)
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=False)
    node = BNode()
    graph.add((node, RDF.type, SH.ValidationReport))
    graph.add((node, SH.conforms, Literal(report.conforms)))
    if source is not None:
        graph.add((node, DCTERMS.source, Literal(source)))
    shape_layer = [v for v in (*report.errors, *report.warnings) if v.layer == "shape"]
    for violation in shape_layer:
        _result(graph, node, violation)
    before = [v for v in report.errors if v.layer != "shape"]
    if before:
        graph.add((node, RDFS.comment, Literal(
            f"{len(before)} problem(s) of the input or the model (not SHACL results: no triples were made); "
            "see the text report")))
    return graph
