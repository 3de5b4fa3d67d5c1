"""RDF documents (Turtle, N-Triples, JSON-LD) read into rdflib graphs, safely.

The one reader of RDF input for every entry point (``unsaref``, ``validate``, the CLI): a syntax
error becomes :class:`RdfSyntaxError` with the parser's first line, and a JSON-LD document may only
carry inline contexts: a context given by URL (``http:``, ``file:``, ``@import``) is refused, never
fetched, so reading a peer's document cannot make the library call out or read local files::

    graph = parse_rdf(text, "turtle")
"""

from __future__ import annotations

import json
from typing import Any

from rdflib import Graph

from dso_saref.errors import DsoSarefError

__all__ = ["RDF_FORMATS", "RdfSyntaxError", "parse_rdf"]

#: RDF document formats and their rdflib parser names.
RDF_FORMATS = {"turtle": "turtle", "nt": "nt", "json-ld": "json-ld"}


class RdfSyntaxError(DsoSarefError, ValueError):
    """An RDF document that cannot be read in its format (the message says where and why)."""


def parse_rdf(text: str | bytes, format: str) -> Graph:
    """The graph of an RDF document in ``format`` (``turtle``, ``nt``, ``json-ld``); raises
    :class:`RdfSyntaxError`, or ValueError for an unknown format."""
    if format not in RDF_FORMATS:
        raise ValueError(f"format must be one of {', '.join(RDF_FORMATS)}, not {format!r}")
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise RdfSyntaxError(f"not UTF-8: byte {exc.start} cannot be decoded") from None
    if format == "json-ld":
        _check_contexts(text)
    graph = Graph()
    try:
        graph.parse(data=text, format=RDF_FORMATS[format])
    except RecursionError:
        raise RdfSyntaxError(f"not valid {format}: nested too deeply") from None
    except Exception as exc:  # rdflib's parsers raise many unrelated exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RdfSyntaxError(f"not valid {format}: {first[:200]}") from None
    return graph


def _check_contexts(text: str) -> None:
    """Refuse a JSON-LD document whose contexts are not all inline objects."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RdfSyntaxError(f"not valid json-ld: {exc}") from None
    where = _remote_context(document, "$")
    if where is not None:
        raise RdfSyntaxError(f"not accepted json-ld: {where} loads a context from elsewhere; only inline "
                             "@context objects are read (nothing is fetched)")


def _remote_context(node: Any, path: str) -> str | None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context" and not _inline(value):
                return f"{path}['@context']"
            if key == "@import":
                return f"{path}['@import']"
            found = _remote_context(value, f"{path}['{key}']")
            if found is not None:
                return found
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found = _remote_context(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _inline(context: Any) -> bool:
    if context is None or isinstance(context, dict):
        return context is None or all(k != "@import" for k in context)
    if isinstance(context, list):
        return all(_inline(c) for c in context)
    return False
