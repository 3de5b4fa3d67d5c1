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

__all__ = ["ANONYMOUS", "ExchangeContext", "Handler", "Outgoing"]

M = TypeVar("M", bound=BaseModel)


#: The requester of an exchange whose asker the Knowledge Engine did not name.
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class ExchangeContext:
    """An incoming exchange: ``requester`` is the knowledge-base id of the asker (it identifies the
    service provider or third party), ``received_at`` when the exchange arrived (aware datetime)."""

    requester: str
    received_at: datetime

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be an aware datetime")

    @classmethod
    def of(cls, context: object) -> ExchangeContext:
        """This context, or one read from any object with ``requester`` (``None``: :data:`ANONYMOUS`)
        and ``received_at`` attributes, such as the KE adapter's own context."""
        if isinstance(context, cls):
            return context
        requester = getattr(context, "requester", None)
        return cls(requester or ANONYMOUS, getattr(context, "received_at"))  # noqa: B009


@dataclass(frozen=True)
class Handler:
    """Serves one exchange: takes a ``request`` message, returns an ``answer`` message.

    ``name`` is the catalog name of the request. The message may also come wrapped, as the KE
    adapter's ASK ``Query`` (an object with a ``request`` attribute): its typed request is used, and
    when the asker bound too little for one (``request`` is ``None``) a lookup handler (``open_query``)
    answers everything the requester may see, for the adapter to filter by the asker's bindings.
    Anything else raises :class:`TypeError`; what the function raises
    (:class:`~dso_saref.backend.errors.Refused`, ...) propagates, for the adapter to answer with an
    error. The context may be any object with ``requester`` and ``received_at``.
    """

    name: str
    request: type[BaseModel]
    answer: type[BaseModel]
    function: Callable[[BaseModel, ExchangeContext], BaseModel]
    open_query: bool = False

    def __call__(self, message: object, context: object) -> BaseModel:
        if not isinstance(message, self.request) and hasattr(message, "request"):
            inner = message.request
            if inner is None and self.open_query:
                # the adapter's Query: what the asker bound, by JSON key, narrows the lookup
                fields = getattr(message, "fields", None) or {}
                known = {k: v for k, v in fields.items() if k in self.request.model_fields}
                inner = self.request.model_validate(known)
            message = inner
        if not isinstance(message, self.request):
            raise TypeError(f"{self.name} expects {self.request.__name__}, got {type(message).__name__}")
        answer = self.function(message, ExchangeContext.of(context))
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
