"""The fast validation path: the catalog's SHACL shapes compiled into checks over binding columns.

pySHACL validates a zone-day of metering (100k readings) in tens of seconds; this path does it in a
fraction of a second and gives the same report (same verdict, same violations: focus node, path,
value, source shape, constraint, message and JSON location), which tests/test_fast_paths.py checks
against pySHACL on every example, on every refused payload of the shapes table and on generated
payloads::

    >>> from dso_saref.fastshacl import validate_fast
    >>> validate_fast("hems-voltage-request", {"Hems_ID": "ID1"}).conforms
    True

Three layers, each of which may decline (and then the reference path runs, so the answer is the
reference answer):

- :mod:`.model`: the payload through the message's pydantic model compiled into plain checks; a
  payload it cannot vouch for (any error, an unknown key, a validator it cannot run) goes to pydantic.
- :mod:`dso_saref.serialize`: the binding rows as columns of term strings.
- :mod:`.shapes` and :mod:`.engine`: the shape compiled once per message (a SHACL feature the
  compiler does not know means pySHACL validates that message) and run over the columns (data it
  cannot judge exactly as pySHACL would means pySHACL validates that payload).

pySHACL stays the reference engine (``validate(..., engine="pyshacl")``) and serves user shapes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from rdflib import Graph

from dso_saref.catalog import Catalog, Description
from dso_saref.fastshacl.engine import Data, Result, Uncertain, run
from dso_saref.fastshacl.model import Bail
from dso_saref.fastshacl.shapes import SHAPES, Plan, Unsupported, compile_shape
from dso_saref.mapping import RowError
from dso_saref.report import Locator, Report, Violation, curie, render_path
from dso_saref.serialize import _BUILDERS, Table, table
from dso_saref.terms import Settings, TermError

__all__ = ["SHAPES", "Checked", "FastValidator", "Uncertain", "Unsupported", "graph_violations", "shape_violations",
           "validate_fast"]

Locate = Callable[[Any, Any, Any], str]


class Checked(NamedTuple):
    """A payload validated on the fast path: its report and its binding rows."""

    report: Report
    table: Table


class FastValidator:
    """Compiled shapes per message (compiled on first use, kept; safe to share between threads).

    :attr:`unsupported` says, per message whose shape did not compile, why (those messages are
    validated by pySHACL)."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self._catalog = catalog
        self._lock = threading.Lock()
        self._plans: dict[str, Plan | None] = {}
        self.unsupported: dict[str, str] = {}

    @property
    def catalog(self) -> Catalog:
        """The catalog whose messages this validator knows (the package's own by default)."""
        if self._catalog is None:
            from dso_saref import catalog

            self._catalog = catalog
        return self._catalog

    def plan(self, description: Description) -> Plan | None:
        """The compiled shape of a message, or ``None`` when it uses SHACL the compiler does not know."""
        if description.name not in self._plans:
            with self._lock:
                if description.name not in self._plans:
                    try:
                        self._plans[description.name] = compile_shape(description.name, description.shape_path)
                    except Unsupported as exc:
                        self.unsupported[description.name] = str(exc)
                        self._plans[description.name] = None
        return self._plans[description.name]

    # -- entry points ----------------------------------------------------------------------------

    def validate(self, name: str, payload: Any, settings: Settings | None = None) -> Report | None:
        """The report of a JSON payload (model layer and shape layer), or ``None`` when the payload is
        not on the fast path (the model refuses it or the compiled reader cannot vouch for it, or the
        shape is not compiled, or the data is :class:`Uncertain`): then run the reference path.
        Raises UnknownMessageError."""
        checked = self.check(name, payload, settings)
        return None if checked is None else checked.report

    def check(self, name: str, payload: Any, settings: Settings | None = None) -> Checked | None:
        """:meth:`validate`, with the payload's :class:`~dso_saref.serialize.Table` (its binding set
        and triples) so that a validated payload is not read twice."""
        description = self.catalog[name]
        settings = settings or Settings()
        plan = self.plan(description)
        reader = _BUILDERS.reader(description)
        if plan is None or reader is None:
            return None
        try:
            data = reader(payload, settings)
        except Bail:
            return None
        try:
            rows = table(description, data, settings.base)
        except (TermError, RowError):
            return None  # the reference path reports the value that cannot become its term
        found = self._from_table(description, plan, rows, data, settings.base)
        return None if found is None else Checked(Report.of(description.name, found), rows)

    def shape_violations(self, name: str, data: Any, base: str) -> list[Violation] | None:
        """The shape layer on the model's JSON (``model_dump(mode="json", by_alias=True,
        exclude_none=True)`` of a payload the model accepted), or ``None``: run pySHACL."""
        description = self.catalog[name]
        plan = self.plan(description)
        return None if plan is None else self._from_data(description, plan, data, base)

    def graph_violations(self, name: str, graph: Graph, locator: Locator | None = None) -> list[Violation] | None:
        """The shape layer on an rdflib graph (RDF input, or a payload's triples), located with
        ``locator`` when given (else ``<focus> path``), or ``None``: run pySHACL."""
        description = self.catalog[name]
        plan = self.plan(description)
        if plan is None:
            return None
        data = Data.from_graph(graph)
        try:
            results = run(plan, data)
        except Uncertain:
            return None
        locate = locator.locate if locator is not None else None
        return [_violation(plan, result, data, locate) for result in results]

    def _from_data(self, description: Description, plan: Plan, data: Any, base: str) -> list[Violation] | None:
        try:
            rows = table(description, data, base)
        except (TermError, RowError):
            return None  # the reference path reports the value that cannot become its term
        return self._from_table(description, plan, rows, data, base)

    def _from_table(self, description: Description, plan: Plan, rows: Table, data: Any,
                    base: str) -> list[Violation] | None:
        graph = Data.from_table(rows)
        try:
            results = run(plan, graph)
        except Uncertain:
            return None
        if not results:
            return []
        locator = _locator(description, rows, data, base, results)
        return [_violation(plan, result, graph, locator.locate) for result in results]


def _locator(description: Description, rows: Table, data: Any, base: str, results: list[Result]) -> Locator:
    """A :class:`Locator` over the rows that mention a result's focus node or value (the locator's
    answers only ever depend on those rows), or over every row when the table cannot say where its
    rows come from."""
    if rows.positions is None:
        located = list(description.rows.located_terms(data, base))
    else:
        nodes = {r.focus for r in results} | {r.value for r in results if r.value is not None}
        located = rows.located_rows(nodes)
    return Locator(description.pattern, description.rows, located)


def _rule(component: str) -> str:
    return "sh:sparql" if component == "SPARQL" else f"sh:{component[:1].lower()}{component[1:]}"


def _violation(plan: Plan, result: Result, data: Data, locate: Locate | None) -> Violation:
    """The :class:`Violation` the pySHACL path makes of the same result (see validation._violation)."""
    focus = data.literal(result.focus)
    value = data.literal(result.value) if result.value is not None else None
    rule = _rule(result.component)
    message = result.messages[0] if result.messages else f"breaks {rule}"
    if value is not None and rule not in ("sh:minCount", "sh:qualifiedMinCount"):
        shown = curie(value)
        if str(value) not in message and shown not in message:
            message += f" (got {shown[:80]})"
    if locate is not None:
        location = locate(focus, result.path, value)
    else:
        location = curie(focus) + (f" {render_path(result.path)}" if result.path is not None else "")
    return Violation(location, message, rule, "shape", "violation", plan.labels.get(result.shape), curie(focus),
                     render_path(result.path) if result.path is not None else None,
                     curie(value) if value is not None else None)


#: The validator behind the module-level functions (compiles nothing until first used).
_SHARED = FastValidator()


def validate_fast(name: str, payload: Any, *, settings: Settings | None = None) -> Report | None:
    """:meth:`FastValidator.validate` with the shared validator."""
    return _SHARED.validate(name, payload, settings)


def shape_violations(name: str, data: Any, base: str) -> list[Violation] | None:
    """:meth:`FastValidator.shape_violations` with the shared validator."""
    return _SHARED.shape_violations(name, data, base)


def graph_violations(name: str, graph: Graph, locator: Locator | None = None) -> list[Violation] | None:
    """:meth:`FastValidator.graph_violations` with the shared validator."""
    return _SHARED.graph_violations(name, graph, locator)
