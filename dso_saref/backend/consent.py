"""Data access authorization (HLUC 5 PUC 1): consents, their tokens, and checking a token at each access.

A service provider's authorization request creates a **pending** consent; the end user grants or refuses
it through the DSO's customer channel (:meth:`ConsentRegistry.grant`, :meth:`~ConsentRegistry.refuse`);
a granted consent carries a token (a uuid4) bound to the end user, the service provider and the window
of data it covers. The token is valid from the grant until ``token_lifetime`` later; revocation ends it
at once::

    pending --grant--> granted --revoke--> revoked
       |                  '--(now >= expires_at)--> expired
       '--refuse--> refused

Asking again with the same (end user, provider, window) returns the current state of that consent, so a
provider polls its authorization request until the end user has decided.
:meth:`ConsentRegistry.locked_by_token` reads the consent of a token inside the transaction of one
access; whether it serves that access (right provider, right end user, data window inside the consented
window, neither revoked nor expired) is for the access policy (:mod:`dso_saref.backend.policy`) to say,
which registers the access or the refusal in the registry of operations.

**Concurrency.** An access reads the consent with a shared row lock (``FOR SHARE``) in the same
transaction that reads the data and logs the access; grant, refusal and revocation lock the consent for
update. So a revocation waits for the accesses already under way and every access that commits after
the revocation sees it: no data is served under a token once its revocation has committed. Requests for
one end user and provider are serialized by a lock on that pair, so asking twice at once creates one
consent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dso_saref.backend.errors import NotFound, StateError
from dso_saref.backend.registry import OperationsRegistry, Outcome
from dso_saref.backend.settings import BackendSettings
from dso_saref.backend.storage import Row, Storage, Transaction, from_db_time, to_db_time

__all__ = ["Consent", "ConsentRegistry", "ConsentState"]


class ConsentState(StrEnum):
    """Where a consent is in its life (``expired`` is derived from the clock, never stored)."""

    PENDING = "pending"
    GRANTED = "granted"
    REFUSED = "refused"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Consent:
    """An end user's consent to a service provider's access to its data over ``[start, end)``."""

    id: str
    end_user: str
    service_provider: str
    start: datetime
    end: datetime
    status: ConsentState
    requested_at: datetime
    decided_at: datetime | None
    revoked_at: datetime | None
    token: str | None
    expires_at: datetime | None
    reason: str | None

    def state(self, now: datetime) -> ConsentState:
        """The state at ``now``: a granted consent whose token has run out is ``expired``."""
        if self.status is ConsentState.GRANTED and self.expires_at is not None and now >= self.expires_at:
            return ConsentState.EXPIRED
        return self.status


def _time(text: str | datetime | None) -> datetime | None:
    return from_db_time(text) if text is not None else None


def _consent(row: Row) -> Consent:
    return Consent(row["id"], row["end_user"], row["service_provider"], from_db_time(row["start"]),
                   from_db_time(row["end"]), ConsentState(row["status"]), from_db_time(row["requested_at"]),
                   _time(row["decided_at"]), _time(row["revoked_at"]), row["token"], _time(row["expires_at"]),
                   row["reason"])


class ConsentRegistry:
    """Consents and tokens of one :class:`Storage`; every decision and access goes to the registry."""

    def __init__(self, storage: Storage, registry: OperationsRegistry, settings: BackendSettings) -> None:
        self._storage = storage
        self._registry = registry
        self._settings = settings

    # -- the service provider's side ----------------------------------------------------------------

    def request(self, *, end_user: str, service_provider: str, start: datetime, end: datetime,
                now: datetime) -> Consent:
        """The consent for (end user, provider, window): the live one if there is one (pending, granted
        and unexpired, or refused), else a new pending consent. The request is logged either way."""
        with self._storage.transaction("authorization-request") as db:
            db.lock("consent request", end_user, service_provider)
            rows = db.execute('SELECT * FROM consents WHERE end_user = ? AND service_provider = ? AND start = ? '
                              'AND "end" = ? ORDER BY requested_at DESC, rowid DESC', (end_user, service_provider,
                                                                              to_db_time(start), to_db_time(end)))
            for consent in map(_consent, rows.fetchall()):
                state = consent.state(now)
                if state in (ConsentState.PENDING, ConsentState.GRANTED, ConsentState.REFUSED):
                    self._registry.write(db, at=now, actor=service_provider, operation="authorization-request",
                                         subject=end_user, token=consent.token, outcome=_OUTCOMES[state],
                                         reason=f"consent {consent.id} is {state.value}")
                    return consent
            consent_id = str(uuid.uuid4())
            db.execute('INSERT INTO consents (id, end_user, service_provider, start, "end", status, requested_at) '
                       "VALUES (?, ?, ?, ?, ?, 'pending', ?)", (consent_id, end_user, service_provider,
                                                               to_db_time(start), to_db_time(end), to_db_time(now)))
            self._registry.write(db, at=now, actor=service_provider, operation="authorization-request",
                                 subject=end_user, outcome=Outcome.PENDING,
                                 reason=f"consent {consent_id} asked of the end user")
        return self.get(consent_id)

    # -- the end user's side (the DSO's customer channel) ----------------------------------------------

    def grant(self, consent_id: str, *, now: datetime) -> Consent:
        """The end user grants a pending consent: a token is issued, valid for ``token_lifetime``.
        Raises :class:`NotFound` or :class:`StateError` (not pending)."""
        token = str(uuid.uuid4())
        with self._storage.transaction("grant consent") as db:
            consent = self._pending(db, consent_id)
            db.execute("UPDATE consents SET status = 'granted', decided_at = ?, token = ?, expires_at = ? "
                       "WHERE id = ?", (to_db_time(now), token, to_db_time(now + self._settings.token_lifetime),
                                        consent_id))
            self._registry.write(db, at=now, actor=consent.end_user, operation="grant consent",
                                 subject=consent.end_user, token=token, outcome=Outcome.GRANTED,
                                 reason=f"consent {consent_id} for {consent.service_provider}")
        return self.get(consent_id)

    def refuse(self, consent_id: str, *, now: datetime, reason: str = "refused by the end user") -> Consent:
        """The end user refuses a pending consent. Raises :class:`NotFound` or :class:`StateError`."""
        with self._storage.transaction("refuse consent") as db:
            consent = self._pending(db, consent_id)
            db.execute("UPDATE consents SET status = 'refused', decided_at = ?, reason = ? WHERE id = ?",
                       (to_db_time(now), reason, consent_id))
            self._registry.write(db, at=now, actor=consent.end_user, operation="refuse consent",
                                 subject=consent.end_user, outcome=Outcome.REFUSED,
                                 reason=f"consent {consent_id} for {consent.service_provider}: {reason}")
        return self.get(consent_id)

    def revoke(self, consent_id: str, *, now: datetime, reason: str = "revoked by the end user") -> Consent:
        """The end user revokes a granted consent; its token is refused from ``now`` on.
        Raises :class:`NotFound` or :class:`StateError` (not granted)."""
        with self._storage.transaction("revoke consent") as db:
            row = db.execute("SELECT * FROM consents WHERE id = ? FOR UPDATE", (consent_id,)).fetchone()
            if row is None:
                raise NotFound(f"unknown consent {consent_id!r}")
            consent = _consent(row)
            if consent.status is not ConsentState.GRANTED:
                raise StateError(f"consent {consent_id} is {consent.status.value}: only a granted one can be revoked")
            db.execute("UPDATE consents SET status = 'revoked', revoked_at = ?, reason = ? WHERE id = ?",
                       (to_db_time(now), reason, consent_id))
            self._registry.write(db, at=now, actor=consent.end_user, operation="revoke consent",
                                 subject=consent.end_user, token=consent.token, outcome=Outcome.REVOKED,
                                 reason=f"consent {consent_id} for {consent.service_provider}: {reason}")
        return self.get(consent_id)

    def _pending(self, db: Transaction, consent_id: str) -> Consent:
        row = db.execute("SELECT * FROM consents WHERE id = ? FOR UPDATE", (consent_id,)).fetchone()
        if row is None:
            raise NotFound(f"unknown consent {consent_id!r}")
        consent = _consent(row)
        if consent.status is not ConsentState.PENDING:
            raise StateError(f"consent {consent_id} is {consent.status.value}, not pending")
        return consent

    # -- at each access -----------------------------------------------------------------------------

    def locked_by_token(self, db: Transaction, token: str) -> Consent | None:
        """Inside the access's transaction ``db``: the consent that issued ``token`` (``None`` when none
        did), locked against revocation until ``db`` ends. Whether it serves an access is the access
        policy's to say (:meth:`dso_saref.backend.policy.AccessPolicy.user_data`)."""
        row = db.execute("SELECT * FROM consents WHERE token = ? FOR SHARE", (token,)).fetchone()
        return _consent(row) if row is not None else None

    def live_windows(self, db: Transaction, provider: str, now: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
        """Inside the access's transaction ``db``: ``{client id: [(start, end), ...]}`` of the consents granted
        to ``provider`` and live at ``now``, locked against revocation until ``db`` ends."""
        rows = db.execute("SELECT c.*, u.client_id FROM consents c JOIN end_users u ON u.id = c.end_user "
                          "WHERE c.service_provider = ? AND c.status = 'granted' ORDER BY c.requested_at "
                          "FOR SHARE OF c", (provider,)).fetchall()
        windows: dict[str, list[tuple[datetime, datetime]]] = {}
        for row in rows:
            consent = _consent(row)
            if consent.state(now) is ConsentState.GRANTED:
                windows.setdefault(row["client_id"], []).append((consent.start, consent.end))
        return windows

    # -- reading -----------------------------------------------------------------------------------------

    def get(self, consent_id: str) -> Consent:
        """The consent ``consent_id``; raises :class:`NotFound`."""
        row = self._storage.query_one("SELECT * FROM consents WHERE id = ?", (consent_id,))
        if row is None:
            raise NotFound(f"unknown consent {consent_id!r}")
        return _consent(row)

    def by_token(self, token: str) -> Consent | None:
        """The consent that issued ``token``, or ``None``."""
        row = self._storage.query_one("SELECT * FROM consents WHERE token = ?", (token,))
        return _consent(row) if row is not None else None

    def consents(self, *, end_user: str | None = None, status: ConsentState | None = None) -> list[Consent]:
        """Consents (of one end user, in one stored status), oldest first."""
        clauses, params = [], []
        if end_user is not None:
            clauses.append("end_user = ?")
            params.append(end_user)
        if status is not None:
            clauses.append("status = ?")
            params.append(status.value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return [_consent(r) for r in self._storage.query(f"SELECT * FROM consents{where} ORDER BY requested_at, rowid",
                                                         params)]


_OUTCOMES = {ConsentState.PENDING: Outcome.PENDING, ConsentState.GRANTED: Outcome.GRANTED,
             ConsentState.REFUSED: Outcome.REFUSED}

