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

Two extensions serve wide JSON (many keys that are really rows, and sibling arrays): a **key step**
``[~'y_{stat:Power|lower}_{series}']`` iterates the members of an object whose key matches a template,
its ``{fields}`` read by variables with a path ending in ``@field``; and a variable may list one path
per **alternative** (``from = [...]``): the rows are the union of each alternative's rows, the
variables of the other alternatives unbound. See docs/patterns.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
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

__all__ = ["Iterate", "Key", "KeyPattern", "KeyTemplate", "Path", "Rows", "Variable", "VariableKind", "parse_path"]

_ABSENT = object()

#: Key of the alternative's number in the indices of a row of a message with alternatives.
BRANCH = "#alternative"


@dataclass(frozen=True)
class Key:
    """Step into an object member."""

    name: str


@dataclass(frozen=True)
class Iterate:
    """Step into every element of an array; ``iterator`` names the index (shared = parallel arrays)."""

    iterator: str


Step = Key | Iterate

_FIELD = re.compile(r"\{([A-Za-z_]\w*)(?::([^{}]*))?\}")


@dataclass(frozen=True)
class KeyTemplate:
    """One template of a key step: literal text and ``{field}`` / ``{field:regex}`` captures.

    ``y_{stat:Power|lower|upper}_{series:i[0-9]+}`` matches ``y_Power_i1`` with ``stat=Power``,
    ``series=i1``, and writes it back from those values. A field without a regex matches ``.+``.
    """

    text: str
    literals: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str) -> KeyTemplate:
        """Parse a template; raises DescriptionError for bad braces, regexes or repeated fields."""
        literals, fields, pos = [], [], 0
        for match in _FIELD.finditer(text):
            literals.append(text[pos:match.start()])
            fields.append((match.group(1), match.group(2) if match.group(2) is not None else ".+"))
            pos = match.end()
        literals.append(text[pos:])
        if any("{" in part or "}" in part for part in literals):
            raise DescriptionError(f"key template {text!r}: braces only around {{field}} or {{field:regex}}")
        names = [name for name, _ in fields]
        if not names or len(set(names)) != len(names):
            raise DescriptionError(f"key template {text!r} needs one or more distinct {{fields}}")
        template = cls(text, tuple(literals), tuple(fields))
        for name, regex in fields:
            try:
                re.compile(regex)
            except re.error as exc:
                raise DescriptionError(f"key template {text!r}: field {name}: {exc}") from exc
        return template

    @property
    def names(self) -> tuple[str, ...]:
        """The field names, in order."""
        return tuple(name for name, _ in self.fields)

    @property
    def regex(self) -> re.Pattern[str]:
        """The regex a key must match in full."""
        out = re.escape(self.literals[0])
        for (name, regex), literal in zip(self.fields, self.literals[1:], strict=True):
            out += f"(?P<{name}>{regex}){re.escape(literal)}"
        return _compiled(out)

    def match(self, key: str, bound: Mapping[str, str]) -> dict[str, str] | None:
        """``bound`` extended with the fields of ``key``, or ``None`` if it does not match (or
        disagrees with a field already bound by an outer key step)."""
        found = self.regex.fullmatch(key)
        if found is None:
            return None
        values = found.groupdict()
        if any(name in bound and bound[name] != value for name, value in values.items()):
            return None
        return {**bound, **values}

    def format(self, values: Mapping[str, str]) -> str | None:
        """The key written from field values, or ``None`` unless every field's regex accepts its value."""
        out = self.literals[0]
        for (name, regex), literal in zip(self.fields, self.literals[1:], strict=True):
            value = values.get(name)
            if value is None or _compiled(regex).fullmatch(value) is None:
                return None
            out += value + literal
        return out


_REGEXES: dict[str, re.Pattern[str]] = {}


def _compiled(regex: str) -> re.Pattern[str]:
    found = _REGEXES.get(regex)
    if found is None:
        found = _REGEXES[regex] = re.compile(regex)
    return found


@dataclass(frozen=True)
class KeyPattern:
    """Step into every member of an object whose key matches one of ``templates``
    (``[~'y_{stat}D' 'y_{stat}_{series}']``): the first template that matches reads the fields, the
    first whose field regexes accept the values writes the key back.

    Key steps of several paths on the same object with the same new fields are one iterator (like
    ``[#name]``): ``[~'y_{s}']`` and ``[~'y_{s}_unit']`` visit ``y_a`` and ``y_a_unit`` together.
    A field already bound by an outer key step of the same path is not new: it must agree. With no
    new field the step is a key computed from the outer fields (``iterator`` is ``None``).
    """

    text: str
    templates: tuple[KeyTemplate, ...]
    iterator: str | None

    @property
    def names(self) -> tuple[str, ...]:
        """Every field name of the step."""
        return self.templates[0].names

    def match(self, key: str, bound: Mapping[str, str]) -> dict[str, str] | None:
        """The fields of ``key`` (with ``bound``) by the first template that matches, or ``None``."""
        for template in self.templates:
            found = template.match(key, bound)
            if found is not None:
                return found
        return None

    def format(self, values: Mapping[str, str]) -> str | None:
        """The key of the first template that can write ``values``, or ``None``."""
        for template in self.templates:
            key = template.format(values)
            if key is not None:
                return key
        return None


AnyStep = Key | Iterate | KeyPattern


@dataclass(frozen=True)
class Path:
    """A JSON path of keys and array iterations, such as ``$[*].readings[*].time``.

    ``steps`` are its keys and array iterations up to its first key step (what a JSON schema can
    follow); ``tail`` is the rest, from the first key step on; ``capture`` is the field read by a
    path that ends with ``@field``. :attr:`walk` is the whole path.
    """

    text: str
    steps: tuple[Step, ...]
    tail: tuple[AnyStep, ...] = ()
    capture: str | None = None

    @property
    def walk(self) -> tuple[AnyStep, ...]:
        """Every step of the path, key steps included."""
        return self.steps + self.tail

    @property
    def iterators(self) -> tuple[str, ...]:
        """The iterators on the path (arrays and key steps), outermost first."""
        return tuple(s.iterator for s in self.walk if isinstance(s, Iterate | KeyPattern) and s.iterator is not None)

    def location(self, indices: Mapping[str, Any]) -> str:
        """The concrete JSONPath for the given iterator indices (``$[1].readings[0].time``)."""
        out = "$"
        captures: Mapping[str, str] = {}
        for step in self.walk:
            if isinstance(step, Key):
                out += _key_location(step.name)
            elif isinstance(step, Iterate):
                index = indices.get(step.iterator)
                out += f"[{index if isinstance(index, int) else '*'}]"
            else:
                if step.iterator is not None:
                    found = indices.get(step.iterator)
                    captures = found if isinstance(found, dict) else {}
                key = step.format(captures)
                out += _key_location(key) if key is not None else f"[~{step.text}]"
        return out


def _key_location(name: str) -> str:
    return f".{name}" if re.fullmatch(r"[A-Za-z_][\w]*", name) else f"['{name}']"


_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\['((?:[^'\\]|\\.)*)'\]|\[\*\]|\[#([A-Za-z_]\w*)\]"
                   r"|\[~((?:\s*'[^']*')+)\s*\]|@([A-Za-z_]\w*)\Z")


def parse_path(text: str) -> Path:
    """Parse ``$``, ``.key``, ``['odd:key']``, ``[*]``, ``[#name]``, key steps ``[~'T1' 'T2']`` and
    a final ``@field``; raises DescriptionError."""
    if not text.startswith("$"):
        raise DescriptionError(f"path {text!r} must start with '$'")
    steps: list[AnyStep] = []
    capture = None
    bound: set[str] = set()
    pos = 1
    while pos < len(text):
        match = _STEP.match(text, pos)
        if not match:
            raise DescriptionError(f"cannot read path {text!r} at {text[pos:]!r}")
        if match.group(1) is not None or match.group(2) is not None:
            steps.append(Key(match.group(1) if match.group(1) is not None else match.group(2)))
        elif match.group(3) is not None:
            steps.append(Iterate(match.group(3)))
        elif match.group(4) is not None:
            steps.append(_key_pattern(text, pos, match.group(4), bound))
        elif match.group(5) is not None:
            capture = match.group(5)
            if not steps or not isinstance(steps[-1], KeyPattern) or capture not in steps[-1].names:
                raise DescriptionError(f"path {text!r}: @{capture} must follow a key step with a {{{capture}}} field")
        else:
            steps.append(Iterate(text[:pos]))
        pos = match.end()
    first_key = next((i for i, s in enumerate(steps) if isinstance(s, KeyPattern)), len(steps))
    plain = tuple(s for s in steps[:first_key] if isinstance(s, Key | Iterate))
    return Path(text, plain, tuple(steps[first_key:]), capture)


def _key_pattern(text: str, pos: int, body: str, bound: set[str]) -> KeyPattern:
    templates = tuple(KeyTemplate.parse(t) for t in re.findall(r"'([^']*)'", body))
    names = set(templates[0].names)
    if any(set(t.names) != names for t in templates):
        raise DescriptionError(f"path {text!r}: the templates of a key step must have the same fields")
    new = sorted(names - bound)
    bound |= names
    iterator = f"{text[:pos]}[~{','.join(new)}]" if new else None
    return KeyPattern(body.strip(), templates, iterator)


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
    #: One path per alternative (``None`` where the variable is not in it); empty without alternatives.
    branches: tuple[Path | None, ...] = ()
    #: Variables that must be bound for this derived IRI to be minted (``requires = ["cost"]``).
    requires: tuple[str, ...] = ()

    @classmethod
    def from_declaration(cls, name: str, spec: Mapping[str, Any], prefixes: Mapping[str, str]) -> Variable:
        """Build a variable from its ``[variables.NAME]`` table; raises DescriptionError."""
        known = {"from", "datatype", "iri", "unit", "vocabulary", "optional", "description", "requires"}
        unknown = set(spec) - known
        if unknown:
            raise DescriptionError(f"variable ?{name}: unknown keys {sorted(unknown)}")
        kinds = [k for k in ("datatype", "iri", "unit", "vocabulary") if k in spec]
        if len(kinds) != 1:
            raise DescriptionError(f"variable ?{name} needs exactly one of datatype, iri, unit, vocabulary")
        branches: tuple[Path | None, ...] = ()
        if isinstance(spec.get("from"), list):
            if not all(isinstance(p, str) for p in spec["from"]) or not any(spec["from"]):
                raise DescriptionError(f"variable ?{name}: 'from' lists one path (or \"\") per alternative")
            branches = tuple(parse_path(p) if p else None for p in spec["from"])
            path = next(p for p in branches if p is not None)
        else:
            path = parse_path(spec["from"]) if "from" in spec else None
        requires = spec.get("requires", ())
        requires = (requires,) if isinstance(requires, str) else tuple(requires)
        if requires and (path is not None or kinds[0] != "iri"):
            raise DescriptionError(f"variable ?{name}: 'requires' is for IRIs minted from other variables")
        common = {"name": name, "path": path, "optional": bool(spec.get("optional", False)),
                  "description": spec.get("description", ""), "branches": branches, "requires": requires}
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


def _get(data: Any, steps: Sequence[AnyStep], indices: Mapping[str, Any]) -> Any:
    captures: Mapping[str, str] = {}
    for step in steps:
        if isinstance(step, Key):
            if not isinstance(data, dict) or step.name not in data or data[step.name] is None:
                return _ABSENT
            data = data[step.name]
        elif isinstance(step, Iterate):
            index = indices.get(step.iterator)
            if index is None or not isinstance(data, list) or index >= len(data):
                return _ABSENT
            data = data[index]
        else:
            if step.iterator is not None:
                found = indices.get(step.iterator)
                if not isinstance(found, dict):
                    return _ABSENT
                captures = found
            key = step.format(captures)
            if key is None or not isinstance(data, dict) or data.get(key) is None:
                return _ABSENT
            data = data[key]
    return data


def _captures(steps: Sequence[AnyStep], indices: Mapping[str, Any]) -> Mapping[str, str] | None:
    """The field values of the innermost iterating key step on ``steps`` (``None`` if it is unset)."""
    for step in reversed(steps):
        if isinstance(step, KeyPattern) and step.iterator is not None:
            found = indices.get(step.iterator)
            return found if isinstance(found, dict) else None
    return None


def _read(data: Any, var: Variable, indices: Mapping[str, Any]) -> Any:
    """The JSON value of a fed variable at ``indices``: its member's value, or its captured field."""
    if var.path.capture is None:
        return _get(data, var.path.walk, indices)
    captures = _captures(var.path.walk, indices)
    if captures is None or var.path.capture not in captures:
        return _ABSENT
    text = captures[var.path.capture]
    if var.kind == VariableKind.LITERAL and var.datatype == XSD.integer and re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    return text


class Rows:
    """The row structure of one message: its variables, their iterator chain and levels.

    A message whose variables list one path per alternative (``from = [...]``) has one sub-structure
    per alternative in :attr:`branches`; its rows are their union.
    """

    def __init__(self, variables: Mapping[str, Variable], base_check: bool = True) -> None:
        self.variables = dict(variables)
        self.fed = {n: v for n, v in self.variables.items() if v.fed}
        self.derived = [v for v in self.variables.values() if not v.fed]
        self._regex_cache: dict[tuple[str, str], re.Pattern[str]] = {}
        #: One row structure per alternative (empty for a message without alternatives).
        self.branches: list[Rows] = []
        #: For each alternative, the variables it does not have (always unbound in its rows).
        self.branch_absent: list[set[str]] = []
        # arrays (as step prefixes) iterated by each iterator; key steps iterated by each key iterator
        self.arrays: dict[str, list[tuple[AnyStep, ...]]] = {}
        self.key_steps: dict[str, list[tuple[tuple[AnyStep, ...], KeyPattern]]] = {}
        if any(v.branches for v in self.variables.values()):
            self.chain: list[str] = []
            self._split()
            self.level = {}
            for sub in self.branches:
                for name, level in sub.level.items():
                    self.level.setdefault(name, level)
            return
        self.chain = self._chain()
        self.level = {n: self._level(v) for n, v in self.variables.items()}
        self.arrays = {it: [] for it in self.chain}
        self.key_steps = {it: [] for it in self.chain}
        for var in self.fed.values():
            steps = var.path.walk
            for i, step in enumerate(steps):
                if isinstance(step, Iterate) and steps[:i] not in self.arrays[step.iterator]:
                    self.arrays[step.iterator].append(steps[:i])
                elif isinstance(step, KeyPattern) and step.iterator is not None \
                        and (steps[:i], step) not in self.key_steps[step.iterator]:
                    self.key_steps[step.iterator].append((steps[:i], step))

    def _split(self) -> None:
        counts = {len(v.branches) for v in self.variables.values() if v.branches}
        if len(counts) != 1:
            raise DescriptionError("variables with alternatives must list one path (or \"\") per alternative")
        shared_iterators: dict[str, int] = {}
        for i in range(counts.pop()):
            chosen: dict[str, Variable] = {}
            for name, var in self.fed.items():
                if not var.branches:
                    chosen[name] = var
                elif var.branches[i] is not None:
                    chosen[name] = replace(var, path=var.branches[i], branches=())
            for var in self.derived:
                if all(f in chosen for f in [*template_fields(var.template or ""), *var.requires]):
                    chosen[var.name] = var
            try:
                sub = Rows(chosen)
            except DescriptionError as exc:
                raise DescriptionError(f"alternative {i + 1}: {exc}") from exc
            for it in sub.chain:
                if it in shared_iterators:
                    raise DescriptionError(f"alternatives {shared_iterators[it] + 1} and {i + 1} share the array "
                                           f"{it!r}: alternatives branch at the root object")
                shared_iterators[it] = i
            self.branches.append(sub)
            self.branch_absent.append(set(self.variables) - set(chosen))

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
                    "for parallel arrays, or alternatives)")
            current = children[0]
            chain.append(current)
        return chain

    def _level(self, var: Variable) -> int:
        if var.fed:
            its = var.path.iterators
            return self.chain.index(its[-1]) + 1 if its else 0
        fields = [*template_fields(var.template or ""), *var.requires]
        missing = [f for f in fields if f not in self.fed]
        if missing:
            raise DescriptionError(f"IRI template of ?{var.name} uses {missing}, which no JSON path feeds")
        return max((self._level(self.fed[f]) for f in fields), default=0)

    def optional(self) -> set[str]:
        """Variables that may be bound to ``rdf:nil``: declared optional, missing from an alternative,
        or derived from (or requiring) one of those."""
        out = {n for n, v in self.variables.items() if v.optional}
        for absent in self.branch_absent:
            out |= absent
        for var in self.derived:
            if set(template_fields(var.template or "")) & out or set(var.requires) & out:
                out.add(var.name)
        return out

    def path_of(self, name: str, indices: Mapping[str, Any]) -> Path | None:
        """The path of variable ``name`` in the alternative a row's ``indices`` come from."""
        var = self.variables[name]
        branch = indices.get(BRANCH)
        if var.branches and isinstance(branch, int):
            return var.branches[branch]
        return var.path

    def value_at(self, data: Any, name: str, indices: Mapping[str, Any]) -> Any:
        """The JSON value of fed variable ``name`` at a row's ``indices`` (``None`` when absent)."""
        path = self.path_of(name, indices)
        if path is None:
            return None
        value = _read(data, replace(self.variables[name], path=path), indices)
        return None if value is _ABSENT else value

    # -- JSON -> rows ------------------------------------------------------------------------

    def index_rows(self, data: Any) -> Iterator[dict[str, Any]]:
        """Every assignment of array indices along the iterator chain (``None`` for an empty array;
        a key iterator's index is the dict of its field values; rows of a message with alternatives
        carry their alternative's number under :data:`BRANCH`)."""
        if self.branches:
            for i, sub in enumerate(self.branches):
                for indices in sub.index_rows(data):
                    yield {**indices, BRANCH: i}
            return
        yield from self._walk(data, 0, {})

    def _walk(self, data: Any, depth: int, indices: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if depth == len(self.chain):
            yield dict(indices)
            return
        it = self.chain[depth]
        if self.key_steps.get(it):
            domain = self._key_domain(data, it, depth, indices)
            for captures in domain or [None]:
                indices[it] = captures
                yield from self._walk(data, depth + 1, indices)
            del indices[it]
            return
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

    def _outer_captures(self, depth: int, indices: Mapping[str, Any]) -> dict[str, str]:
        for it in reversed(self.chain[:depth]):
            found = indices.get(it)
            if isinstance(found, dict):
                return found
        return {}

    def _key_domain(self, data: Any, it: str, depth: int, indices: dict[str, Any]) -> list[dict[str, str]]:
        """The field values of every matching key of the objects iterated by key iterator ``it``."""
        outer = self._outer_captures(depth, indices)
        domain: list[dict[str, str]] = []
        for prefix, step in self.key_steps[it]:
            obj = _get(data, prefix, indices)
            if not isinstance(obj, dict):
                continue
            for key, member in obj.items():
                captures = step.match(key, outer) if member is not None else None
                if captures is None:
                    continue
                if step.format(captures) != key:
                    where = Path("", prefix).location(indices) if prefix else "$"
                    raise RowError(Problem(f"{where}{_key_location(key)}",
                                           f"key {key!r} would be written back as {step.format(captures)!r} "
                                           f"(ambiguous key templates {step.text})"))
                if captures not in domain:
                    domain.append(captures)
        return domain

    def _top_level_array(self) -> bool:
        return bool(self.chain) and self.arrays.get(self.chain[0]) == [()]

    def terms(self, data: Any, base: str) -> Iterator[dict[str, URIRef | Literal]]:
        """Binding rows (rdflib terms) of canonical JSON ``data``; raises :class:`RowError` with the
        JSON location of a value that cannot become its term."""
        for _, row in self.located_terms(data, base):
            yield row

    def located_terms(
        self, data: Any, base: str
    ) -> Iterator[tuple[dict[str, Any], dict[str, URIRef | Literal]]]:
        """Like :meth:`terms`, each row with the array indices it came from (for
        ``Variable.path.location(indices)``, or :meth:`path_of` with alternatives: the JSON location
        of every value of the row)."""
        if self.branches:
            yield from self._branch_terms(data, base)
            return
        for indices in self.index_rows(data):
            row: dict[str, URIRef | Literal] = {}
            values: dict[str, Any] = {}
            for name, var in self.fed.items():
                value = _read(data, var, indices)
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
                if any(row[f] == NONE for f in fields) or any(row[r] == NONE for r in var.requires):
                    row[var.name] = NONE
                else:
                    row[var.name] = URIRef(mint_iri(base, var.template, {f: _text(values[f]) for f in fields}))
            yield indices, row

    def _branch_terms(self, data: Any, base: str) -> Iterator[tuple[dict[str, Any], dict[str, URIRef | Literal]]]:
        """The union of the alternatives' rows; a row with nothing below the root (an alternative
        whose arrays are empty) is kept only when no alternative has any other row."""
        rows: list[tuple[dict[str, Any], dict[str, URIRef | Literal]]] = []
        shells: list[tuple[dict[str, Any], dict[str, URIRef | Literal]]] = []
        for i, sub in enumerate(self.branches):
            deep = [n for n in sub.fed if sub.level[n] > 0]
            for indices, row in sub.located_terms(data, base):
                full = {name: row.get(name, NONE) for name in self.variables}
                target = shells if deep and all(full[n] == NONE for n in deep) else rows
                target.append(({**indices, BRANCH: i}, full))
        seen: set[tuple[tuple[str, Any], ...]] = set()
        for indices, row in rows or shells[:1]:
            key = tuple(sorted(row.items()))
            if key not in seen:
                seen.add(key)
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
        if self.branches:
            self._place_branches(out, decoded)
        else:
            self._place(out, decoded, 0, {})
        return out

    def _place_branches(self, out: Any, decoded: list[dict[str, Any]]) -> None:
        buckets: list[list[dict[str, Any]]] = [[] for _ in self.branches]
        shells: list[dict[str, Any]] = []
        for i, row in enumerate(decoded):
            for b in range(len(self.branches)):
                if self._accepts(b, row):
                    buckets[b].append(row)
                    break
            else:
                if any(all(row[n] is _ABSENT for n in sub.fed if sub.level[n] > 0) for sub in self.branches):
                    shells.append(row)
                else:
                    raise RowError(Problem(f"bindings[{i}]", "the row fits none of the message's alternatives",
                                           "binding"))
        for sub, bucket in zip(self.branches, buckets, strict=True):
            sub._place(out, bucket or shells, 0, {})

    def _accepts(self, branch: int, row: Mapping[str, Any]) -> bool:
        sub = self.branches[branch]
        if any(row.get(n, _ABSENT) is not _ABSENT for n in self.branch_absent[branch] if n in self.fed):
            return False
        deep = [n for n in sub.fed if sub.level[n] > 0]
        if deep and all(row[n] is _ABSENT for n in deep):
            return False
        captures = {v.path.capture: _text(row[n]) for n, v in sub.fed.items()
                    if v.path.capture is not None and row[n] is not _ABSENT}
        for name, var in sub.fed.items():
            if row[name] is _ABSENT:
                continue
            for step in var.path.tail:
                if isinstance(step, KeyPattern) and step.format(captures) is None:
                    return False
        return True

    def _check_derived(self, i: int, row: Mapping[str, Any], values: Mapping[str, Any], base: str) -> None:
        for var in self.derived:
            term = row.get(var.name)
            if term is None:
                raise RowError(Problem(f"bindings[{i}]", f"variable ?{var.name} is not bound", "binding"))
            fields = template_fields(var.template)
            if term == NONE or any(values[f] is _ABSENT for f in fields) \
                    or any(values.get(r, _ABSENT) is _ABSENT for r in var.requires):
                continue
            expected = mint_iri(base, var.template, {f: _text(values[f]) for f in fields})
            if str(term) != expected:
                raise RowError(Problem(f"bindings[{i}].{var.name}",
                                       f"expected <{expected}> (the IRI minted from its fields), got {term}",
                                       "binding"))

    def _place(self, out: Any, rows: list[dict[str, Any]], depth: int, indices: dict[str, Any]) -> None:
        level_vars = [n for n in self.fed if self.level[n] == depth]
        if rows:
            first = rows[0]
            for name in level_vars:
                for row in rows[1:]:
                    if row[name] != first[name]:
                        raise RowError(Problem(self.fed[name].path.location(indices),
                                               f"conflicting values for ?{name}: {first[name]!r} and {row[name]!r}",
                                               "binding"))
                if first[name] is not _ABSENT and self.fed[name].path.capture is None:
                    _set(out, self.fed[name].path.walk, indices, first[name])
        if depth == len(self.chain):
            return
        it = self.chain[depth]
        inner = [n for n in self.fed if self.level[n] == depth + 1]
        if self.key_steps.get(it):
            self._place_keys(out, rows, depth, indices, inner)
            return
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

    def _place_keys(self, out: Any, rows: list[dict[str, Any]], depth: int, indices: dict[str, Any],
                    inner: list[str]) -> None:
        """Place the rows of a key iterator: one member per distinct value of its captured fields."""
        it = self.chain[depth]
        captured = [n for n in inner if self.fed[n].path.capture is not None]
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for row in rows:
            if all(row[n] is _ABSENT for n in inner):
                continue
            groups.setdefault(tuple(_hashable(row[n]) for n in captured), []).append(row)
        outer = self._outer_captures(depth, indices)
        for key in sorted(groups, key=repr):
            first = groups[key][0]
            captures = dict(outer)
            for name in captured:
                if first[name] is _ABSENT:
                    raise RowError(Problem(self.fed[name].path.location(indices),
                                           f"?{name} is unbound: the key cannot be written", "binding"))
                captures[self.fed[name].path.capture] = _text(first[name])
            indices[it] = captures
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


def _container(steps: Sequence[AnyStep], i: int) -> Any:
    return [] if i + 1 < len(steps) and isinstance(steps[i + 1], Iterate) else {}


def _member(step: KeyPattern, captures: Mapping[str, str], indices: Mapping[str, Any]) -> str:
    """The key a key step writes for the current field values; raises RowError if none fits."""
    if step.iterator is not None:
        found = indices.get(step.iterator)
        captures = found if isinstance(found, dict) else {}
    key = step.format(captures)
    if key is None:
        raise RowError(Problem(f"[~{step.text}]", f"no key template accepts the fields {dict(captures)}", "binding"))
    return key


def _step_captures(step: KeyPattern, captures: Mapping[str, str], indices: Mapping[str, Any]) -> Mapping[str, str]:
    if step.iterator is not None:
        found = indices.get(step.iterator)
        return found if isinstance(found, dict) else {}
    return captures


def _ensure_list(out: Any, steps: Sequence[AnyStep], indices: Mapping[str, Any]) -> None:
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
    elif isinstance(last, KeyPattern) and isinstance(parent, dict):
        parent.setdefault(_member(last, _captures(steps[:-1], indices) or {}, indices), [])


def _descend(out: Any, prefix: Sequence[AnyStep], indices: Mapping[str, Any], full: Sequence[AnyStep]) -> Any:
    node = out
    captures: Mapping[str, str] = {}
    for i, step in enumerate(prefix):
        if isinstance(step, Key | KeyPattern):
            if isinstance(step, KeyPattern):
                captures = _step_captures(step, captures, indices)
                name = _member(step, captures, indices)
            else:
                name = step.name
            if name not in node:
                node[name] = _container(full, i)
            node = node[name]
        else:
            index = indices[step.iterator]
            while len(node) <= index:
                node.append(None)
            if node[index] is None:
                node[index] = _container(full, i)
            node = node[index]
    return node


def _set(out: Any, steps: Sequence[AnyStep], indices: Mapping[str, Any], value: Any) -> None:
    parent = _descend(out, steps[:-1], indices, steps)
    last = steps[-1]
    if isinstance(last, Key):
        parent[last.name] = value
    elif isinstance(last, KeyPattern):
        parent[_member(last, _captures(steps[:-1], indices) or {}, indices)] = value
    else:
        index = indices[last.iterator]
        while len(parent) <= index:
            parent.append(None)
        parent[index] = value
