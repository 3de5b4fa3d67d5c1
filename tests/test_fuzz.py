"""Hostile values at every JSON path of every example (issue 15, item 12): never a traceback.

Each of :data:`HOSTILE`'s values replaces, in turn, the value at each path of each example (every
object member and array element, at every depth), and the payload goes through the three public
entry points a pilot calls: ``to_bindings``, ``serialize`` and ``validate`` (the payload as a value,
and as JSON text). The only outcomes allowed are a result, a :class:`~dso_saref.PayloadError` (or the
reader's :class:`~dso_saref.payloads.DocumentError`) naming where the problem is, and, from
``validate``, a report; anything else is a defect. The cases are enumerated, not drawn at random, so
every run tries the same ones; the fast subset (``-m "not slow"``) runs a fixed sample of them.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

import dso_saref
from dso_saref.payloads import DocumentError
from tests.conftest import NAMES

DEEP: Any = 0
for _ in range(990):
    DEEP = [DEEP]

#: 28 values an attacker or a broken peer sends.
HOSTILE: list[Any] = [
    None, True, False, 0, -1, 2**63, -(2**63) - 1, 10**5000 + 1, 1e308, -1e308, math.inf, math.nan, -0.0,
    "", " ", "\ud800", "\x00", "x" * 100_000, "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
    "<urn:a> <urn:b> <urn:c> .", '"\\', "../..", "1e999", "NaN", {}, [], DEEP,
]
ALLOWED = (dso_saref.PayloadError, DocumentError)
SAMPLE = 23  # the fast subset runs every 23rd case (a prime: it visits every value and every message)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a JSON value (object members and array elements), the root excluded."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield (*path, i)
            yield from _paths(item, (*path, i))


def _with(payload: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(payload)
    target = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


def _cases() -> list[tuple[str, tuple[Any, ...], int]]:
    return [(name, path, i) for name in NAMES for path in _paths(dso_saref.catalog[name].example())
            for i in range(len(HOSTILE))]


CASES = _cases()


def _run(name: str, path: tuple[Any, ...], index: int) -> None:
    payload = _with(dso_saref.catalog[name].example(), path, HOSTILE[index])
    for call in (lambda: dso_saref.to_bindings(name, payload), lambda: dso_saref.serialize(name, payload)):
        try:
            call()
        except ALLOWED as error:
            assert str(error), "an error says what is wrong"
    report = dso_saref.validate(name, payload)
    assert report.conforms or all(e.location.startswith("$") for e in report.errors), report.errors
    try:
        text = json.dumps(payload)
    except (ValueError, RecursionError):
        return  # no JSON text of it (json.dumps refuses it too)
    report = dso_saref.validate(name, text)
    assert report.conforms or report.errors


def _id(case: tuple[str, tuple[Any, ...], int]) -> str:
    name, path, index = case
    return f"{name}:{'/'.join(map(str, path))}:{index}"


@pytest.mark.parametrize("case", CASES[::SAMPLE], ids=_id)
def test_a_sample_of_hostile_values_gives_results_or_clear_errors(case: tuple[str, tuple[Any, ...], int]) -> None:
    _run(*case)


@pytest.mark.slow
def test_every_hostile_value_at_every_path_of_every_example() -> None:
    unexpected = []
    for case in CASES:
        try:
            _run(*case)
        except Exception as error:
            unexpected.append(f"{_id(case)}: {type(error).__name__}: {str(error)[:200]}")
    assert unexpected == [], f"{len(unexpected)} of {len(CASES)}:\n" + "\n".join(unexpected[:40])


def test_the_fuzz_covers_every_message_and_value() -> None:
    sample = CASES[::SAMPLE]
    assert {name for name, _, _ in sample} == set(NAMES)
    assert {i for _, _, i in sample} == set(range(len(HOSTILE)))
    assert len(HOSTILE) == 28
