"""The shape layer alone on a raw JSON payload, bypassing the model (a test harness).

Values are turned into terms as far as they go (a string where a number belongs stays a string
literal, an unknown unit a literal) so that the shape can refuse them; locations are JSONPaths as
usual. The shapes table (tests/test_shapes_table.py) breaks each constraint of each shape through it
(``edit(graph, rows)`` may change the payload's triples before validation), and the engine suites run
it on every engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import XSD

import dso_saref
from dso_saref.catalog import Description
from dso_saref.mapping import RowError, Variable, VariableKind
from dso_saref.terms import NONE, Settings, TermError, mint_iri, parse_datetime, template_fields
from dso_saref.validation import Validator
from dso_saref.validation.report import Locator, Report
from dso_saref.validation.triples import Triples

Edit = Callable[[Graph, list[dict[str, Any]]], None]


def shape_layer(name: str, payload: Any, *, edit: Edit | None = None, engine: str = "pyshacl") -> Report:
    """The report of the shape layer alone on a raw payload (see the module docstring)."""
    graph, rows = shape_layer_graph(name, payload, edit)
    description = dso_saref.catalog[name]
    locator = Locator(description.pattern, description.rows, rows)
    found = Validator(engine=engine).check(name, Triples.of_graph(graph), locator)
    return Report.of(name, found)


def shape_layer_graph(name: str, payload: Any, edit: Edit | None = None
                      ) -> tuple[Graph, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """The graph and located rows the shape layer validates (raw values, no model), edited."""
    description = dso_saref.catalog[name]
    rows = list(raw_rows(description, payload, Settings().base))
    graph = description.pattern.graph(row for _, row in rows)
    if edit is not None:
        edit(graph, [row for _, row in rows])
    return graph, rows


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
