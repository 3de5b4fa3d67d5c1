"""What the backend and the Knowledge Engine adapter say to each other: the context of an incoming
exchange, a message the backend wants sent, and a typed handler.

The adapter builds an :class:`ExchangeContext` for each incoming exchange (who asked, when it arrived),
calls the :class:`Handler` registered under the catalog name of the message, and sends back the typed
answer. For DSO-initiated exchanges the backend returns :class:`Outgoing` messages: what to send, to
whom (a knowledge-base id, or ``None`` for every service provider), and a ``reference`` the adapter
hands back with the answer (``backend.record_activation_acknowledgement(out.reference, ack)``)::

    handler = backend.handlers()["flexibility-offers"]
    ack = handler(FlexibilityOffers.model_validate(payload), ExchangeContext("https://sp.example/kb", now))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel

__all__ = ["ExchangeContext", "Handler", "Outgoing"]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ExchangeContext:
    """An incoming exchange: ``requester`` is the knowledge-base id of the asker (it identifies the
    service provider or third party), ``received_at`` when the exchange arrived (aware datetime)."""

    requester: str
    received_at: datetime

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be an aware datetime")


@dataclass(frozen=True)
class Handler:
    """Serves one exchange: takes a ``request`` message, returns an ``answer`` message.

    ``name`` is the catalog name of the request. Calling the handler with a message of another type
    raises :class:`TypeError`; what the function raises (:class:`~dso_saref.backend.errors.Refused`,
    ...) propagates, for the adapter to answer with an error.
    """

    name: str
    request: type[BaseModel]
    answer: type[BaseModel]
    function: Callable[[BaseModel, ExchangeContext], BaseModel]

    def __call__(self, message: BaseModel, context: ExchangeContext) -> BaseModel:
        if not isinstance(message, self.request):
            raise TypeError(f"{self.name} expects {self.request.__name__}, got {type(message).__name__}")
        answer = self.function(message, context)
        if not isinstance(answer, self.answer):
            raise TypeError(f"{self.name} answered {type(answer).__name__}, expected {self.answer.__name__}")
        return answer


@dataclass(frozen=True)
class Outgoing(Generic[M]):
    """A message the DSO sends: to ``recipient`` (a knowledge-base id; ``None``: every service
    provider), with a ``reference`` to pass back when recording the answer (plan id, offer id, ...)."""

    message: M
    recipient: str | None = None
    reference: str | None = None
