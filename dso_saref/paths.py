"""JSON paths of the graph pattern files: parse them, read a value at given indices, write one back.

A path is ``$`` followed by steps: ``.key`` / ``['odd:key']`` (a member), ``[*]`` / ``[#name]`` (every
element of an array; a named iterator is shared by parallel arrays) and ``[~'tmpl'...]`` (every member
whose key matches a template, its ``{fields}`` captured); it may end in ``@field`` to read a captured
field instead of a value. See docs/patterns.md::

    >>> parse_path("$[*].readings[*].time").iterators
    ('$', '$[*].readings')
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dso_saref.errors import DescriptionError, Problem

__all__ = [
    "ABSENT",
    "BRANCH",
    "AnyStep",
    "Iterate",
    "Key",
    "KeyPattern",
    "KeyTemplate",
    "Path",
    "RowError",
    "Step",
    "container_for",
    "descend",
    "ensure_list",
    "get_value",
    "innermost_captures",
    "key_location",
    "member_key",
    "parse_path",
    "set_value",
    "step_captures",
]

ABSENT = object()

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
                out += key_location(step.name)
            elif isinstance(step, Iterate):
                index = indices.get(step.iterator)
                out += f"[{index if isinstance(index, int) else '*'}]"
            else:
                if step.iterator is not None:
                    found = indices.get(step.iterator)
                    captures = found if isinstance(found, dict) else {}
                key = step.format(captures)
                out += key_location(key) if key is not None else f"[~{step.text}]"
        return out


def key_location(name: str) -> str:
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



def get_value(data: Any, steps: Sequence[AnyStep], indices: Mapping[str, Any]) -> Any:
    captures: Mapping[str, str] = {}
    for step in steps:
        if isinstance(step, Key):
            if not isinstance(data, dict) or step.name not in data or data[step.name] is None:
                return ABSENT
            data = data[step.name]
        elif isinstance(step, Iterate):
            index = indices.get(step.iterator)
            if index is None or not isinstance(data, list) or index >= len(data):
                return ABSENT
            data = data[index]
        else:
            if step.iterator is not None:
                found = indices.get(step.iterator)
                if not isinstance(found, dict):
                    return ABSENT
                captures = found
            key = step.format(captures)
            if key is None or not isinstance(data, dict) or data.get(key) is None:
                return ABSENT
            data = data[key]
    return data


def innermost_captures(steps: Sequence[AnyStep], indices: Mapping[str, Any]) -> Mapping[str, str] | None:
    """The field values of the innermost iterating key step on ``steps`` (``None`` if it is unset)."""
    for step in reversed(steps):
        if isinstance(step, KeyPattern) and step.iterator is not None:
            found = indices.get(step.iterator)
            return found if isinstance(found, dict) else None
    return None



class RowError(Exception):
    """A value that cannot become (or come back from) a binding, with its location."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem



def container_for(steps: Sequence[AnyStep], i: int) -> Any:
    return [] if i + 1 < len(steps) and isinstance(steps[i + 1], Iterate) else {}


def member_key(step: KeyPattern, captures: Mapping[str, str], indices: Mapping[str, Any]) -> str:
    """The key a key step writes for the current field values; raises RowError if none fits."""
    if step.iterator is not None:
        found = indices.get(step.iterator)
        captures = found if isinstance(found, dict) else {}
    key = step.format(captures)
    if key is None:
        raise RowError(Problem(f"[~{step.text}]", f"no key template accepts the fields {dict(captures)}", "binding"))
    return key


def step_captures(step: KeyPattern, captures: Mapping[str, str], indices: Mapping[str, Any]) -> Mapping[str, str]:
    if step.iterator is not None:
        found = indices.get(step.iterator)
        return found if isinstance(found, dict) else {}
    return captures


def ensure_list(out: Any, steps: Sequence[AnyStep], indices: Mapping[str, Any]) -> None:
    if not steps:
        return
    parent = descend(out, steps[:-1], indices, steps)
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
        parent.setdefault(member_key(last, innermost_captures(steps[:-1], indices) or {}, indices), [])


def descend(out: Any, prefix: Sequence[AnyStep], indices: Mapping[str, Any], full: Sequence[AnyStep]) -> Any:
    node = out
    captures: Mapping[str, str] = {}
    for i, step in enumerate(prefix):
        if isinstance(step, Key | KeyPattern):
            if isinstance(step, KeyPattern):
                captures = step_captures(step, captures, indices)
                name = member_key(step, captures, indices)
            else:
                name = step.name
            if name not in node:
                node[name] = container_for(full, i)
            node = node[name]
        else:
            index = indices[step.iterator]
            while len(node) <= index:
                node.append(None)
            if node[index] is None:
                node[index] = container_for(full, i)
            node = node[index]
    return node


def set_value(out: Any, steps: Sequence[AnyStep], indices: Mapping[str, Any], value: Any) -> None:
    parent = descend(out, steps[:-1], indices, steps)
    last = steps[-1]
    if isinstance(last, Key):
        parent[last.name] = value
    elif isinstance(last, KeyPattern):
        parent[member_key(last, innermost_captures(steps[:-1], indices) or {}, indices)] = value
    else:
        index = indices[last.iterator]
        while len(parent) <= index:
            parent.append(None)
        parent[index] = value
