"""Payload documents: JSON text or bytes read into a JSON value, or refused with a clear problem.

The one reader of every entry point (the Python API given ``str`` or ``bytes``, every CLI command, the
Knowledge Engine adapter's files, the REST API's bodies). Besides JSON syntax it refuses what no
message can be, each as a :class:`~dso_saref.errors.Problem` at the JSON path or byte offset where it
must be fixed::

    >>> load_json(b'\\xef\\xbb\\xbf{"Hems_ID": "ID1"}')      # a UTF-8 byte-order mark is accepted
    {'Hems_ID': 'ID1'}
    >>> load_json('{"a": 1, "a": 2}')
    Traceback (most recent call last):
    ...
    dso_saref.payloads.DocumentError: $.a: the key appears twice in one object (JSON parsers keep only one)

- bytes that are not UTF-8 (a Latin-1 or UTF-16 file): the byte offset of the first bad byte;
- a key written twice in one object (``Limits.duplicate_keys="last"`` keeps the last one instead, and
  says so in :attr:`Document.warnings`);
- documents larger than ``Limits.size`` bytes, nesting deeper than the JSON parser goes;
- lone surrogates (``"\\ud800"``), integers of more digits than Python converts, NaN and infinities
  written as bare words.

:func:`iter_array` reads a top-level array one element at a time with the same checks, so that a
large document's elements need not all be in memory at once (the CLI processes metering files so).
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dso_saref.errors import DsoSarefError, Problem

__all__ = ["Document", "DocumentError", "Element", "Limits", "iter_array", "load_json", "read_document"]


@dataclass(frozen=True)
class Limits:
    """Bounds on a payload: the document's ``size`` in bytes, the length of any ``string`` (in
    characters) and of any array (``items``), each ``None`` for unbounded; and what to do with a key
    written twice in one object, ``duplicate_keys``: ``"refuse"`` (default) or ``"last"`` (keep the
    last value, with a warning: lenient mode). The defaults take a zone-day of metering and far more,
    and refuse a 50 MB identifier. Configured through :class:`~dso_saref.terms.Settings` (``limits=``)."""

    size: int | None = 256 * 1024 * 1024
    string: int | None = 65_536
    items: int | None = 10_000_000
    duplicate_keys: str = "refuse"

    def __post_init__(self) -> None:
        if self.duplicate_keys not in ("refuse", "last"):
            raise ValueError("duplicate_keys must be 'refuse' or 'last'")
        for name in ("size", "string", "items"):
            bound = getattr(self, name)
            if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool) or bound < 1):
                raise ValueError(f"the {name} limit must be a whole number of at least 1, or None")

    def check(self, value: Any, path: str = "$") -> list[Problem]:
        """The arrays of a JSON value (found at ``path``) longer than the ``items`` limit, at their JSON
        paths (the first 20). Strings are measured by the message models, which know which are free
        text (:func:`string_length`)."""
        if self.items is None:
            return []
        items = self.items
        stack = [value] if value.__class__ is dict or value.__class__ is list else []  # a scalar has no arrays
        pop, push = stack.pop, stack.append
        while stack:  # containers only, and no paths: most payloads are within the limits
            node = pop()
            if node.__class__ is dict:
                for item in node.values():
                    if item.__class__ is dict or item.__class__ is list:
                        push(item)
            else:
                if len(node) > items:
                    break
                for item in node:
                    if item.__class__ is dict or item.__class__ is list:
                        push(item)
        else:
            return []
        return list(itertools.islice(self._long_arrays(value, path), 20))

    def may_exceed(self, length: int) -> bool:
        """Whether JSON text of ``length`` characters may hold an array longer than the ``items``
        limit (an array of n items takes at least 2n + 1 characters: '[', the items, the commas, ']')."""
        return self.items is not None and length >= 2 * self.items + 1

    def _long_arrays(self, value: Any, path: str) -> Iterator[Problem]:
        items = self.items or sys.maxsize
        stack = [(value, path)]
        while stack:
            node, where = stack.pop()
            if isinstance(node, dict):
                stack.extend((item, _member_path(where, str(key))) for key, item in node.items())
            elif isinstance(node, list):
                if len(node) > items:
                    yield Problem(where, f"an array of {len(node)} items: the limit is {items}", "array_length")
                stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))

    def string_length(self, text: str) -> None:
        """Raise ValueError when ``text`` is longer than the ``string`` limit."""
        if self.string is not None and len(text) > self.string:
            raise ValueError(f"a string of {len(text)} characters: the limit is {self.string}")



class DocumentError(DsoSarefError, ValueError):
    """A document that is not a JSON payload this library reads; ``problems`` say where and why."""

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class Document:
    """A JSON document read: its ``value`` and the ``warnings`` lenient reading produced."""

    value: Any
    warnings: tuple[Problem, ...] = field(default=())


@dataclass(frozen=True)
class Element:
    """One element of a top-level array read by :func:`iter_array`: its ``index``, JSON ``value``,
    where it ends in the document (``end``, in characters, of ``length``) and the ``warnings`` that
    lenient reading produced for it."""

    index: int
    value: Any
    end: int
    length: int
    warnings: tuple[Problem, ...] = field(default=())


_BOM = "\ufeff"
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}")


class _Duplicate(Exception):
    pass


def read_document(data: str | bytes | bytearray, *, limits: Limits | None = None,
                  source: str | None = None) -> Document:
    """Read a JSON document (text, or bytes in UTF-8 with or without a byte-order mark); raises
    :class:`DocumentError` with the location of every problem found."""
    limits = limits or Limits()
    text = _decode(data, limits, source)
    if text.startswith(_BOM):
        text = text[1:]
    warnings: list[Problem] = []
    try:
        value = json.loads(text, object_pairs_hook=_strict_object, parse_constant=_no_constant)
    except _Duplicate:
        value = _reread(text, limits, warnings, source)
    except json.JSONDecodeError as exc:
        raise DocumentError([Problem("$", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                                     "json")], source) from None
    except RecursionError:
        raise DocumentError([Problem("$", "nested too deeply to be a payload", "depth")], source) from None
    except ValueError as exc:  # integers beyond Python's conversion limit, bare NaN/Infinity
        raise DocumentError([Problem("$", f"not a JSON payload: {exc}", "json")], source) from None
    if _ESCAPED_SURROGATE.search(text) or (not text.isascii() and _SURROGATE.search(text)):
        problems = list(_surrogates(value, "$"))
        if problems:
            raise DocumentError(problems[:20], source)
    problems = limits.check(value) if limits.may_exceed(len(text)) else []
    if problems:
        raise DocumentError(problems, source)
    return Document(value, tuple(warnings))


def iter_array(data: str | bytes | bytearray, *, limits: Limits | None = None,
               source: str | None = None) -> Iterator[Element]:
    """The elements of a document that is a JSON array, one at a time, read with the checks of
    :func:`read_document` (problems located at ``$[index]...``); raises :class:`DocumentError` when
    the document is not an array or at the first element that is not valid JSON. Only the
    document's text and the current element are held."""
    limits = limits or Limits()
    text = _decode(data, limits, source)
    del data
    surrogates = bool(_ESCAPED_SURROGATE.search(text) or (not text.isascii() and _SURROGATE.search(text)))
    strict = json.JSONDecoder(object_pairs_hook=_strict_object, parse_constant=_no_constant)
    pos = _WHITESPACE.match(text, 1 if text.startswith(_BOM) else 0).end()  # type: ignore[union-attr]
    if text[pos:pos + 1] != "[":
        raise _syntax("Expecting '['", text, pos, source)
    pos = _WHITESPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
    index = 0
    while text[pos:pos + 1] != "]" or index:  # "[]" is empty; "[1, ]" reads a missing value
        warnings: list[Problem] = []
        where = f"$[{index}]"
        try:
            value, end = strict.raw_decode(text, pos)
        except _Duplicate:
            value, end = json.JSONDecoder(object_pairs_hook=_Pairs, parse_constant=_no_constant).raw_decode(text, pos)
            value = _kept(value, where, limits, warnings, source)
        except json.JSONDecodeError as exc:
            raise _syntax(exc.msg, text, exc.pos, source) from None
        except RecursionError:
            raise DocumentError([Problem(where, "nested too deeply to be a payload", "depth")], source) from None
        except ValueError as exc:
            raise DocumentError([Problem(where, f"not a JSON payload: {exc}", "json")], source) from None
        if surrogates:
            problems = list(_surrogates(value, where))
            if problems:
                raise DocumentError(problems[:20], source)
        problems = limits.check(value, where) if limits.may_exceed(end - pos) else []
        if problems:
            raise DocumentError(problems, source)
        yield Element(index, value, end, len(text), tuple(warnings))
        pos = _WHITESPACE.match(text, end).end()  # type: ignore[union-attr]
        if text[pos:pos + 1] == "]":
            break
        if text[pos:pos + 1] != ",":
            raise _syntax("Expecting ',' delimiter", text, pos, source)
        pos = _WHITESPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
        index += 1
    pos = _WHITESPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
    if pos != len(text):
        raise _syntax("Extra data", text, pos, source)


def _syntax(message: str, text: str, pos: int, source: str | None) -> DocumentError:
    """The error of ``json.loads`` for the same text: line and column of ``pos``."""
    exc = json.JSONDecodeError(message, text, pos)
    return DocumentError([Problem("$", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                                  "json")], source)


def load_json(data: str | bytes | bytearray, *, limits: Limits | None = None, source: str | None = None) -> Any:
    """The JSON value of a document (see :func:`read_document`); raises :class:`DocumentError`."""
    return read_document(data, limits=limits, source=source).value


def _decode(data: str | bytes | bytearray, limits: Limits, source: str | None) -> str:
    if isinstance(data, str):
        if limits.size is not None and len(data) > limits.size:
            raise DocumentError([Problem("$", f"the document is larger than {limits.size} bytes", "size")], source)
        return data
    if limits.size is not None and len(data) > limits.size:
        raise DocumentError([Problem("$", f"the document is larger than {limits.size} bytes", "size")], source)
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        hint = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise DocumentError([Problem(f"byte {exc.start}", f"not UTF-8: byte 0x{data[exc.start]:02x} cannot be "
                                     f"decoded{hint}; save the file as UTF-8", "encoding")], source) from None


def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _Duplicate
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _reread(text: str, limits: Limits, warnings: list[Problem], source: str | None) -> Any:
    """Read again keeping every pair, to name each duplicated key by its JSON path."""
    return _kept(json.loads(text, object_pairs_hook=_Pairs, parse_constant=_no_constant), "$", limits, warnings,
                 source)


def _kept(value: Any, path: str, limits: Limits, warnings: list[Problem], source: str | None) -> Any:
    """A value read with every pair kept: refused, or the last of each duplicated key kept with a
    warning (``Limits.duplicate_keys``)."""
    problems: list[Problem] = []
    out = _resolve(value, path, problems)
    if limits.duplicate_keys == "refuse":
        raise DocumentError(problems[:20], source)
    warnings.extend(Problem(p.location, "the key appears twice in one object: the last value is kept", "duplicate")
                    for p in problems)
    return out


class _Pairs(list):  # type: ignore[type-arg]
    """An object's key/value pairs in document order (duplicates kept)."""


def _resolve(value: Any, path: str, problems: list[Problem]) -> Any:
    if isinstance(value, _Pairs):
        out: dict[str, Any] = {}
        for key, item in value:
            where = _member_path(path, key)
            if key in out:
                problems.append(Problem(where, "the key appears twice in one object (JSON parsers keep only one)",
                                        "duplicate"))
            out[key] = _resolve(item, where, problems)
        return out
    if isinstance(value, list):
        return [_resolve(item, f"{path}[{i}]", problems) for i, item in enumerate(value)]
    return value


def _member_path(path: str, key: str) -> str:
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z_]\w*", key) else f"{path}['{key}']"


def _surrogates(value: Any, path: str) -> Any:
    """The places of lone surrogates in a JSON value (a text escape such as ``\\ud800`` without its
    pair decodes to one; it cannot be written as UTF-8 again)."""
    if isinstance(value, str):
        if _SURROGATE.search(value):
            yield Problem(path, "the string holds a lone surrogate (\\ud800-\\udfff), which is not text", "text")
    elif isinstance(value, dict):
        for key, item in value.items():
            where = _member_path(path, key)
            if _SURROGATE.search(key):
                yield Problem(where, "the key holds a lone surrogate (\\ud800-\\udfff), which is not text", "text")
            yield from _surrogates(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _surrogates(item, f"{path}[{i}]")
