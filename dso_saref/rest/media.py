"""Media types of the REST API: which representation a client accepts, which one a body is in, and the
answer written in it through the catalog (JSON, or SAREF RDF from the message's binding table).

Responses are JSON by default; ``Accept: text/turtle``, ``application/n-triples`` or
``application/ld+json`` gives the same answer as SAREF RDF. Request bodies are JSON, or RDF in one of
those types (read back to the message through its graph pattern)::

    fmt = negotiate("text/turtle;q=0.9, application/json;q=0.5")   # 'turtle'
    body, media_type = render(answer_items, catalog["flexibility-needs"], fmt, settings, single=True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel

from dso_saref.terms import PREFIXES, Settings

if TYPE_CHECKING:
    from dso_saref.catalog import Description

__all__ = ["BODY_TYPES", "JSON", "PROBLEM", "RDF_TYPES", "NotAcceptable", "body_format", "negotiate", "render"]

JSON = "application/json"
PROBLEM = "application/problem+json"
#: RDF media types and the catalog's serialization format of each.
RDF_TYPES = {"text/turtle": "turtle", "application/n-triples": "nt", "application/ld+json": "json-ld"}
#: Media types a request body may have, and how each is read.
BODY_TYPES = {JSON: "json", **RDF_TYPES}
_OFFERED = (JSON, *RDF_TYPES)  # in order of preference when a client accepts several equally


class NotAcceptable(ValueError):
    """The client accepts none of the media types the API writes."""


def _media_ranges(header: str) -> list[tuple[str, float]]:
    out = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
                q = q if 0.0 <= q <= 1.0 else 0.0
        out.append((media, q))
    return out


def _quality(offered: str, ranges: Sequence[tuple[str, float]]) -> float:
    """The q of the most specific range matching ``offered`` (0 when none does)."""
    kind = offered.split("/")[0]
    best, specificity = 0.0, -1
    for media, q in ranges:
        level = 2 if media == offered else 1 if media == f"{kind}/*" else 0 if media == "*/*" else -1
        if level > specificity:
            best, specificity = q, level
    return best if specificity >= 0 else 0.0


def negotiate(accept: str | None) -> str:
    """The format to answer in (``json``, ``turtle``, ``nt``, ``json-ld``) for an ``Accept`` header
    (absent: JSON); raises :class:`NotAcceptable`."""
    if not accept or not accept.strip():
        return "json"
    ranges = _media_ranges(accept)
    scored = [(_quality(media, ranges), -i, media) for i, media in enumerate(_OFFERED)]
    q, _, media = max(scored)
    if q <= 0:
        raise NotAcceptable(f"this API writes {', '.join(_OFFERED)}; the request accepts none of them ({accept[:200]})")
    return "json" if media == JSON else RDF_TYPES[media]


def body_format(content_type: str | None) -> str | None:
    """How to read a body of ``content_type`` (``json`` or an RDF format), or ``None`` for a type the
    API does not read. A ``charset`` other than UTF-8 is not read either."""
    if not content_type:
        return None
    media, *params = [p.strip() for p in content_type.split(";")]
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return None
    return BODY_TYPES.get(media.lower())


def media_type(fmt: str) -> str:
    """The media type of a response format."""
    return JSON if fmt == "json" else next(m for m, f in RDF_TYPES.items() if f == fmt)


def render(items: Sequence[BaseModel], description: Description, fmt: str, settings: Settings, *,
           single: bool) -> tuple[bytes, str]:
    """The body and media type of an answer: ``items`` (one message, or a lookup's instances when not
    ``single``) as canonical JSON, or as the SAREF RDF of their binding tables in ``fmt``."""
    if fmt == "json":  # pydantic writes the JSON (keys as on the wire, absent optionals left out)
        if single:
            return items[0].model_dump_json(by_alias=True, exclude_none=True).encode("utf-8"), JSON
        parts = [item.model_dump_json(by_alias=True, exclude_none=True) for item in items]
        return ("[" + ",".join(parts) + "]").encode("utf-8"), JSON
    tables = [description.table_of(item, settings) for item in items]
    if fmt == "nt":
        return "".join(t.ntriples() for t in tables).encode("utf-8"), media_type(fmt)
    if len(tables) == 1:
        return tables[0].serialize(fmt).encode("utf-8"), media_type(fmt)
    from rdflib import Graph

    graph = Graph()
    for table in tables:
        graph += table.graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True)
    return graph.serialize(format=fmt).encode("utf-8"), media_type(fmt)
