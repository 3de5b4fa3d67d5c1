"""Contracted power management incentives (HLUC 5 PUC 2 SCN2, spec 3.2.1.2 Table 4).

The DSO offers an end user (directly or through its service provider) an incentive to keep to a
contracted power over a window (:meth:`IncentiveDesk.offer`); the answer (an ``incentive-response``,
either as the result of the offer's POST or posted later) is recorded and updates the end user's
preferences: whether it takes part in incentive programmes and, when it accepts, its new contracted
power::

    out = desk.offer(end_user="U0001", recipient=sp_kb, contracted_power=3.45, incentive=0.05,
                     start=t0, end=t1, now=now)
    desk.respond(IncentiveResponse(offer_id=out.reference, end_user="U0001", accepted=True),
                 requester=sp_kb, now=now)
    desk.preferences("U0001").contracted_power   # 3.45

An offer's life: ``sent -> accepted | declined``. A response is rejected when the offer is unknown, for
another end user, answered by someone it was not sent to, already answered differently, or late (after
the end of its window); the same answer sent twice is accepted twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from dso_saref.backend.errors import NotFound
from dso_saref.backend.policy import AccessPolicy, Code
from dso_saref.backend.registry import OperationsRegistry, Outcome
from dso_saref.backend.storage import Storage, from_db_time, to_db_time
from dso_saref.exchange import Outgoing
from dso_saref.messages.common import Status
from dso_saref.messages.data_sharing import IncentiveOffer, IncentiveResponse
from dso_saref.messages.flexibility import Acknowledgement

__all__ = ["IncentiveDesk", "UserPreferences"]

DSO = "DSO"


@dataclass(frozen=True)
class UserPreferences:
    """What the DSO knows of an end user's choices about incentives."""

    end_user: str
    accepts_incentives: bool
    contracted_power: float | None
    contracted_power_unit: str | None
    last_offer_id: str | None
    updated_at: datetime


class IncentiveDesk:
    """Incentive offers, their responses and user preferences of one :class:`Storage`."""

    def __init__(self, storage: Storage, policy: AccessPolicy, registry: OperationsRegistry) -> None:
        self._storage = storage
        self._policy = policy
        self._registry = registry

    def offer(self, *, end_user: str, recipient: str, contracted_power: float, incentive: float, start: datetime,
              end: datetime, now: datetime, contracted_power_unit: str = "kW", incentive_unit: str = "EUR/kWh",
              offer_id: str | None = None) -> Outgoing[IncentiveOffer]:
        """Store and return an incentive offer for ``end_user``, to send to ``recipient`` (a knowledge-base
        id); the outgoing reference is the offer id. Raises :class:`NotFound` for an unknown end user,
        :class:`~dso_saref.backend.errors.Refused` (registered) for a recipient that does not serve the end
        user (see :mod:`dso_saref.backend.policy`) and :class:`ValueError` (pydantic) for invalid values."""
        message = IncentiveOffer(offer_id=offer_id or str(uuid.uuid4()), end_user=end_user,
                                 contracted_power=contracted_power, contracted_power_unit=contracted_power_unit,
                                 incentive=incentive, incentive_unit=incentive_unit, start=start, end=end)
        if self._storage.query_one("SELECT 1 FROM end_users WHERE id = ?", (end_user,)) is None:
            raise NotFound(f"unknown end user {end_user!r}")
        self._policy.recipient("incentive-offer", recipient, now, end_users=[end_user])
        with self._storage.transaction("incentive-offer") as db:
            db.execute('INSERT INTO incentive_offers (offer_id, end_user, recipient, contracted_power, '
                       'contracted_power_unit, incentive, incentive_unit, start, "end", sent_at, status) '
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'sent')",
                       (message.offer_id, end_user, recipient, message.contracted_power,
                        message.contracted_power_unit, message.incentive, message.incentive_unit,
                        to_db_time(message.start), to_db_time(message.end), to_db_time(now)))
            self._registry.write(db, at=now, actor=DSO, operation="incentive-offer", subject=end_user,
                                 outcome=Outcome.SENT, reason=f"offer {message.offer_id} to {recipient}")
        return Outgoing(message, recipient=recipient, reference=message.offer_id)

    def respond(self, response: IncentiveResponse, *, requester: str, now: datetime) -> Acknowledgement:
        """Record an answer to an incentive offer and update the end user's preferences (one
        transaction); a rejected acknowledgement says why (see the module doc)."""
        with self._storage.transaction("incentive-response") as db:
            row = db.execute("SELECT * FROM incentive_offers WHERE offer_id = ? FOR UPDATE",
                             (response.offer_id,)).fetchone()
            status = "accepted" if response.accepted else "declined"
            reason = None
            if row is None:
                reason = "unknown incentive offer"
            elif row["end_user"] != response.end_user:
                reason = "the offer was made to another end user"
            elif row["recipient"] != requester:
                reason = "the offer was not sent to this requester"
            elif row["status"] not in ("sent", status):
                reason = f"the offer was already {row['status']}"
            elif row["status"] == "sent" and now >= from_db_time(row["end"]):
                reason = "the offer has expired"
            subject = response.end_user
            if reason is not None:
                self._policy.refuse("incentive-response", requester, now, code=Code.INVALID, subject=subject, db=db,
                                    reason=reason, detail=f"offer {response.offer_id}: {reason}",
                                    outcome=Outcome.REJECTED)
                return Acknowledgement(status=Status.REJECTED, reference=response.offer_id, reason=reason)
            if row["status"] == "sent":
                db.execute("UPDATE incentive_offers SET status = ?, responded_at = ? WHERE offer_id = ?",
                           (status, to_db_time(now), response.offer_id))
                power = (row["contracted_power"], row["contracted_power_unit"]) if response.accepted else (None, None)
                db.execute("INSERT INTO user_preferences (end_user, contracted_power, contracted_power_unit, "
                           "accepts_incentives, last_offer_id, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
                           "ON CONFLICT (end_user) DO UPDATE SET accepts_incentives = excluded.accepts_incentives, "
                           "last_offer_id = excluded.last_offer_id, updated_at = excluded.updated_at, "
                           "contracted_power = COALESCE(excluded.contracted_power, user_preferences.contracted_power), "
                           "contracted_power_unit = COALESCE(excluded.contracted_power_unit, "
                           "user_preferences.contracted_power_unit)",
                           (subject, *power, int(response.accepted), response.offer_id, to_db_time(now)))
            self._registry.write(db, at=now, actor=requester, operation="incentive-response", subject=subject,
                                 outcome=Outcome.ACCEPTED, reason=f"offer {response.offer_id} {status}")
        return Acknowledgement(status=Status.ACCEPTED, reference=response.offer_id)

    def status(self, offer_id: str) -> str:
        """``sent``, ``accepted`` or ``declined``; raises :class:`NotFound`."""
        row = self._storage.query_one("SELECT status FROM incentive_offers WHERE offer_id = ?", (offer_id,))
        if row is None:
            raise NotFound(f"unknown incentive offer {offer_id!r}")
        return row["status"]

    def preferences(self, end_user: str) -> UserPreferences | None:
        """The end user's incentive preferences, or ``None`` if it never answered an offer."""
        row = self._storage.query_one("SELECT * FROM user_preferences WHERE end_user = ?", (end_user,))
        if row is None:
            return None
        return UserPreferences(row["end_user"], bool(row["accepts_incentives"]), row["contracted_power"],
                               row["contracted_power_unit"], row["last_offer_id"], from_db_time(row["updated_at"]))
