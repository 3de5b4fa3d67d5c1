"""What a carrier of exchanges (the Knowledge Engine adapter) tells monitoring: one
:class:`ExchangeRecord` per exchange it served or sent, given to every :data:`ExchangeObserver`.

:func:`observed_handlers` wraps a server's handlers so that each exchange served through them is
recorded (answered, refused by the backend, failed) and runs in the registry's
:func:`~dso_saref.backend.registry.request_scope` of its context's request id (the Knowledge Engine's
handle request id), so the rows it writes to the registry of operations and its log lines carry it::

    metrics = Metrics()
    handlers = observed_handlers(backend.handlers(), [metrics.exchange, exchange_log()])
    adapter = Adapter(client, "dso", kb_id=..., handlers=handlers)

Exchanges the adapter *sends*, and answers it could not deliver, are recorded by the adapter itself
through the same observer (see docs/operations.md).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dso_saref.backend.errors import Refused
from dso_saref.backend.registry import request_scope
from dso_saref.exchange import ExchangeContext, Handler

__all__ = ["ANSWERED", "FAILED", "INVALID", "OUTCOMES", "REFUSED", "SENT", "SERVED", "UNANSWERED", "ExchangeObserver",
           "ExchangeRecord", "observed_handlers", "tell"]

log = logging.getLogger(__name__)

#: The DSO answered the exchange (served), or a peer answered the DSO's (sent).
ANSWERED = "answered"
#: The backend refused it (no consent, unknown requester, ...): a functional refusal, answered as such.
REFUSED = "refused"
#: The handler, the peer or the Knowledge Engine failed.
FAILED = "failed"
#: The bindings (or a peer's answer) were not the catalog's message.
INVALID = "invalid"
#: Nobody answered an exchange the DSO sent.
UNANSWERED = "unanswered"
OUTCOMES = (ANSWERED, REFUSED, FAILED, INVALID, UNANSWERED)

#: An exchange another party started and the DSO served; one the DSO started.
SERVED = "served"
SENT = "sent"


@dataclass(frozen=True)
class ExchangeRecord:
    """One exchange: its ``interaction`` (the catalog name of the exchange, e.g. ``metering-request``),
    the DSO's ``side`` (:data:`SERVED` or :data:`SENT`), its ``outcome`` (one of :data:`OUTCOMES`), the
    seconds it took, its request id, the peer (a knowledge-base id) and, when it did not succeed, why."""

    interaction: str
    side: str
    outcome: str
    seconds: float
    request_id: str | None = None
    peer: str | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.side not in (SERVED, SENT):
            raise ValueError(f"side must be {SERVED} or {SENT}, got {self.side!r}")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {self.outcome!r}")


ExchangeObserver = Callable[[ExchangeRecord], None]
"""Told of every exchange when it is done (must be quick and must not raise)."""


def tell(observers: Sequence[ExchangeObserver], record: ExchangeRecord) -> None:
    """Give ``record`` to every observer; one that raises is logged and the others are still told."""
    for observer in observers:
        try:
            observer(record)
        except Exception:  # an observer's failure must not fail the exchange it observes
            log.exception("exchange observer %r failed", observer)


def observed_handlers(handlers: Mapping[str, Handler],
                      observers: Sequence[ExchangeObserver]) -> dict[str, Handler]:
    """``handlers`` that run in the request scope of their context's request id (a new one when the
    carrier gave none) and tell ``observers`` what came of each exchange they serve."""
    observers = tuple(observers)

    def wrap(name: str, handler: Handler) -> Handler:
        def observed(message: Any, context: ExchangeContext, /) -> Any:
            request_id = str(context.request_id) if context.request_id is not None else uuid.uuid4().hex
            started = time.perf_counter()
            outcome, detail = FAILED, None
            try:
                with request_scope(request_id):
                    answer = handler(message, context)
                outcome = ANSWERED
                return answer
            except Refused as exc:
                outcome, detail = REFUSED, exc.reason
                raise
            except Exception as exc:
                detail = f"{type(exc).__name__}: {exc}"[:500]
                raise
            finally:
                tell(observers, ExchangeRecord(context.exchange or name, SERVED, outcome,
                                               time.perf_counter() - started, request_id,
                                               context.requester, detail))

        return observed

    return {name: wrap(name, handler) for name, handler in handlers.items()}
