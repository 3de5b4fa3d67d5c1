"""The registry of operations (spec 3.5, Table 10 "registry of personal data operations", Table 11
"usage log"): who did what with whose data, when, under which token, with which outcome and why.

Every access to personal or aggregated data, every refusal, every consent decision and every
functional rejection is one row. A row is written in the same transaction as the state change it
describes, or, for a refusal (which changes nothing), in a transaction of its own that commits before
the refusal is raised, so a refusal is never lost::

    registry = OperationsRegistry(storage)
    registry.log(at=now, actor="SP001", operation="metering-request", subject="U0001",
                 token=token, outcome=Outcome.REFUSED, reason="token expired")
    [op.reason for op in registry.entries(subject="U0001", outcome=Outcome.REFUSED)]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dso_saref.backend.storage import Storage, Transaction, from_db_time, to_db_time

__all__ = ["Operation", "OperationsRegistry", "Outcome"]


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


class OperationsRegistry:
    """Writes and reads the registry of operations of one :class:`Storage`."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @staticmethod
    def write(db: Transaction, *, at: datetime, actor: str, operation: str, subject: str = "",
              token: str | None = None, outcome: Outcome, reason: str = "") -> None:
        """Append a row inside the caller's transaction ``db`` (committed with the state change)."""
        db.execute("INSERT INTO operations (at, actor, operation, subject, token, outcome, reason) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (to_db_time(at), actor, operation, subject, token, Outcome(outcome).value, reason))

    def log(self, *, at: datetime, actor: str, operation: str, subject: str = "", token: str | None = None,
            outcome: Outcome, reason: str = "") -> None:
        """Append a row in a transaction of its own (used for refusals, which change nothing else)."""
        with self._storage.transaction(f"log {operation}") as db:
            self.write(db, at=at, actor=actor, operation=operation, subject=subject, token=token,
                       outcome=outcome, reason=reason)

    def entries(self, *, subject: str | None = None, actor: str | None = None, operation: str | None = None,
                outcome: Outcome | None = None, token: str | None = None) -> list[Operation]:
        """The rows matching every given filter, oldest first."""
        clauses, params = [], []
        for column, value in (("subject", subject), ("actor", actor), ("operation", operation),
                              ("outcome", outcome.value if outcome is not None else None), ("token", token)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._storage.query(f"SELECT * FROM operations{where} ORDER BY id", params)
        return [Operation(r["id"], from_db_time(r["at"]), r["actor"], r["operation"], r["subject"], r["token"],
                          Outcome(r["outcome"]), r["reason"]) for r in rows]
