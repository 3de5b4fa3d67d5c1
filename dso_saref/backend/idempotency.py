"""Idempotency keys: a request sent again with the same key is applied once and answered the same.

A client that got no answer (a lost acknowledgement, a timeout, a worker killed mid-request) sends the
same request again with the same key: the ``Idempotency-Key`` header of a REST POST, or any id the
sender keeps for its request. The first time, the handler runs and its answer is kept with the key in
the same transaction as the state change (its transactions become savepoints of it); a retry waits for
a first attempt still under way, then gets the kept answer and changes nothing. The same key with
another request is refused::

    keys = IdempotencyKeys(storage)
    handler = backend.handlers()["flexibility-offers"]
    ack = keys.handle(handler, offers, context, key=request.headers["Idempotency-Key"])
    again = keys.handle(handler, offers, context, key=request.headers["Idempotency-Key"])   # == ack

Keys are per requester (the knowledge base or client the context names). A handler that raises leaves
no trace and the key unused: the request was not applied, so a retry applies it. Use it for requests
whose answer says yes or no (POSTs answered by an acknowledgement), whose refusals are answers.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel

from dso_saref.backend.errors import StateError
from dso_saref.backend.storage import Storage, to_db_time
from dso_saref.exchange import ExchangeContext, Handler

__all__ = ["MAX_KEY_LENGTH", "IdempotencyKeys"]

#: The longest key accepted (a UUID is 36 characters).
MAX_KEY_LENGTH = 255


class IdempotencyKeys:
    """The idempotency keys of one :class:`Storage`."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def handle(self, operation: str, handler: Handler, message: BaseModel, context: ExchangeContext, *,
               answer: type[BaseModel], key: str) -> BaseModel:
        """``handler(message, context)`` of exchange ``operation`` applied at most once for ``key`` of the
        context's requester; a repeat gets the stored answer (read back as ``answer``, the exchange's
        answer model).

        Raises :class:`ValueError` for an empty, over-long or non-printable ``key`` and
        :class:`StateError` for a key already used with another operation or request."""
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise ValueError(f"idempotency key: 1 to {MAX_KEY_LENGTH} printable characters, got {key!r}")
        digest = hashlib.sha256(f"{operation}\n{message.model_dump_json()}".encode()).hexdigest()
        with self._storage.transaction(f"{operation} (idempotent)") as db:
            db.lock("idempotency key", context.requester, key)
            row = db.execute("SELECT operation, digest, answer FROM idempotency_keys WHERE requester = ? AND key = ?",
                             (context.requester, key)).fetchone()
            if row is not None:
                if row["operation"] != operation or row["digest"] != digest:
                    raise StateError(f"idempotency key {key!r} was used for another request ({row['operation']})")
                return answer.model_validate_json(row["answer"])
            given = handler(message, context)
            db.execute("INSERT INTO idempotency_keys (requester, key, operation, digest, answer, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (context.requester, key, operation, digest,
                                                     given.model_dump_json(), to_db_time(context.received_at)))
        return given

    def forget(self, *, before: datetime) -> int:
        """Drop the keys first used before ``before`` (a retry after that is a new request); returns how many."""
        with self._storage.transaction("forget idempotency keys") as db:
            return db.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (to_db_time(before),)).rowcount
