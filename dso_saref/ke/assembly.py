"""Messages in parts across Knowledge Engine exchanges: what a knowledge base keeps between them.

A message whose pattern has parts (docs/patterns.md: the optional values, each group a pattern the
data fills completely) travels as several KE exchanges. The sender POSTs the parts of its message
first, then the core; the reactor keeps the parts that arrive (:meth:`Assembly.arrived`) and joins
them to the core when it comes (:meth:`Assembly.take`). An answer's parts are fetched after its core:
the answerer keeps each answer it gave (:meth:`Assembly.served`) and serves the parts' rows from it
(:meth:`Assembly.part_rows`) to the asker that got the core, counting the fetches still to come
(:meth:`Assembly.awaited`: a closing adapter waits for them). Both stores are bounded (per key and in
time) and safe to share between the threads that serve exchanges::

    assembly = Assembly()
    assembly.arrived(requester, "fault-notification", "fault-notification.timestamp", rows)
    parts = assembly.take(requester, "fault-notification")      # {"fault-notification.timestamp": rows}
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Assembly"]

Rows = list[dict[str, str]]


@dataclass
class _Arriving:
    parts: dict[str, Rows]
    at: float


@dataclass
class _Served:
    at: float
    bindings: Mapping[str, Rows]
    expected: set[str]


class Assembly:
    """The parts that arrived before their core, and the answers served, per asker.

    ``ttl``: seconds an arrived part or a served answer is kept; ``per_asker``: answers kept per asker
    and message; ``limit``: askers (with their message) kept at most (the oldest go first).
    """

    def __init__(self, *, ttl: float = 300.0, per_asker: int = 8, limit: int = 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.per_asker = per_asker
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._arriving: OrderedDict[tuple[str, str], _Arriving] = OrderedDict()
        self._served: OrderedDict[tuple[str, str], list[_Served]] = OrderedDict()

    def arrived(self, asker: str, exchange: str, part: str, rows: Sequence[Mapping[str, str]]) -> None:
        """Keep the rows of a part of ``exchange``'s message that ``asker`` sent before the core."""
        with self._lock:
            self._expire()
            key = (asker, exchange)
            entry = self._arriving.pop(key, None) or _Arriving({}, self._clock())
            entry.parts.setdefault(part, []).extend(dict(row) for row in rows)
            entry.at = self._clock()
            self._arriving[key] = entry
            while len(self._arriving) > self.limit:
                self._arriving.popitem(last=False)

    def take(self, asker: str, exchange: str) -> dict[str, Rows]:
        """The parts ``asker`` sent for ``exchange`` since its last core (forgotten once taken)."""
        with self._lock:
            self._expire()
            entry = self._arriving.pop((asker, exchange), None)
        return entry.parts if entry is not None else {}

    def served(self, asker: str, message: str, bindings: Mapping[str, Rows], expected: Iterable[str] = ()) -> None:
        """Keep the binding sets (by part key) of an answer given to ``asker``, whose parts ``expected``
        the asker will fetch."""
        with self._lock:
            self._expire()
            key = (asker, message)
            answers = self._served.pop(key, [])
            answers.append(_Served(self._clock(), bindings, set(expected)))
            self._served[key] = answers[-self.per_asker:]
            while len(self._served) > self.limit:
                self._served.popitem(last=False)

    def part_rows(self, asker: str, message: str, part: str, anchors: Sequence[Mapping[str, str]]) -> Rows:
        """The rows of ``part`` in the latest answer given to ``asker`` whose core has one of
        ``anchors`` (the asker binds the nodes of the core rows it got; no binding: the latest answer)."""
        with self._lock:
            self._expire()
            for answer in reversed(self._served.get((asker, message), [])):
                bindings = answer.bindings
                if anchors and not any(all(row.get(k) == v for k, v in bound.items() if k in row)
                                       for bound in anchors for row in bindings.get(message, [])):
                    continue
                answer.expected.discard(part)
                return [dict(row) for row in bindings.get(part, [])
                        if not anchors or any(all(row.get(k) == v for k, v in bound.items()) for bound in anchors)]
        return []

    def awaited(self, within: float) -> int:
        """How many part fetches are still to come for answers served in the last ``within`` seconds."""
        horizon = self._clock() - within
        with self._lock:
            return sum(len(a.expected) for answers in self._served.values() for a in answers if a.at >= horizon)

    def _expire(self) -> None:
        horizon = self._clock() - self.ttl
        for key in [k for k, entry in self._arriving.items() if entry.at < horizon]:
            del self._arriving[key]
        for key in list(self._served):
            kept = [answer for answer in self._served[key] if answer.at >= horizon]
            if kept:
                self._served[key] = kept
            else:
                del self._served[key]
