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
from dataclasses import replace
from typing import Any

from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from dso_saref.errors import DescriptionError, Problem
from dso_saref.paths import (
    ABSENT,
    BRANCH,
    AnyStep,
    Iterate,
    Key,
    KeyPattern,
    KeyTemplate,
    Path,
    RowError,
    ensure_list,
    get_value,
    innermost_captures,
    key_location,
    parse_path,
    set_value,
)
from dso_saref.terms import (
    NONE,
    TermError,
)
from dso_saref.variables import Variable, VariableKind, scalar_text

__all__ = [
    "Iterate",
    "Key",
    "KeyPattern",
    "KeyTemplate",
    "Path",
    "RowError",
    "Rows",
    "Variable",
    "VariableKind",
    "parse_path",
]

def _read(data: Any, var: Variable, indices: Mapping[str, Any]) -> Any:
    """The JSON value of a fed variable at ``indices``: its member's value, or its captured field."""
    if var.path.capture is None:
        return get_value(data, var.path.walk, indices)
    captures = innermost_captures(var.path.walk, indices)
    if captures is None or var.path.capture not in captures:
        return ABSENT
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
                if all(f in chosen for f in var.inputs):
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
        fields = var.inputs
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
            if set(var.needs) & out:
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
        return None if value is ABSENT else value

    # -- JSON -> row indices (the binding table walks them for key steps and alternatives) -----

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
            array = get_value(data, steps, indices)
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
            obj = get_value(data, prefix, indices)
            if not isinstance(obj, dict):
                continue
            for key, member in obj.items():
                captures = step.match(key, outer) if member is not None else None
                if captures is None:
                    continue
                if step.format(captures) != key:
                    where = Path("", prefix).location(indices) if prefix else "$"
                    raise RowError(Problem(f"{where}{key_location(key)}",
                                           f"key {key!r} would be written back as {step.format(captures)!r} "
                                           f"(ambiguous key templates {step.text})"))
                if captures not in domain:
                    domain.append(captures)
        return domain

    def _top_level_array(self) -> bool:
        return bool(self.chain) and self.arrays.get(self.chain[0]) == [()]

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
                    values[name] = ABSENT
                    continue
                try:
                    values[name] = var.value(term, base)
                except TermError as exc:
                    raise RowError(Problem(f"bindings[{i}].{name}", str(exc), "binding")) from exc
            self._check_derived(i, row)
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
                if any(all(row[n] is ABSENT for n in sub.fed if sub.level[n] > 0) for sub in self.branches):
                    shells.append(row)
                else:
                    raise RowError(Problem(f"bindings[{i}]", "the row fits none of the message's alternatives",
                                           "binding"))
        for sub, bucket in zip(self.branches, buckets, strict=True):
            sub._place(out, bucket or shells, 0, {})

    def _accepts(self, branch: int, row: Mapping[str, Any]) -> bool:
        sub = self.branches[branch]
        if any(row.get(n, ABSENT) is not ABSENT for n in self.branch_absent[branch] if n in self.fed):
            return False
        deep = [n for n in sub.fed if sub.level[n] > 0]
        if deep and all(row[n] is ABSENT for n in deep):
            return False
        captures = {v.path.capture: scalar_text(row[n]) for n, v in sub.fed.items()
                    if v.path.capture is not None and row[n] is not ABSENT}
        for name, var in sub.fed.items():
            if row[name] is ABSENT:
                continue
            for step in var.path.tail:
                if isinstance(step, KeyPattern) and step.format(captures) is None:
                    return False
        return True

    def _check_derived(self, i: int, row: Mapping[str, Any]) -> None:
        """Every derived variable is bound, and to an IRI: a peer mints its IRIs as it likes (under its
        own base, from its own scheme), so nothing more is asked of them; the values live in the
        literals and vocabulary terms."""
        for var in self.derived:
            term = row.get(var.name)
            if term is None:
                raise RowError(Problem(f"bindings[{i}]", f"variable ?{var.name} is not bound", "binding"))
            if term != NONE and not isinstance(term, URIRef):
                raise RowError(Problem(f"bindings[{i}].{var.name}", f"expected an IRI, got {term!r}", "binding"))

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
                if first[name] is not ABSENT and self.fed[name].path.capture is None:
                    set_value(out, self.fed[name].path.walk, indices, first[name])
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
            if all(row[n] is ABSENT for n in inner):
                continue
            groups.setdefault(key, []).append(row)
        for steps in self.arrays[it]:
            if depth > 0 or steps != ():
                ensure_list(out, steps, indices)
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
            if all(row[n] is ABSENT for n in inner):
                continue
            groups.setdefault(tuple(_hashable(row[n]) for n in captured), []).append(row)
        outer = self._outer_captures(depth, indices)
        for key in sorted(groups, key=repr):
            first = groups[key][0]
            captures = dict(outer)
            for name in captured:
                if first[name] is ABSENT:
                    raise RowError(Problem(self.fed[name].path.location(indices),
                                           f"?{name} is unbound: the key cannot be written", "binding"))
                captures[self.fed[name].path.capture] = scalar_text(first[name])
            indices[it] = captures
            self._place(out, groups[key], depth + 1, indices)
        indices.pop(it, None)





def _hashable(value: Any) -> Any:
    return repr(value)

