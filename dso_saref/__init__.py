"""dso-saref: the InterConnect DSO Interface's messages as SAREF triples, and back.

Every message of the DSO interface (``../MESSAGES.md``: 33 names) has one declarative description: a
pydantic model for the JSON, a Knowledge Engine graph pattern that says which JSON field feeds which
variable, a SHACL shape and an example. The pivot form is the KE binding set::

    >>> import dso_saref
    >>> payload = {"Hems_ID": "ID1234"}
    >>> dso_saref.to_bindings("hems-voltage-request", payload)
    [{'hems': '<https://dso.example.org/id/hems/ID1234>', 'hems_id': '"ID1234"'}]
    >>> graph = dso_saref.saref("hems-voltage-request", payload)
    >>> dso_saref.unsaref("hems-voltage-request", graph)
    {'Hems_ID': 'ID1234'}
"""

from __future__ import annotations

from typing import Any

from rdflib import Graph

# The models' subpackage is imported first so that the public function ``messages()`` defined below,
# not the subpackage, is the attribute ``dso_saref.messages`` (use ``dso_saref.messages.<module>``
# through ``import ... from`` or importlib, never by attribute access on the package).
import dso_saref.messages as _models  # noqa: F401
from dso_saref.catalog import ASK_ANSWER, POST_REACT, Catalog, Description, Interaction
from dso_saref.catalog import format_rows as _format_rows
from dso_saref.errors import (
    DescriptionError,
    DsoSarefError,
    PatternError,
    PayloadError,
    Problem,
    UnknownMessageError,
)
from dso_saref.report import Report
from dso_saref.serialize import serialize
from dso_saref.terms import PREFIXES as _PREFIXES
from dso_saref.terms import Settings
from dso_saref.validation import validate

__all__ = [
    "ASK_ANSWER",
    "POST_REACT",
    "Catalog",
    "Description",
    "DescriptionError",
    "DsoSarefError",
    "Interaction",
    "PatternError",
    "PayloadError",
    "Problem",
    "Report",
    "Settings",
    "UnknownMessageError",
    "canonical",
    "catalog",
    "from_bindings",
    "messages",
    "saref",
    "serialize",
    "to_bindings",
    "unsaref",
    "validate",
]

__version__ = "0.1.0"

#: The catalog of every message description (loaded on first use).
catalog = Catalog()


def messages() -> list[Description]:
    """Every message description of the catalog, by name."""
    return [catalog[name] for name in sorted(catalog)]


def canonical(name: str, payload: Any, *, settings: Settings | None = None) -> Any:
    """The canonical JSON form of a payload (UTC timestamps, string ids, canonical units, lists as
    sorted sets); raises :class:`UnknownMessageError` or :class:`PayloadError`."""
    return catalog[name].canonical(payload, settings)


def to_bindings(name: str, payload: Any, *, settings: Settings | None = None) -> list[dict[str, str]]:
    """The KE binding set of a JSON payload: one ``{variable: term}`` row per leaf of its nesting,
    terms in KE syntax (``<iri>``, ``"v"^^<datatype>``); raises PayloadError."""
    return _format_rows(catalog[name].term_rows(payload, settings))


def from_bindings(name: str, bindings: Any, *, settings: Settings | None = None) -> Any:
    """The canonical JSON payload of a KE binding set; raises PayloadError naming the binding."""
    description = catalog[name]
    return description.from_term_rows(description.parse_bindings(bindings), settings)


def saref(name: str, payload: Any, *, settings: Settings | None = None) -> Graph:
    """The SAREF RDF graph of a JSON payload (the message's pattern instantiated for every row);
    raises PayloadError."""
    description = catalog[name]
    graph = description.pattern.graph(description.term_rows(payload, settings))
    for prefix, namespace in _PREFIXES.items():
        graph.bind(prefix, namespace, override=True)
    return graph


def unsaref(name: str, graph: Graph, *, settings: Settings | None = None) -> Any:
    """The canonical JSON payload that a SAREF graph holds for the message; raises PayloadError."""
    description = catalog[name]
    rows = description.pattern.match(graph, description.optional, description.rows.level)
    return description.from_term_rows(rows, settings)
