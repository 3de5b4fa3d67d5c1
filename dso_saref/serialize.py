"""The fast text path: a JSON payload to N-Triples or a KE binding set without building an rdflib graph.

:func:`serialize` gives the same triples (by value) as :func:`dso_saref.saref`, and the same binding
set as :func:`dso_saref.to_bindings`::

    >>> text = serialize("hems-voltage-request", {"Hems_ID": "ID1234"})
    >>> [line.split()[1] for line in sorted(text.splitlines())]  # doctest: +NORMALIZE_WHITESPACE
    ['<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>', '<https://w3id.org/dso-saref/ontology/hasIdentifier>']

How: the payload is read by the message's model compiled into plain checks
(:mod:`dso_saref.fastshacl.model`; pydantic itself when the compiled reader cannot vouch for it), then
the catalog's variables and pattern are compiled once per message into a :class:`Table` builder: one
column of term strings per variable and nesting level (an array's elements are a level), each value
formatted by its variable's formatter (memoised per distinct value; every term is built by the same
functions as the reference path: ``Variable.term``, ``terms.mint_iri``, ``terms.escape_literal``). A
triple of the pattern is written once per element of the deepest level it touches, so a meter's
triples are not repeated for each of its readings. Turtle and JSON-LD go through rdflib.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import XSD

from dso_saref.errors import PayloadError, Problem
from dso_saref.mapping import Iterate, Key, RowError, Variable, VariableKind
from dso_saref.patterns import Var
from dso_saref.terms import NONE, PREFIXES, Settings, TermError, escape_literal, lexical, mint_iri, parse_term
from dso_saref.variables import scalar_text

if TYPE_CHECKING:
    from dso_saref.catalog import Description

__all__ = ["FORMATS", "Table", "TableBuilder", "fast_bindings", "iter_ntriples", "nt_term", "serialize", "table"]

#: The formats of :func:`serialize`.
FORMATS = ("nt", "turtle", "json-ld", "bindings")

_ABSENT = object()
_NIL = f"<{NONE}>"
_STRING = f"^^<{XSD.string}>"
_TEXT = {str, type(None)}
_FLOAT = {float}
_DECIMAL = XSD.decimal
_DOUBLE = XSD.double
_XSD_STRING = XSD.string
#: Memoised terms kept per variable between calls (beyond this many the memo starts afresh).
_MEMO = 100_000


class _Unsupported(Exception):
    """A description the table builder does not compile (alternatives, key steps)."""


def nt_term(term: URIRef | Literal) -> str:
    """The N-Triples form of an rdflib IRI or literal, with the escapes of :func:`terms.escape_literal`
    (an ``xsd:string`` literal keeps its datatype: it is a different term from a plain literal)."""
    if isinstance(term, URIRef):
        return f"<{term}>"
    body = f'"{escape_literal(str(term))}"'
    if term.language:
        return f"{body}@{term.language}"
    return f"{body}^^<{term.datatype}>" if term.datatype is not None else body


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


class _Formatter:
    """N-Triples term and template text of one variable's canonical JSON values, memoised."""

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
        key = (value.__class__, value)
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = nt_term(self.variable.term(value, self.base))
        return found

    def terms(self, values: list[Any]) -> list[str | None]:
        """:meth:`term` of a column of values (``None`` stays ``None``: unbound), by distinct value
        for strings (timestamps, units, identifiers repeat), in one pass for decimals."""
        if len(self.strings) > _MEMO:
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
            texts = list(map(repr, values))
            joined = "".join(texts)
            if "e" not in joined and "n" not in joined:  # positional, finite: lexical() is the repr
                suffix = self.suffix
                return [f'"{text}{suffix}' for text in texts]
        return [None if v is None else self.term(v) for v in values]

    def quotes(self, values: list[Any]) -> list[str | None]:
        """:meth:`quote` of a column of values."""
        if set(map(type, values)) <= _TEXT:
            lookup: dict[Any, str | None] = {None: None}
            for value in set(values):
                if value is not None:
                    lookup[value] = self.quote(value)
            return list(map(lookup.__getitem__, values))
        quote = self.quote
        return [None if v is None else quote(v) for v in values]

    def quote(self, value: Any) -> str:
        """The percent-encoded text of ``value`` in an IRI template (``mint_iri`` of one field)."""
        key = (value.__class__, value)
        found = self.quoted.get(key)
        if found is None:
            found = self.quoted[key] = mint_iri("", "{v}", {"v": scalar_text(value)})
        return found


class _Level:
    """One nesting level: its iterator's arrays (anchor array of the level above, keys to follow)."""

    def __init__(self, arrays: list[tuple[int, tuple[str, ...]]]) -> None:
        self.arrays = arrays


class Table:
    """The binding rows of one payload, column by column and level by level.

    ``levels[k]`` holds ``parent`` (the index of each element's parent at level ``k - 1``) and the
    columns of the variables at level ``k`` (N-Triples term strings, ``None`` where unbound). Rows are
    the elements of the deepest level; :meth:`column` broadcasts a variable to any deeper level."""

    def __init__(self, description: Description, levels: list[dict[str, list[str | None]]],
                 parents: list[list[int]], level_of: Mapping[str, int],
                 positions: list[list[int | None]] | None = None, iterators: list[str] | None = None,
                 specs: list[tuple[str, Any, Any, int]] | None = None) -> None:
        self.description = description
        self.levels = levels
        self.parents = parents
        self.level_of = level_of
        #: each element's index in its array (``None``: an empty array's placeholder), per level
        self.positions = positions
        self.iterators = iterators or []
        self.specs = specs or [(nt_term(p), s, o, self.level_of_triple((s, p, o)))
                               for s, p, o in description.pattern.triples]
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

    def blocks(self) -> Iterator[tuple[str, list[str | None] | str, list[str | None] | str, int]]:
        """``(predicate, subjects, objects, level)`` for each triple of the pattern: columns at the
        deepest level the triple touches, or a constant term string."""
        for predicate, s, o, level in self.specs:
            yield predicate, self._side(s, level), self._side(o, level), level

    def level_of_triple(self, triple: tuple[Any, Any, Any]) -> int:
        """The deepest level a triple pattern touches (0 for constants)."""
        return max((self.level_of[t.name] for t in triple if isinstance(t, Var)), default=0)

    def _side(self, term: Any, level: int) -> list[str | None] | str:
        return self.column(term.name, level) if term.__class__ is Var else nt_term(term)

    def length(self, level: int) -> int:
        """The number of elements at ``level``."""
        return len(self.parents[level - 1]) if level > 0 else min(self.size, 1)

    def pairs(self) -> Iterator[tuple[str, Iterator[tuple[str, str]]]]:
        """``(predicate, (subject, object) pairs)`` for each triple of the pattern, unbound ones left out."""
        for predicate, subjects, objects, level in self.blocks():
            if self.size == 0:
                continue
            n = self.length(level)
            s_col = subjects if isinstance(subjects, list) else [subjects] * n
            o_col = objects if isinstance(objects, list) else [objects] * n
            if None in s_col or None in o_col:
                yield predicate, ((s, o) for s, o in zip(s_col, o_col, strict=True) if s is not None and o is not None)
            else:
                yield predicate, zip(s_col, o_col, strict=True)

    def ntriples(self) -> str:
        """The N-Triples document of the rows (each triple once)."""
        lines: list[str] = []
        for chunk in self._nt_lines():
            lines += chunk
        return "".join(lines)

    def nt_chunks(self) -> Iterator[str]:
        """The N-Triples document in chunks, one per triple of the pattern (for streaming writes)."""
        for chunk in self._nt_lines():
            yield "".join(chunk)

    def _nt_lines(self) -> Iterator[list[str]]:
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

        seen: dict[str, dict[str, None]] = {}
        for predicate, subjects, objects, level in blocks:
            middle = f" {predicate} "
            n = self.length(level)
            s_col = subjects if isinstance(subjects, list) else [subjects] * n
            o_col = objects if isinstance(objects, list) else [objects] * n
            if None in s_col or None in o_col:
                lines = [f"{s}{middle}{o} .\n" for s, o in zip(s_col, o_col, strict=True)
                         if s is not None and o is not None]
            else:
                lines = [f"{s}{middle}{o} .\n" for s, o in zip(s_col, o_col, strict=True)]
            # a block's triples are distinct when its subjects (or objects) are; blocks of one
            # predicate can only meet when they share a constant object or have variable objects
            alone = shared[predicate] == 1 or (isinstance(objects, str) and constants[(predicate, objects)] == 1)
            if alone and (unique(subjects) or unique(objects)):
                yield lines
                continue
            known = seen.setdefault(predicate if not alone else f"{predicate} {level}", {})
            fresh = [line for line in dict.fromkeys(lines) if line not in known]
            known.update(dict.fromkeys(fresh))
            yield fresh

    def located_rows(self, nodes: set[str]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """The rows that mention any of ``nodes``, as ``Rows.located_terms`` gives them (array indices,
        rdflib terms), in row order; requires :attr:`positions`."""
        if self.positions is None or self.size == 0:
            raise ValueError("this table does not know its rows' JSON locations")
        names = list(self.level_of)
        columns = [self.column(name) for name in names]
        hits = sorted({i for column in columns for i, v in enumerate(column) if v is not None and v in nodes})
        out = []
        for r in hits:
            indices: dict[str, Any] = {}
            element = r
            for k in range(self.depth(), 0, -1):
                indices[self.iterators[k - 1]] = self.positions[k - 1][element]
                element = self.parents[k - 1][element]
            row = {name: NONE if column[r] is None else parse_term(column[r])  # type: ignore[arg-type]
                   for name, column in zip(names, columns, strict=True)}
            out.append((dict(reversed(indices.items())), row))
        return out

    def bindings(self) -> list[dict[str, str]]:
        """The KE binding set (each row once; unbound variables as ``rdf:nil``)."""
        if self.size == 0:
            return []
        names = sorted(self.level_of)
        columns = []
        for name in names:
            column = self.column(name)
            variable = self.description.variables[name]
            strings = variable.kind == VariableKind.LITERAL and variable.datatype == _XSD_STRING
            if strings:
                column = [_NIL if v is None else _binding(v) for v in column]
            elif None in column:
                column = [_NIL if v is None else v for v in column]
            columns.append(column)
        rows = zip(*columns, strict=True)
        deepest = [name for name in names if self.level_of[name] == self.depth()]
        if not any(_distinct(self.column(name)) for name in deepest):
            rows = iter(dict.fromkeys(rows))
        return [dict(zip(names, row, strict=True)) for row in rows]


def _distinct(column: list[str | None] | str) -> bool:
    """Whether the bound values of a column are pairwise distinct (a constant is, once)."""
    if isinstance(column, str):
        return False
    unbound = column.count(None)
    return len(set(column)) - (1 if unbound else 0) == len(column) - unbound


class TableBuilder:
    """A message's variables compiled once into a :class:`Table` builder; raises :class:`_Unsupported`
    for alternatives and key steps (their rows come from the reference path, see :func:`table`)."""

    def __init__(self, description: Description) -> None:
        rows = description.rows
        if rows.branches or any(rows.key_steps.get(it) for it in rows.chain):
            raise _Unsupported(description.name)
        self.description = description
        self.chain = rows.chain
        self.top_list = bool(rows.chain) and rows.arrays.get(rows.chain[0]) == [()]
        anchors: dict[tuple[Any, ...], tuple[int, int]] = {(): (0, 0)}
        self.levels: list[_Level] = [_Level([])]
        for k, it in enumerate(rows.chain, start=1):
            arrays = []
            for prefix in rows.arrays[it]:
                level, index, keys = self._anchor(prefix, anchors)
                if level != k - 1:
                    raise _Unsupported(f"{description.name}: array {prefix} skips a level")
                arrays.append((index, keys))
                anchors[(*prefix, Iterate(it))] = (k, len(arrays) - 1)
            self.levels.append(_Level(arrays))
        self.fed: list[tuple[str, int, int, tuple[str, ...]]] = []
        for name, variable in rows.fed.items():
            if variable.path.tail or variable.path.capture:
                raise _Unsupported(name)
            level, index, keys = self._anchor(variable.path.steps, anchors)
            if level != rows.level[name]:
                raise _Unsupported(name)
            self.fed.append((name, level, index, keys))
        self.derived = [(v.name, rows.level[v.name], v) for v in rows.derived]
        self.templated = {f for _, _, v in self.derived for f in _fields(v)}
        self.level_of = dict(rows.level)
        #: formatters (with their memos) per base IRI, kept between calls: terms depend on nothing else
        self._formatters: dict[str, dict[str, _Formatter]] = {}
        self._templates: dict[str, tuple[list[str], list[str], str]] = {}
        #: the pattern's triples: (predicate, subject, object, level), terms as N-Triples constants
        self.specs = [(nt_term(p), s, o, max((rows.level[t.name] for t in (s, o) if isinstance(t, Var)), default=0))
                      for s, p, o in description.pattern.triples]

    @staticmethod
    def _anchor(steps: tuple[Any, ...], anchors: Mapping[tuple[Any, ...], tuple[int, int]]
                ) -> tuple[int, int, tuple[str, ...]]:
        """The array element a path starts from (level, array index) and the keys after it."""
        for cut in range(len(steps), -1, -1):
            if steps[:cut] in anchors:
                rest = steps[cut:]
                if not all(isinstance(step, Key) for step in rest):
                    raise _Unsupported(f"path {steps}")
                level, index = anchors[steps[:cut]]
                return level, index, tuple(step.name for step in rest)
        raise _Unsupported(f"path {steps}")

    def build(self, data: Any, base: str) -> Table:
        """The table of canonical JSON ``data``; raises TermError for a value that cannot be its term."""
        # the elements of each level: the items of its one array, or tuples of the items of its
        # parallel arrays (named iterators); a placeholder where an array is empty
        objects: list[list[Any]] = [[data]]
        single = [True]
        parents: list[list[int]] = []
        positions: list[list[int | None]] = []
        for k, level in enumerate(self.levels[1:], start=1):
            below: list[Any] = []
            parent: list[int] = []
            position: list[int | None] = []
            above = objects[k - 1] if single[k - 1] else None
            for p, element in enumerate(objects[k - 1]):
                arrays = [_follow(element if above is not None else element[index], keys)
                          for index, keys in level.arrays]
                length = max((len(a) for a in arrays if a.__class__ is list), default=0)
                if length == 0:
                    if k == 1 and self.top_list:
                        return Table(self.description, [{} for _ in self.levels], [[] for _ in self.chain],
                                     self.level_of, [[] for _ in self.chain], self.chain)
                    below.append(_ABSENT if len(arrays) == 1 else (_ABSENT,) * len(arrays))
                    parent.append(p)
                    position.append(None)
                elif len(arrays) == 1:
                    below += arrays[0]
                    parent += [p] * length
                    position += range(length)
                else:
                    for i in range(length):
                        below.append(tuple(a[i] if a.__class__ is list and i < len(a) else _ABSENT for a in arrays))
                        parent.append(p)
                    position += range(length)
            objects.append(below)
            single.append(len(level.arrays) == 1)
            parents.append(parent)
            positions.append(position)
        columns: list[dict[str, list[str | None]]] = [{} for _ in self.levels]
        texts: dict[str, list[str | None]] = {}
        formatters = self._formatters.get(base)
        if formatters is None:
            formatters = self._formatters.setdefault(base, {
                name: _Formatter(self.description.variables[name], base) for name, *_ in self.fed})
        templated = self.templated
        for name, level, index, keys in self.fed:
            values = _values(objects[level], None if single[level] else index, keys)
            columns[level][name] = formatters[name].terms(values)
            if name in templated:
                texts[name] = formatters[name].quotes(values)
        table = Table(self.description, columns, parents, self.level_of, positions, self.chain, self.specs)
        for name, level, variable in self.derived:
            columns[level][name] = self._mint(table, texts, variable, level, base)
        return table

    def _mint(self, table: Table, texts: dict[str, list[str | None]], variable: Variable, level: int,
              base: str) -> list[str | None]:
        spec = self._templates.get(variable.name)
        if spec is None:
            fields = [f for f in _fields(variable) if f not in variable.requires]
            pieces, rest = [], variable.template or ""
            for f in fields:
                head, _, rest = rest.partition("{" + f + "}")
                pieces.append(head)
            spec = self._templates[variable.name] = (fields, pieces, rest + ">")
        fields, pieces, rest = spec
        prefix = "<" + base + pieces[0] if pieces else "<" + base
        columns = [_broadcast(table, texts[f], f, level) for f in fields]
        required = [table.column(r, level) for r in variable.requires]
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


def _fields(variable: Variable) -> list[str]:
    from dso_saref.terms import template_fields

    return [*template_fields(variable.template or ""), *variable.requires]


def _broadcast(table: Table, column: list[str | None], name: str, level: int) -> list[str | None]:
    own = table.level_of[name]
    while own < level:
        own += 1
        column = list(map(column.__getitem__, table.parents[own - 1]))
    return column


def _values(elements: list[Any], index: int | None, keys: tuple[str, ...]) -> list[Any]:
    """The values at ``keys`` under each element (its array item ``index`` for parallel arrays),
    ``None`` where absent."""
    if index is not None:
        elements = [element[index] for element in elements]
    if len(keys) == 1:
        key = keys[0]
        try:
            return [element.get(key) for element in elements]
        except AttributeError:  # an item that is not an object (or an empty array's placeholder)
            pass
    values = [_follow(element, keys) for element in elements]
    if not keys and any(v is None for v in values):
        raise TermError("null is not a value")  # a null array item: the reference path reports it
    return [None if v is _ABSENT else v for v in values]


def _follow(node: Any, keys: tuple[str, ...]) -> Any:
    """The value at ``keys`` under ``node`` (``_ABSENT`` for a missing key, ``null`` or a non-object),
    as ``mapping._get`` reads it."""
    for key in keys:
        if node.__class__ is not dict:
            return _ABSENT
        node = node.get(key)
        if node is None:
            return _ABSENT
    return node


# ---------------------------------------------------------------------------------------------
# payload -> table


class _Builders:
    """Compiled readers and table builders per message, built on first use (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readers: dict[str, Any] = {}
        self._tables: dict[str, Any] = {}

    def reader(self, description: Description) -> Any:
        if description.name not in self._readers:
            from dso_saref.fastshacl.model import Unsupported, compile_model

            with self._lock:
                if description.name not in self._readers:
                    try:
                        self._readers[description.name] = compile_model(description.model)
                    except Unsupported:
                        self._readers[description.name] = None
        return self._readers[description.name]

    def table(self, description: Description) -> TableBuilder | None:
        if description.name not in self._tables:
            with self._lock:
                if description.name not in self._tables:
                    try:
                        self._tables[description.name] = TableBuilder(description)
                    except _Unsupported:
                        self._tables[description.name] = None
        return self._tables[description.name]


_BUILDERS = _Builders()


def read(description: Description, payload: Any, settings: Settings) -> tuple[Any, bool]:
    """The model's JSON of a payload (``model_dump(mode="json", by_alias=True, exclude_none=True)``)
    and whether the compiled reader vouched for it (else pydantic did); raises PayloadError."""
    from dso_saref.fastshacl.model import Bail

    reader = _BUILDERS.reader(description)
    if reader is not None:
        try:
            return reader(payload, settings), True
        except Bail:
            pass
    model = description.parse(payload, settings)
    return model.model_dump(mode="json", by_alias=True, exclude_none=True), False


def table(description: Description, data: Any, base: str) -> Table:
    """The :class:`Table` of the model's JSON ``data``; raises TermError (from the compiled builder) or
    RowError (from the reference rows, for messages with alternatives or key steps)."""
    builder = _BUILDERS.table(description)
    if builder is not None:
        return builder.build(data, base)
    rows = list(description.rows.terms(data, base))
    columns = {name: [None if row[name] == NONE else nt_term(row[name]) for row in rows]
               for name in description.variables}
    return Table(description, [{}, columns], [[0] * len(rows)], dict.fromkeys(columns, 1))


def _table_of(description: Description, payload: Any, settings: Settings) -> Table:
    data, _ = read(description, payload, settings)
    try:
        return table(description, data, settings.base)
    except (TermError, RowError):
        # the reference path reports it (with the JSON location of the value)
        description.term_rows(payload, settings)
        raise PayloadError(description.name, [Problem("$", "a value cannot become its RDF term")]) from None


def fast_bindings(description: Description, payload: Any, settings: Settings | None = None) -> list[dict[str, str]]:
    """The KE binding set of a payload, as :func:`dso_saref.to_bindings` (rows in no particular
    order: a binding set is a set); raises PayloadError."""
    return _table_of(description, payload, settings or Settings()).bindings()


def iter_ntriples(name: str, payload: Any, *, settings: Settings | None = None) -> Iterator[str]:
    """:func:`serialize` as N-Triples in chunks (one per triple of the pattern), to write a large
    payload's triples to a stream without holding the whole document; raises as :func:`serialize`."""
    from dso_saref import catalog

    yield from _table_of(catalog[name], payload, settings or Settings()).nt_chunks()


def serialize(name: str, payload: Any, format: str = "nt", *, settings: Settings | None = None) -> str:
    """The RDF text (``nt``, ``turtle``, ``json-ld``) or KE binding set (``bindings``, JSON) of a
    payload of message ``name``: the same triples as :func:`dso_saref.saref`, without an rdflib graph
    for ``nt`` and ``bindings``. Raises UnknownMessageError, PayloadError, or ValueError for an
    unknown format."""
    from dso_saref import catalog

    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    description = catalog[name]
    result = _table_of(description, payload, settings or Settings())
    if format == "nt":
        return result.ntriples()
    if format == "bindings":
        return json.dumps(result.bindings(), indent=2, ensure_ascii=False)
    graph = Graph()
    terms: dict[str, Any] = {}
    for predicate, pairs in result.pairs():
        p = parse_term(predicate)
        for s, o in pairs:
            subject = terms.get(s) or terms.setdefault(s, parse_term(s))
            obj = terms.get(o) or terms.setdefault(o, parse_term(o))
            graph.add((subject, p, obj))
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True)
    return graph.serialize(format=format)

