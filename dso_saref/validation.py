"""Validation of payloads and graphs against a message of the catalog: model layer and SHACL shape.

One call says whether a JSON payload (or an RDF graph) is a valid instance of a message, and where
every problem is::

    >>> from dso_saref import validate
    >>> report = validate("hems-voltage", {"Voltage_Monitoring": [{"Hems_ID": "ID1", "timestamp":
    ...     "2021-12-03T15:11:20Z", "Voltage_from_Hems": 240, "Voltage_from_Hems_unit": "volts"}]})
    >>> report.conforms
    True

JSON input goes through two layers, reported together: the **model** (malformed JSON, types,
required and unknown keys, the pydantic rules) and, when the model accepts it, the **shape**: the
payload's triples are validated with pySHACL against ``shapes/NAME.ttl`` and each result is mapped
from its focus node, path and value back to the JSON location (:class:`~dso_saref.report.Locator`).
RDF input (an rdflib ``Graph``, or Turtle / N-Triples / JSON-LD text) is validated against the shape
directly; locations are then ``<focus node> property``.

Inference: none by default. The shapes state the exact classes the graph patterns produce (the
Knowledge Engine matches them exactly too), and ``sh:class`` already follows ``rdfs:subClassOf`` found
in the data graph, so no shape needs the ontology's hierarchy. ``Validator(inference="rdfs")`` mixes
the project's ``ontologies/`` into a copy of the data and runs pySHACL's RDFS pre-inference (owlrl),
for graphs typed with subclasses of the pattern's classes; it is slower (see docs/shapes.md).

This is the only module that imports pyshacl. Shapes and ontologies are loaded lazily, once per
:class:`Validator`; the module-level :func:`validate` uses one shared validator.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyshacl
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SH, XSD
from rdflib.plugins.sparql import prepareQuery

from dso_saref.catalog import Catalog, Description
from dso_saref.errors import DescriptionError, PayloadError, Problem
from dso_saref.mapping import RowError, Variable, VariableKind
from dso_saref.report import Locator, Report, Violation, curie, render_path
from dso_saref.resources import data_dir
from dso_saref.terms import NONE, Settings, TermError, mint_iri, parse_datetime, template_fields

__all__ = ["INFERENCE", "RDF_FORMATS", "SHAPES", "Validator", "validate"]

#: Inference options of :class:`Validator`: ``none`` (default) or ``rdfs`` (ontologies/ + owlrl).
INFERENCE = ("none", "rdfs")

#: RDF input formats and their rdflib parser names.
RDF_FORMATS = {"turtle": "turtle", "nt": "nt", "json-ld": "json-ld"}

#: Namespace of the shapes: ``shapes/NAME.ttl`` names its shapes ``<SHAPES + NAME + "#" + local>``.
SHAPES = "https://w3id.org/dso-saref/shapes/"

_SEVERITY = {SH.Violation: "violation", SH.Warning: "warning", SH.Info: "info"}
#: Annotation of node and property shapes: the graph pattern variable they check.
_VARIABLE = URIRef(SHAPES + "variable")


class Validator:
    """Validates payloads and graphs against the catalog's messages.

    Shapes graphs (and, with ``inference="rdfs"``, the ontology graph) are parsed on first use and
    kept; a validator is safe to share between threads. Raises :class:`ValueError` for an unknown
    inference option.
    """

    def __init__(self, catalog: Catalog | None = None, *, inference: str = "none") -> None:
        if inference not in INFERENCE:
            raise ValueError(f"inference must be one of {', '.join(INFERENCE)}, not {inference!r}")
        self._catalog = catalog
        self.inference = inference
        self._lock = threading.Lock()
        self._shapes: dict[str, Graph] = {}
        self._ontology: Graph | None = None
        self._queries: dict[Any, Any] = {}

    @property
    def catalog(self) -> Catalog:
        """The catalog whose messages this validator knows (the package's own by default)."""
        if self._catalog is None:
            from dso_saref import catalog

            self._catalog = catalog
        return self._catalog

    # -- loading -------------------------------------------------------------------------------

    def shapes_graph(self, name: str) -> Graph:
        """The parsed SHACL shapes graph of message ``name``; raises UnknownMessageError or
        DescriptionError (shape file missing or not Turtle)."""
        description = self.catalog[name]
        graph = self._shapes.get(description.name)
        if graph is not None:
            return graph
        with self._lock:
            if description.name not in self._shapes:
                self._shapes[description.name] = _parse_shape(description)
        return self._shapes[description.name]

    def shape_text(self, name: str) -> str:
        """The Turtle text of message ``name``'s shape file."""
        description = self.catalog[name]
        try:
            return description.shape_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise DescriptionError(f"{description.name}: no shape file {description.shape_path.name}") from exc

    def ontology(self) -> Graph:
        """The project's ontologies/ (class and property hierarchy), parsed once."""
        if self._ontology is None:
            with self._lock:
                if self._ontology is None:
                    graph = Graph()
                    for path in sorted(data_dir("ontologies").glob("*.ttl")):
                        graph.parse(path, format="turtle")
                    self._ontology = graph
        return self._ontology

    # -- validation ------------------------------------------------------------------------------

    def validate(self, name: str, data: Any, *, format: str | None = None,
                 settings: Settings | None = None) -> Report:
        """Validate a JSON payload, a JSON or RDF document text, or an rdflib graph against message
        ``name``.

        ``data``: an rdflib ``Graph``; ``str``/``bytes`` document text in ``format`` (``json`` by
        default, or ``turtle``, ``nt``, ``json-ld``); or a JSON value (dict, list, ...). Bad input
        never raises: it is reported. Raises UnknownMessageError for an unknown ``name``,
        DescriptionError when the message's shape is broken, ValueError for an unknown format.
        """
        description = self.catalog[name]
        settings = settings or Settings()
        if isinstance(data, Graph):
            return self.validate_graph(description.name, data)
        if isinstance(data, str | bytes | bytearray):
            fmt = format or "json"
            if fmt in RDF_FORMATS:
                return self._validate_rdf_text(description, data, fmt)
            if fmt != "json":
                raise ValueError(f"format must be json or one of {', '.join(RDF_FORMATS)}, not {fmt!r}")
            try:
                data = json.loads(data)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                return Report.of(description.name, [Violation("$", f"not valid JSON: {exc}", "json", "input")])
        elif format not in (None, "json"):
            raise ValueError(f"format {format!r} needs document text (str or bytes)")
        return self._validate_json(description, data, settings)

    def validate_graph(self, name: str, graph: Graph) -> Report:
        """Validate an RDF graph against message ``name``'s shape; locations are ``<focus> path``.
        The graph is not modified."""
        description = self.catalog[name]
        found = list(self._shape_violations(description, graph, None, own_graph=False))
        if not _mentions_pattern_classes(description, graph):
            classes = ", ".join(sorted(curie(c) for c in _pattern_classes(description)))
            found.append(Violation("<graph>", f"the graph holds no {description.name}: no node of class {classes}",
                                   "instance", "shape"))
        else:
            found.extend(self._unrecognised(description, graph))
        return Report.of(description.name, found, input="rdf")

    def _unrecognised(self, description: Description, graph: Graph) -> Iterator[Violation]:
        """A node shape whose SPARQL target picks this message's nodes of a class out of all nodes of
        that class (by the triples that tell them apart) recognises none, though the graph has nodes of
        that class: they lack those triples, so nothing else would check them."""
        shapes = self.shapes_graph(description.name)
        prefixes = {str(p): str(n) for d in shapes.objects(None, SH.declare)
                    for p, n in [(shapes.value(d, SH.prefix), shapes.value(d, SH.namespace))] if p and n}
        head = "".join(f"PREFIX {p}: <{n}>\n" for p, n in prefixes.items())
        optional = description.optional
        for shape in shapes.subjects(RDF.type, SH.NodeShape):
            if str(shapes.value(shape, _VARIABLE) or "") in optional:
                continue  # a node kind the message may lack: its absence is no error
            target = shapes.value(shape, SH.target)
            select = str(shapes.value(target, SH.select) or "") if target is not None else ""
            match = re.search(r"\?this a (\w+):([\w.-]+) \.", select)
            if not match or match.group(1) not in prefixes:
                continue
            cls = URIRef(prefixes[match.group(1)] + match.group(2))
            nodes = sorted(set(graph.subjects(RDF.type, cls)), key=str)
            if not nodes or any(True for _ in graph.query(head + select)):
                continue
            comment = str(shapes.value(shape, RDFS.comment) or "")
            why = comment.partition("recognised as this message's by: ")[2].rstrip(".")
            for node in nodes:
                yield Violation(f"{curie(node)} rdf:type", f"a {curie(cls)} that is not recognised as "
                                f"{description.name}'s {shapes.value(shape, RDFS.label)}: it lacks {why}",
                                "target", "shape", shape=_shape_label(shapes, shape), focus=curie(node))

    def shape_layer(self, name: str, payload: Any, *, settings: Settings | None = None,
                    edit: Callable[[Graph, list[dict[str, Any]]], None] | None = None) -> Report:
        """The shape layer alone on a raw JSON payload, bypassing the model: values are turned into
        terms as far as they go (a string where a number belongs stays a string literal, an unknown
        unit a literal) so that the shape can refuse them; locations are JSONPaths as usual.

        Used to check that the two layers agree, and (with ``edit(graph, rows)``, which may change the
        payload's triples before validation; ``rows`` are its binding rows) to break a shape's
        constraints one at a time in the tests."""
        description = self.catalog[name]
        settings = settings or Settings()
        rows = list(raw_rows(description, payload, settings.base))
        graph = description.pattern.graph(row for _, row in rows)
        if edit is not None:
            edit(graph, [row for _, row in rows])
        locator = Locator(description.pattern, description.rows, rows)
        return Report.of(description.name, self._shape_violations(description, graph, locator, own_graph=True))

    def _validate_json(self, description: Description, payload: Any, settings: Settings) -> Report:
        found: list[Violation] = []
        model = None
        strict = Settings(base=settings.base, timezone=settings.timezone, strict=True)
        try:
            model = description.parse(payload, strict)
        except PayloadError as exc:
            unknown = [p for p in exc.problems if p.rule == "extra_forbidden"]
            if settings.strict or len(unknown) < len(exc.problems):
                found.extend(_model_violations(exc.problems, lenient=not settings.strict))
            else:
                found.extend(_model_violations(unknown, lenient=True))
                try:
                    model = description.parse(payload, settings)
                except PayloadError as again:
                    found.extend(_model_violations(again.problems, lenient=True))
        if model is None:
            return Report.of(description.name, found)
        data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
        try:
            rows = list(description.rows.located_terms(data, settings.base))
        except RowError as exc:
            found.append(Violation(exc.problem.location, exc.problem.message, "term", "model"))
            return Report.of(description.name, found)
        graph = description.pattern.graph(row for _, row in rows)
        locator = Locator(description.pattern, description.rows, rows)
        found.extend(self._shape_violations(description, graph, locator, own_graph=True))
        return Report.of(description.name, found)

    def _validate_rdf_text(self, description: Description, text: str | bytes | bytearray, fmt: str) -> Report:
        graph = Graph()
        try:
            graph.parse(data=bytes(text) if isinstance(text, bytearray) else text, format=RDF_FORMATS[fmt])
        except Exception as exc:  # rdflib's parsers raise many unrelated exception types
            message = f"not valid {fmt}: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
            return Report.of(description.name, [Violation("<document>", message, "syntax", "input")], input="rdf")
        return self.validate_graph(description.name, graph)

    def _shape_violations(self, description: Description, graph: Graph, locator: Locator | None,
                          *, own_graph: bool) -> Iterator[Violation]:
        shapes = self.shapes_graph(description.name)
        rdfs = self.inference == "rdfs"
        if not rdfs:
            graph = _PreparedQueries.view(graph, self._queries)
        _conforms, results, _text = pyshacl.validate(
            graph, shacl_graph=shapes, ont_graph=self.ontology() if rdfs else None,
            inference="rdfs" if rdfs else "none", advanced=True, inplace=own_graph or not rdfs,
            allow_warnings=True, allow_infos=True)
        for result in results.subjects(RDF.type, SH.ValidationResult):
            yield _violation(results, shapes, result, locator)


class _PreparedQueries(Graph):
    """A view of a graph (same store, nothing copied) that parses each SPARQL text once.

    pySHACL evaluates a SHACL-SPARQL constraint or target by sending its text to ``Graph.query`` with
    the focus node in ``initBindings``, once per focus node; rdflib would parse the same text every
    time (most of the validation time). The view keeps the parsed queries in the validator's cache.
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


def _parse_shape(description: Description) -> Graph:
    path = description.shape_path
    graph = Graph()
    try:
        graph.parse(path, format="turtle")
    except FileNotFoundError as exc:
        raise DescriptionError(f"{description.name}: no shape file shapes/{path.name}") from exc
    except Exception as exc:  # rdflib's Turtle parser raises several exception types
        raise DescriptionError(f"shapes/{path.name}: not valid Turtle: {exc}") from exc
    # pySHACL adds these "system triples" to every shapes graph it reads; adding them once here keeps
    # the shared, cached graph unchanged by validation (and safe to read from several threads).
    graph.add((OWL.Class, RDFS.subClassOf, RDFS.Class))
    graph.add((OWL.DatatypeProperty, RDFS.subClassOf, RDF.Property))
    return graph


def _model_violations(problems: Iterable[Problem], *, lenient: bool = False) -> Iterator[Violation]:
    for problem in problems:
        if lenient and problem.rule == "extra_forbidden":
            yield Violation(problem.location, "unknown key, dropped (lenient mode)", problem.rule, "model", "warning")
            continue
        layer = "input" if problem.rule == "model" and "not a JSON payload" in problem.message else "model"
        yield Violation(problem.location, problem.message, problem.rule, layer)


def _rule(component: Any) -> str:
    text = str(component)
    if text.startswith(str(SH)) and text.endswith("ConstraintComponent"):
        local = text[len(str(SH)):-len("ConstraintComponent")]
        return "sh:sparql" if local == "SPARQL" else f"sh:{local[:1].lower()}{local[1:]}"
    return curie(component)


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


def _shape_label(shapes: Graph, shape: Any) -> str | None:
    if isinstance(shape, BNode) or shape is None:
        return None
    text = str(shape)
    return text[len(SHAPES):] if text.startswith(SHAPES) else curie(shape)


def _violation(results: Graph, shapes: Graph, result: Any, locator: Locator | None) -> Violation:
    focus = results.value(result, SH.focusNode)
    path = _path(results, results.value(result, SH.resultPath))
    value = results.value(result, SH.value)
    shape = results.value(result, SH.sourceShape)
    rule = _rule(results.value(result, SH.sourceConstraintComponent))
    severity = _SEVERITY.get(results.value(result, SH.resultSeverity), "violation")
    messages = [str(m) for m in results.objects(result, SH.resultMessage)]
    message = messages[0] if messages else f"breaks {rule}"
    if value is not None and rule not in ("sh:minCount", "sh:qualifiedMinCount"):
        shown = curie(value)
        if str(value) not in message and shown not in message:
            message += f" (got {shown[:80]})"
    if locator is not None:
        location = locator.locate(focus, path, value)
    else:
        location = f"{curie(focus) if focus is not None else '<graph>'}"
        if path is not None:
            location += f" {render_path(path)}"
    return Violation(location, message, rule, "shape", severity, _shape_label(shapes, shape),
                     curie(focus) if focus is not None else None, render_path(path) if path is not None else None,
                     curie(value) if value is not None else None)


def _pattern_classes(description: Description) -> set[URIRef]:
    return {o for _, p, o in description.pattern.triples if p == RDF.type and isinstance(o, URIRef)}


def _mentions_pattern_classes(description: Description, graph: Graph) -> bool:
    return any((None, RDF.type, c) in graph for c in _pattern_classes(description))


# ---------------------------------------------------------------------------------------------
# raw rows: a payload's terms without the model, for the shape layer alone


def _natural(value: Any) -> Literal | None:
    if isinstance(value, bool):
        return Literal(value, datatype=XSD.boolean)
    if isinstance(value, int):
        return Literal(str(value), datatype=XSD.integer)
    if isinstance(value, float):
        return Literal(repr(value), datatype=XSD.double, normalize=False)
    if isinstance(value, str):
        return Literal(value, datatype=XSD.string)
    return None


def raw_term(variable: Variable, value: Any, base: str) -> URIRef | Literal | None:
    """The term a raw JSON value becomes without the model: the variable's own term when the value
    fits, else the value's natural literal (so the shape sees what was sent); ``None`` for objects
    and arrays."""
    if variable.kind == VariableKind.LITERAL and isinstance(value, str) and variable.datatype in (
            XSD.double, XSD.decimal, XSD.integer):
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is not None:
            value = int(number) if variable.datatype == XSD.integer and number.is_integer() else number
    if variable.kind == VariableKind.LITERAL and isinstance(value, str) and variable.datatype in (
            XSD.dateTime, XSD.dateTimeStamp):
        try:
            parse_datetime(value)
        except TermError:
            return _natural(value)
    if isinstance(value, int) and not isinstance(value, bool) and (
            variable.kind == VariableKind.IRI or variable.datatype == XSD.string):
        value = str(value)  # an identifier written as a JSON integer (MESSAGES.md's general rules)
    try:
        return variable.term(value, base)
    except (TermError, ValueError, TypeError, OverflowError):
        return _natural(value)


def raw_rows(description: Description, payload: Any,
             base: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Binding rows (with their array indices) of a raw payload, without the model (see
    :func:`raw_term`); a value that cannot be a term leaves its variable unbound (``rdf:nil``).
    A derived IRI is minted when any of its fields is there (a missing one is left empty), so the
    shape sees the node without the missing value and refuses that."""
    rows = description.rows
    try:
        walk = list(rows.index_rows(payload))
    except RowError:
        return
    for indices in walk:
        row: dict[str, Any] = {}
        texts: dict[str, str] = {}
        for name, variable in rows.fed.items():
            value = rows.value_at(payload, name, indices)
            term = raw_term(variable, value, base) if value is not None else None
            row[name] = NONE if term is None else term
            if isinstance(value, bool):
                texts[name] = "true" if value else "false"
            elif term is not None and isinstance(value, str | int | float):
                texts[name] = str(term) if isinstance(term, Literal) else str(value)
        for variable in rows.derived:
            fields = template_fields(variable.template or "")
            if any(f in texts for f in fields) and all(row.get(r, NONE) != NONE for r in variable.requires):
                row[variable.name] = URIRef(mint_iri(base, variable.template or "",
                                                     {f: texts.get(f, "") for f in fields}))
            else:
                row[variable.name] = NONE
        yield indices, row


#: The validator behind :func:`validate` (loads nothing until first used).
_SHARED = Validator()


ENGINES = ("fast", "pyshacl")


def validate(name: str, data: Any, *, format: str | None = None, settings: Settings | None = None,
             engine: str = "fast") -> Report:
    """Whether ``data`` (a JSON payload, document text or rdflib graph) is a valid instance of message
    ``name``, with every problem at the location where it must be fixed; see :meth:`Validator.validate`.

    ``engine="fast"`` (default) validates JSON payloads with the catalog's shapes compiled into checks
    (:mod:`dso_saref.fastshacl`, tested to give pySHACL's verdict and violations), falling back to
    pySHACL for anything it cannot vouch for; ``engine="pyshacl"`` always uses the reference engine.
    Raises ``ValueError`` for an unknown engine."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "fast" and format is None and not isinstance(data, str | bytes | Graph):
        from dso_saref.fastshacl import validate_fast

        report = validate_fast(name, data, settings=settings)
        if report is not None:
            return report
    return _SHARED.validate(name, data, format=format, settings=settings)
