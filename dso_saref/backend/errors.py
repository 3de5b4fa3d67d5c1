"""The errors of the reference DSO backend, under the library's root :class:`~dso_saref.errors.DsoSarefError`::

    BackendError
    ├── StorageError    the database cannot be opened, migrated, read or written (wraps the driver's
    │   │               error: sqlite3.Error or psycopg.Error)
    │   └── ConstraintError  a write that a constraint of the schema refused (unique key, foreign key, check)
    ├── Refused         a request the DSO refuses for a reason the requester may know (no valid token,
    │                   zone too small to anonymise, unknown requester); already written to the
    │                   registry of operations when raised
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
    """The DSO refuses a request; ``reason`` says why in words the requester may read."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class NotFound(BackendError, KeyError):
    """An identifier the backend does not know."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class StateError(BackendError):
    """An operation that the current state of the object forbids."""
