"""Large payloads in chunks: a top-level array read and mapped a run of elements at a time, so that a
zone's metering file needs the memory of one chunk, not of the whole message.

Only messages whose rules hold element by element are chunked (:data:`CHUNKED`). For
``metering-data`` (an array of series, each an ``id`` and its ``readings``):

- the model's rules are per series (readings unique by time within a series, units, numbers), except
  one across the array: each ``id`` once. That one is checked on the *skeleton* of the whole message,
  every series with its ``readings`` emptied, through the same model;
- the shape's constraints are per node, and every node (the subject, its property, each reading) is
  minted from one series' ``id`` (and a reading's time), so with ids unique every node's triples come
  from one series, hence from one chunk: validating chunk by chunk finds what validating the whole
  finds (tests/test_cli_large.py checks it on the same files).

A chunk is a run of whole series (a series is never split) of about :data:`CHUNK_CHARS` characters of
JSON; locations are given in the whole document (``$[7031].readings[5].time``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import dso_saref
from dso_saref.errors import PayloadError, Problem
from dso_saref.payloads import Document, Limits, iter_array
from dso_saref.terms import Settings
from dso_saref.validation import Report, Validator, Violation

__all__ = ["CHUNKED", "CHUNK_CHARS", "Chunk", "chunkable", "chunks", "relocate", "serialize_in_chunks",
           "validate_in_chunks"]

#: Messages processed in chunks, with the key of each element's inner list that the skeleton (the
#: whole message, read for the rules across elements) leaves empty.
CHUNKED = {"metering-data": "readings"}
#: About how many characters of JSON a chunk holds (a few MB: tens of thousands of readings).
CHUNK_CHARS = 4_000_000

_ARRAY = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*\[")
_INDEX = re.compile(r"^\$\[([0-9]+)\]")

Progress = Callable[[float], None]


@dataclass(frozen=True)
class Chunk:
    """A run of elements: ``offset`` is the index of the first in the whole array, ``done`` the part
    of the document read so far (0 to 1), ``warnings`` what lenient reading said."""

    offset: int
    value: list[Any]
    done: float
    warnings: tuple[Problem, ...] = ()


def chunkable(name: str, data: bytes) -> bool:
    """Whether message ``name``'s document ``data`` is worth reading in chunks: a message of
    :data:`CHUNKED`, larger than a chunk, and an array."""
    return name in CHUNKED and len(data) > CHUNK_CHARS and _ARRAY.match(data) is not None


def chunks(data: bytes, *, limits: Limits, source: str | None = None, size: int | None = None) -> Iterator[Chunk]:
    """The elements of the array ``data`` in chunks of about ``size`` characters (default
    :data:`CHUNK_CHARS`); raises :class:`~dso_saref.payloads.DocumentError` as
    :func:`~dso_saref.payloads.iter_array` does."""
    size = size or CHUNK_CHARS
    value: list[Any] = []
    warnings: list[Problem] = []
    offset = start = 0
    yielded = False
    for element in iter_array(data, limits=limits, source=source):
        if not value:
            offset = element.index
        value.append(element.value)
        warnings.extend(element.warnings)
        if element.end - start >= size:
            yield Chunk(offset, value, element.end / element.length, tuple(warnings))
            value, warnings, start, yielded = [], [], element.end, True
    if value or not yielded:
        yield Chunk(offset, value, 1.0, tuple(warnings))


def relocate(location: str, offset: int) -> str:
    """A location in a chunk (``$[3].readings[0]``) as a location in the whole array."""
    if not offset:
        return location
    return _INDEX.sub(lambda m: f"$[{int(m.group(1)) + offset}]", location, count=1)


def _skeleton(name: str, elements: list[Any]) -> list[Any]:
    inner = CHUNKED[name]
    return [{**e, inner: []} if isinstance(e, dict) and isinstance(e.get(inner), list) else e for e in elements]


def validate_in_chunks(validator: Validator, name: str, data: bytes, *, settings: Settings, limits: Limits,
                       progress: Progress) -> Report:
    """The report of validating the document ``data`` chunk by chunk, and its skeleton for the rules
    across elements: the report of validating it whole (see the module doc). Input problems (bad
    encoding, JSON syntax) are reported as the whole reader reports them."""
    from dso_saref.payloads import DocumentError

    found: list[Violation] = []
    skeleton: list[Any] = []
    try:
        for chunk in chunks(data, limits=limits):
            report = validator.validate(name, Document(chunk.value), settings=settings)  # read already
            found += [replace(v, location=relocate(v.location, chunk.offset)) for v in (*report.errors,
                                                                                         *report.warnings)]
            found += [Violation(relocate(p.location, chunk.offset), p.message, p.rule, "input", "warning")
                      for p in chunk.warnings]
            skeleton += _skeleton(name, chunk.value)
            progress(chunk.done)
    except DocumentError as exc:
        return Report.of(name, [Violation(p.location, p.message, p.rule, "input") for p in exc.problems])
    whole = validator.validate(name, skeleton, settings=settings)
    return Report.of(name, [*found, *whole.errors, *whole.warnings])


def serialize_in_chunks(name: str, data: bytes, *, settings: Settings, limits: Limits, source: str,
                        write: Callable[[str], None], warn: Callable[[Problem], None], progress: Progress) -> None:
    """Write the N-Triples of the document ``data`` chunk by chunk; raises PayloadError (located in
    the whole document) at the first chunk that is not valid, after the chunks before it were
    written, or at the end when the rules across elements are broken (each id once)."""
    description = dso_saref.catalog[name]
    skeleton: list[Any] = []
    for chunk in chunks(data, limits=limits, source=source):
        for problem in chunk.warnings:
            warn(replace(problem, location=relocate(problem.location, chunk.offset)))
        try:
            table = description.table(chunk.value, settings)
        except PayloadError as exc:
            raise PayloadError(name, [replace(p, location=relocate(p.location, chunk.offset))
                                      for p in exc.problems]) from None
        for text in table.nt_chunks():
            write(text)
        del table
        skeleton += _skeleton(name, chunk.value)
        progress(chunk.done)
    description.parse(skeleton, settings)
