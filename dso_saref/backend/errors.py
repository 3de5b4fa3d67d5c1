"""The errors of the reference DSO backend, under the library's root :class:`~dso_saref.errors.DsoSarefError`::

    BackendError
    ├── StorageError    the database cannot be opened, migrated, read or written (wraps the driver's
    │   │               error: sqlite3.Error or psycopg.Error)
    │   └── ConstraintError  a write that a constraint of the schema refused (unique key, foreign key, check)
    ├── Refused         a request the DSO refuses (no agreement, no valid token, data below k, malformed,
    │                   out of bounds): ``reason`` is what the requester may read, ``code`` the kind of
    │                   refusal, ``detail`` what the registry keeps; already registered and logged by
    │                   :mod:`dso_saref.backend.policy` when raised
    ├── NotFound        an identifier the backend does not know (consent, need, HEMS, offer)
    └── StateError      an operation that the current state forbids (grant a refused consent,
                        publish a need twice, shrink a need)

Handlers answer functional rejections of a POST (an offer for an unknown need) with a *rejected*
acknowledgement, not an exception; they raise :class:`Refused` where the answer type has no way to say
no (metering data), so that the adapter replies with an error instead of an empty answer::

    try:
        backend.handlers()["metering-request"](request, context)
    except Refused as exc:
        print(exc.reason)
"""

from __future__ import annotations

from dso_saref.errors import DsoSarefError

__all__ = ["BackendError", "ConstraintError", "NotFound", "Refused", "StateError", "StorageError"]


class BackendError(DsoSarefError):
    """Root of the errors raised by :mod:`dso_saref.backend`."""


class StorageError(BackendError):
    """The backend database cannot be opened, migrated, read or written."""


class ConstraintError(StorageError):
    """A write that a constraint of the schema refused: a key already used, an unknown referenced row,
    a failed check."""


class Refused(BackendError):
    """The DSO refuses a request: ``reason`` says why in words the requester may read (it never
    discloses what the refusal protects), ``code`` is the kind of refusal (a
    :class:`~dso_saref.backend.policy.Code` value, for logs and metrics) and ``detail`` the DSO's own
    account of it, kept in the registry of operations (``reason`` when not given)."""

    def __init__(self, reason: str, *, code: str = "refused", detail: str | None = None) -> None:
        self.reason = reason
        self.code = code
        self.detail = reason if detail is None else detail
        super().__init__(reason)


class NotFound(BackendError, KeyError):
    """An identifier the backend does not know."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class StateError(BackendError):
    """An operation that the current state of the object forbids."""
