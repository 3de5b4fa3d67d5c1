"""The triples to validate, in whichever form an engine reads them: built once, converted lazily.

A payload's triples come as its binding :class:`~dso_saref.table.Table` (columns, nothing
materialised); a peer's RDF as an rdflib ``Graph`` or as document text. pySHACL reads an rdflib graph,
the compiled engine its column :class:`~.engines.compiled.data.Data`, the Rust engine N-Triples text;
each is made on first request from what there is, the cheapest way::

    triples = Triples.of_document(text, "nt")   # N-Triples read straight into columns
    triples.data()                               # no rdflib graph is built for the compiled engine
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from rdflib import Graph

from dso_saref.graphs import RDF_FORMATS, RdfSyntaxError, parse_rdf

if TYPE_CHECKING:
    from dso_saref.table import Table
    from dso_saref.validation.engines.compiled.data import Data

__all__ = ["Triples"]


class Triples:
    """One data graph to validate; use :meth:`of_table`, :meth:`of_graph` or :meth:`of_document`."""

    def __init__(self, *, table: Table | None = None, graph: Graph | None = None,
                 text: str | None = None, format: str | None = None) -> None:
        self.table = table
        self._graph = graph
        self.text = text
        self.format = format

    @classmethod
    def of_table(cls, table: Table) -> Triples:
        """The triples of a payload's binding table."""
        return cls(table=table)

    @classmethod
    def of_graph(cls, graph: Graph) -> Triples:
        """The triples of an rdflib graph (not modified by validation)."""
        return cls(graph=graph)

    @classmethod
    def of_document(cls, text: str | bytes, format: str) -> Triples:
        """The triples of an RDF document (``turtle``, ``nt``, ``json-ld``); nothing is parsed until
        an engine asks. Raises ValueError for another format."""
        if format not in RDF_FORMATS:
            raise ValueError(f"format must be one of {', '.join(RDF_FORMATS)}, not {format!r}")
        if isinstance(text, bytes | bytearray):
            try:
                text = bytes(text).decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise RdfSyntaxError(f"not UTF-8: byte {exc.start} cannot be decoded") from None
        return cls(text=text.removeprefix("\ufeff"), format=format)

    @property
    def is_payload(self) -> bool:
        """Whether these are a payload's own triples (JSON input), not a peer's graph."""
        return self.table is not None

    def graph(self) -> Graph:
        """An rdflib graph of the triples (parsed or built once); raises :class:`~dso_saref.graphs.RdfSyntaxError`."""
        if self._graph is None:
            if self.table is not None:
                self._graph = self.table.graph()
            else:
                self._graph = parse_rdf(self.text or "", self.format or "nt")
        return self._graph

    def data(self) -> Data:
        """The compiled engine's columns of the triples; raises :class:`~dso_saref.graphs.RdfSyntaxError`."""
        return self._data

    @cached_property
    def _data(self) -> Data:
        from dso_saref.validation.engines.compiled.data import Data

        if self.table is not None:
            return Data.from_table(self.table)
        if self._graph is None and self.format == "nt":
            found = Data.from_ntriples(self.text or "")
            if found is not None:
                return found
        return Data.from_graph(self.graph())

    def ntriples(self) -> str:
        """The triples as an N-Triples document."""
        if self.table is not None:
            return self.table.ntriples()
        if self.format == "nt" and self._graph is None:
            return self.text or ""
        return self.graph().serialize(format="nt")

