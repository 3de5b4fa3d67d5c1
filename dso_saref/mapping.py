"""JSON <-> binding rows, driven by a message's variable declarations.

A variable declares where its value comes from in the JSON (a path such as
``$[*].readings[*].time``) and what RDF term it becomes. The arrays on those paths are the rows'
iterators: every leaf of the nesting is one binding row, carrying the values of the enclosing
elements. Arrays read with the same named iterator (``$.dates[#i]``, ``$.needs[#i]``) are parallel and
advance together. An empty array or an absent optional field binds its variables to ``rdf:nil``
(:data:`dso_saref.terms.NONE`), since the Knowledge Engine has no OPTIONAL; such a value makes no
triple. Reading rows back groups them by the values of each nesting level and rebuilds the JSON::

    $[*].id                 -> one element per distinct id
    $[*].readings[*].time   -> one reading per row of that element
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from dso_saref.errors import DescriptionError, Problem
from dso_saref.terms import (
    NONE,
    UNITS,
    TermError,
    format_date,
    format_datetime,
    lexical,
    mint_iri,
    parse_datetime,
    read_template,
    template_fields,
    template_regex,
    to_python,
)

__all__ = ["Iterate", "Key", "Path", "Rows", "Variable", "VariableKind", "parse_path"]

_ABSENT = object()


@dataclass(frozen=True)
class Key:
    """Step into an object member."""

    name: str


@dataclass(frozen=True)
class Iterate:
    """Step into every element of an array; ``iterator`` names the index (shared = parallel arrays)."""

    iterator: str


Step = Key | Iterate


@dataclass(frozen=True)
class Path:
    """A JSON path of keys and array iterations, such as ``$[*].readings[*].time``."""

    text: str
    steps: tuple[Step, ...]

    @property
    def iterators(self) -> tuple[str, ...]:
        """The iterators on the path, outermost first."""
        return tuple(s.iterator for s in self.steps if isinstance(s, Iterate))

    def location(self, indices: Mapping[str, int | None]) -> str:
        """The concrete JSONPath for the given iterator indices (``$[1].readings[0].time``)."""
        out = "$"
        for step in self.steps:
            if isinstance(step, Key):
                out += f".{step.name}" if re.fullmatch(r"[A-Za-z_][\w]*", step.name) else f"['{step.name}']"
            else:
                index = indices.get(step.iterator)
                out += f"[{index if index is not None else '*'}]"
        return out


_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\['((?:[^'\\]|\\.)*)'\]|\[\*\]|\[#([A-Za-z_]\w*)\]")


def parse_path(text: str) -> Path:
    """Parse ``$``, ``.key``, ``['odd:key']``, ``[*]`` and ``[#name]`` steps; raises DescriptionError."""
    if not text.startswith("$"):
        raise DescriptionError(f"path {text!r} must start with '$'")
    steps: list[Step] = []
    pos = 1
    while pos < len(text):
        match = _STEP.match(text, pos)
        if not match:
            raise DescriptionError(f"cannot read path {text!r} at {text[pos:]!r}")
        if match.group(1) is not None or match.group(2) is not None:
            steps.append(Key(match.group(1) if match.group(1) is not None else match.group(2)))
        elif match.group(3) is not None:
            steps.append(Iterate(match.group(3)))
        else:
            steps.append(Iterate(text[:pos]))
        pos = match.end()
    return Path(text, tuple(steps))


class VariableKind:
    """The RDF term kinds a variable can take."""

    LITERAL = "literal"
    IRI = "iri"
    UNIT = "unit"
    VOCABULARY = "vocabulary"


_DATATYPES = {
    "xsd:string": XSD.string,
    "xsd:boolean": XSD.boolean,
    "xsd:integer": XSD.integer,
    "xsd:double": XSD.double,
    "xsd:decimal": XSD.decimal,
    "xsd:dateTime": XSD.dateTime,
    "xsd:dateTimeStamp": XSD.dateTimeStamp,
    "xsd:date": XSD.date,
}


@dataclass(frozen=True)
class Variable:
    """One variable of a message's graph pattern and how it is fed.

    Exactly one kind: ``datatype`` (typed literal of a JSON value), ``iri`` (template minted under
    the base from JSON-fed variables, or from the variable's own value when it has a ``path``),
    ``unit`` (unit IRI from a closed vocabulary) or ``vocabulary`` (closed label -> IRI table).
    """

    name: str
    kind: str
    path: Path | None = None
    datatype: URIRef | None = None
    template: str | None = None
    unit: str | None = None
    vocabulary: Mapping[str, str] = field(default_factory=dict)
    optional: bool = False
    description: str = ""

    @classmethod
    def from_declaration(cls, name: str, spec: Mapping[str, Any], prefixes: Mapping[str, str]) -> Variable:
        """Build a variable from its ``[variables.NAME]`` table; raises DescriptionError."""
        known = {"from", "datatype", "iri", "unit", "vocabulary", "optional", "description"}
        unknown = set(spec) - known
        if unknown:
            raise DescriptionError(f"variable ?{name}: unknown keys {sorted(unknown)}")
        kinds = [k for k in ("datatype", "iri", "unit", "vocabulary") if k in spec]
        if len(kinds) != 1:
            raise DescriptionError(f"variable ?{name} needs exactly one of datatype, iri, unit, vocabulary")
        path = parse_path(spec["from"]) if "from" in spec else None
        common = {"name": name, "path": path, "optional": bool(spec.get("optional", False)),
                  "description": spec.get("description", "")}
        kind = kinds[0]
        if kind != "iri" and path is None:
            raise DescriptionError(f"variable ?{name} of kind {kind} needs 'from'")
        if kind == "datatype":
            if spec["datatype"] not in _DATATYPES:
                raise DescriptionError(f"variable ?{name}: datatype must be one of {sorted(_DATATYPES)}")
            return cls(kind=VariableKind.LITERAL, datatype=_DATATYPES[spec["datatype"]], **common)
        if kind == "unit":
            if spec["unit"] not in UNITS:
                raise DescriptionError(f"variable ?{name}: unknown unit vocabulary {spec['unit']!r}")
            return cls(kind=VariableKind.UNIT, unit=spec["unit"], **common)
        if kind == "vocabulary":
            table = {label: _expand(iri, prefixes) for label, iri in spec["vocabulary"].items()}
            if len(set(table.values())) != len(table):
                raise DescriptionError(f"variable ?{name}: vocabulary IRIs must be distinct")
            return cls(kind=VariableKind.VOCABULARY, vocabulary=table, **common)
        template = spec["iri"]
        if path is not None and template_fields(template) != [name]:
            raise DescriptionError(f"variable ?{name}: an IRI fed from JSON must use the template field {{{name}}}")
        return cls(kind=VariableKind.IRI, template=template, **common)

    @property
    def fed(self) -> bool:
        """Whether the JSON feeds this variable directly (it has a path)."""
        return self.path is not None

    def term(self, value: Any, base: str) -> URIRef | Literal:
        """The RDF term of a (canonical JSON) value; raises :class:`TermError`."""
        if self.kind == VariableKind.LITERAL:
            if self.datatype in (XSD.dateTime, XSD.dateTimeStamp) and isinstance(value, str):
                value = parse_datetime(value)
            elif self.datatype == XSD.date and isinstance(value, str):
                value = date.fromisoformat(value)
            elif self.datatype in (XSD.double, XSD.decimal) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            return Literal(lexical(value, self.datatype), datatype=self.datatype, normalize=False)
        if self.kind == VariableKind.UNIT:
            return URIRef(UNITS[self.unit].iri(value))
        if self.kind == VariableKind.VOCABULARY:
            label = value if isinstance(value, str) else _text(value)
            if label not in self.vocabulary:
                raise TermError(f"{value!r} is not one of {', '.join(self.vocabulary)}")
            return URIRef(self.vocabulary[label])
        if not isinstance(value, str):
            raise TermError(f"an identifier must be a string, got {type(value).__name__}")
        return URIRef(mint_iri(base, self.template, {self.name: value}))

    def value(self, term: URIRef | Literal, base: str) -> Any:
        """The canonical JSON value of a term read back; raises :class:`TermError`."""
        if self.kind == VariableKind.LITERAL:
            python = to_python(term, self.datatype)
            if isinstance(python, datetime):
                return format_datetime(python)
            if isinstance(python, date):
                return format_date(python)
            return python
        if not isinstance(term, URIRef):
            raise TermError(f"expected an IRI, got a literal {str(term)[:40]!r}")
        if self.kind == VariableKind.UNIT:
            return UNITS[self.unit].label(str(term))
        if self.kind == VariableKind.VOCABULARY:
            for label, iri in self.vocabulary.items():
                if iri == str(term):
                    return label
            raise TermError(f"<{term}> is not one of the IRIs of ?{self.name}")
        fields = read_template(template_regex(base, self.template), str(term))
        if fields is None:
            raise TermError(f"<{term}> is not an IRI of the form {base}{self.template}")
        return fields.get(self.name)


def _expand(curie: str, prefixes: Mapping[str, str]) -> str:
    prefix, sep, local = curie.partition(":")
    if sep and prefix in prefixes:
        return prefixes[prefix] + local
    if curie.startswith("<") and curie.endswith(">"):
        return curie[1:-1]
    raise DescriptionError(f"{curie!r} is neither a declared prefixed name nor <iri>")


def _get(data: Any, steps: Sequence[Step], indices: Mapping[str, int | None]) -> Any:
    for step in steps:
        if isinstance(step, Key):
            if not isinstance(data, dict) or step.name not in data or data[step.name] is None:
                return _ABSENT
            data = data[step.name]
        else:
            index = indices.get(step.iterator)
            if index is None or not isinstance(data, list) or index >= len(data):
                return _ABSENT
            data = data[index]
    return data


class Rows:
    """The row structure of one message: its variables, their iterator chain and levels."""

    def __init__(self, variables: Mapping[str, Variable], base_check: bool = True) -> None:
        self.variables = dict(variables)
        self.fed = {n: v for n, v in self.variables.items() if v.fed}
        self.chain = self._chain()
        self.level = {n: self._level(v) for n, v in self.variables.items()}
        # arrays (as step prefixes) iterated by each iterator
        self.arrays: dict[str, list[tuple[Step, ...]]] = {it: [] for it in self.chain}
        for var in self.fed.values():
            steps = var.path.steps
            for i, step in enumerate(steps):
                if isinstance(step, Iterate) and steps[:i] not in self.arrays[step.iterator]:
                    self.arrays[step.iterator].append(steps[:i])
        self.derived = [v for v in self.variables.values() if not v.fed]
        self._regex_cache: dict[tuple[str, str], re.Pattern[str]] = {}

    def _chain(self) -> list[str]:
        parent: dict[str, str | None] = {}
        for var in self.fed.values():
            previous = None
            for it in var.path.iterators:
                if parent.setdefault(it, previous) != previous:
                    raise DescriptionError(f"iterator {it!r} sits under two different arrays")
                previous = it
        chain: list[str] = []
        current: str | None = None
        while True:
            children = [it for it, p in parent.items() if p == current]
            if not children:
                break
            if len(children) > 1:
                raise DescriptionError(
                    f"arrays {children} are siblings: rows need one nesting chain (use a named iterator "
                    "for parallel arrays)")
            current = children[0]
            chain.append(current)
        return chain

    def _level(self, var: Variable) -> int:
        if var.fed:
            its = var.path.iterators
            return self.chain.index(its[-1]) + 1 if its else 0
        fields = template_fields(var.template or "")
        missing = [f for f in fields if f not in self.fed]
        if missing:
            raise DescriptionError(f"IRI template of ?{var.name} uses {missing}, which no JSON path feeds")
        return max((self._level(self.fed[f]) for f in fields), default=0)

    def optional(self) -> set[str]:
        """Variables that may be bound to ``rdf:nil``: declared optional, or derived from one."""
        out = {n for n, v in self.variables.items() if v.optional}
        for var in self.derived:
            if set(template_fields(var.template or "")) & out:
                out.add(var.name)
        return out

    # -- JSON -> rows ------------------------------------------------------------------------

    def index_rows(self, data: Any) -> Iterator[dict[str, int | None]]:
        """Every assignment of array indices along the iterator chain (``None`` for an empty array)."""
        yield from self._walk(data, 0, {})

    def _walk(self, data: Any, depth: int, indices: dict[str, int | None]) -> Iterator[dict[str, int | None]]:
        if depth == len(self.chain):
            yield dict(indices)
            return
        it = self.chain[depth]
        length = 0
        for steps in self.arrays[it]:
            array = _get(data, steps, indices)
            if isinstance(array, list):
                length = max(length, len(array))
        if length == 0:
            if depth == 0 and self._top_level_array():
                return
            indices[it] = None
            yield from self._walk(data, depth + 1, indices)
            del indices[it]
            return
        for i in range(length):
            indices[it] = i
            yield from self._walk(data, depth + 1, indices)
        del indices[it]

    def _top_level_array(self) -> bool:
        return bool(self.chain) and self.arrays[self.chain[0]] == [()]

    def terms(self, data: Any, base: str) -> Iterator[dict[str, URIRef | Literal]]:
        """Binding rows (rdflib terms) of canonical JSON ``data``; raises :class:`RowError` with the
        JSON location of a value that cannot become its term."""
        for _, row in self.located_terms(data, base):
            yield row

    def located_terms(
        self, data: Any, base: str
    ) -> Iterator[tuple[dict[str, int | None], dict[str, URIRef | Literal]]]:
        """Like :meth:`terms`, each row with the array indices it came from (for
        ``Variable.path.location(indices)``: the JSON location of every value of the row)."""
        for indices in self.index_rows(data):
            row: dict[str, URIRef | Literal] = {}
            values: dict[str, Any] = {}
            for name, var in self.fed.items():
                value = _get(data, var.path.steps, indices)
                if value is _ABSENT:
                    row[name] = NONE
                    continue
                values[name] = value
                try:
                    row[name] = var.term(value, base)
                except TermError as exc:
                    raise RowError(Problem(var.path.location(indices), str(exc))) from exc
            for var in self.derived:
                fields = template_fields(var.template)
                if any(row[f] == NONE for f in fields):
                    row[var.name] = NONE
                else:
                    row[var.name] = URIRef(mint_iri(base, var.template, {f: _text(values[f]) for f in fields}))
            yield indices, row

    # -- rows -> JSON ------------------------------------------------------------------------

    def rebuild(self, rows: Sequence[Mapping[str, URIRef | Literal]], base: str, top_list: bool) -> Any:
        """JSON from binding rows (rdflib terms): rows grouped level by level; raises RowError."""
        decoded: list[dict[str, Any]] = []
        for i, row in enumerate(rows):
            values: dict[str, Any] = {}
            for name, var in self.fed.items():
                term = row.get(name)
                if term is None:
                    raise RowError(Problem(f"bindings[{i}]", f"variable ?{name} is not bound", "binding"))
                if term == NONE:
                    values[name] = _ABSENT
                    continue
                try:
                    values[name] = var.value(term, base)
                except TermError as exc:
                    raise RowError(Problem(f"bindings[{i}].{name}", str(exc), "binding")) from exc
            self._check_derived(i, row, values, base)
            decoded.append(values)
        out: Any = [] if top_list else {}
        self._place(out, decoded, 0, {})
        return out

    def _check_derived(self, i: int, row: Mapping[str, Any], values: Mapping[str, Any], base: str) -> None:
        for var in self.derived:
            term = row.get(var.name)
            if term is None:
                raise RowError(Problem(f"bindings[{i}]", f"variable ?{var.name} is not bound", "binding"))
            fields = template_fields(var.template)
            if term == NONE or any(values[f] is _ABSENT for f in fields):
                continue
            expected = mint_iri(base, var.template, {f: _text(values[f]) for f in fields})
            if str(term) != expected:
                raise RowError(Problem(f"bindings[{i}].{var.name}",
                                       f"expected <{expected}> (the IRI minted from its fields), got {term}",
                                       "binding"))

    def _place(self, out: Any, rows: list[dict[str, Any]], depth: int, indices: dict[str, int | None]) -> None:
        level_vars = [n for n in self.fed if self.level[n] == depth]
        if rows:
            first = rows[0]
            for name in level_vars:
                for row in rows[1:]:
                    if row[name] != first[name]:
                        raise RowError(Problem(self.fed[name].path.location(indices),
                                               f"conflicting values for ?{name}: {first[name]!r} and {row[name]!r}",
                                               "binding"))
                if first[name] is not _ABSENT:
                    _set(out, self.fed[name].path.steps, indices, first[name])
        if depth == len(self.chain):
            return
        it = self.chain[depth]
        inner = [n for n in self.fed if self.level[n] == depth + 1]
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for row in rows:
            key = tuple(_hashable(row[n]) for n in inner)
            if all(row[n] is _ABSENT for n in inner):
                continue
            groups.setdefault(key, []).append(row)
        for steps in self.arrays[it]:
            if depth > 0 or steps != ():
                _ensure_list(out, steps, indices)
        for index, key in enumerate(sorted(groups, key=repr)):
            indices[it] = index
            self._place(out, groups[key], depth + 1, indices)
        indices.pop(it, None)


class RowError(Exception):
    """A value that cannot become (or come back from) a binding, with its location."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _hashable(value: Any) -> Any:
    return repr(value)


def _container(steps: Sequence[Step], i: int) -> Any:
    return [] if i + 1 < len(steps) and isinstance(steps[i + 1], Iterate) else {}


def _ensure_list(out: Any, steps: Sequence[Step], indices: Mapping[str, int | None]) -> None:
    if not steps:
        return
    parent = _descend(out, steps[:-1], indices, steps)
    last = steps[-1]
    if isinstance(last, Key) and isinstance(parent, dict):
        parent.setdefault(last.name, [])
    elif isinstance(last, Iterate) and isinstance(parent, list):
        index = indices[last.iterator]
        while len(parent) <= index:
            parent.append(None)
        if parent[index] is None:
            parent[index] = []


def _descend(out: Any, prefix: Sequence[Step], indices: Mapping[str, int | None], full: Sequence[Step]) -> Any:
    node = out
    for i, step in enumerate(prefix):
        if isinstance(step, Key):
            if step.name not in node:
                node[step.name] = _container(full, i)
            node = node[step.name]
        else:
            index = indices[step.iterator]
            while len(node) <= index:
                node.append(None)
            if node[index] is None:
                node[index] = _container(full, i)
            node = node[index]
    return node


def _set(out: Any, steps: Sequence[Step], indices: Mapping[str, int | None], value: Any) -> None:
    parent = _descend(out, steps[:-1], indices, steps)
    last = steps[-1]
    if isinstance(last, Key):
        parent[last.name] = value
    else:
        index = indices[last.iterator]
        while len(parent) <= index:
            parent.append(None)
        parent[index] = value
