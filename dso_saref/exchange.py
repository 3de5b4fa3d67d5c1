"""The contract between whoever carries an exchange (the Knowledge Engine adapter, the REST API) and
whoever serves it (the reference DSO backend, the reference counterparts): no rdflib, no HTTP.

A server offers one :class:`Handler` per catalog name of an exchange it serves. The carrier checks
the message against the catalog (the request's and the answer's models come from the catalog's
interaction table, not from the server), builds an :class:`ExchangeContext` (who asked, when) and
calls the handler with the typed request, or with a :class:`Query` for a lookup (an ASK whose
request is the answer itself, narrowed by the JSON fields the asker bound). Messages a server starts
are :class:`Outgoing`::

    answer = backend.handlers()["flexibility-offers"](offers, ExchangeContext(sp_kb, now))
    lookup = backend.handlers()["lv-client-reading"](Query(None, {"id": "LV0001"}), context)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

__all__ = ["ANONYMOUS", "ExchangeContext", "Handler", "Outgoing", "Query"]

M = TypeVar("M", bound=BaseModel)

#: The requester of an exchange whose asker the carrier could not name.
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class ExchangeContext:
    """An incoming exchange: the ``requester`` (the knowledge-base id of the asker, or the REST party;
    :data:`ANONYMOUS` when unknown), ``received_at`` (an aware datetime), the catalog name of the
    ``exchange``, the ``channel`` it came through (``ke``, ``rest``, ``local``) and a ``request_id``
    that logs and the registry of operations carry. Raises ValueError for a naive time."""

    requester: str
    received_at: datetime
    exchange: str = ""
    channel: str = "local"
    request_id: str | None = None

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be an aware datetime")


@dataclass(frozen=True)
class Query:
    """An incoming lookup: the typed ``request`` when the asker bound every variable of one (else
    ``None``), the JSON ``fields`` the asker bound, by key (``{"id": "LV0001"}``), which narrow what
    is answered, and the asker's raw ``bindings`` (KE term strings) when it came through the KE."""

    request: BaseModel | None
    fields: Mapping[str, Any] = field(default_factory=dict)
    bindings: tuple[Mapping[str, str], ...] = ()


class Handler(Protocol):
    """Serves one exchange: the typed request (or a :class:`Query` for a lookup) and its context in,
    the typed answer out. What it raises (a refusal, ...) the carrier reports to the asker."""

    def __call__(self, message: Any, context: ExchangeContext, /) -> BaseModel: ...


@dataclass(frozen=True)
class Outgoing(Generic[M]):
    """A message a server sends: to ``recipient`` (a knowledge-base id; ``None``: every party that
    serves it), with a ``reference`` to pass back when recording the answer (plan id, offer id, ...)."""

    message: M
    recipient: str | None = None
    reference: str | None = None
