"""Asking again when the Knowledge Engine cancelled a request because the peer's queue was full.

The KE (1.5.0, ``RestKnowledgeBase``) keeps at most 50 handle requests waiting for a knowledge base's
long poll; past that it cancels the *oldest waiting one*, which its peer never received, and the
asker sees that peer FAILED with ``java.lang.Exception: Handle request queue is full. This oldest
request has been cancelled.`` (HTTP 200). Since the peer never saw the request, sending it to that
peer again cannot do its work twice: :class:`QueueRetry` does so, only to the peers that were
crowded out, after a growing random pause (so a crowd of askers spreads out instead of refilling the
queue at once), a bounded number of times and never past the call's deadline. A failure becomes
latency; a peer still crowded out after the last attempt stays FAILED with the KE's message::

    KnowledgeEngineClient(url, queue_retry=QueueRetry(attempts=9))   # the default
    KnowledgeEngineClient(url, queue_retry=None)                     # the KE's answer as it is
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from dso_saref.ke.errors import KnowledgeEngineError
from dso_saref.ke.results import AskResult, BindingSet, ExchangeInfo, PostResult

__all__ = ["DEFAULT_QUEUE_RETRY", "QUEUE_FULL", "QueueRetry", "crowded_out", "crowded_peers", "send_with_retry"]

log = logging.getLogger(__name__)

#: What the KE's ``failedMessage`` says (after ``java.lang.Exception: ``) when it cancelled a queued request.
QUEUE_FULL = "Handle request queue is full"
#: ... and when, in a race, it could not queue a new request even after cancelling the oldest (also undelivered).
_NOT_QUEUED = "It was not possible to add this request to the knowledge base's queue"

Result = TypeVar("Result", AskResult, PostResult)


@dataclass(frozen=True)
class QueueRetry:
    """How often and how patiently to send again to peers whose queue was full: ``attempts`` sends
    in all (1: never again); before send ``n`` (from 1) a random pause of up to
    ``min(cap, initial * 2 ** (n - 1))`` seconds ("full jitter")."""

    attempts: int = 9
    initial: float = 0.05
    cap: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or self.attempts < 1:
            raise ValueError(f"QueueRetry.attempts must be an integer >= 1, got {self.attempts!r}")
        for name in ("initial", "cap"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"QueueRetry.{name} must be a positive number of seconds, got {value!r}")

    def pause(self, attempt: int, rng: random.Random) -> float:
        """The pause before send ``attempt`` (1 is the first send again)."""
        return rng.uniform(0.0, min(self.cap, self.initial * 2 ** (attempt - 1)))


#: The client's default: up to 8 sends again, pauses from 50 ms growing to 1 s (about 5 s in all at most).
DEFAULT_QUEUE_RETRY = QueueRetry()


def crowded_out(info: ExchangeInfo) -> bool:
    """Whether the KE cancelled this peer's part, undelivered, because the peer's queue was full.
    (Not when it cancelled one of more than 100 *delivered* and unanswered requests: that peer may
    be working on it.)"""
    message = info.failed_message or ""
    return not info.succeeded and (QUEUE_FULL in message or _NOT_QUEUED in message)


def crowded_peers(infos: Sequence[ExchangeInfo]) -> list[str]:
    """The knowledge bases all of whose parts were crowded out (a peer that got any part of the
    exchange is not asked again: it would receive that part twice), in the order of ``infos``."""
    parts: dict[str, list[ExchangeInfo]] = {}
    for info in infos:
        parts.setdefault(info.knowledge_base_id, []).append(info)
    return [kb for kb, mine in parts.items() if all(crowded_out(info) for info in mine)]


def send_with_retry(
    send: Callable[[Sequence[str] | None, float], Result],
    recipients: Sequence[str] | None,
    policy: QueueRetry | None,
    timeout: float,
    *,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Result:
    """``send(recipients, seconds left)``, then again to the crowded-out peers as ``policy`` says,
    within ``timeout`` seconds in all; the outcome merged: every peer's last part, and the union of
    the rows. An error of a later send ends the retries with the outcome so far (logged)."""
    deadline = clock() + timeout
    result = send(recipients, timeout)
    if policy is None:
        return result
    rng = rng or random.Random()
    for attempt in range(1, policy.attempts):
        again = crowded_peers(result.exchange_info)
        if not again:
            break
        pause = policy.pause(attempt, rng)
        if clock() + pause >= deadline:
            break
        sleep(pause)
        try:
            retried = send(again, max(deadline - clock(), 0.001))
        except KnowledgeEngineError as exc:
            log.warning("sending again to %s (queue full) failed: %s", ", ".join(again), exc)
            break
        result = _merge(result, retried, set(again))
    return result


def _merge(first: Result, again: Result, peers: set[str]) -> Result:
    infos = [info for info in first.exchange_info if info.knowledge_base_id not in peers] + list(again.exchange_info)
    if isinstance(first, AskResult) and isinstance(again, AskResult):
        return AskResult(_union(first.binding_set, again.binding_set), infos)
    if isinstance(first, PostResult) and isinstance(again, PostResult):
        return PostResult(_union(first.result_binding_set, again.result_binding_set), infos)
    raise TypeError(f"cannot merge a {type(first).__name__} with a {type(again).__name__}")


def _union(first: BindingSet, again: BindingSet) -> BindingSet:
    """The rows of both, each once (the KE's binding sets are sets)."""
    seen = {tuple(sorted(row.items())) for row in first}
    out = list(first)
    for row in again:
        key = tuple(sorted(row.items()))
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out
