"""What a carrier of exchanges (the Knowledge Engine adapter) tells monitoring: one
:class:`ExchangeRecord` per exchange it served or sent, given to every :data:`ExchangeObserver`.

The standard library only, so that the adapter can import it without reaching the backend. Exchanges
the DSO serves are recorded by its handlers (:func:`~dso_saref.monitoring.observed.observed_handlers`);
exchanges it sends by the adapter, with :func:`sent_record` (see docs/operations.md)::

    started = time.perf_counter()
    exchange = adapter.send("flexibility-needs", needs)
    tell(observers, sent_record(exchange, time.perf_counter() - started))
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["ANSWERED", "FAILED", "INVALID", "OUTCOMES", "REFUSED", "SENT", "SERVED", "UNANSWERED", "ExchangeObserver",
           "ExchangeRecord", "Sent", "sent_record", "tell"]

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
    seconds it took, its request id, the peer (a knowledge-base id), when it did not succeed why
    (``detail``, free text) and, when refused, the kind of refusal (``reason``, a
    :class:`~dso_saref.backend.policy.Code` value such as ``no-consent``)."""

    interaction: str
    side: str
    outcome: str
    seconds: float
    request_id: str | None = None
    peer: str | None = None
    detail: str | None = None
    reason: str | None = None

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


class Sent(Protocol):
    """What an exchange the DSO sent came to (the adapter's ``Exchange``): every peer's answer, and who
    failed and why."""

    name: str
    answers: Mapping[str, object]
    failed: Mapping[str, str]


def sent_record(exchange: Sent, seconds: float, *, request_id: str | None = None) -> ExchangeRecord:
    """The record of an exchange the DSO sent: answered when a peer answered, failed when peers only
    failed, unanswered when nobody answered."""
    outcome = ANSWERED if exchange.answers else FAILED if exchange.failed else UNANSWERED
    detail = "; ".join(f"{peer}: {why}" for peer, why in sorted(exchange.failed.items()))[:500] or None
    peers = ", ".join(sorted(exchange.answers)) or None
    return ExchangeRecord(exchange.name, SENT, outcome, seconds, request_id, peers, detail)
