"""The binding table: a typed message as columns of RDF terms, the one forward path of every entry point.

A message's variables are compiled once (:class:`TableBuilder`, kept by the catalog's
:class:`~dso_saref.catalog.Description`) into a builder that reads the pydantic model of a payload
and writes one column of N-Triples term strings per variable, level by level (an array's elements
are a level; parallel arrays share one). The :class:`Table` then gives every form the library
publishes: the KE binding set, N-Triples, an rdflib graph (for Turtle and JSON-LD), and the data the
validation engines read::

    table = catalog["hems-voltage"].table(payload)
    table.bindings()      # [{"hems": "<https://...>", "voltage": '"240.0"^^<...#decimal>', ...}]
    table.ntriples()      # each triple of the pattern once per element of the deepest level it touches

Every term is written by the functions of :mod:`dso_saref.terms` (``Variable.term``, ``mint_iri``,
``escape_literal``), memoised per distinct value. Messages whose variables iterate the members of
wide objects (key steps) or unite sibling arrays (alternatives) are read by walking their rows one by
one; all others column by column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from enum import Enum
from itertools import repeat
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, RootModel
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import XSD

from dso_saref.parts import Part
from dso_saref.paths import BRANCH, Iterate, Key
from dso_saref.patterns import Var
from dso_saref.terms import (
    NONE,
    PREFIXES,
    UNRESERVED,
    TermError,
    digest,
    digests,
    escape_literal,
    format_date,
    format_datetime,
    lexical,
    parse_term,
    percent_encode,
    template_fields,
)
from dso_saref.variables import Variable, VariableKind

if TYPE_CHECKING:
    from dso_saref.catalog import Description

__all__ = ["FORMATS", "Table", "TableBuilder", "json_text", "nt_term"]

#: The output formats of :meth:`Table.serialize`.
FORMATS = ("nt", "turtle", "json-ld", "bindings")

_ABSENT = object()
_STRING = f"^^<{XSD.string}>"
_TEXT = {str, type(None)}
_FLOAT = {float}
_DECIMAL = XSD.decimal
_DOUBLE = XSD.double
#: Memoised terms kept per variable between calls (beyond this many the memo starts afresh).
_MEMO = 100_000
#: From this many values on, a column is written by distinct value (a few rows: value by value).
_MANY = 64


def nt_term(term: URIRef | Literal) -> str:
    """The N-Triples form of an rdflib IRI or literal, with the escapes of :func:`terms.escape_literal`
    (an ``xsd:string`` literal keeps its datatype: it is a different term from a plain literal)."""
    if isinstance(term, URIRef):
        return f"<{term}>"
    body = f'"{escape_literal(str(term))}"'
    if term.language:
        return f"{body}@{term.language}"
    return f"{body}^^<{term.datatype}>" if term.datatype is not None else body


def json_text(value: Any) -> str:
    """The text of a model value as its canonical JSON writes it, for IRI templates and keys
    (``true``, ``12``, ``2021-09-27T10:00:00Z``, ``ID1``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return format_date(value)
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _binding(term: str) -> str:
    """The KE binding form of an N-Triples term (``xsd:string`` literals without their datatype)."""
    return term[: -len(_STRING)] if term.endswith(_STRING) and term.startswith('"') else term


def _decimal_text(number: float) -> str:
    """``lexical(number, xsd:decimal)``: the shortest round-trip repr when it is positional (always
    with a '.'), else the exact positional form computed by :func:`terms.lexical`."""
    text = repr(number)
    if "e" in text or "n" in text:
        return lexical(number, _DECIMAL)
    return text


def _memo_key(value: Any) -> tuple[Any, ...]:
    """The key of ``value`` in a formatter's memo: its class and value, and for a zero its sign (0.0 and
    -0.0 are equal, but their texts differ)."""
    if value.__class__ is float and value == 0.0:
        return (float, value, math.copysign(1.0, value))
    return (value.__class__, value)


def _reprs(values: list[float]) -> dict[float, str]:
    """The repr of each distinct number of a column (0.0 and -0.0 are one key: the first met)."""
    return {value: repr(value) for value in set(values)}


class _Formatter:
    """N-Triples term and template text of one variable's model values, memoised."""

    def __init__(self, variable: Variable, base: str) -> None:
        self.variable = variable
        self.base = base
        self.cache: dict[tuple[type, Any], str] = {}
        self.quoted: dict[tuple[type, Any], str] = {}
        self.strings: dict[str, str] = {}
        datatype = variable.datatype if variable.kind == VariableKind.LITERAL else None
        self.number = datatype if datatype in (_DECIMAL, _DOUBLE) else None
        self.suffix = f'"^^<{datatype}>'

    def term(self, value: Any) -> str:
        """The N-Triples term of ``value``; raises TermError as ``Variable.term`` does."""
        if self.number is not None and value.__class__ is float:
            text = _decimal_text(value) if self.number == _DECIMAL else lexical(value, _DOUBLE)
            return '"' + text + self.suffix
        key = _memo_key(value)
        found = self.cache.get(key)
        if found is None:
            plain = value.value if isinstance(value, Enum) else value
            found = self.cache[key] = nt_term(self.variable.term(plain, self.base))
        return found

    def terms(self, values: list[Any], reprs: dict[float, str] | None = None) -> list[str | None]:
        """:meth:`term` of a column of values (``None`` stays ``None``: unbound), by distinct value
        for strings, timestamps and decimals (``reprs``: :func:`_reprs` of a column of floats, when
        made already)."""
        if len(self.strings) > _MEMO or len(self.cache) > _MEMO:
            self.strings.clear()
            self.cache.clear()
            self.quoted.clear()
        types = set(map(type, values))
        if types <= _TEXT:
            lookup: dict[Any, str | None] = {None: None}
            for value in set(values):
                if value is not None:
                    lookup[value] = self.strings.get(value) or self.strings.setdefault(value, self.term(value))
            return list(map(lookup.__getitem__, values))
        if self.number == _DECIMAL and types == _FLOAT:
            reprs = reprs or _reprs(values)
            joined = "".join(reprs.values())
            if "e" not in joined and "n" not in joined:  # positional, finite: lexical() is the repr
                suffix = self.suffix
                lookup = {value: f'"{text}{suffix}' for value, text in reprs.items()}
                if 0.0 in reprs:  # 0.0 == -0.0, two lexical forms: each zero its own
                    return [f'"{v!r}{suffix}' if v == 0.0 else lookup[v] for v in values]
                return list(map(lookup.__getitem__, values))
        if len(types) == 1 and types <= {datetime, date}:
            distinct = {value: self.term(value) for value in set(values)}
            return list(map(distinct.__getitem__, values))
        return [None if v is None else self.term(v) for v in values]

    def terms_and_quotes(self, values: list[Any]) -> tuple[list[str | None], list[str | None]]:
        """:meth:`terms` and :meth:`quotes` of a column of values (a column of numbers: each
        distinct number's repr made once, for its lexical form and its template text)."""
        reprs = _reprs(values) if len(values) >= _MANY and set(map(type, values)) == _FLOAT else None
        return self.terms(values, reprs), self.quotes(values, reprs)

    def quotes(self, values: list[Any], reprs: dict[float, str] | None = None) -> list[str | None]:
        """:meth:`quote` of a column of values (``reprs`` as for :meth:`terms`)."""
        quote = self.quote
        types = set(map(type, values))
        if types == _FLOAT and len(values) >= _MANY:  # a number's text is its repr: digits . - e + inf nan
            reprs = reprs or _reprs(values)
            if UNRESERVED.fullmatch("".join(reprs.values())) is not None:  # no '+': each its own encoding
                if 0.0 in reprs:  # 0.0 == -0.0, two texts: each zero its own
                    return [repr(v) if v == 0.0 else reprs[v] for v in values]
                return list(map(reprs.__getitem__, values))
        if len(types - {type(None)}) <= 1:
            distinct = set(values)
            if float not in types or 0.0 not in distinct:
                lookup: dict[Any, str | None] = {None: None}
                for value in distinct:
                    if value is not None:
                        lookup[value] = quote(value)
                return list(map(lookup.__getitem__, values))
        return [None if v is None else quote(v) for v in values]

    def quote(self, value: Any) -> str:
        """The percent-encoded text of ``value`` in an IRI template (``mint_iri`` of one field)."""
        key = _memo_key(value)
        found = self.quoted.get(key)
        if found is None:
            found = self.quoted[key] = percent_encode(json_text(value))
        return found


class Table:
    """The binding rows of one payload, column by column and level by level.

    ``levels[k]`` holds the columns of the variables at level ``k`` (N-Triples term strings, ``None``
    where unbound) and ``parents[k - 1]`` the index of each of its elements' parent at level ``k - 1``.
    Rows are the elements of the deepest level; :meth:`column` broadcasts a variable to any deeper
    level. ``positions`` (per level, each element's index in its array, ``None`` for an empty array's
    placeholder) or ``row_indices`` (per row, its iterator indices) say where each row comes from.
    """

    def __init__(self, description: Description, levels: list[dict[str, list[str | None]]],
                 parents: list[list[int]], level_of: Mapping[str, int], *,
                 positions: list[list[Any]] | None = None, iterators: list[str] | None = None,
                 row_indices: list[dict[str, Any]] | None = None) -> None:
        self.description = description
        self.levels = levels
        self.parents = parents
        self.level_of = level_of
        self.positions = positions
        self.iterators = iterators or []
        self.row_indices = row_indices
        self.specs = description.builder.specs
        self._broadcast: dict[tuple[str, int], list[str | None]] = {}

    @property
    def size(self) -> int:
        """The number of binding rows."""
        return len(self.parents[-1]) if self.parents else 1

    def depth(self) -> int:
        """The deepest level."""
        return len(self.levels) - 1

    def column(self, name: str, level: int | None = None) -> list[str | None]:
        """Variable ``name``'s column at ``level`` (default: the rows)."""
        level = self.depth() if level is None else level
        own = self.level_of[name]
        if own == level:
            return self.levels[level][name]
        key = (name, level)
        found = self._broadcast.get(key)
        if found is None:
            upper = self.column(name, level - 1)
            found = self._broadcast[key] = list(map(upper.__getitem__, self.parents[level - 1]))
        return found

    def length(self, level: int) -> int:
        """The number of elements at ``level``."""
        return len(self.parents[level - 1]) if level > 0 else min(self.size, 1)

    def blocks(self) -> Iterator[tuple[str, list[str | None] | str, list[str | None] | str, int]]:
        """``(predicate, subjects, objects, level)`` for each triple of the pattern: columns at the
        deepest level the triple touches, or a constant term string."""
        for predicate, s, o in self.specs:
            level = max((self.level_of[t.name] for t in (s, o) if t.__class__ is Var), default=0)
            yield predicate, self._side(s, level), self._side(o, level), level

    def _side(self, term: Any, level: int) -> list[str | None] | str:
        return self.column(term.name, level) if term.__class__ is Var else nt_term(term)

    def pairs(self) -> Iterator[tuple[str, Iterator[tuple[str, str]]]]:
        """``(predicate, (subject, object) pairs)`` for each triple of the pattern, unbound ones left out."""
        if self.size == 0:
            return
        for predicate, subjects, objects, level in self.blocks():
            n = self.length(level)
            s_col = subjects if isinstance(subjects, list) else [subjects] * n
            o_col = objects if isinstance(objects, list) else [objects] * n
            if None in s_col or None in o_col:
                yield predicate, ((s, o) for s, o in zip(s_col, o_col, strict=True) if s is not None and o is not None)
            else:
                yield predicate, zip(s_col, o_col, strict=True)

    # -- outputs ---------------------------------------------------------------------------------

    def ntriples(self) -> str:
        """The N-Triples document of the rows (each triple once)."""
        text = ""
        for chunk in self.nt_chunks():
            text += chunk  # grown in place (CPython resizes a string only this name holds): no second copy
        return text

    def nt_chunks(self) -> Iterator[str]:
        """The N-Triples document in chunks (for streaming writes): the triples of a level that are
        sure to be distinct, a few thousand elements at a time, each element's triples together; then
        the others, one triple of the pattern at a time."""
        if self.size == 0:
            return
        blocks = list(self.blocks())
        shared: dict[str, int] = {}
        constants: dict[tuple[str, str], int] = {}
        for predicate, _, objects, _ in blocks:
            shared[predicate] = shared.get(predicate, 0) + 1
            if isinstance(objects, str):
                constants[(predicate, objects)] = constants.get((predicate, objects), 0) + 1
        distinct: dict[int, bool] = {}

        def unique(column: list[str | None] | str) -> bool:
            if id(column) not in distinct:
                distinct[id(column)] = _distinct(column)
            return distinct[id(column)]

        by_level: dict[int, list[tuple[str, list[str | None] | str, list[str | None] | str]]] = {}
        rest = []
        for predicate, subjects, objects, level in blocks:
            # a block's triples are distinct when its subjects (or objects) are; blocks of one
            # predicate can only meet when they share a constant object or have variable objects
            alone = shared[predicate] == 1 or (isinstance(objects, str) and constants[(predicate, objects)] == 1)
            whole = not (isinstance(subjects, list) and None in subjects) \
                and not (isinstance(objects, list) and None in objects)
            if alone and whole and (unique(subjects) or unique(objects)):
                by_level.setdefault(level, []).append((predicate, subjects, objects))
            else:
                rest.append((predicate, subjects, objects, level, alone))
        for level, group in by_level.items():
            yield from _level_text(self.length(level), group)
        seen: dict[str, dict[str, None]] = {}
        for predicate, subjects, objects, level, alone in rest:
            middle = f" {predicate} "
            n = self.length(level)
            s_col = subjects if isinstance(subjects, list) else [subjects] * n
            o_col = objects if isinstance(objects, list) else [objects] * n
            lines = [f"{s}{middle}{o} .\n" for s, o in zip(s_col, o_col, strict=True)
                     if s is not None and o is not None]
            if alone and (unique(subjects) or unique(objects)):
                yield "".join(lines)
                continue
            known = seen.setdefault(predicate if not alone else f"{predicate} {level}", {})
            fresh = [line for line in dict.fromkeys(lines) if line not in known]
            known.update(dict.fromkeys(fresh))
            yield "".join(fresh)

    def bindings(self) -> dict[str, list[dict[str, str]]]:
        """The KE binding sets of the rows: one per part of the message's pattern
        (:mod:`dso_saref.parts`) that has rows, the core's always, each row once and every variable
        of its part bound (an absent value is never written as a placeholder)."""
        out: dict[str, list[dict[str, str]]] = {}
        for part in self.description.parts:
            rows = self.part_rows(part)
            if rows or part.parent is None:
                out[part.key] = rows
        return out

    def part_rows(self, part: Part) -> list[dict[str, str]]:
        """The binding rows of one part: its variables at its level, where every one is bound."""
        if self.size == 0:
            return []
        names = sorted(part.variables)
        level = max((self.level_of[name] for name in names), default=0)
        columns = []
        for name in names:
            variable = self.description.variables[name]
            if variable.kind == VariableKind.LITERAL and variable.datatype == XSD.string:
                own = self.level_of[name]  # written in binding form at its own level, then broadcast
                key = (f"{name} binding", own)
                if key not in self._broadcast:
                    self._broadcast[key] = _binding_column(self.levels[own][name])
                column = _broadcast(self, self._broadcast[key], name, level)
            else:
                column = self.column(name, level)
            columns.append(column)
        rows: Any = zip(*columns, strict=True)
        if any(None in column for column in columns):
            rows = dict.fromkeys(row for row in rows if None not in row)
        elif not any(_distinct(column) for column in columns):
            rows = dict.fromkeys(rows)  # a row may repeat only when no column is distinct
        return list(map(dict, map(zip, repeat(names), rows)))

    def graph(self) -> Graph:
        """The rdflib graph of the rows' triples, with the project's prefixes bound."""
        graph = Graph()
        terms: dict[str, Any] = {}
        for predicate, pairs in self.pairs():
            p = parse_term(predicate)
            for s, o in pairs:
                subject = terms.get(s) or terms.setdefault(s, parse_term(s))
                obj = terms.get(o) or terms.setdefault(o, parse_term(o))
                graph.add((subject, p, obj))
        for prefix, namespace in PREFIXES.items():
            graph.bind(prefix, namespace, override=True)
        return graph

    def serialize(self, format: str = "nt") -> str:
        """The rows as RDF text (``nt``, ``turtle``, ``json-ld``) or as a KE binding set (``bindings``,
        JSON); raises ValueError for another format."""
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        if format == "nt":
            return self.ntriples()
        if format == "bindings":
            return json.dumps(self.bindings(), indent=2, ensure_ascii=False)
        return self.graph().serialize(format=format)

    # -- locations -------------------------------------------------------------------------------

    def located_rows(self, nodes: set[str]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """The rows that mention any of ``nodes``, each with its iterator indices (for JSON locations)
        and its terms (rdflib terms, ``rdf:nil`` where unbound), in row order."""
        if self.size == 0:
            return []
        names = list(self.level_of)
        columns = [self.column(name) for name in names]
        hits = sorted({i for column in columns for i, v in enumerate(column) if v is not None and v in nodes})
        out = []
        for r in hits:
            row = {name: NONE if column[r] is None else parse_term(column[r])  # type: ignore[arg-type]
                   for name, column in zip(names, columns, strict=True)}
            out.append((self._indices(r), row))
        return out

    def _indices(self, r: int) -> dict[str, Any]:
        if self.row_indices is not None:
            return dict(self.row_indices[r])
        indices: dict[str, Any] = {}
        element = r
        for k in range(self.depth(), 0, -1):
            indices[self.iterators[k - 1]] = self.positions[k - 1][element]  # type: ignore[index]
            element = self.parents[k - 1][element]
        return dict(reversed(indices.items()))


#: Elements of a level written by one format operation.
_CHUNK = 1024


def _level_text(n: int, group: list[tuple[str, list[str | None] | str, list[str | None] | str]]) -> Iterator[str]:
    """The triples of ``group`` (blocks of one level, ``n`` elements, no term unbound) element by
    element, a few thousand elements joined at once: each element's slots are its terms and the
    pattern's constant text between them."""
    slots: list[list[str | None] | str] = []
    for predicate, subjects, objects in group:
        for side, after in ((subjects, " " + predicate + " "), (objects, " .\n")):
            for piece in (side, after):
                if isinstance(piece, str) and slots and isinstance(slots[-1], str):
                    slots[-1] += piece  # constants side by side: one slot
                else:
                    slots.append(piece)
    width = len(slots)
    for start in range(0, n, _CHUNK):
        m = min(_CHUNK, n - start)
        flat: list[str | None] = [None] * (m * width)
        for j, slot in enumerate(slots):
            flat[j::width] = [slot] * m if isinstance(slot, str) else slot[start:start + m]
        yield "".join(flat)  # type: ignore[arg-type]


def _binding_column(column: list[str | None]) -> list[str | None]:
    """A column of N-Triples terms in KE binding form (:func:`_binding` once per distinct term)."""
    lookup = {term: None if term is None else _binding(term) for term in set(column)}
    return list(map(lookup.__getitem__, column))


def _distinct(column: list[str | None] | str) -> bool:
    """Whether the bound values of a column are pairwise distinct (a constant is, once)."""
    if isinstance(column, str):
        return False
    unbound = column.count(None)
    return len(set(column)) - (1 if unbound else 0) == len(column) - unbound


class TableBuilder:
    """A message's variables compiled once into a :class:`Table` builder.

    Descriptions with one chain of arrays are built column by column from the model's objects;
    those with key steps or alternatives row by row from the model's JSON. Raises
    :class:`~dso_saref.errors.DescriptionError` (through ``Rows``) for an inconsistent description.
    """

    def __init__(self, description: Description) -> None:
        rows = description.rows
        self.description = description
        self.level_of = dict(rows.level)
        #: the pattern's triples: (predicate, subject, object), the predicate as an N-Triples constant
        self.specs = [(nt_term(p), s, o) for s, p, o in description.pattern.triples]
        #: formatters (with their memos) per base IRI, kept between calls: terms depend on nothing else
        self._formatters: dict[str, dict[str, _Formatter]] = {}
        self._fields: dict[str, tuple[list[str], list[str], str]] = {}
        self._aliases: dict[type, dict[str, str]] = {}
        self.columnar = not rows.branches and not any(rows.key_steps.get(it) for it in rows.chain)
        self.chain = rows.chain
        self.derived = [(v.name, rows.level[v.name], v) for v in rows.derived]
        self.templated = {f for _, _, v in self.derived for f in _fields(v)}
        if self.columnar:
            self.columnar = self._compile_columns(description)

    def _compile_columns(self, description: Description) -> bool:
        """Compile the levels and fed columns; ``False`` when a path skips a level of the chain
        (then the rows are walked one by one)."""
        rows = description.rows
        self.top_list = bool(rows.chain) and rows.arrays.get(rows.chain[0]) == [()]
        anchors: dict[tuple[Any, ...], tuple[int, int]] = {(): (0, 0)}
        self.levels: list[list[tuple[int, tuple[str, ...]]]] = [[]]
        for k, it in enumerate(rows.chain, start=1):
            arrays = []
            for prefix in rows.arrays[it]:
                level, index, keys = _anchor(prefix, anchors)
                if level != k - 1:
                    return False
                arrays.append((index, keys))
                anchors[(*prefix, Iterate(it))] = (k, len(arrays) - 1)
            self.levels.append(arrays)
        self.fed: list[tuple[str, int, int, tuple[str, ...]]] = []
        for name, variable in rows.fed.items():
            level, index, keys = _anchor(variable.path.steps, anchors)
            if level != rows.level[name]:
                return False
            self.fed.append((name, level, index, keys))
        return True

    def formatters(self, base: str) -> dict[str, _Formatter]:
        """The formatters of every JSON-fed variable for IRIs minted under ``base``."""
        found = self._formatters.get(base)
        if found is None:
            variables = self.description.variables
            found = self._formatters.setdefault(base, {name: _Formatter(variables[name], base)
                                                       for name in self.description.rows.fed})
        return found

    def build(self, message: BaseModel | Any, base: str) -> Table:
        """The table of a typed message (or of the canonical JSON of one); raises TermError for a value
        that cannot be its term."""
        if self.columnar:
            return self._build_columns(message.root if isinstance(message, RootModel) else message, base)
        if isinstance(message, BaseModel):
            message = message.model_dump(mode="json", by_alias=True, exclude_none=True)
        return self._build_rows(message, base)

    # -- column by column ------------------------------------------------------------------------

    def _build_columns(self, data: Any, base: str) -> Table:
        # the elements of each level: the items of its one array, or tuples of the items of its
        # parallel arrays (named iterators); a placeholder where an array is empty
        objects: list[list[Any]] = [[data]]
        single = [True]
        parents: list[list[int]] = []
        positions: list[list[Any]] = []
        for k, arrays in enumerate(self.levels[1:], start=1):
            below: list[Any] = []
            parent: list[int] = []
            position: list[Any] = []
            flat = single[k - 1]
            for p, element in enumerate(objects[k - 1]):
                lists = [self._follow(element if flat else element[index], keys) for index, keys in arrays]
                length = max((len(a) for a in lists if a.__class__ is list), default=0)
                if length == 0:
                    if k == 1 and self.top_list:
                        return Table(self.description, [{} for _ in self.levels], [[] for _ in self.chain],
                                     self.level_of, positions=[[] for _ in self.chain], iterators=self.chain)
                    below.append(_ABSENT if len(lists) == 1 else (_ABSENT,) * len(lists))
                    parent.append(p)
                    position.append(None)
                elif len(lists) == 1:
                    below += lists[0]
                    parent += [p] * length
                    position += range(length)
                else:
                    for i in range(length):
                        below.append(tuple(a[i] if a.__class__ is list and i < len(a) else _ABSENT for a in lists))
                        parent.append(p)
                    position += range(length)
            objects.append(below)
            single.append(len(arrays) == 1)
            parents.append(parent)
            positions.append(position)
        columns: list[dict[str, list[str | None]]] = [{} for _ in self.levels]
        texts: dict[str, list[str | None]] = {}
        formatters = self.formatters(base)
        templated = self.templated
        for name, level, index, keys in self.fed:
            values = self._values(objects[level], None if single[level] else index, keys)
            if name in templated:
                columns[level][name], texts[name] = formatters[name].terms_and_quotes(values)
            else:
                columns[level][name] = formatters[name].terms(values)
        table = Table(self.description, columns, parents, self.level_of, positions=positions, iterators=self.chain)
        for name, level, variable in self.derived:
            columns[level][name] = self._mint(table, texts, variable, level, base)
        return table

    def _member(self, node: Any, key: str) -> Any:
        """The value of member ``key`` of a JSON object or a model (by its JSON key), ``_ABSENT``
        when missing or null."""
        cls = node.__class__
        if cls is dict:
            value = node.get(key)
        elif isinstance(node, BaseModel):
            attribute = self._attribute(cls, key)
            value = getattr(node, attribute) if attribute is not None else None
        else:
            return _ABSENT
        return _ABSENT if value is None else value

    def _attribute(self, cls: type, key: str) -> str | None:
        aliases = self._aliases.get(cls)
        if aliases is None:
            aliases = self._aliases[cls] = {(info.alias or name): name for name, info in cls.model_fields.items()}
        return aliases.get(key)

    def _follow(self, node: Any, keys: tuple[str, ...]) -> Any:
        """The value at ``keys`` under ``node`` (``_ABSENT`` where missing, ``null`` or not an object)."""
        for key in keys:
            if node is _ABSENT:
                return _ABSENT
            node = self._member(node, key)
        return node

    def _values(self, elements: list[Any], index: int | None, keys: tuple[str, ...]) -> list[Any]:
        """The values at ``keys`` under each element (its array item ``index`` for parallel arrays),
        ``None`` where absent."""
        if index is not None:
            elements = [element[index] for element in elements]
        if len(keys) == 1:
            classes = set(map(type, elements))
            if len(classes) == 1:
                (cls,) = classes
                if issubclass(cls, BaseModel):
                    attribute = self._attribute(cls, keys[0])
                    if attribute is not None:
                        return [getattr(element, attribute) for element in elements]
                elif cls is dict:
                    return [element.get(keys[0]) for element in elements]
        values = [self._follow(element, keys) for element in elements]
        if not keys and any(v is None for v in values):
            raise TermError("null is not a value")
        return [None if v is _ABSENT else v for v in values]

    def _mint(self, table: Table, texts: dict[str, list[str | None]], variable: Variable, level: int,
              base: str) -> list[str | None]:
        spec = self._fields.get(variable.name)
        if spec is None:
            fields = template_fields(variable.template or "")
            pieces, rest = [], variable.template or ""
            for f in fields:
                head, _, rest = rest.partition("{" + f + "}")
                pieces.append(head)
            spec = self._fields[variable.name] = (fields, pieces, rest + ">")
        fields, pieces, rest = spec
        prefix = "<" + base + pieces[0] if pieces else "<" + base
        columns = [self._digests(table, texts, variable, level) if f == "digest"
                   else _broadcast(table, texts[f], f, level) for f in fields]
        required = [table.column(r, level) for r in variable.requires]
        if not required and columns and len(columns[0]) >= _MANY and not any(None in c for c in columns):
            # every row minted: the template's text and the row's texts joined, row by row
            parts: list[Any] = [repeat(prefix), columns[0]]
            for piece, column in zip(pieces[1:], columns[1:], strict=True):
                parts += [repeat(piece), column]
            return list(map("".join, zip(*parts, repeat(rest), strict=False)))  # the columns are of one length
        if not required and len(columns) == 1:
            (a,) = columns
            return [None if x is None else prefix + x + rest for x in a]
        if not required and len(columns) == 2:
            a, b = columns
            middle = pieces[1]
            return [None if x is None or y is None else prefix + x + middle + y + rest
                    for x, y in zip(a, b, strict=True)]
        out: list[str | None] = []
        rows = zip(*columns, strict=True) if columns else [()] * table.length(level)
        for i, parts in enumerate(rows):
            if None in parts or any(c[i] is None for c in required):
                out.append(None)
                continue
            text = prefix + parts[0] if parts else prefix
            for piece, part in zip(pieces[1:], parts[1:], strict=True):
                text += piece + part
            out.append(text + rest)
        return out

    @staticmethod
    def _digests(table: Table, texts: dict[str, list[str | None]], variable: Variable,
                 level: int) -> list[str | None]:
        """The ``{digest}`` column of a variable: the hash of its digest fields' texts, row by row
        (once per distinct combination)."""
        columns = [_broadcast(table, texts[f], f, level) for f in variable.digest]
        if not columns:
            return []
        if len(columns[0]) < _MANY:
            return digests(list(zip(*columns, strict=True)))
        # keyed by the columns that vary (a unit is often the same on every row)
        constant = [column[0] if len(set(column)) == 1 else _ABSENT for column in columns]
        varying = [i for i, c in enumerate(constant) if c is _ABSENT]
        if not varying:
            return [digest(constant)] * len(columns[0])
        if len(varying) == 1:
            keys: list[Any] = columns[varying[0]]
            distinct = list(set(keys))
            before, after = tuple(constant[:varying[0]]), tuple(constant[varying[0] + 1:])
            rows = [(*before, key, *after) for key in distinct]
        else:
            keys = list(zip(*columns, strict=True))
            rows = distinct = list(set(keys))
        known = dict(zip(distinct, digests(rows), strict=True))
        return list(map(known.__getitem__, keys))

    # -- row by row (key steps, alternatives) ------------------------------------------------------

    def _build_rows(self, data: Any, base: str) -> Table:
        rows = self.description.rows
        formatters = self.formatters(base)
        found: list[tuple[dict[str, Any], dict[str, str | None]]] = []
        shells: list[tuple[dict[str, Any], dict[str, str | None]]] = []
        for indices in rows.index_rows(data):
            row: dict[str, str | None] = dict.fromkeys(self.level_of)
            texts: dict[str, str] = {}
            for name in rows.fed:
                value = rows.value_at(data, name, indices)
                if value is None:
                    continue
                row[name] = formatters[name].term(value)
                if name in self.templated:
                    texts[name] = formatters[name].quote(value)
            for name, _, variable in self.derived:
                fields = [f for f in template_fields(variable.template or "") if f != "digest"]
                if all(f in texts for f in fields) and all(row.get(r) is not None for r in variable.requires):
                    filled = {**texts, "digest": digest(texts.get(f) for f in variable.digest)}
                    row[name] = f"<{base}{_fill(variable.template or '', filled)}>"
            deep = [n for n in rows.fed if rows.level[n] > 0]
            if rows.branches:
                sub = rows.branches[indices[BRANCH]]
                deep = [n for n in sub.fed if sub.level[n] > 0]
            shell = bool(deep) and all(row[n] is None for n in deep)
            (shells if shell and rows.branches else found).append((indices, row))
        unique: dict[tuple[Any, ...], tuple[dict[str, Any], dict[str, str | None]]] = {}
        for indices, row in found or shells[:1]:
            unique.setdefault(tuple(row.values()), (indices, row))
        kept = list(unique.values())
        names = list(self.level_of)
        columns = {name: [row[name] for _, row in kept] for name in names}
        return Table(self.description, [{}, columns], [[0] * len(kept)], dict.fromkeys(names, 1),
                     row_indices=[indices for indices, _ in kept])


def _fill(template: str, texts: Mapping[str, str]) -> str:
    """An IRI template with its fields replaced by their percent-encoded texts."""
    out = template
    for field in template_fields(template):
        out = out.replace("{" + field + "}", texts[field], 1)
    return out


def _anchor(steps: tuple[Any, ...], anchors: Mapping[tuple[Any, ...], tuple[int, int]]
            ) -> tuple[int, int, tuple[str, ...]]:
    """The array element a path starts from (level, array index) and the keys after it."""
    for cut in range(len(steps), -1, -1):
        if steps[:cut] in anchors:
            level, index = anchors[steps[:cut]]
            return level, index, tuple(step.name for step in steps[cut:] if isinstance(step, Key))
    return -1, 0, ()  # no anchor: not a single chain


def _fields(variable: Variable) -> list[str]:
    return variable.inputs


def _broadcast(table: Table, column: list[str | None], name: str, level: int) -> list[str | None]:
    own = table.level_of[name]
    while own < level:
        own += 1
        column = list(map(column.__getitem__, table.parents[own - 1]))
    return column
