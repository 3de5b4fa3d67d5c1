"""Validation reports: typed results, and where in the JSON payload each problem must be fixed.

:func:`dso_saref.validate` returns a :class:`Report`: whether the payload (or graph) conforms, and one
:class:`Violation` per problem, each with a location a pilot team can act on, the rule broken and a
human message::

    >>> report = dso_saref.validate("hems-voltage", {"Voltage_Monitoring": [{"Hems_ID": "ID1"}]})
    >>> report.conforms
    False
    >>> [str(e) for e in report.errors][:1]
    ['$.Voltage_Monitoring[0].timestamp: required key is missing [missing]']

Locations are JSONPaths for JSON input (``$.Voltage_Monitoring[0].Voltage_from_Hems_unit``,
``$[1].price``) and ``<focus node> property`` for RDF input. A shape violation on a graph built from
JSON is mapped back through :class:`Locator`, which knows which JSON value produced every node and
triple (see docs/shapes.md, "Locations").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rdflib import BNode, Literal, URIRef
from rdflib.namespace import RDF

from dso_saref.errors import PayloadError, Problem
from dso_saref.mapping import Path, Rows
from dso_saref.patterns import Pattern, Var
from dso_saref.terms import NONE, PREFIXES, template_fields

__all__ = ["LAYERS", "Locator", "Report", "Violation", "curie", "element_path", "render_path"]

#: The layers a problem can come from: ``input`` (malformed JSON or RDF), ``model`` (types, required
#: and unknown keys, the pydantic model's rules) and ``shape`` (the message's SHACL shape).
LAYERS = ("input", "model", "shape")

Node = URIRef | BNode | Literal


@dataclass(frozen=True)
class Violation:
    """One problem found in a payload or graph.

    ``location`` is where to fix it (a JSONPath for JSON input, ``<focus> property`` for RDF input),
    ``rule`` the rule broken (a pydantic error type such as ``missing`` for the model layer, a SHACL
    constraint such as ``sh:minInclusive`` or ``sh:sparql`` for the shape layer), ``message`` says why
    in plain words. Shape violations also carry the ``shape`` (prefixed IRI of the property or node
    shape), the ``focus`` node, the ``path`` and the offending ``value`` (N-Triples form).
    """

    location: str
    message: str
    rule: str
    layer: str = "model"
    severity: str = "violation"
    shape: str | None = None
    focus: str | None = None
    path: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.message} [{self.rule}]"

    @property
    def problem(self) -> Problem:
        """The same problem as the :class:`~dso_saref.errors.Problem` that ``PayloadError`` carries."""
        return Problem(self.location, self.message, self.rule)

    def to_dict(self) -> dict[str, str]:
        """A JSON object of the violation (``None`` fields left out)."""
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class Report:
    """The outcome of validating one payload or graph against one message of the catalog.

    ``conforms`` is true when there is no error (warnings, such as unknown keys dropped in lenient
    mode, do not count). ``errors`` is ordered by layer (input, model, shape), then by location.
    For JSON input that the model read, ``table`` is the payload's binding table (its KE bindings and
    triples: ``report.table.bindings()``), so that a validated payload is not read twice.
    """

    name: str
    conforms: bool
    errors: tuple[Violation, ...] = ()
    warnings: tuple[Violation, ...] = ()
    input: str = "json"
    table: Any = field(default=None, compare=False, repr=False)

    def __bool__(self) -> bool:
        return self.conforms

    @classmethod
    def of(cls, name: str, found: Iterable[Violation], input: str = "json", table: Any = None) -> Report:
        """A report of the violations found (sorted, duplicates dropped); conforms when no error."""
        unique = list(dict.fromkeys(found))
        order = sorted(unique, key=lambda v: (LAYERS.index(v.layer), _location_key(v.location), v.rule))
        errors = tuple(v for v in order if v.severity == "violation")
        warnings = tuple(v for v in order if v.severity != "violation")
        return cls(name, not errors, errors, warnings, input, table)

    def problems(self) -> list[Problem]:
        """The errors as :class:`~dso_saref.errors.Problem` objects."""
        return [e.problem for e in self.errors]

    def raise_for_errors(self) -> None:
        """Raise :class:`~dso_saref.errors.PayloadError` with every error unless the input conforms."""
        if not self.conforms:
            raise PayloadError(self.name, self.problems())

    def to_dict(self) -> dict[str, Any]:
        """A JSON object of the report."""
        return {"message": self.name, "input": self.input, "conforms": self.conforms,
                "errors": [e.to_dict() for e in self.errors], "warnings": [w.to_dict() for w in self.warnings]}


def _location_key(location: str) -> list[Any]:
    return [(0, int(p), "") if re.fullmatch(r"[0-9]+", p) else (1, 0, p) for p in re.split(r"[.\[\]']+", location) if p]


def curie(term: Node | str) -> str:
    """A short, readable form of a term: ``saref:hasValue``, ``<https://...>``, ``"240.0"^^xsd:double``."""
    if isinstance(term, Literal):
        text = f'"{term}"'
        if term.language:
            return f"{text}@{term.language}"
        if term.datatype is not None and str(term.datatype) != "http://www.w3.org/2001/XMLSchema#string":
            return f"{text}^^{curie(term.datatype)}"
        return text
    if isinstance(term, BNode):
        return f"_:{term}"
    text = str(term)
    for prefix, namespace in PREFIXES.items():
        if text.startswith(namespace) and re.fullmatch(r"[A-Za-z_][\w.-]*", text[len(namespace):]):
            return f"{prefix}:{text[len(namespace):]}"
    if text == str(RDF.type):
        return "rdf:type"
    return f"<{text}>"


def render_path(path: Any) -> str:
    """A SHACL path (an IRI, or a ``(kind, parts)`` structure built by the validator) as text."""
    if path is None:
        return ""
    if isinstance(path, tuple):
        kind, parts = path
        if kind == "inverse":
            return f"^{render_path(parts)}"
        if kind == "sequence":
            return "/".join(render_path(p) for p in parts)
        if kind == "alternative":
            return "(" + "|".join(render_path(p) for p in parts) + ")"
        return f"({render_path(parts)}){kind}"
    return curie(path)


# ---------------------------------------------------------------------------------------------
# locations of a graph built from JSON


def element_path(name: str, rows: Rows, indices: Mapping[str, Any]) -> Path | None:
    """The JSON path of the value or element of variable ``name`` in the row of ``indices``.

    A JSON-fed variable is located at its own value (in the row's alternative, for messages with
    alternatives). An IRI derived from other variables (which has no path) is located at the element
    that holds its fields, the common prefix of their paths (``interval/{start}/{end}`` -> ``$[0]``);
    an IRI minted from one field only is that field's value in another form, so it is located at the
    field (``hems/{hems_id}`` -> ``$.Voltage_Monitoring[0].Hems_ID``), where a pilot fixes it.
    """
    variable = rows.variables[name]
    if variable.fed:
        return rows.path_of(name, indices)
    walks = []
    for field_name in template_fields(variable.template or ""):
        path = rows.path_of(field_name, indices) if field_name in rows.fed else None
        if path is not None:
            walks.append(path.walk)
    if not walks:
        return None
    common = list(walks[0])
    for walk in walks[1:]:
        n = 0
        while n < min(len(common), len(walk)) and common[n] == walk[n]:
            n += 1
        common = common[:n]
    if len(walks) == 1:
        return rows.path_of(template_fields(variable.template or "")[0], indices)
    return Path("", (), tuple(common))


@dataclass
class _Index:
    nodes: dict[Node, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    triples: dict[tuple[Node, URIRef, Node], str] = field(default_factory=dict)
    _steps: dict[tuple[Node, Any], list[Node]] | None = None

    def step(self, node: Node, step: Any) -> list[Node]:
        """The nodes one path step (a predicate or ``("inverse", predicate)``) leads to from ``node``."""
        if self._steps is None:
            self._steps = {}
            for s, p, o in self.triples:
                self._steps.setdefault((s, p), []).append(o)
                self._steps.setdefault((o, ("inverse", p)), []).append(s)
        return self._steps.get((node, step), [])

    def along(self, focus: Node, steps: tuple[Any, ...], value: Node) -> str | None:
        """The location of the last triple of a path from ``focus`` that ends in ``value``."""
        nodes = [focus]
        for step in steps[:-1]:
            nodes = [n for node in nodes for n in self.step(node, step)]
        last = steps[-1]
        for node in nodes:
            key = (value, last[1], node) if isinstance(last, tuple) else (node, last, value)
            if key in self.triples:
                return self.triples[key]
        return None


class Locator:
    """Maps the focus node, path and value of a shape violation back to a JSON location.

    Built from a message's pattern and variables and the binding rows (each with the array indices it
    came from). The index of nodes and triples is built on the first :meth:`locate` call only, so a
    payload that conforms costs nothing here.
    """

    def __init__(self, pattern: Pattern, rows: Rows,
                 located: Iterable[tuple[dict[str, Any], Mapping[str, Node]]]) -> None:
        self._pattern = pattern
        self._rows = rows
        self._located = located
        self._index: _Index | None = None

    def variable_location(self, name: str, indices: Mapping[str, Any]) -> str:
        """The JSONPath of variable ``name``'s value (or element) in the row of ``indices``."""
        path = element_path(name, self._rows, indices)
        return path.location(indices) if path is not None else "$"

    def _term_location(self, term: Any, subject: Var | Any, indices: Mapping[str, int | None]) -> str:
        if isinstance(term, Var):
            return self.variable_location(term.name, indices)
        if isinstance(subject, Var):
            return self.variable_location(subject.name, indices)
        return "$"

    def _build(self) -> _Index:
        index = _Index()
        for indices, row in self._located:
            for name, term in row.items():
                if term != NONE and term not in index.nodes and not isinstance(term, Literal):
                    index.nodes[term] = (name, dict(indices))
            for s, p, o in self._pattern.triples:
                terms = [row.get(t.name) if isinstance(t, Var) else t for t in (s, p, o)]
                if any(t is None or t == NONE for t in terms):
                    continue
                key = (terms[0], terms[1], terms[2])
                if key not in index.triples:
                    index.triples[key] = self._term_location(o, s, indices)
        self._located = ()
        return index

    def locate(self, focus: Node | None, path: Any, value: Node | None) -> str:
        """The JSON location of a violation.

        In order: the JSON value that made the triple ``(focus, path, value)`` (the last triple of a
        sequence path); else the JSON key that
        the pattern feeds the path's end from, at the focus node's array indices (where a missing
        value must be added); else the value node's own location; else the focus node's; else ``$``.
        """
        if self._index is None:
            self._index = self._build()
        index = self._index
        if focus is None:
            return "$"
        if value is not None:
            if isinstance(path, URIRef) and (focus, path, value) in index.triples:
                return index.triples[(focus, path, value)]
            if isinstance(path, tuple) and path[0] == "inverse" and value in index.nodes:
                other, other_indices = index.nodes[value]  # a node pointing at the focus: the problem is its own
                return self.variable_location(other, other_indices)
            if isinstance(path, tuple) and path[0] == "sequence":
                found = index.along(focus, path[1], value)
                if found is not None:
                    return found
        if focus in index.nodes:
            name, indices = index.nodes[focus]
            end = self._follow(name, path) if path is not None else None
            if end is not None:
                return self.variable_location(end, indices)
            if value is not None and not isinstance(value, Literal) and value in index.nodes:
                other, other_indices = index.nodes[value]
                return self.variable_location(other, other_indices)
            return self.variable_location(name, indices)
        return "$"

    def _follow(self, name: str, path: Any) -> str | None:
        """The pattern variable at the end of ``path`` from variable ``name`` (None if the pattern has
        no such triples); a constant at the end gives the variable it hangs from."""
        steps = path[1] if isinstance(path, tuple) and path[0] == "sequence" else (path,)
        current = name
        for step in steps:
            inverse = isinstance(step, tuple) and step[0] == "inverse"
            predicate = step[1] if inverse else step
            if not isinstance(predicate, URIRef):
                return None
            for s, p, o in self._pattern.triples:
                near, far = (o, s) if inverse else (s, o)
                if p == predicate and isinstance(near, Var) and near.name == current:
                    if isinstance(far, Var):
                        current = far.name
                    break
            else:
                return None
        return current

    def triples_of(self, focus: Node) -> Iterator[tuple[URIRef, Node, str]]:
        """Every (predicate, object, location) recorded for a subject (for tests and debugging)."""
        if self._index is None:
            self._index = self._build()
        for (s, p, o), location in self._index.triples.items():
            if s == focus:
                yield p, o, location


