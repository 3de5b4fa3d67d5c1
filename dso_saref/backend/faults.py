"""Fault location with HEMS data (HLUC 11 PUC 1): fault-location settings, postal-code subscriptions,
fault notifications and the fault events they raise.

The DSO sets, per service provider and postal code (or for all its postal codes, ``"*"``), the minimum
number of faulty HEMS and the minimum elapsed time of an interruption (3.2.3.2.1.1-2), and subscribes
postal codes (3.2.3.2.1.3), which the provider accepts or denies. The provider then posts fault
notifications (3.2.3.1.1.1.1). The DSO accepts a notification only for postal codes that provider has an
accepted subscription for, and raises a **fault event** for a postal code when the thresholds hold:

- faulty HEMS: ``Nbr_Faulty_Hems >= minimum`` (when the notification gives no count, the provider is
  trusted to have applied the setting it acknowledged);
- elapsed time: ``now - start >= minimum``, where ``start`` is the entry's ``timestamp`` (when the
  interruption was seen) or else the arrival of the notification, and, while a postal code has
  notifications waiting, the earliest of their starts.

A notification that does not meet the thresholds yet is kept waiting; a later notification for the same
postal code, or :meth:`FaultLocation.raise_due_faults` once the time has passed (the API has no
"restored" message, so an interruption is taken to last until the DSO resolves it), raises the event.
While an event is open for a postal code, further notifications update it instead of raising another.
Notifications and sweeps hold a lock on each postal code they handle, so that two notifications arriving
at once for one postal code raise one event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from dso_saref.backend.errors import NotFound
from dso_saref.backend.parties import Parties
from dso_saref.backend.policy import AccessPolicy, Code
from dso_saref.backend.registry import OperationsRegistry, Outcome
from dso_saref.backend.storage import Storage, from_db_time, to_db_time
from dso_saref.exchange import Outgoing
from dso_saref.messages.common import Status
from dso_saref.messages.flexibility import Acknowledgement
from dso_saref.messages.observability import (
    FaultMinElapsedTime,
    FaultMinHems,
    FaultNotification,
    FaultPostalCodes,
    MinElapsedTimeInput,
    MinFaultyHemsInput,
    PostalCodeInput,
    SubscriptionResponse,
    SubscriptionStatus,
)

__all__ = ["ALL_POSTAL_CODES", "FaultEvent", "FaultLocation", "Subscription"]

#: The postal-code key of a provider-wide setting.
ALL_POSTAL_CODES = "*"
DSO = "DSO"
_SECONDS = {"seconds": 1.0, "s": 1.0, "minutes": 60.0, "hours": 3600.0}


@dataclass(frozen=True)
class Subscription:
    """Fault-location settings and subscription state of one provider and postal code."""

    provider_id: str
    postal_code: str
    min_faulty_hems: int | None
    min_elapsed_seconds: float | None
    subscription: str
    reason: str


@dataclass(frozen=True)
class FaultEvent:
    """A potential outage the DSO acts on: where, reported by whom, since when, how many HEMS."""

    id: int
    postal_code: str
    provider_id: str
    fault_location_id: str | None
    started_at: datetime
    raised_at: datetime
    faulty_hems: int | None
    status: str


class FaultLocation:
    """Settings, subscriptions, notifications and fault events of one :class:`Storage`."""

    def __init__(self, storage: Storage, parties: Parties, policy: AccessPolicy, registry: OperationsRegistry) -> None:
        self._storage = storage
        self._parties = parties
        self._policy = policy
        self._registry = registry

    # -- settings and subscriptions (DSO -> service provider) -----------------------------------------

    def set_min_faulty_hems(self, provider_id: str, minimum: int, *, now: datetime,
                            postal_code: str | None = None) -> Outgoing[FaultMinHems]:
        """Set the minimum number of faulty HEMS (for one postal code, or all of the provider's) and
        return the message to post (3.2.3.2.1.1). Raises :class:`NotFound` for an unknown provider."""
        message = FaultMinHems(Postal_Code=postal_code, Fault_Location_Inputs=[MinFaultyHemsInput(
            Min_nbr_Hems_faulty=minimum)])
        self._set(provider_id, postal_code, "min_faulty_hems", minimum, now)
        return self._outgoing(provider_id, message, postal_code)

    def set_min_elapsed_time(self, provider_id: str, seconds: float, *, now: datetime,
                             postal_code: str | None = None) -> Outgoing[FaultMinElapsedTime]:
        """Set the minimum elapsed time of an interruption, in seconds (3.2.3.2.1.2)."""
        message = FaultMinElapsedTime(Postal_Code=postal_code, Fault_Location_Inputs=[MinElapsedTimeInput(
            Min_time_of_interruption=seconds, Min_time_of_interruption_unit="seconds")])
        self._set(provider_id, postal_code, "min_elapsed_seconds", seconds, now)
        return self._outgoing(provider_id, message, postal_code)

    def subscribe(self, provider_id: str, postal_codes: Sequence[str], *, now: datetime) -> Outgoing[FaultPostalCodes]:
        """Ask the provider to monitor ``postal_codes`` (3.2.3.2.1.3); they are pending until its
        subscription response. The outgoing reference is the comma-joined postal codes."""
        message = FaultPostalCodes(Fault_Location_Inputs=[PostalCodeInput(Postal_Code=c) for c in postal_codes])
        with self._storage.transaction("fault-postal-codes") as db:
            for code in postal_codes:
                db.execute("INSERT INTO fault_location_settings (provider_id, postal_code, subscription, updated_at) "
                           "VALUES (?, ?, 'pending', ?) ON CONFLICT (provider_id, postal_code) DO UPDATE SET "
                           "subscription = 'pending', reason = '', updated_at = excluded.updated_at",
                           (self._parties.provider(provider_id).id, code, to_db_time(now)))
            self._registry.write(db, at=now, actor=DSO, operation="fault-postal-codes", subject=provider_id,
                                 outcome=Outcome.SENT, reason=", ".join(postal_codes))
        return self._outgoing(provider_id, message, ",".join(postal_codes))

    def record_subscription_response(self, provider_id: str, postal_codes: Sequence[str],
                                     response: SubscriptionResponse, *, now: datetime) -> None:
        """Record the provider's answer for the postal codes of a subscription (accepted or denied)."""
        status = "accepted" if response.status is SubscriptionStatus.ACCEPTED else "denied"
        with self._storage.transaction("subscription-response") as db:
            for code in postal_codes:
                db.execute("INSERT INTO fault_location_settings (provider_id, postal_code, subscription, reason, "
                           "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider_id, postal_code) DO UPDATE SET "
                           "subscription = excluded.subscription, reason = excluded.reason, "
                           "updated_at = excluded.updated_at",
                           (provider_id, code, status, response.reason or "", to_db_time(now)))
            self._registry.write(db, at=now, actor=provider_id, operation="subscription-response",
                                 subject=", ".join(postal_codes), outcome=Outcome.RECORDED,
                                 reason=f"{status}{': ' + response.reason if response.reason else ''}")

    def record_settings_acknowledgement(self, provider_id: str, setting: str, acknowledgement: Acknowledgement, *,
                                        now: datetime, postal_code: str | None = None) -> None:
        """Record the provider's acknowledgement of a setting (``fault-min-hems`` or
        ``fault-min-elapsed-time``) in the registry of operations."""
        self._registry.log(at=now, actor=provider_id, operation=setting, subject=postal_code or ALL_POSTAL_CODES,
                           outcome=Outcome.ACCEPTED if acknowledgement.status is Status.ACCEPTED else Outcome.REJECTED,
                           reason=acknowledgement.reason or "")

    def subscriptions(self, provider_id: str | None = None) -> list[Subscription]:
        """Settings and subscription state, by provider and postal code."""
        where, params = ("WHERE provider_id = ?", (provider_id,)) if provider_id else ("", ())
        rows = self._storage.query(f"SELECT * FROM fault_location_settings {where} ORDER BY provider_id, postal_code",
                                   params)
        return [Subscription(r["provider_id"], r["postal_code"], r["min_faulty_hems"], r["min_elapsed_seconds"],
                             r["subscription"], r["reason"]) for r in rows]

    def _set(self, provider_id: str, postal_code: str | None, column: str, value: float, now: datetime) -> None:
        code = postal_code or ALL_POSTAL_CODES
        with self._storage.transaction(column) as db:
            db.execute(f"INSERT INTO fault_location_settings (provider_id, postal_code, {column}, updated_at) "
                       f"VALUES (?, ?, ?, ?) ON CONFLICT (provider_id, postal_code) DO UPDATE SET {column} = "
                       f"excluded.{column}, updated_at = excluded.updated_at",
                       (self._parties.provider(provider_id).id, code, value, to_db_time(now)))
            self._registry.write(db, at=now, actor=DSO, operation=column.replace("_", "-"), subject=code,
                                 outcome=Outcome.SENT, reason=f"{provider_id}: {value:g}")

    def _outgoing(self, provider_id: str, message: object, reference: str | None) -> Outgoing:
        return Outgoing(message, recipient=self._parties.provider(provider_id).knowledge_base_id,
                        reference=reference)

    def _threshold(self, provider_id: str, postal_code: str, column: str) -> float | None:
        for code in (postal_code, ALL_POSTAL_CODES):
            row = self._storage.query_one(f"SELECT {column} AS v FROM fault_location_settings WHERE provider_id = ? "
                                          "AND postal_code = ?", (provider_id, code))
            if row is not None and row["v"] is not None:
                return row["v"]
        return None

    # -- notifications (service provider -> DSO) --------------------------------------------------------

    def receive_fault_notification(self, notification: FaultNotification, *, requester: str,
                                   now: datetime) -> Acknowledgement:
        """Record a fault notification and raise the fault events whose thresholds hold (module doc);
        rejected when a postal code is not subscribed with the requester. Raises
        :class:`~dso_saref.backend.errors.Refused` for a requester without an agreement."""
        reference = notification.Fault_Location_ID
        provider = self._policy.provider(requester, "fault-notification", now, subject=reference or "")
        accepted = {s.postal_code for s in self.subscriptions(provider.id) if s.subscription == "accepted"}
        missing = [e.Postal_Code for e in notification.Fault_Location_Identification if e.Postal_Code not in accepted]
        if missing:
            reason = f"no accepted subscription for {', '.join(missing)}"
            self._policy.refuse("fault-notification", provider.id, now, code=Code.INVALID, reason=reason,
                                subject=reference or "", outcome=Outcome.REJECTED)
            return Acknowledgement(status=Status.REJECTED, reference=reference, reason=reason)
        notes = []
        with self._storage.transaction("fault-notification") as db:
            for code in sorted({e.Postal_Code for e in notification.Fault_Location_Identification}):
                db.lock("fault events", code)
            for entry in notification.Fault_Location_Identification:
                notes.append(self._notify(db, provider.id, reference, entry.Postal_Code, entry.Nbr_Faulty_Hems,
                                          entry.timestamp, now))
            self._registry.write(db, at=now, actor=provider.id, operation="fault-notification",
                                 subject=", ".join(e.Postal_Code for e in notification.Fault_Location_Identification),
                                 outcome=Outcome.ACCEPTED, reason="; ".join(notes))
        return Acknowledgement(status=Status.ACCEPTED, reference=reference, reason="; ".join(notes))

    def _notify(self, db, provider_id: str, reference: str | None, code: str, faulty: int | None,
                observed: datetime | None, now: datetime) -> str:
        open_event = db.execute("SELECT id, faulty_hems FROM fault_events WHERE postal_code = ? AND status = 'open'",
                                (code,)).fetchone()
        min_hems = self._threshold(provider_id, code, "min_faulty_hems")
        min_elapsed = self._threshold(provider_id, code, "min_elapsed_seconds")
        if open_event is not None:
            outcome, note = "raised", f"{code}: fault event {open_event['id']} already open"
            if faulty is not None:
                db.execute("UPDATE fault_events SET faulty_hems = CASE WHEN COALESCE(faulty_hems, 0) > ? "
                           "THEN faulty_hems ELSE ? END WHERE id = ?", (faulty, faulty, open_event["id"]))
        elif faulty is not None and min_hems is not None and faulty < min_hems:
            outcome, note = "below-threshold", f"{code}: {faulty} faulty HEMS, fewer than {int(min_hems)}"
        else:
            outcome, note = "pending", ""
        db.execute("INSERT INTO fault_notifications (provider_id, fault_location_id, postal_code, faulty_hems, "
                   "observed_at, received_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (provider_id, reference, code, faulty, to_db_time(observed) if observed else None,
                    to_db_time(now), outcome))
        if outcome != "pending":
            return note
        event = self._raise_if_due(db, provider_id, code, min_elapsed, now)
        return f"{code}: fault event {event} raised" if event else f"{code}: waiting for the minimum elapsed time"

    def _raise_if_due(self, db, provider_id: str, code: str, min_elapsed: float | None, now: datetime) -> int | None:
        rows = db.execute("SELECT * FROM fault_notifications WHERE provider_id = ? AND postal_code = ? AND "
                          "outcome = 'pending' ORDER BY id", (provider_id, code)).fetchall()
        if not rows:
            return None
        start = min(from_db_time(r["observed_at"] or r["received_at"]) for r in rows)
        if min_elapsed is not None and (now - start).total_seconds() < min_elapsed:
            return None
        counts = [r["faulty_hems"] for r in rows if r["faulty_hems"] is not None]
        event = db.execute("INSERT INTO fault_events (postal_code, provider_id, fault_location_id, started_at, "
                           "raised_at, faulty_hems, status) VALUES (?, ?, ?, ?, ?, ?, 'open') RETURNING id",
                           (code, provider_id, rows[-1]["fault_location_id"], to_db_time(start), to_db_time(now),
                            max(counts) if counts else None)).fetchone()[0]
        db.execute("UPDATE fault_notifications SET outcome = 'raised' WHERE provider_id = ? AND postal_code = ? AND "
                   "outcome = 'pending'", (provider_id, code))
        self._registry.write(db, at=now, actor=DSO, operation="fault event", subject=code, outcome=Outcome.RECORDED,
                             reason=f"event {event} from {provider_id}")
        return int(event)

    def raise_due_faults(self, *, now: datetime) -> list[FaultEvent]:
        """Raise the events of waiting notifications whose minimum elapsed time has passed; returns them."""
        raised = []
        with self._storage.transaction("fault sweep") as db:
            codes = db.execute("SELECT DISTINCT postal_code FROM fault_notifications WHERE outcome = 'pending' "
                               "ORDER BY postal_code").fetchall()
            locked = {code["postal_code"] for code in codes}
            for code in sorted(locked):
                db.lock("fault events", code)
            waiting = db.execute("SELECT DISTINCT provider_id, postal_code FROM fault_notifications "
                                 "WHERE outcome = 'pending' ORDER BY provider_id, postal_code").fetchall()
            for row in waiting:
                if row["postal_code"] not in locked:  # arrived after the locks were taken: the next sweep
                    continue
                if db.execute("SELECT 1 FROM fault_events WHERE postal_code = ? AND status = 'open'",
                              (row["postal_code"],)).fetchone():
                    continue
                minimum = self._threshold(row["provider_id"], row["postal_code"], "min_elapsed_seconds")
                event = self._raise_if_due(db, row["provider_id"], row["postal_code"], minimum, now)
                if event is not None:
                    raised.append(event)
        return [e for e in self.fault_events() if e.id in raised]

    # -- events -------------------------------------------------------------------------------------------

    def fault_events(self, *, status: str | None = None, postal_code: str | None = None) -> list[FaultEvent]:
        """Fault events (open or resolved, of a postal code), oldest first."""
        clauses, params = [], []
        for column, value in (("status", status), ("postal_code", postal_code)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._storage.query(f"SELECT * FROM fault_events{where} ORDER BY id", params)
        return [FaultEvent(r["id"], r["postal_code"], r["provider_id"], r["fault_location_id"],
                           from_db_time(r["started_at"]), from_db_time(r["raised_at"]), r["faulty_hems"], r["status"])
                for r in rows]

    def resolve_fault(self, event_id: int, *, now: datetime) -> None:
        """Close a fault event (the DSO has located and cleared the fault). Raises :class:`NotFound`."""
        with self._storage.transaction("resolve fault") as db:
            cursor = db.execute("UPDATE fault_events SET status = 'resolved', resolved_at = ? WHERE id = ? "
                                "AND status = 'open'", (to_db_time(now), event_id))
            if cursor.rowcount == 0:
                raise NotFound(f"no open fault event {event_id}")
            self._registry.write(db, at=now, actor=DSO, operation="resolve fault", subject=str(event_id),
                                 outcome=Outcome.RECORDED)


def seconds_of(value: float, unit: str) -> float:
    """A duration in ``unit`` (seconds, s, minutes, hours) in seconds."""
    return value * _SECONDS[unit]
