"""The flexibility market (HLUC 10): needs, offers, clearing by price, activation plans, intraday adjustments.

PUC 1 (day ahead): the DSO publishes its needs (:meth:`FlexibilityMarket.publish_needs`) or a service
provider asks for the needs of a window (:meth:`~FlexibilityMarket.needs_request`); providers post offers
(:meth:`~FlexibilityMarket.receive_offers`), each validated against an open need: an unknown need, a
cleared need, a window outside the need's, a unit of the other power type or a meter that is not
eligible rejects the whole posting with a reason, and nothing of it is stored. Offers sent again with
the same terms are accepted again (a provider retrying after a lost acknowledgement). The DSO then clears
each need by price (:mod:`dso_saref.backend.clearing`) into one activation plan per provider
(:meth:`~FlexibilityMarket.build_activation_plans`), which the provider acknowledges.

PUC 2 (intraday): the DSO publishes additional needs, either new needs (``kind="intraday"``) or more of
an existing one (:meth:`~FlexibilityMarket.add_to_needs`, which re-opens it). Re-clearing keeps what was
already accepted (firm) and fills only the rest, so an agreed offer is never displaced.

An offer's life: ``received -> accepted | rejected`` at clearing, ``accepted -> activated`` when its
provider acknowledges the plan; a re-opened need's rejected offers compete again at the next clearing.

**Concurrency.** Posting offers, clearing and intraday additions lock the needs they touch (row locks,
in request id order) for their whole transaction: offers racing for one need are checked and stored one
after the other (so a retried posting is stored once), and an offer either commits before the clearing
of its need, which then counts it, or sees the need cleared and is rejected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from dso_saref.backend.clearing import Allocation, Bid, clear, natural_key
from dso_saref.backend.errors import NotFound, StateError
from dso_saref.backend.grid import GridData
from dso_saref.backend.metering import to_base_unit
from dso_saref.backend.parties import Parties
from dso_saref.backend.policy import AccessPolicy, Code
from dso_saref.backend.registry import OperationsRegistry, Outcome
from dso_saref.backend.settings import Bounds
from dso_saref.backend.storage import Row, Storage, Transaction, from_db_time, to_db_time
from dso_saref.exchange import Outgoing
from dso_saref.messages.common import Direction, PowerType, Status
from dso_saref.messages.flexibility import (
    Acknowledgement,
    ActivationPlan,
    ActivationPlanEntry,
    FlexibilityNeed,
    FlexibilityNeeds,
    FlexibilityNeedsRequest,
    FlexibilityOffer,
    FlexibilityOffers,
)

__all__ = ["DSO", "FlexibilityMarket", "NeedRecord", "OfferRecord"]

#: The actor name of the DSO itself in the registry of operations.
DSO = "DSO"

#: How many needs' eligible meters one query reads.
_BATCH = 500
_UNITS_OF = {PowerType.ACTIVE: ("kW", "MW"), PowerType.REACTIVE: ("kVAr", "MVAr")}


@dataclass(frozen=True)
class NeedRecord:
    """A stored need with its market state: ``kind`` (day-ahead, intraday), ``status`` (open, cleared)
    and ``version`` (1, then +1 at each intraday addition)."""

    need: FlexibilityNeed
    kind: str
    status: str
    version: int


@dataclass(frozen=True)
class OfferRecord:
    """A stored offer, its provider and its state (received, accepted, rejected, activated)."""

    offer: FlexibilityOffer
    provider_id: str
    status: str


class FlexibilityMarket:
    """Needs, offers, clearing and activation plans of one :class:`Storage`."""

    def __init__(self, storage: Storage, grid: GridData, parties: Parties, policy: AccessPolicy,
                 registry: OperationsRegistry, bounds: Bounds | None = None) -> None:
        self._storage = storage
        self._grid = grid
        self._parties = parties
        self._policy = policy
        self._registry = registry
        self._bounds = bounds or Bounds()

    # -- needs ----------------------------------------------------------------------------------------

    def publish_needs(self, needs: Sequence[FlexibilityNeed], *, now: datetime,
                      kind: str = "day-ahead") -> FlexibilityNeeds:
        """Store new needs (all or none) and return the publication to post to every provider (3.2.2.2.1.1).
        Raises :class:`StateError` for a request id already used, a unit that does not fit the power
        type, a quantity above ``Bounds.max_power``, an unknown eligible meter or zone, or an unknown
        ``kind``."""
        if kind not in ("day-ahead", "intraday"):
            raise StateError(f"kind must be day-ahead or intraday, not {kind!r}")
        message = FlexibilityNeeds(list(needs))
        known = self._grid.known_meters(m for n in message.root for m in n.eligible_clients)
        with self._storage.transaction("flexibility-needs") as db:
            for request_id in sorted({n.request_id for n in message.root}):
                db.lock("need", request_id)  # publishing the same id twice at once: one wins, one is refused
            for need in message.root:
                if db.execute("SELECT 1 FROM flexibility_needs WHERE request_id = ?", (need.request_id,)).fetchone():
                    raise StateError(f"need {need.request_id} was already published")
                if need.unit not in _UNITS_OF[need.power_type]:
                    raise StateError(f"need {need.request_id}: unit {need.unit} does not fit {need.power_type.value} "
                                     "power")
                beyond = self._bounds.power_problem("needs", need.needs, need.unit)
                if beyond:
                    raise StateError(f"need {need.request_id}: {beyond}")
                missing = sorted(set(need.eligible_clients) - known)
                if missing:
                    raise StateError(f"need {need.request_id}: unknown eligible meters {', '.join(missing)}")
                if need.zone_id is not None and not db.execute("SELECT 1 FROM zones WHERE id = ?",
                                                               (need.zone_id,)).fetchone():
                    raise StateError(f"need {need.request_id}: unknown zone {need.zone_id}")
                db.execute('INSERT INTO flexibility_needs (request_id, quantity, unit, direction, power_type, start, '
                           '"end", zone_id, kind, status, published_at, updated_at) '
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)",
                           (need.request_id, need.needs, need.unit, need.direction.value, need.power_type.value,
                            to_db_time(need.start), to_db_time(need.end), need.zone_id, kind, to_db_time(now),
                            to_db_time(now)))
                db.executemany("INSERT INTO need_eligible_meters VALUES (?, ?)",
                               [(need.request_id, m) for m in need.eligible_clients])
                self._registry.write(db, at=now, actor=DSO, operation="flexibility-needs", subject=need.request_id,
                                     outcome=Outcome.SENT, reason=f"{kind} need of {need.needs:g} {need.unit}")
        return message

    def add_to_needs(self, additions: Mapping[str, float], *, now: datetime) -> FlexibilityNeeds:
        """Intraday adjustment (HLUC 10 PUC 2): add to existing needs (in each need's unit) and re-open
        them; returns the updated needs to publish. Raises :class:`NotFound` or :class:`StateError`
        (an addition that is not positive, or a total above ``Bounds.max_power``)."""
        with self._storage.transaction("flexibility-needs adjustment") as db:
            for request_id, extra in sorted(additions.items()):
                if not extra > 0:
                    raise StateError(f"need {request_id}: an intraday adjustment adds a positive quantity")
                row = db.execute("SELECT quantity, unit FROM flexibility_needs WHERE request_id = ? FOR UPDATE",
                                 (request_id,)).fetchone()
                if row is None:
                    raise NotFound(f"unknown need {request_id!r}")
                beyond = self._bounds.power_problem("needs", row["quantity"] + extra, row["unit"])
                if beyond:
                    raise StateError(f"need {request_id}: with {extra:g} {row['unit']} more, {beyond}")
                db.execute("UPDATE flexibility_needs SET quantity = quantity + ?, status = 'open', version = version "
                           "+ 1, updated_at = ? WHERE request_id = ?", (extra, to_db_time(now), request_id))
                db.execute("UPDATE flexibility_offers SET status = 'received' WHERE request_id = ? "
                           "AND status = 'rejected'", (request_id,))
                self._registry.write(db, at=now, actor=DSO, operation="flexibility-needs", subject=request_id,
                                     outcome=Outcome.SENT, reason=f"intraday: {extra:g} {row['unit']} more")
        return FlexibilityNeeds([self.need(r).need for r in sorted(additions)])

    def need(self, request_id: str) -> NeedRecord:
        """The need ``request_id`` and its state; raises :class:`NotFound`."""
        row = self._storage.query_one("SELECT * FROM flexibility_needs WHERE request_id = ?", (request_id,))
        if row is None:
            raise NotFound(f"unknown need {request_id!r}")
        return self._need_record(row)

    def needs(self, *, start: datetime | None = None, end: datetime | None = None,
              status: str | None = None) -> list[NeedRecord]:
        """Needs overlapping ``[start, end)`` (and in ``status``), by start then request id."""
        clauses, params = [], []
        if start is not None:
            clauses.append('"end" > ?')
            params.append(to_db_time(start))
        if end is not None:
            clauses.append("start < ?")
            params.append(to_db_time(end))
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._storage.query(f"SELECT * FROM flexibility_needs{where} ORDER BY start, request_id", params)
        return self._need_records(rows)

    def needs_request(self, request: FlexibilityNeedsRequest, *, requester: str, now: datetime) -> FlexibilityNeeds:
        """The open needs overlapping the requested window (3.2.2.1.1.1), logged."""
        records = self.needs(start=request.start, end=request.end, status="open")
        self._registry.log(at=now, actor=self._policy.requester(requester).actor, operation="flexibility-needs-request",
                           subject="", outcome=Outcome.SERVED, reason=f"{len(records)} open needs")
        return FlexibilityNeeds([r.need for r in records])

    def _need_record(self, row: Row) -> NeedRecord:
        return self._need_records([row])[0]

    def _need_records(self, rows: Sequence[Row]) -> list[NeedRecord]:
        """The records of stored needs: their eligible meters read in one query (per ``_BATCH`` needs),
        and their messages built without validating again what was validated before it was stored."""
        meters: dict[str, list[str]] = {row["request_id"]: [] for row in rows}
        ids = list(meters)
        for first in range(0, len(ids), _BATCH):
            batch = ids[first:first + _BATCH]
            for r in self._storage.query("SELECT request_id, meter_id FROM need_eligible_meters WHERE request_id IN "
                                         f"({', '.join('?' * len(batch))}) ORDER BY request_id, meter_id", batch):
                meters[r["request_id"]].append(r["meter_id"])
        return [NeedRecord(FlexibilityNeed.model_construct(
            request_id=row["request_id"], needs=float(row["quantity"]), unit=row["unit"],
            direction=Direction(row["direction"]), power_type=PowerType(row["power_type"]),
            start=from_db_time(row["start"]), end=from_db_time(row["end"]), eligible_clients=meters[row["request_id"]],
            zone_id=row["zone_id"]), row["kind"], row["status"], row["version"]) for row in rows]

    # -- offers ---------------------------------------------------------------------------------------

    def receive_offers(self, offers: FlexibilityOffers, *, requester: str, now: datetime) -> Acknowledgement:
        """Validate and store a provider's offers (3.2.2.1.1.2), all or none; the acknowledgement is
        ``accepted`` only once they are committed. ``reference`` lists the offer ids. A quantity or price
        outside ``Bounds`` rejects the posting naming the field (``$[0].offer``). Raises
        :class:`~dso_saref.backend.errors.Refused` for a requester without an agreement."""
        reference = ",".join(sorted({o.offer_id for o in offers.root}, key=natural_key)) or None
        provider = self._policy.provider(requester, "flexibility-offers", now, subject=reference or "")
        with self._storage.transaction("flexibility-offers") as db:
            # offers for one need are stored side by side (a shared lock: clearing or changing the need waits
            # for them, and they for it); the same offer sent twice at once waits for itself, and is then known
            _lock_needs(db, {o.request_id for o in offers.root}, shared=True)
            for key in sorted({(o.request_id, provider.id, o.offer_id) for o in offers.root}):
                db.lock("flexibility offer", *key)
            problems: list[str] = []
            fresh: list[FlexibilityOffer] = []
            beyond = False
            for index, offer in enumerate(offers.root):
                limits = [p for p in (self._bounds.power_problem(f"$[{index}].offer", offer.offer, offer.unit),
                                      self._bounds.price_problem(f"$[{index}].price", offer.price)) if p]
                problem, known = ("; ".join(limits), False) if limits else self._check_offer(offer, provider.id)
                beyond = beyond or bool(limits)
                if problem:
                    problems.append(f"offer {offer.offer_id} for need {offer.request_id}: {problem}")
                elif not known:
                    fresh.append(offer)
            if problems:
                reason = "; ".join(problems)
                self._policy.refuse("flexibility-offers", provider.id, now, reason=reason, subject=reference or "",
                                    code=Code.OUT_OF_BOUNDS if beyond else Code.INVALID, db=db,
                                    outcome=Outcome.REJECTED)
                return Acknowledgement(status=Status.REJECTED, reference=reference, reason=reason)
            for offer in fresh:
                db.execute('INSERT INTO flexibility_offers (request_id, provider_id, offer_id, quantity, unit, price, '
                           'start, "end", status, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, \'received\', ?)',
                           (offer.request_id, provider.id, offer.offer_id, offer.offer, offer.unit, offer.price,
                            to_db_time(offer.start), to_db_time(offer.end), to_db_time(now)))
                db.executemany("INSERT INTO offer_meters VALUES (?, ?, ?, ?)",
                               [(offer.request_id, provider.id, offer.offer_id, m) for m in offer.meter_ids])
            self._registry.write(db, at=now, actor=provider.id, operation="flexibility-offers",
                                 subject=reference or "", outcome=Outcome.ACCEPTED,
                                 reason=f"{len(fresh)} new, {len(offers.root) - len(fresh)} already received")
        return Acknowledgement(status=Status.ACCEPTED, reference=reference)

    def _check_offer(self, offer: FlexibilityOffer, provider_id: str) -> tuple[str | None, bool]:
        """(why the offer is invalid or ``None``, whether the same offer is already stored)."""
        try:
            record = self.need(offer.request_id)
        except NotFound:
            return "unknown need", False
        need = record.need
        stored = self.offer(offer.request_id, offer.offer_id, provider_id)
        if stored is not None:
            same = offer.model_copy(update={"meter_ids": sorted(offer.meter_ids)})
            if stored.offer.model_dump() == same.model_dump():
                return None, True
            return "this offer id was already used with other terms", True
        if record.status != "open":
            return "the need is already cleared", False
        if offer.start < need.start or offer.end > need.end:
            return (f"window {to_db_time(offer.start)} - {to_db_time(offer.end)} is outside the need's "
                    f"{to_db_time(need.start)} - {to_db_time(need.end)}"), False
        if offer.unit not in _UNITS_OF[need.power_type]:
            return f"unit {offer.unit} does not fit a {need.power_type.value} power need", False
        if not offer.offer > 0:
            return "the offer offers nothing", False
        if not offer.meter_ids:
            return "the offer names no meter", False
        ineligible = sorted(set(offer.meter_ids) - set(need.eligible_clients)) if need.eligible_clients else []
        if ineligible:
            return f"meters {', '.join(ineligible)} are not eligible for this need", False
        return None, False

    def offer(self, request_id: str, offer_id: str, provider_id: str) -> OfferRecord | None:
        """The stored offer, or ``None``."""
        rows = self._offer_rows("o.request_id = ? AND o.offer_id = ? AND o.provider_id = ?",
                                (request_id, offer_id, provider_id))
        return rows[0] if rows else None

    def offers(self, request_id: str | None = None) -> list[OfferRecord]:
        """Stored offers (of one need), by need, provider and offer id."""
        if request_id is None:
            return self._offer_rows("1 = 1", ())
        return self._offer_rows("o.request_id = ?", (request_id,))

    def _offer_rows(self, where: str, params: Sequence[str]) -> list[OfferRecord]:
        rows = self._storage.query(f"SELECT o.* FROM flexibility_offers o WHERE {where}", params)
        meters: dict[tuple[str, str, str], list[str]] = {}
        for m in self._storage.query("SELECT m.* FROM offer_meters m JOIN flexibility_offers o ON o.request_id = "
                                     "m.request_id AND o.provider_id = m.provider_id AND o.offer_id = m.offer_id "
                                     f"WHERE {where} ORDER BY m.meter_id", params):
            meters.setdefault((m["request_id"], m["provider_id"], m["offer_id"]), []).append(m["meter_id"])
        out = [OfferRecord(FlexibilityOffer(
            request_id=r["request_id"], offer_id=r["offer_id"], offer=r["quantity"], unit=r["unit"], price=r["price"],
            start=from_db_time(r["start"]), end=from_db_time(r["end"]),
            meter_ids=meters.get((r["request_id"], r["provider_id"], r["offer_id"]), [])), r["provider_id"],
            r["status"]) for r in rows]
        out.sort(key=lambda o: (natural_key(o.offer.request_id), o.provider_id, natural_key(o.offer.offer_id)))
        return out

    # -- clearing and activation plans ----------------------------------------------------------------------

    def build_activation_plans(self, request_ids: Iterable[str] | None = None, *,
                               now: datetime) -> list[Outgoing[ActivationPlan]]:
        """Clear the given needs (default: every open need) and return one activation plan per provider
        with offers for them (3.2.2.2.1.2): each offer's activated pieces, or one ``activation: false``
        entry. Each :class:`Outgoing` has the provider's knowledge base as recipient and the plan id as
        reference. Raises :class:`NotFound` for an unknown need."""
        entries: dict[str, list[ActivationPlanEntry]] = {}
        with self._storage.transaction("activation-plan") as db:
            if request_ids is None:
                db.execute("SELECT request_id FROM flexibility_needs WHERE status = 'open' ORDER BY request_id "
                           "FOR UPDATE").fetchall()
                ids = [r.need.request_id for r in self.needs(status="open")]
            else:
                ids = list(request_ids)
                _lock_needs(db, ids)
            records = [self.need(i) for i in ids]
            for record in records:
                for provider_id, entry in self._clear_need(db, record, now):
                    entries.setdefault(provider_id, []).append(entry)
            out = []
            for provider_id in sorted(entries):
                plan = ActivationPlan(entries[provider_id])
                plan_id = str(db.execute("INSERT INTO activation_plans (provider_id, created_at, status) VALUES "
                                         "(?, ?, 'sent') RETURNING id", (provider_id, to_db_time(now))).fetchone()[0])
                db.executemany('INSERT INTO activation_plan_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                               [(plan_id, e.request_id, e.offer_id, int(e.activation), e.quantity, e.unit,
                                 to_db_time(e.start), to_db_time(e.end)) for e in plan.root])
                self._registry.write(db, at=now, actor=DSO, operation="activation-plan", subject=provider_id,
                                     outcome=Outcome.SENT, reason=f"plan {plan_id} for needs {', '.join(ids)}")
                knowledge_base = self._parties.provider(provider_id).knowledge_base_id
                out.append(Outgoing(plan, recipient=knowledge_base, reference=plan_id))
        return out

    def _clear_need(self, db: Transaction, record: NeedRecord,
                    now: datetime) -> list[tuple[str, ActivationPlanEntry]]:
        """Clear one need; an offer that cannot be cleared (outside the bounds, a unit of the other power
        type, a bad window) is rejected alone, registered with its reason, and gets ``activation: false``."""
        need = record.need
        offers = self.offers(need.request_id)
        refused: dict[tuple[str, str], str] = {}
        bids, scale = [], {}
        for o in offers:
            key = (o.provider_id, o.offer.offer_id)
            problem = self._clearing_problem(o.offer, need)
            if problem:
                refused[key] = f"offer {o.offer.offer_id!r} of {o.provider_id!r}: {problem}"
                continue
            scale[key] = _factor(o.offer.unit, need.unit)
            bids.append(Bid(o.provider_id, o.offer.offer_id, o.offer.price, o.offer.offer * scale[key], o.offer.start,
                            o.offer.end))
        beyond = set(refused)
        firm = [a for a in self.allocations(need.request_id)
                if a.key not in refused and _status_of(offers, a.key) in ("accepted", "activated")]
        cleared = clear(need.needs, need.start, need.end, bids, firm)
        refused.update(cleared.refused)
        allocations = [a for a in cleared.allocations if a.key not in refused]
        before: dict[tuple[str, str], list[tuple[datetime, datetime, float]]] = {}
        for a in firm:
            before.setdefault(a.key, []).append((a.start, a.end, a.quantity))
        before = {k: sorted(v) for k, v in before.items()}
        db.execute("DELETE FROM allocations WHERE request_id = ?", (need.request_id,))
        db.executemany('INSERT INTO allocations (request_id, provider_id, offer_id, start, "end", quantity) '
                       "VALUES (?, ?, ?, ?, ?, ?)", [(need.request_id, a.provider, a.offer_id, to_db_time(a.start),
                                                     to_db_time(a.end), a.quantity) for a in allocations])
        out = []
        for o in offers:
            key = (o.provider_id, o.offer.offer_id)
            mine = [a for a in allocations if a.key == key]
            if mine:
                unchanged = before.get(key) == sorted((a.start, a.end, a.quantity) for a in mine)
                status = "activated" if o.status == "activated" and unchanged else "accepted"
                out += [(o.provider_id, ActivationPlanEntry(
                    request_id=need.request_id, offer_id=o.offer.offer_id, activation=True,
                    quantity=a.quantity / scale[key], unit=o.offer.unit, start=a.start, end=a.end)) for a in mine]
            else:
                status = "rejected"
                out.append((o.provider_id, ActivationPlanEntry(
                    request_id=need.request_id, offer_id=o.offer.offer_id, activation=False, quantity=0.0,
                    unit=o.offer.unit, start=o.offer.start, end=o.offer.end)))
            if key in refused:
                code = Code.OUT_OF_BOUNDS if key in beyond else Code.INVALID
                self._policy.refuse("clearing", o.provider_id, now, code=code, reason=refused[key],
                                    subject=need.request_id, db=db, outcome=Outcome.REJECTED)
            db.execute("UPDATE flexibility_offers SET status = ? WHERE request_id = ? AND provider_id = ? AND "
                       "offer_id = ?", (status, need.request_id, o.provider_id, o.offer.offer_id))
        db.execute("UPDATE flexibility_needs SET status = 'cleared', updated_at = ? WHERE request_id = ?",
                   (to_db_time(now), need.request_id))
        self._registry.write(db, at=now, actor=DSO, operation="clearing", subject=need.request_id,
                             outcome=Outcome.ACCEPTED, reason=f"{len({a.key for a in allocations})} of "
                             f"{len(offers)} offers activated" + (f", {len(refused)} refused" if refused else ""))
        return out

    def _clearing_problem(self, offer: FlexibilityOffer, need: FlexibilityNeed) -> str | None:
        """Why a stored offer cannot take part in the clearing of ``need`` (bounds tightened since it was
        received, a unit of the other power type), or ``None``."""
        if offer.unit not in _UNITS_OF[need.power_type]:
            return f"unit {offer.unit} does not fit a {need.power_type.value} power need"
        return self._bounds.power_problem("offer", offer.offer, offer.unit) or self._bounds.price_problem(
            "price", offer.price)

    def allocations(self, request_id: str) -> list[Allocation]:
        """The current allocations of a need (in the need's unit), by start."""
        rows = self._storage.query('SELECT * FROM allocations WHERE request_id = ? ORDER BY start, provider_id, '
                                   "offer_id", (request_id,))
        return [Allocation(r["provider_id"], r["offer_id"], from_db_time(r["start"]), from_db_time(r["end"]),
                           r["quantity"]) for r in rows]

    def record_activation_acknowledgement(self, plan_id: str, acknowledgement: Acknowledgement, *,
                                          now: datetime) -> None:
        """Record a provider's answer to the plan ``plan_id``: accepted activates the plan's offers,
        rejected leaves them accepted and keeps the reason. Raises :class:`NotFound`."""
        with self._storage.transaction("activation-plan acknowledgement") as db:
            plan = db.execute("SELECT * FROM activation_plans WHERE id = ? FOR UPDATE",
                              (plan_id,)).fetchone() if str(plan_id).isdigit() else None
            if plan is None:
                raise NotFound(f"unknown activation plan {plan_id!r}")
            accepted = acknowledgement.status is Status.ACCEPTED
            db.execute("UPDATE activation_plans SET status = ?, reason = ?, acknowledged_at = ? WHERE id = ?",
                       ("acknowledged" if accepted else "refused", acknowledgement.reason or "", to_db_time(now),
                        plan_id))
            if accepted:
                db.execute("UPDATE flexibility_offers SET status = 'activated' WHERE status = 'accepted' AND "
                           "provider_id = ? AND (request_id, offer_id) IN (SELECT request_id, offer_id FROM "
                           "activation_plan_entries WHERE plan_id = ? AND activation = 1)",
                           (plan["provider_id"], plan_id))
            self._registry.write(db, at=now, actor=plan["provider_id"], operation="activation-plan",
                                 subject=str(plan_id), outcome=Outcome.ACCEPTED if accepted else Outcome.REJECTED,
                                 reason=acknowledgement.reason or "")


def _lock_needs(db: Transaction, request_ids: Iterable[str], *, shared: bool = False) -> None:
    """Lock the needs for update (or ``shared``), in request id order (the one order every transaction
    takes them in)."""
    wanted = sorted(set(request_ids))
    if wanted:
        marks = ", ".join("?" for _ in wanted)
        db.execute(f"SELECT request_id FROM flexibility_needs WHERE request_id IN ({marks}) ORDER BY request_id "
                   f"FOR {'SHARE' if shared else 'UPDATE'}", wanted).fetchall()


def _factor(offer_unit: str, need_unit: str) -> float:
    """Multiply a quantity in ``offer_unit`` by this to get it in ``need_unit``."""
    return to_base_unit(1.0, offer_unit)[0] / to_base_unit(1.0, need_unit)[0]


def _status_of(offers: Sequence[OfferRecord], key: tuple[str, str]) -> str:
    for o in offers:
        if (o.provider_id, o.offer.offer_id) == key:
            return o.status
    return "rejected"
