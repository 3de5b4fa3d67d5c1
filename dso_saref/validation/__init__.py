"""Validation of payloads and graphs against a message of the catalog: input, model and SHACL shape.

One call says whether a JSON payload (or a peer's RDF) is a valid instance of a message, and where
every problem is::

    >>> from dso_saref import validate
    >>> report = validate("hems-voltage", {"Voltage_Monitoring": [{"Hems_ID": "ID1", "timestamp":
    ...     "2021-12-03T15:11:20Z", "Voltage_from_Hems": 240, "Voltage_from_Hems_unit": "volts"}]})
    >>> report.conforms
    True

JSON input (a value, or a document as ``str``/``bytes``) goes through three layers, reported together:
the **input** (encoding, JSON syntax, duplicate keys: :mod:`dso_saref.payloads`), the **model**
(types, required and unknown keys, the pydantic rules) and, when the model accepts it, the **shape**:
the payload's binding table is validated against ``shapes/NAME.ttl`` and each result is mapped from
its focus node, path and value back to the JSON location (:class:`~.report.Locator`). RDF input (an
rdflib ``Graph``, or Turtle / N-Triples / JSON-LD text) is validated against the shape directly;
locations are then ``<focus node> property``.

The shape layer runs on an engine (:mod:`.engines`): ``auto`` (default) is the compiled engine, with
pySHACL (the reference) for anything the compiled engine does not vouch for; ``pyshacl``,
``compiled`` and ``shacl`` (Rust, optional) may be asked for by name. Inference is none by default:
the shapes state the exact classes the graph patterns produce; ``inference="rdfs"`` mixes the
project's ontologies into a copy of the data and runs pySHACL's RDFS pre-inference. ``shapes=`` adds
a user's own shapes graph, validated by pySHACL on the same triples.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF

from dso_saref.errors import DsoSarefError, PayloadError, Problem
from dso_saref.graphs import RDF_FORMATS, RdfSyntaxError, parse_rdf
from dso_saref.payloads import Document, DocumentError, Limits, read_document
from dso_saref.table import nt_term
from dso_saref.terms import Settings
from dso_saref.validation import engines
from dso_saref.validation.report import Locator, Report, Violation, curie
from dso_saref.validation.results import SHAPES, Result, violation
from dso_saref.validation.triples import Triples

if TYPE_CHECKING:
    from dso_saref.catalog import Catalog, Description

__all__ = ["ENGINES", "INFERENCE", "RDF_FORMATS", "SHAPES", "EngineDeclined", "Report", "Validator", "Violation",
           "validate"]

#: The engines a validation may run on (see :mod:`dso_saref.validation.engines`).
ENGINES = engines.ENGINES

#: Inference options: ``none`` (default) or ``rdfs`` (ontologies/ + owlrl, on pySHACL).
INFERENCE = ("none", "rdfs")


class EngineDeclined(DsoSarefError):
    """The engine asked for by name cannot validate this message or this data (``auto`` never
    declines: pySHACL takes what the compiled engine does not)."""


class Validator:
    """Validates payloads and graphs against the catalog's messages (safe to share between threads).

    ``engine`` is one of :data:`ENGINES`; ``inference="rdfs"`` and ``shapes`` (a user's extra shapes:
    an rdflib graph, a Turtle file path or Turtle text) run on pySHACL. Raises ValueError for an
    unknown engine or inference option, DescriptionError for a shapes file that is not Turtle.
    """

    def __init__(self, catalog: Catalog | None = None, *, engine: str = "auto", inference: str = "none",
                 shapes: Graph | str | Path | None = None) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
        if inference not in INFERENCE:
            raise ValueError(f"inference must be one of {', '.join(INFERENCE)}, not {inference!r}")
        self._catalog = catalog
        self.inference = inference
        self.extra_shapes = _user_shapes(shapes) if shapes is not None else None
        if inference == "rdfs":
            from dso_saref.validation.engines.pyshacl import PyShaclEngine

            self.engine: engines.Engine = PyShaclEngine(inference="rdfs")
        else:
            self.engine = engines.get(engine)

    @property
    def catalog(self) -> Catalog:
        """The catalog whose messages this validator knows (the package's own by default)."""
        if self._catalog is None:
            from dso_saref.catalog import DEFAULT

            self._catalog = DEFAULT
        return self._catalog

    # -- entry points ------------------------------------------------------------------------------

    def validate(self, name: str, data: Any, *, format: str | None = None,
                 settings: Settings | None = None) -> Report:
        """Validate a JSON payload, a JSON or RDF document, or an rdflib graph against message ``name``.

        ``data``: an rdflib ``Graph``; ``str``/``bytes`` document text in ``format`` (``json`` by
        default, or ``turtle``, ``nt``, ``json-ld``); a JSON value (dict, list, ...); or a
        :class:`~dso_saref.payloads.Document` read by :mod:`dso_saref.payloads` (its value is not
        read again, its warnings are reported). Bad input
        never raises: it is reported. Raises UnknownMessageError for an unknown ``name``,
        DescriptionError when the message's shape is broken, ValueError for an unknown format,
        :class:`EngineDeclined` when the engine named cannot validate it.
        """
        description = self.catalog[name]
        settings = settings or _DEFAULT_SETTINGS
        if isinstance(data, Document):  # read by dso_saref.payloads already (limits checked)
            warnings = [Violation(p.location, p.message, p.rule, "input", "warning") for p in data.warnings]
            return self._json(description, data.value, settings, warnings, checked=True)
        if isinstance(data, Graph):
            return self._rdf(description, Triples.of_graph(data))
        if isinstance(data, str | bytes | bytearray):
            fmt = format or "json"
            if fmt in RDF_FORMATS:
                try:
                    triples = Triples.of_document(data, fmt)
                except RdfSyntaxError as exc:
                    return Report.of(description.name, [Violation("<document>", str(exc), "syntax", "input")],
                                     input="rdf")
                return self._rdf(description, triples)
            if fmt != "json":
                raise ValueError(f"format must be json or one of {', '.join(RDF_FORMATS)}, not {fmt!r}")
            limits = _document_limits(settings)
            try:
                document = read_document(data, limits=limits)
            except DocumentError as exc:
                return Report.of(description.name, [Violation(p.location, p.message, p.rule, "input")
                                                     for p in exc.problems])
            warnings = [Violation(p.location, p.message, p.rule, "input", "warning") for p in document.warnings]
            return self._json(description, document.value, settings, warnings, checked=True)
        if format not in (None, "json"):
            raise ValueError(f"format {format!r} needs document text (str or bytes)")
        return self._json(description, data, settings, [])

    def check(self, name: str, triples: Triples, locator: Locator | None = None) -> list[Violation]:
        """The shape layer alone on ``triples``, located with ``locator`` when given (else
        ``<focus> path``); raises :class:`EngineDeclined`."""
        description = self.catalog[name]
        locate = locator.locate if locator is not None else None
        return [violation(result, locate) for result in self._results(description, triples)]

    # -- layers ------------------------------------------------------------------------------------

    def _json(self, description: Description, payload: Any, settings: Settings,
              found: list[Violation], *, checked: bool = False) -> Report:
        model = None
        strict = _strict(settings)
        try:
            model = description.read(payload, strict, checked=checked)
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
        try:
            table = description.table_of(model, settings)
        except PayloadError as exc:
            found.extend(Violation(p.location, p.message, p.rule, "model") for p in exc.problems)
            return Report.of(description.name, found)
        results = self._results(description, Triples.of_table(table))
        if results:
            nodes = {nt_term(term) for r in results for term in (r.focus, r.value)
                     if isinstance(term, URIRef | Literal)}
            locator = Locator(description.pattern, description.rows, table.located_rows(nodes))
            found.extend(violation(result, locator.locate) for result in results)
        return Report.of(description.name, found, table=table)

    def _rdf(self, description: Description, triples: Triples) -> Report:
        try:
            found = [violation(result) for result in self._results(description, triples)]
            data = triples.data()
        except RdfSyntaxError as exc:
            return Report.of(description.name, [Violation("<document>", str(exc), "syntax", "input")], input="rdf")
        classes = _pattern_classes(description)
        if not any(data.typed(nt_term(c)) for c in classes):
            names = ", ".join(sorted(curie(c) for c in classes))
            found.append(Violation("<graph>", f"the graph holds no {description.name}: no node of class {names}",
                                   "instance", "shape"))
        return Report.of(description.name, found, input="rdf")

    def _results(self, description: Description, triples: Triples) -> list[Result]:
        results = self.engine.results(description, triples)
        if results is None:
            why = getattr(self.engine, "unsupported", {}).get(description.name, "the data holds values it cannot judge")
            raise EngineDeclined(f"the {self.engine.name} engine cannot validate {description.name}: {why}; "
                                 "use engine 'auto' or 'pyshacl'")
        if self.extra_shapes is not None:
            from dso_saref.validation.engines.pyshacl import PyShaclEngine

            results = results + PyShaclEngine().validate(triples.graph(), self.extra_shapes)
        return results


def _user_shapes(shapes: Graph | str | Path) -> Graph:
    """A user's shapes graph from a graph, a Turtle file or Turtle text; raises DsoSarefError."""
    if isinstance(shapes, Graph):
        return shapes
    path = Path(shapes) if isinstance(shapes, Path) or "\n" not in shapes else None
    try:
        if path is not None and path.is_file():
            return parse_rdf(path.read_bytes(), "turtle")
        return parse_rdf(str(shapes), "turtle")
    except RdfSyntaxError as exc:
        raise DsoSarefError(f"the extra shapes are not valid Turtle: {exc}") from None


def _model_violations(problems: Iterable[Problem], *, lenient: bool = False) -> Iterator[Violation]:
    for problem in problems:
        if lenient and problem.rule == "extra_forbidden":
            yield Violation(problem.location, "unknown key, dropped (lenient mode)", problem.rule, "model", "warning")
            continue
        layer = "input" if problem.rule in ("json", "encoding", "duplicate", "depth", "size", "text") else "model"
        yield Violation(problem.location, problem.message, problem.rule, layer)


def _pattern_classes(description: Description) -> set[URIRef]:
    return {o for _, p, o in description.pattern.triples if p == RDF.type and isinstance(o, URIRef)}


def validate(name: str, data: Any, *, format: str | None = None, settings: Settings | None = None,
             engine: str = "auto", inference: str = "none", shapes: Graph | str | Path | None = None) -> Report:
    """Whether ``data`` (a JSON payload, document text or rdflib graph) is a valid instance of message
    ``name``, with every problem at the location where it must be fixed; see :meth:`Validator.validate`.

    ``engine``: ``auto`` (default: the compiled engine, pySHACL where it cannot vouch), ``compiled``,
    ``pyshacl`` (the reference) or ``shacl``; ``inference``: ``none`` or ``rdfs``; ``shapes``: a user's
    extra shapes. Raises ValueError for an unknown engine, inference or format."""
    return Validator(engine=engine, inference=inference, shapes=shapes).validate(
        name, data, format=format, settings=settings)


_DEFAULT_SETTINGS = Settings()


@functools.lru_cache(maxsize=32)
def _strict(settings: Settings) -> Settings:
    """``settings`` in strict mode (settings are frozen: made once per distinct settings)."""
    return replace(settings, strict=True)


@functools.lru_cache(maxsize=32)
def _document_limits(settings: Settings) -> Limits:
    """The document reader's limits under ``settings``: a key written twice refused in strict mode,
    the last one kept (with a warning) in lenient mode."""
    return replace(settings.limits, duplicate_keys="refuse" if settings.strict else "last")
