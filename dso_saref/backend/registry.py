"""The registry of operations (spec 3.5, Table 10 "registry of personal data operations", Table 11
"usage log"): who did what with whose data, when, under which token, with which outcome and why.

Every access to personal or aggregated data, every refusal, every consent decision and every
functional rejection is one row. A row is written in the same transaction as the state change it
describes, or, for a refusal (which changes nothing), in a transaction of its own that commits before
the refusal is raised, so a refusal is never lost. A carrier that names its requests (the REST API's
request id) wraps the work of one request in :func:`request_scope`: every row written meanwhile in that
context carries the request id::

    registry = OperationsRegistry(storage)
    registry.log(at=now, actor="SP001", operation="metering-request", subject="U0001",
                 token=token, outcome=Outcome.REFUSED, reason="token expired")
    [op.reason for op in registry.entries(subject="U0001", outcome=Outcome.REFUSED)]
    with request_scope("3f9c..."):
        backend.handlers()["metering-request"](request, context)      # its rows carry "3f9c..."
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dso_saref.backend.storage import Storage, Transaction, from_db_time, to_db_time

__all__ = ["Operation", "OperationsRegistry", "Outcome", "current_request_id", "request_scope"]

_REQUEST_ID: ContextVar[str | None] = ContextVar("dso_saref_request_id", default=None)


@contextmanager
def request_scope(request_id: str | None) -> Iterator[None]:
    """Within the block (in this thread or task), rows written to the registry carry ``request_id``."""
    token = _REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        _REQUEST_ID.reset(token)


def current_request_id() -> str | None:
    """The request id of the enclosing :func:`request_scope`, or ``None``."""
    return _REQUEST_ID.get()


class Outcome(StrEnum):
    """What came of an operation."""

    SERVED = "served"          # data was given out
    REFUSED = "refused"        # a request was turned down (access, anonymity, unknown requester)
    ACCEPTED = "accepted"      # a POST was acknowledged as accepted
    REJECTED = "rejected"      # a POST was acknowledged as rejected
    PENDING = "pending"        # waiting for someone else (the end user's consent)
    GRANTED = "granted"        # the end user granted a consent
    REVOKED = "revoked"        # a consent was revoked
    SENT = "sent"              # the DSO sent a message (needs, plan, settings, offer)
    RECORDED = "recorded"      # the DSO stored an answer it received


@dataclass(frozen=True)
class Operation:
    """One row of the registry of operations."""

    id: int
    at: datetime
    actor: str
    operation: str
    subject: str
    token: str | None
    outcome: Outcome
    reason: str
    request_id: str | None = None


class OperationsRegistry:
    """Writes and reads the registry of operations of one :class:`Storage`."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @staticmethod
    def write(db: Transaction, *, at: datetime, actor: str, operation: str, subject: str = "",
              token: str | None = None, outcome: Outcome, reason: str = "", request_id: str | None = None) -> None:
        """Append a row inside the caller's transaction ``db`` (committed with the state change);
        ``request_id`` defaults to the enclosing :func:`request_scope`'s."""
        db.execute("INSERT INTO operations (at, actor, operation, subject, token, outcome, reason, request_id) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (to_db_time(at), actor, operation, subject, token, Outcome(outcome).value, reason,
                    request_id if request_id is not None else _REQUEST_ID.get()))

    def log(self, *, at: datetime, actor: str, operation: str, subject: str = "", token: str | None = None,
            outcome: Outcome, reason: str = "", request_id: str | None = None) -> None:
        """Append a row in a transaction of its own (used for refusals, which change nothing else)."""
        with self._storage.transaction(f"log {operation}") as db:
            self.write(db, at=at, actor=actor, operation=operation, subject=subject, token=token,
                       outcome=outcome, reason=reason, request_id=request_id)

    def entries(self, *, subject: str | None = None, actor: str | None = None, operation: str | None = None,
                outcome: Outcome | None = None, token: str | None = None,
                request_id: str | None = None) -> list[Operation]:
        """The rows matching every given filter, oldest first."""
        clauses, params = [], []
        for column, value in (("subject", subject), ("actor", actor), ("operation", operation),
                              ("outcome", outcome.value if outcome is not None else None), ("token", token),
                              ("request_id", request_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._storage.query(f"SELECT * FROM operations{where} ORDER BY id", params)
        return [Operation(r["id"], from_db_time(r["at"]), r["actor"], r["operation"], r["subject"], r["token"],
                          Outcome(r["outcome"]), r["reason"], r["request_id"]) for r in rows]
