"""What the Knowledge Engine emulator keeps: knowledge bases, their queued and delivered handle
requests, and each peer's slot in an exchange (state only; the rules live in the emulator)."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dso_saref.ke.covering import Correspondence
from dso_saref.ke.emulator_rules import Bindings, Interaction

__all__ = ["Handle", "KnowledgeBaseState", "Slot", "timestamp"]


@dataclass(eq=False)
class Slot:
    """One peer's part in an exchange: what it was sent and how it went."""

    kb_id: str
    target: Interaction
    correspondence: Correspondence
    """How the target's pattern (POST/REACT: argument) meets the initiator's."""
    argument: Bindings
    start: datetime
    end: datetime | None = None
    status: str | None = None
    result: Bindings = field(default_factory=list)
    failed: str | None = None
    results: Correspondence | None = None
    """POST/REACT: how the target's result pattern meets the initiator's (``None``: its rows are not merged)."""
    waiter: threading.Condition | None = field(default=None, repr=False)
    """The condition its exchange waits on, woken when the outcome is recorded."""

    def finish(self, status: str, result: Bindings | None = None, failed: str | None = None) -> None:
        """Record the outcome (the first one counts) and wake the exchange; call with the lock of
        ``waiter`` held."""
        if self.status is None:
            self.status, self.result, self.failed = status, result or [], failed
            self.end = datetime.now(UTC)
            if self.waiter is not None:
                self.waiter.notify_all()


@dataclass(eq=False)
class Handle:
    """A request for one peer's interaction, queued until the peer's long poll takes it."""

    id: int
    ki: Interaction
    bindings: Bindings
    requester: str
    slot: Slot


@dataclass(eq=False)
class KnowledgeBaseState:
    """A registered knowledge base: its fields, interactions, lease and handle requests."""

    id: str
    name: str
    description: str
    lease: int | None
    level: int
    deadline: float | None = None
    expires: datetime | None = None
    kis: dict[str, Interaction] = field(default_factory=dict)
    queue: deque[Handle] = field(default_factory=deque)
    outstanding: OrderedDict[int, Handle] = field(default_factory=OrderedDict)
    last_handle_id: int = 0
    polling: bool = False
    stopped: bool = False
    work: threading.Condition | None = field(default=None, repr=False)
    """The condition its long poll waits on, woken when work is queued or the knowledge base stops."""
    domain_knowledge: str = ""

    def to_json(self) -> dict[str, object]:
        """The ``SmartConnector`` JSON of ``GET /sc``."""
        out: dict[str, object] = {
            "knowledgeBaseId": self.id,
            "knowledgeBaseName": self.name,
            "knowledgeBaseDescription": self.description,
        }
        if self.lease is not None:
            out["leaseRenewalTime"] = self.lease
        out["reasonerLevel"] = self.level
        return out


def timestamp(moment: datetime) -> str:
    """``moment`` as the KE writes it: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
