"""Checks shared by the per-module message tests: what an invalid payload's problems are, and that a
valid one survives every round trip."""

from __future__ import annotations

from typing import Any

import pytest
from rdflib import Graph

import dso_saref
from dso_saref import PayloadError, Settings


def problems(name: str, payload: Any, settings: Settings | None = None) -> list[tuple[str, str]]:
    """(location, message) of every problem of an invalid payload; fails if the payload is valid."""
    with pytest.raises(PayloadError) as info:
        dso_saref.canonical(name, payload, settings=settings)
    return [(p.location, p.message) for p in info.value.problems]


def locations(name: str, payload: Any) -> list[str]:
    """The JSON paths of every problem of an invalid payload."""
    return [location for location, _ in problems(name, payload)]


def round_trips(name: str, payload: Any) -> Any:
    """The canonical form, after checking that the binding, graph and serialised-graph round trips
    give it back and that the serialised graph holds as many triples."""
    expected = dso_saref.canonical(name, payload)
    assert dso_saref.from_bindings(name, dso_saref.to_bindings(name, payload)) == expected
    graph = dso_saref.saref(name, payload)
    assert dso_saref.unsaref(name, graph) == expected
    for fmt in ("nt", "turtle"):
        again = Graph().parse(data=graph.serialize(format=fmt), format=fmt)
        assert len(again) == len(graph)
        assert dso_saref.unsaref(name, again) == expected
    return expected
