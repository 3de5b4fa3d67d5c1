"""Runs a compiled shape (:mod:`.plan`) over a data graph held as N-Triples term strings (:mod:`.data`).

The data is a set of blocks per predicate (a column of subjects, a column of objects), as the
message's pattern produces them from a :class:`~dso_saref.table.Table`, or from the triples of any
graph. Each constraint is evaluated with set operations over whole columns (subjects that are
all distinct mean every count is one; a column of decimals written by ``terms.lexical`` is a column of
well-formed ``xsd:decimal`` literals), falling back to per-value checks, memoised per distinct value,
where the columns say nothing. A value the engine cannot decide with certainty exactly as pySHACL
would (an exotic literal in a comparison, say) raises :class:`Uncertain`: the caller then runs
pySHACL. The results are pySHACL's: same focus node, path, value, source shape, constraint
component and messages.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from rdflib import BNode, Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from dso_saref.validation.engines.compiled.data import IRI, Data, Edges
from dso_saref.validation.engines.compiled.plan import (
    Constraint,
    NodePlan,
    Plan,
    PropertyPlan,
    SparqlQuery,
    Star,
    Target,
)

__all__ = ["Finding", "Uncertain", "run"]

_STRING, _LANG_STRING, _LITERAL, _DATATYPE = XSD.string, RDF.langString, RDFS.Literal, RDFS.Datatype
_STAMP = r'"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z"\^\^<'
_WELL_FORMED = {XSD.dateTime: re.compile(_STAMP + re.escape(str(XSD.dateTime)) + ">\\Z"),
                XSD.dateTimeStamp: re.compile(_STAMP + re.escape(str(XSD.dateTimeStamp)) + ">\\Z")}
_ACTUAL = {XSD.string: (str, bytes), RDF.langString: (str, bytes), XSD.integer: int, XSD.float: float,
           XSD.decimal: Decimal, XSD.boolean: bool, XSD.date: date, XSD.time: time, XSD.dateTime: datetime}


#: Lexical forms rdflib reads as well-typed literals of these datatypes (any other form is judged by
#: rdflib itself): whole lexical spaces for strings, plain digits for numbers.
_PLAIN = {
    XSD.decimal: re.compile(r'"[+-]?[0-9]+(?:\.[0-9]+)?"\^\^<' + re.escape(str(XSD.decimal)) + r">\Z"),
    XSD.integer: re.compile(r'"[+-]?[0-9]+"\^\^<' + re.escape(str(XSD.integer)) + r">\Z"),
    XSD.boolean: re.compile(r'"(?:true|false)"\^\^<' + re.escape(str(XSD.boolean)) + r">\Z"),
    XSD.string: re.compile(r'"(?:[^"\\]|\\.)*"(?:\^\^<' + re.escape(str(XSD.string)) + r">)?\Z", re.S),
}


class Uncertain(Exception):
    """The data holds something the engine cannot judge exactly as pySHACL does: run pySHACL."""


@dataclass(frozen=True)
class Finding:
    """One validation result as the engine finds it (terms as N-Triples strings), as pySHACL reports it."""

    shape: str
    component: str
    focus: str
    path: Any
    value: str | None
    messages: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# evaluation


def run(plan: Plan, data: Data) -> list[Finding]:
    """Every result of the plan's shapes on ``data``; raises :class:`Uncertain`."""
    results: list[Finding] = []
    for shape in plan.shapes:
        focus = _targets(shape.targets, data)
        if not focus:
            continue
        for constraint in shape.constraints:
            results += _node_constraint(shape, constraint, focus, data)
        for prop in shape.properties:
            results += _property(prop, focus, data)
    return results


def _targets(targets: list[Target], data: Data) -> set[str]:
    """The focus nodes of a shape's targets (the data's own set for one class target: not changed)."""
    if len(targets) == 1 and targets[0].kind == "class":
        return data.instances(targets[0].term)
    found: set[str] = set()
    for target in targets:
        if target.kind == "class":
            found |= data.instances(target.term)
        elif target.kind == "node":
            found.add(target.term)
        elif target.kind == "subjects":
            found |= data.subjects((target.term,))
        else:
            found |= data.objects((target.term,))
    return found


def _allowed(star: Star, var: str, data: Data) -> set[str] | frozenset[str] | None:
    """The values a variable of a star may take (``None``: any)."""
    sets: list[set[str] | frozenset[str]] = [data.typed(c) for c in star.kinds.get(var, ())]
    if var in star.allowed:
        sets.append(star.allowed[var])
    if not sets:
        return None
    return set.intersection(*(set(s) for s in sets)) if len(sets) > 1 else sets[0]


def _node_constraint(shape: NodePlan, constraint: Constraint, focus: set[str], data: Data) -> Iterator[Finding]:
    if constraint.component == "Class":
        for node in sorted(focus - data.instances(constraint.value)):
            yield Finding(shape.shape, "Class", node, None, node, constraint.messages)
    else:
        yield from _sparql(shape.shape, constraint, focus, None, data)


def _property(prop: PropertyPlan, focus: set[str], data: Data) -> Iterator[Finding]:
    found: Edges | None = None
    counts: Counter[str] | None = None

    def edges() -> Edges:  # computed on first need: a SPARQL constraint, or values all fine, need none
        nonlocal found
        if found is None:
            found = data.edges(prop.path).having(focus)
        return found

    def count() -> Counter[str]:
        nonlocal counts
        if counts is None:
            counts = Counter(s for s, _ in edges())
        return counts

    def result(component: str, node: str, value: str | None, messages: tuple[str, ...]) -> Finding:
        return Finding(prop.shape, component, node, prop.report_path, value, messages)

    for constraint in prop.constraints:
        kind, messages = constraint.component, constraint.messages
        if kind == "MinCount":
            need = constraint.value
            if need == 1:
                lacking = focus - edges().subjects
            elif need == 0:
                lacking = set()
            else:
                lacking = {x for x in focus if count().get(x, 0) < need}
            yield from (result(kind, x, None, messages) for x in sorted(lacking))
        elif kind == "MaxCount":
            limit = constraint.value
            if not (edges().function is not None and limit >= 1):
                yield from (result(kind, x, None, messages) for x, n in sorted(count().items()) if n > limit)
        elif kind in ("QualifiedMinCount", "QualifiedMaxCount"):
            (test, parameter), bound = constraint.value
            members = data.instances(parameter) if test == "class" else parameter
            qualified = Counter(s for s, o in edges() if o in members)
            if kind == "QualifiedMinCount":
                bad = sorted(x for x in focus if qualified.get(x, 0) < bound)
            else:
                bad = sorted(x for x, n in qualified.items() if n > bound)
            yield from (result(kind, x, None, messages) for x in bad)
        elif kind == "HasValue":
            yield from (result(kind, x, None, messages) for x in sorted(focus)
                        if (x, constraint.value) not in edges())
        elif kind == "SPARQL":
            yield from _sparql(prop.shape, constraint, focus, prop.report_path, data)
        elif (len(prop.path) == 1 and not prop.path[0].startswith("^")) or _may_fail(constraint, prop.path, data):
            bad_values = _bad_values(constraint, edges().objects, prop.path, data)
            if bad_values:
                yield from (result(kind, s, o, messages) for s, o in edges() if o in bad_values)


def _may_fail(constraint: Constraint, path: tuple[str, ...], data: Data) -> bool:
    """Whether a value constraint may fail on the values at the end of ``path``: ``False`` when no
    object (subject, for an inverse step) of the path's last predicate anywhere in the data fails it
    (value constraints judge each value alone, so the path's own values are fine too)."""
    last = path[-1]
    values = data.subjects((last[1:],)) if last.startswith("^") else data.objects((last,))
    try:
        return bool(_bad_values(constraint, set(values), path, data))
    except Uncertain:
        return True  # a value beyond the path may be what is uncertain: judge the path's own


# -- value constraints -------------------------------------------------------------------------


def _bad_values(constraint: Constraint, values: set[str], path: tuple[str, ...], data: Data) -> set[str]:
    kind, parameter = constraint.component, constraint.value
    kinds = data.object_kinds(path)
    if kind == "Class":
        return values - data.instances(parameter)
    if kind == "In":
        return values - parameter
    if kind == "Datatype":
        if kinds == {str(parameter)}:
            # every value was written by terms.lexical for this very datatype: well-formed, except
            # that a timestamp's year is only sure to have four digits when it reads so
            shape = _WELL_FORMED.get(parameter)
            if shape is None:
                return set()
            return {v for v in values if not shape.match(v) and not _datatype_ok(v, parameter, data)}
        return {v for v in values if not _datatype_ok(v, parameter, data)}
    if kind == "NodeKind":
        if kinds == {IRI} and parameter in ("iri", "bnode-or-iri", "iri-or-literal"):
            return set()
        return {v for v in values if not _kind_ok(v, parameter)}
    if kind == "Pattern":
        return {v for v in values if not _pattern_ok(v, parameter, data)}
    if kind in ("MinInclusive", "MaxInclusive", "MinExclusive", "MaxExclusive"):
        return {v for v in values if not _bound_ok(v, parameter, data)}
    raise Uncertain(f"constraint {kind}")


def _datatype_ok(term: str, datatype: URIRef, data: Data) -> bool:
    """pySHACL's DatatypeConstraintComponent on one value (a lexical form that is plainly well formed
    for its datatype is judged without building the rdflib literal)."""
    if not term.startswith('"'):
        return False
    plain = _PLAIN.get(datatype)
    if plain is not None and plain.match(term):
        return True
    value = data.literal(term)
    if value.datatype == datatype:
        return getattr(value, "ill_typed", None) is not True and _actual(value, datatype)
    if datatype == _LITERAL:
        return True
    if datatype == _DATATYPE:
        return value.datatype is not None
    if value.datatype is None and value.language is None and datatype == _STRING:
        return _actual(value, datatype)
    if datatype == _LANG_STRING and value.language:
        return _actual(value, datatype)
    return False


def _actual(value: Literal, datatype: URIRef) -> bool:
    python = value.value
    expected = _ACTUAL.get(datatype)
    return True if expected is None else isinstance(python, expected)


def _kind_ok(term: str, kind: str) -> bool:
    node = "iri" if term.startswith("<") else "bnode" if term.startswith("_:") else "literal"
    return node in kind.split("-or-") or (kind == "iri-or-literal" and node in ("iri", "literal"))


def _lexical(term: str, data: Data) -> str | None:
    if term.startswith("<"):
        return term[1:-1]
    if term.startswith("_:"):
        return None
    return data.lexical(term)


def _pattern_ok(term: str, regex: re.Pattern[str], data: Data) -> bool:
    text = _lexical(term, data)
    return text is not None and regex.search(text) is not None


def _bound_ok(term: str, bound: tuple[str, Any], data: Data) -> bool:
    """pySHACL's value range components on one value, for numeric bounds."""
    op, limit = bound
    if not term.startswith('"'):
        return False
    value = data.literal(term).value
    if isinstance(value, str):
        return False  # a string against a numeric bound never passes
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise Uncertain(f"comparing {term} with a number")
    if isinstance(value, float) and value != value:
        return False
    return {">=": value >= limit, "<=": value <= limit, ">": value > limit, "<": value < limit}[op]


# -- SPARQL constraints ------------------------------------------------------------------------


def _sparql(shape: str, constraint: Constraint, focus: set[str], path: Any, data: Data) -> Iterator[Finding]:
    query: SparqlQuery = constraint.value
    seen: set[tuple[str, str]] = set()
    for node, value in _solutions(query, focus, data):
        if (node, value) not in seen:
            seen.add((node, value))
            yield Finding(shape, "SPARQL", node, path, value, constraint.messages)


def _solutions(query: SparqlQuery, focus: set[str], data: Data) -> Iterable[tuple[str, str]]:
    """``($this, ?value)`` of every solution that passes the filters (each filter judged once per
    distinct value or pair of its columns, then applied to the rows)."""
    star = query.star
    variables = [other[1:] for _, _, other, _ in star.edges if other.startswith("?")]
    functions = [data.edges(path).function if not inverse else None for _, path, _, inverse in star.edges]
    if star.kinds.get("this") or "this" in star.allowed:
        focus = focus & (_allowed(star, "this", data) or set())
    columns = _star_columns(star, variables, functions, focus, data)
    keep: Iterable[int] = range(len(columns["this"]))
    for var in variables:
        allowed = _allowed(star, var, data)
        if allowed is not None:
            keep = _kept(keep, columns[var], lambda values, allowed=allowed: values & allowed)
    for s, p, o in query.absent:
        present = data.edges((p,))
        subjects = columns[s[1:]] if s.startswith("?") else [s] * len(columns["this"])
        if o == "*":
            having = present.subjects
            keep = _kept(keep, subjects, lambda values, having=having: values - having)
            continue
        objects = columns[o[1:]] if o.startswith("?") else [o] * len(columns["this"])
        if present.function is not None:
            get = present.function.get
            keep = _kept(keep, (subjects, objects), lambda pairs, get=get: {(a, b) for a, b in pairs if get(a) != b})
        else:
            keep = _kept(keep, (subjects, objects), lambda pairs, present=present: pairs - present.pairs)
    for left, op, right, cast in query.compare:
        a, b = columns[left], columns[right]
        keep = [i for i in keep if _compare(a[i], op, b[i], cast, data)]
    this, value = columns["this"], columns[query.value]
    return [(this[i], value[i]) for i in keep]


def _kept(keep: Iterable[int], column: list[Any] | tuple[list[Any], list[Any]], passing: Any) -> list[int]:
    """The rows of ``keep`` whose value in ``column`` (or pair of values in two columns) is among
    ``passing(distinct values)``: each distinct value is judged once."""
    pairs = isinstance(column, tuple)
    if isinstance(keep, range) and len(keep) == len(column[0] if pairs else column):
        good = passing(set(zip(*column, strict=True)) if pairs else set(column))
        if not good:
            return []
        rows: Iterable[Any] = zip(*column, strict=True) if pairs else column  # type: ignore[misc]
        return [i for i, v in enumerate(rows) if v in good]
    kept = list(keep)
    values = [(column[0][i], column[1][i]) for i in kept] if pairs else [column[i] for i in kept]  # type: ignore[index]
    good = passing(set(values))
    return [i for i, v in zip(kept, values, strict=True) if v in good] if good else []


def _star_columns(star: Star, variables: list[str], functions: list[dict[str, str] | None], focus: set[str],
                  data: Data) -> dict[str, list[str]]:
    """The solutions of a star as columns (``this`` and each variable)."""
    if all(f is not None for f in functions) and all(o.startswith("?") for _, _, o, _ in star.edges):
        # every edge is a function: one solution per focus node having all of them
        first: dict[str, str] = functions[0]  # type: ignore[assignment]
        if all(f.keys() == first.keys() for f in functions[1:]) and focus >= first.keys():  # type: ignore[union-attr]
            order = list(first)  # every subject of the edges is a focus node: read the columns as they are
        else:
            nodes = set(focus)
            for function in functions:
                nodes &= function.keys()  # type: ignore[union-attr]
            order = list(nodes)
        columns = {"this": order}
        for var, function in zip(variables, functions, strict=True):
            values = list(function.values())  # type: ignore[union-attr]
            columns[var] = values if len(values) == len(order) and list(function) == order \
                else list(map(function.__getitem__, order))  # type: ignore[union-attr]
        return columns
    if len(star.edges) == 1 and star.edges[0][3] and len(star.edges[0][1]) == 1 and variables:
        # one inverse edge (?value p $this): the pairs of p whose object is a focus node
        edges = data.edges(star.edges[0][1])
        if edges.function is not None and edges.objects <= focus:
            return {"this": list(edges.function.values()), variables[0]: list(edges.function)}
        pairs = [(s, o) for s, o in edges if o in focus]
        return {"this": [o for _, o in pairs], variables[0]: [s for s, _ in pairs]}
    rows = list(_star_rows(star, list(focus), data))
    return {name: [row[name] for row in rows] for name in ["this", *variables]}


def _star_rows(star: Star, focus: list[str], data: Data) -> Iterator[dict[str, str]]:
    """Solutions of a star, focus node by focus node (the general case)."""
    for node in focus:
        partial: list[dict[str, str]] = [{"this": node}]
        for _, path, other, inverse in star.edges:
            values = data.edges((f"^{path[0]}",) if inverse else path).values(node)
            if other.startswith("?"):
                partial = [{**row, other[1:]: v} for row in partial for v in values]
            elif other not in values:
                partial = []
        yield from partial


def _compare(left: str, op: str, right: str, cast: str | None, data: Data) -> bool:
    """A FILTER comparison exactly as rdflib's SPARQL evaluates it (which pySHACL runs): an error (a
    cast that fails, a non-literal operand, incomparable values) makes the filter false."""
    from rdflib.plugins.sparql.datatypes import XSD_DTs

    a, b = _operand(left, cast, data), _operand(right, cast, data)
    if not isinstance(a, Literal) or not isinstance(b, Literal):
        return False
    if a.datatype is not None and a.datatype not in XSD_DTs and b.datatype is not None \
            and b.datatype not in XSD_DTs:
        return False
    try:
        result = {">=": a.__ge__, ">": a.__gt__, "<=": a.__le__, "<": a.__lt__}[op](b)
    except TypeError:
        return False
    return result is not NotImplemented and bool(result)


def _operand(term: str, cast: str | None, data: Data) -> Any:
    """The operand of a comparison: the term, or ``xsd:dateTime(str(term))`` (``None`` on error)."""
    node = data.literal(term)
    if cast is None:
        return node
    if isinstance(node, BNode):
        return None
    from rdflib.xsd_datetime import parse_datetime

    try:
        return Literal(parse_datetime(Literal(str(node))), datatype=XSD.dateTime)
    except Exception:  # rdflib turns any failure of the cast into an error, which fails the filter
        return None
