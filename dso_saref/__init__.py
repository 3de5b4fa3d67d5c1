"""dso-saref: the InterConnect DSO Interface's messages as SAREF triples, and back.

Every message of the DSO interface (``docs/messages.md``: 33 names) has one declarative description: a
pydantic model for the JSON, a Knowledge Engine graph pattern that says which JSON field feeds which
variable, a SHACL shape and an example. The pivot form is the KE binding set::

    >>> import dso_saref
    >>> payload = {"Hems_ID": "ID1234"}
    >>> dso_saref.to_bindings("hems-voltage-request", payload)
    {'hems-voltage-request': [{'hems': '<https://dso.example.org/id/hems/ID1234>', 'hems_id': '"ID1234"'}]}
    >>> graph = dso_saref.saref("hems-voltage-request", payload)
    >>> dso_saref.unsaref("hems-voltage-request", graph)
    {'Hems_ID': 'ID1234'}

Payloads may be given as JSON values, or as JSON documents (``str`` or ``bytes``). Every function
takes them through one path: the message's pydantic model, then its binding table
(:mod:`dso_saref.table`), from which the bindings, the triples and the validation report are made.
Validation (and pySHACL with it) is loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The models' subpackage is imported first so that the public function ``messages()`` defined below,
# not the subpackage, is the attribute ``dso_saref.messages`` (use ``dso_saref.messages.<module>``
# through ``import ... from`` or importlib, never by attribute access on the package).
import dso_saref.messages as _models  # noqa: F401
from dso_saref.catalog import ASK_ANSWER, DEFAULT, POST_REACT, Catalog, Description, Interaction
from dso_saref.errors import (
    DescriptionError,
    DsoSarefError,
    PatternError,
    PayloadError,
    Problem,
    UnknownMessageError,
)
from dso_saref.table import FORMATS
from dso_saref.terms import Settings

if TYPE_CHECKING:
    from rdflib import Graph

    from dso_saref.ke.match import match
    from dso_saref.validation import Report, Violation

__all__ = [
    "ASK_ANSWER",
    "FORMATS",
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
    "Violation",
    "canonical",
    "catalog",
    "from_bindings",
    "json_schema",
    "match",
    "messages",
    "saref",
    "serialize",
    "to_bindings",
    "unsaref",
    "validate",
]

__version__ = "0.2.0"

#: The catalog of every message description (loaded on first use).
catalog = DEFAULT

_LAZY = {"Report": "dso_saref.validation", "Violation": "dso_saref.validation", "validate": "dso_saref.validation",
         "match": "dso_saref.ke.match"}


def __getattr__(name: str) -> Any:
    """Validation's names and ``match`` (a peer's KE pattern against ours, :mod:`dso_saref.ke.match`),
    imported on first use (``import dso_saref`` does not load pySHACL nor the KE modules)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dso_saref' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def messages() -> list[Description]:
    """Every message description of the catalog, by name."""
    return [catalog[name] for name in sorted(catalog)]


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of message ``name``'s payload, from its pydantic model (keys as
    on the wire, the schema of what is accepted): for checking a payload before sending it. Rules
    across fields and the SHACL shape are not in it (:func:`validate` checks them); raises
    UnknownMessageError."""
    description = catalog[name]
    schema = description.model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": description.name,
            "description": description.description}


def canonical(name: str, payload: Any, *, settings: Settings | None = None) -> Any:
    """The canonical JSON form of a payload (UTC timestamps, string ids, canonical units, lists as
    sorted sets); raises :class:`UnknownMessageError` or :class:`PayloadError`."""
    return catalog[name].canonical(payload, settings)


def to_bindings(name: str, payload: Any, *, settings: Settings | None = None) -> dict[str, list[dict[str, str]]]:
    """The KE binding sets of a payload, by part of the message's pattern (``NAME`` for the core,
    ``NAME.PART`` for each group of optional values that the payload has): ``{variable: term}`` rows,
    terms in KE syntax (``<iri>``, ``"v"^^<datatype>``), each row once, every variable bound; raises
    PayloadError."""
    return catalog[name].table(payload, settings).bindings()


def from_bindings(name: str, bindings: Any, *, settings: Settings | None = None) -> Any:
    """The canonical JSON payload of KE binding sets (as :func:`to_bindings` gives them, or the core's
    binding set alone); raises PayloadError naming the binding."""
    description = catalog[name]
    return description.from_term_rows(description.parse_bindings(bindings), settings)


def saref(name: str, payload: Any, *, settings: Settings | None = None) -> Graph:
    """The SAREF RDF graph of a payload (the message's pattern instantiated for every row);
    raises PayloadError."""
    return catalog[name].table(payload, settings).graph()


def serialize(name: str, payload: Any, format: str = "nt", *, settings: Settings | None = None) -> str:
    """The RDF text (``nt``, ``turtle``, ``json-ld``) or KE binding set (``bindings``, JSON) of a
    payload: the triples of :func:`saref`, without an rdflib graph for ``nt`` and ``bindings``.
    Raises UnknownMessageError, PayloadError, or ValueError for an unknown format."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    return catalog[name].table(payload, settings).serialize(format)


def unsaref(name: str, graph: Graph | str | bytes, *, format: str = "turtle", settings: Settings | None = None) -> Any:
    """The canonical JSON payload that a SAREF graph holds for the message, read by the message's
    pattern whatever base its IRIs were minted under: an rdflib graph, or RDF text in ``format``
    (``turtle``, which reads N-Triples too, ``nt``, ``json-ld``). A message whose empty form is valid
    (an empty list of readings) reads as that from a graph that holds none of its items. Raises
    PayloadError (rule ``absent`` when nothing in the graph matches the message's pattern and the
    message cannot be empty), RdfSyntaxError for text that does not parse."""
    from rdflib import Graph

    description = catalog[name]
    if not isinstance(graph, Graph):
        from dso_saref.graphs import parse_rdf

        graph = parse_rdf(graph, format)
    rows = description.graph_rows(graph)
    if not rows:  # a message with nothing to say (an empty list) is an empty graph; others are absent
        try:
            return description.from_term_rows(rows, settings)
        except PayloadError:
            raise PayloadError(name, [Problem("<graph>", f"the graph holds no {name}: nothing in its "
                                                        f"{len(graph)} triples matches the message's pattern",
                                              "absent")]) from None
    return description.from_term_rows(rows, settings)


if TYPE_CHECKING:  # the lazily imported names, for type checkers
    from dso_saref.validation import validate
