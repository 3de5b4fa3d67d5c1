"""The seven use cases of D4.2 section 2.1 as scenarios, each step an exchange through the Knowledge Engine.

A scenario runs in a :class:`World`: the reference DSO (:class:`~dso_saref.backend.DsoBackend`), the
reference counterparts (:mod:`dso_saref.app.counterparts`) and ``send``, which carries one exchange
between two parties' adapters (:mod:`dso_saref.app.demo` builds the world on the emulator). The DSO's own
decisions (publish needs, clear, subscribe, the end user's answer through the customer channel) are
calls of the backend; every message between parties goes through ``send``. A scenario raises
:class:`ScenarioFailed` with the reason when an expectation does not hold and returns a one-line
summary when every one does::

    world = ...                                 # see dso_saref.app.demo.Network.world()
    for scenario in SCENARIOS:
        print(scenario.puc, scenario.run(world))

Scenarios build on each other in the order of :data:`SCENARIOS` (HLUC 10 PUC 2 adjusts the day-ahead
market of PUC 1; HLUC 11 PUC 3's opportunities come from its needs): :func:`prerequisites` says which.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

import dso_saref
from dso_saref.app.counterparts import ManagedHems, ServiceProviderRole, ThirdPartyRole
from dso_saref.app.seed import DSO_KB, DSP001, SP001, SP002, THIRD_PARTY, SeedSummary, example_needs
from dso_saref.backend import DsoBackend, Outcome
from dso_saref.backend.consent import ConsentState
from dso_saref.messages.common import Status
from dso_saref.messages.data_sharing import (
    AuthorizationResponse,
    FlexibilityData,
    FlexibilityDataRequest,
    IncentiveResponse,
    MeteringData,
)
from dso_saref.messages.elasticity import ElasticityInput, ElasticityOutput
from dso_saref.messages.flexibility import (
    Acknowledgement,
    FlexibilityNeed,
    FlexibilityNeeds,
    FlexibilityOffer,
    FlexibilityOffers,
)
from dso_saref.messages.observability import (
    DisaggregatedData,
    HemsStatus,
    HemsVoltage,
    Opportunities,
    SubscriptionResponse,
    SubscriptionStatus,
)

__all__ = [
    "PARTIES",
    "SCENARIOS",
    "PartySpec",
    "Scenario",
    "ScenarioFailed",
    "World",
    "exchanges_of",
    "prerequisites",
]

M = TypeVar("M", bound=BaseModel)
Send = Callable[..., Any]


@dataclass(frozen=True)
class PartySpec:
    """A party of the demo: its name in the narration, its knowledge base and its role in the catalog."""

    name: str
    kb_id: str
    role: str


PARTIES = (
    PartySpec("DSO", DSO_KB, "dso"),
    PartySpec("SP001", SP001, "service-provider"),
    PartySpec("SP002", SP002, "service-provider"),
    PartySpec("DSP001", DSP001, "data-service-provider"),
    PartySpec("TP", THIRD_PARTY, "third-party"),
)
_NAMES = {p.kb_id: p.name for p in PARTIES}


class ScenarioFailed(Exception):
    """An expectation of a scenario did not hold; the message is the reason shown in the table."""


def expect(condition: bool, reason: str) -> None:
    """Go on when ``condition`` holds, else fail the scenario with ``reason``."""
    if not condition:
        raise ScenarioFailed(reason)


@dataclass
class World:
    """Everything the scenarios share: the DSO, its counterparts' reference behaviours, the day the
    market is for (tomorrow), and ``send(sender, name, message, to=kb_id)`` returning the
    :class:`~dso_saref.ke.adapter.Exchange` (``to=None``: every party that serves ``name``)."""

    backend: DsoBackend
    summary: SeedSummary
    send: Send
    note: Callable[[str], None]
    providers: dict[str, ServiceProviderRole]
    third_party: ThirdPartyRole
    market_start: datetime
    seed_value: int = 7
    state: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, backend: DsoBackend, summary: SeedSummary, send: Send, note: Callable[[str], None], *,
               seed_value: int = 7) -> World:
        """A world over a seeded backend: SP001 manages the seed's HEMS, SP002 two meters (cheaper),
        DSP001 answers disaggregated-data requests; the market is for tomorrow (UTC)."""
        hems = [ManagedHems(h, summary.postal_codes[c], meter_id=summary.meters[c]) for h, c in summary.hems.items()]
        providers = {
            "SP001": ServiceProviderRole("SP001", SP001, hems=hems, seed=seed_value),
            "SP002": ServiceProviderRole("SP002", SP002, meters=["M0006", "M0007"], base_price=0.10,
                                         seed=seed_value + 1),
            "DSP001": ServiceProviderRole("DSP001", DSP001, seed=seed_value + 2),
        }
        tomorrow = backend.now().astimezone(UTC).date() + timedelta(days=1)
        return cls(backend, summary, send, note, providers, ThirdPartyRole(THIRD_PARTY),
                   datetime.combine(tomorrow, time(0), tzinfo=UTC), seed_value)

    @property
    def market_end(self) -> datetime:
        """The end of the market day."""
        return self.market_start + timedelta(days=1)

    def handlers(self, party: PartySpec) -> dict[str, Any]:
        """The handlers a party serves: the DSO's backend, or its reference behaviour."""
        if party.role == "dso":
            return dict(self.backend.handlers())
        role = self.providers.get(party.name)
        return dict(role.handlers()) if role is not None else {}

    # -- exchanges with expectations -------------------------------------------------------------------

    def answer(self, sender: str, name: str, message: BaseModel, model: type[M], *, to: str = DSO_KB) -> M:
        """Send ``message``; the typed answer of ``to``, or fail the scenario naming why not."""
        exchange = self.send(sender, name, message, to=to)
        if to not in exchange.answers:
            why = exchange.failed.get(to, "no answer")
            raise ScenarioFailed(f"{name}: {_NAMES.get(to, to)} did not answer: {why}")
        return model.model_validate(exchange.answers[to])

    def refused(self, sender: str, name: str, message: BaseModel, fragment: str, *, to: str = DSO_KB) -> str:
        """Send ``message`` and expect ``to`` to refuse it with a reason containing ``fragment``."""
        exchange = self.send(sender, name, message, to=to)
        why = exchange.failed.get(to)
        expect(why is not None, f"{name} from {sender} should have been refused, was answered")
        expect(fragment in why, f"{name} from {sender} refused for another reason: {why}")
        return why

    def publish_needs(self, needs: FlexibilityNeeds, expected: set[str]) -> dict[str, Acknowledgement]:
        """The DSO posts needs to every provider (``expected``: who must acknowledge) and records their
        acknowledgements; returns them by knowledge base."""
        exchange = self.send("DSO", "flexibility-needs", needs)
        expect(set(exchange.answers) == expected, f"flexibility-needs: answered by {sorted(exchange.answers)}, "
               f"failed {exchange.failed}, expected {sorted(expected)}")
        acks = {kb: Acknowledgement.model_validate(a) for kb, a in exchange.answers.items()}
        for kb, ack in acks.items():
            self.backend.record_needs_acknowledgement(ack, responder=kb)
        return acks


# -- HLUC 5: data sharing ----------------------------------------------------------------------------------


def hluc5_puc1(world: World) -> str:
    """Authorization request, pending consent, the end user grants, token, metering data; refusals."""
    b, s, sp = world.backend, world.summary, world.providers["SP001"]
    ask = sp.authorization_request("U0001", s.start, s.end)
    first = world.answer("SP001", "authorization-request", ask, AuthorizationResponse)
    expect(not first.granted and "pending" in (first.reason or ""), f"expected a pending consent, got {first.reason}")
    pending = b.consents.consents(end_user="U0001", status=ConsentState.PENDING)
    expect(len(pending) == 1, f"expected one pending consent of U0001, found {len(pending)}")
    consent = b.grant_consent(pending[0].id)
    world.note(f"U0001 grants consent {consent.id} to SP001 through the DSO's customer channel")
    second = world.answer("SP001", "authorization-request", ask, AuthorizationResponse)
    token = second.authorization_token
    expect(second.granted and token == consent.token, f"expected the granted token, got {second.reason}")
    world.state["token"] = token
    data = world.answer("SP001", "metering-request", sp.metering_request("U0001", token, s.start, s.end, 2),
                        MeteringData)
    values = len(data.root[0].readings) if data.root else 0
    expect(values == 24, f"expected 24 hourly values of U0001, got {values}")
    not_valid = "the authorization token does not give access to this end user's data"  # whoever's token it is
    world.refused("SP001", "metering-request", sp.metering_request("U0002", token, s.start, s.end, 2), not_valid)
    world.refused("SP002", "metering-request", sp.metering_request("U0001", token, s.start, s.end, 2), not_valid)
    denied = world.answer("SP001", "authorization-request", sp.authorization_request("U0003", s.start, s.end),
                          AuthorizationResponse)
    expect(not denied.granted, "U0003's consent cannot be granted before the end user decides")
    b.refuse_consent(b.consents.consents(end_user="U0003", status=ConsentState.PENDING)[0].id)
    world.note("U0003 refuses SP001's request through the DSO's customer channel")
    again = world.answer("SP001", "authorization-request", sp.authorization_request("U0003", s.start, s.end),
                         AuthorizationResponse)
    expect(not again.granted and "refused" in (again.reason or ""), f"expected a refusal, got {again.reason}")
    logged = b.registry.entries(operation="metering-request", outcome=Outcome.REFUSED)
    expect(len(logged) >= 2, f"expected the refused accesses in the registry, found {len(logged)}")
    return f"token granted, {values} hourly values served, {len(logged)} refused accesses logged, 1 consent refused"


def hluc5_puc2(world: World) -> str:
    """Anonymised zone data (and a zone below k refused), flexibility history, an incentive accepted."""
    b, s, sp = world.backend, world.summary, world.providers["SP001"]
    zone = world.answer("SP001", "metering-request", sp.zone_request("Z-SS01", s.start, s.end, 2), MeteringData)
    values = len(zone.root[0].readings) if zone.root else 0
    expect(values == 24, f"expected 24 hourly values of zone Z-SS01, got {values}")
    world.refused("SP001", "metering-request", sp.zone_request("Z-SS02", s.start, s.end, 2), "fewer than the")
    ask = FlexibilityDataRequest(zone_id="Z-SS01", start=s.day, end=s.day + timedelta(days=1))
    history = world.answer("SP001", "flexibility-data-request", ask, FlexibilityData)
    expect(len(history.dates) == 2, f"expected the 2 needs of {s.day} in the history, got {len(history.dates)}")
    out = b.incentive_offer(end_user="U0001", recipient=SP001, contracted_power=3.45, incentive=0.05,
                            start=world.market_start, end=world.market_start + timedelta(days=30))
    response = world.answer("DSO", "incentive-offer", out.message, IncentiveResponse, to=out.recipient)
    ack = b.record_incentive_response(response, responder=SP001)
    preferences = b.incentives.preferences("U0001")
    expect(response.accepted and ack.status is Status.ACCEPTED, f"incentive not taken: {ack.reason}")
    expect(preferences is not None and preferences.contracted_power == 3.45,
           "the accepted incentive did not update U0001's preferences")
    world.note(f"U0001's preferences: contracted power {preferences.contracted_power:g} kW, accepts incentives")
    return f"zone Z-SS01 {values} values, Z-SS02 refused (k), {len(history.dates)} historical needs, incentive accepted"


# -- HLUC 10: flexibility ----------------------------------------------------------------------------------


def _market_needs(world: World) -> list[FlexibilityNeed]:
    shift = world.market_start - world.summary.start
    return [n.model_copy(update={"start": n.start + shift, "end": n.end + shift}) for n in example_needs(world.summary)]


def _plans(world: World, request_ids: list[str]) -> int:
    plans = world.backend.build_activation_plans(request_ids)
    for plan in plans:
        ack = world.answer("DSO", "activation-plan", plan.message, Acknowledgement, to=plan.recipient or "")
        expect(ack.status is Status.ACCEPTED, f"plan {plan.reference} refused: {ack.reason}")
        world.backend.record_activation_acknowledgement(plan.reference or "", ack)
    return len(plans)


def _total(world: World, request_id: str) -> float:
    return round(sum(a.quantity for a in world.backend.market.allocations(request_id)), 6)


def hluc10_puc1(world: World) -> str:
    """Needs published and requested, offers (one posting rejected), clearing, plans acknowledged."""
    b, sp1, sp2 = world.backend, world.providers["SP001"], world.providers["SP002"]
    world.publish_needs(b.publish_needs(_market_needs(world)).message, {SP001, SP002})
    needs = world.answer("SP002", "flexibility-needs-request", sp2.needs_request(world.market_start, world.market_end),
                         FlexibilityNeeds)
    expect(sorted(n.request_id for n in needs.root) == ["1", "2"], "SP002 should see needs 1 and 2")
    sp2.remember_needs(needs)
    ack = world.answer("SP001", "flexibility-offers", sp1.make_offers(), Acknowledgement)
    expect(ack.status is Status.ACCEPTED, f"SP001's offers rejected: {ack.reason}")
    need = needs.root[0]
    bad = FlexibilityOffers([FlexibilityOffer(request_id=need.request_id, offer_id="SP002-X1", offer=2.0, unit="kW",
                                              price=0.05, start=need.start, end=need.end, meter_ids=["M0013"])])
    rejected = world.answer("SP002", "flexibility-offers", bad, Acknowledgement)
    expect(rejected.status is Status.REJECTED and "not eligible" in (rejected.reason or ""),
           f"an offer on an ineligible meter should be rejected, got {rejected.status}: {rejected.reason}")
    ack = world.answer("SP002", "flexibility-offers", sp2.make_offers(), Acknowledgement)
    expect(ack.status is Status.ACCEPTED, f"SP002's offers rejected: {ack.reason}")
    plans = _plans(world, ["1", "2"])
    offers = [o for o in b.market.offers() if o.offer.request_id in ("1", "2")]
    allocated = {(a.provider, a.offer_id) for rid in ("1", "2") for a in b.market.allocations(rid)}
    wrong = [f"{o.offer.offer_id} is {o.status}" for o in offers
             if o.status != ("activated" if (o.provider_id, o.offer.offer_id) in allocated else "rejected")]
    expect(not wrong, f"offers with an allocation are activated once acknowledged, the others rejected: {wrong}")
    expect(_total(world, "1") == 4.0 and _total(world, "2") == 3.0, "needs 1 and 2 should be filled exactly")
    world.state["firm"] = {(a.provider, a.offer_id): a.quantity for a in b.market.allocations("1")}
    return (f"2 needs, {len(offers)} offers ({len(allocated)} activated) + 1 rejected posting, {plans} plans "
            "acknowledged, needs filled by price")


def hluc10_puc2(world: World) -> str:
    """Intraday: more of need 1 and a new need 3, new offers, adjusted plans keeping agreed offers."""
    b, sp1, sp2 = world.backend, world.providers["SP001"], world.providers["SP002"]
    firm = world.state.get("firm") or {(a.provider, a.offer_id): a.quantity for a in b.market.allocations("1")}
    world.publish_needs(b.add_to_needs({"1": 2.0}).message, {SP001, SP002})
    meters = sorted(world.summary.meters[c] for c in world.summary.hems.values()
                    if c in world.summary.households["Z-SS01"])
    at = world.market_start
    morning = FlexibilityNeed(request_id="3", needs=2.0, unit="kW", direction="Up", power_type="Active",
                              start=at + timedelta(hours=7), end=at + timedelta(hours=9), eligible_clients=meters,
                              zone_id="Z-SS01")
    world.publish_needs(b.publish_needs([morning], intraday=True).message, {SP001, SP002})
    needs = world.answer("SP002", "flexibility-needs-request", sp2.needs_request(world.market_start, world.market_end),
                         FlexibilityNeeds)
    by_id = {n.request_id: n for n in needs.root}
    expect(sorted(by_id) == ["1", "3"] and by_id["1"].needs == 6.0, f"expected open needs 1 (6 kW) and 3, got "
           f"{ {k: v.needs for k, v in by_id.items()} }")
    sp2.remember_needs(needs)
    for name, role in (("SP001", sp1), ("SP002", sp2)):
        ack = world.answer(name, "flexibility-offers", role.make_offers(["1", "3"]), Acknowledgement)
        expect(ack.status is Status.ACCEPTED, f"{name}'s intraday offers rejected: {ack.reason}")
    plans = _plans(world, ["1", "3"])
    after = {(a.provider, a.offer_id): a.quantity for a in b.market.allocations("1")}
    kept = all(after.get(key, 0.0) >= quantity - 1e-9 for key, quantity in firm.items())
    expect(kept, f"agreed offers were displaced: before {firm}, after {after}")
    expect(_total(world, "1") == 6.0 and _total(world, "3") == 2.0, "needs 1 (6 kW) and 3 (2 kW) should be filled")
    return f"need 1 +2 kW, need 3 new, {plans} adjusted plans acknowledged, {len(firm)} agreed offers kept"


# -- HLUC 11: observability -------------------------------------------------------------------------------


def hluc11_puc1(world: World) -> str:
    """Fault-location settings and subscription, a fault notification raising an event, HEMS asks."""
    b, sp = world.backend, world.providers["SP001"]
    for name, out in (("fault-min-hems", b.set_min_faulty_hems("SP001", 2)),
                      ("fault-min-elapsed-time", b.set_min_elapsed_time("SP001", 300))):
        ack = world.answer("DSO", name, out.message, Acknowledgement, to=out.recipient or "")
        b.record_settings_acknowledgement("SP001", name, ack)
        expect(ack.status is Status.ACCEPTED, f"{name} not acknowledged: {ack.reason}")
    subscriptions = {}
    for codes in (["4405-123", "4200-013"], ["4405-124"]):
        out = b.subscribe_postal_codes("SP001", codes)
        response = world.answer("DSO", "fault-postal-codes", out.message, SubscriptionResponse, to=out.recipient or "")
        b.record_subscription_response("SP001", codes, response)
        subscriptions[codes[0]] = response
    expect(subscriptions["4405-123"].status is SubscriptionStatus.ACCEPTED, "4405-123 should be subscribed")
    expect(subscriptions["4405-124"].status is SubscriptionStatus.DENIED, "4405-124 has too few HEMS to subscribe")
    now = b.now()
    sp.outage("4405-123", at=now - timedelta(minutes=10))
    world.note("every HEMS of 4405-123 stops communicating 10 minutes ago")
    notification = sp.fault_notification(now=now)
    expect(notification is not None, "SP001 should notify the outage of 4405-123")
    ack = world.answer("SP001", "fault-notification", notification, Acknowledgement)
    events = b.faults.fault_events(status="open", postal_code="4405-123")
    expect(ack.status is Status.ACCEPTED and len(events) == 1, f"expected a fault event for 4405-123: {ack.reason}")
    sp.hems["H0006"].voltage = 262.0
    alarms = []
    for hems_id in ("H0001", "H0006"):
        ask = b.hems_status_request(hems_id)
        status = world.answer("DSO", "hems-status-request", ask.message, HemsStatus, to=ask.recipient or "")
        alarms += b.record_hems_status(status, responder=ask.recipient or "")
        ask = b.hems_voltage_request(hems_id)
        volts = world.answer("DSO", "hems-voltage-request", ask.message, HemsVoltage, to=ask.recipient or "")
        alarms += b.record_hems_voltage(volts, responder=ask.recipient or "")
    flagged = sorted({(a.hems_id, a.source) for a in alarms})
    expect(flagged == [("H0006", "hems-status"), ("H0006", "hems-voltage")],
           f"expected H0006 flagged by status and voltage, got {flagged}")
    world.note("abnormal voltage detected at H0006 (262 V, outside 207-253 V)")
    return (f"thresholds set, 4405-123 subscribed, 4405-124 denied, fault event {events[0].id} raised, "
            "abnormal voltage at H0006")


def _profile(world: World) -> ElasticityInput:
    """U0001's seed-day consumption with a price incentive it responds to (reproducible)."""
    rng = random.Random(world.seed_value)
    raw = world.backend.grid.series("lv-client-reading", ["LV0001"], start=world.summary.start,
                                    end=world.summary.end, columns=("active_power_withdrawn", "active_power_injected"))
    rows = []
    for ts, (withdrawn, injected) in raw["LV0001"]:
        price = round(rng.uniform(0.08, 0.30), 4)
        consumption = max(0.0, (withdrawn - injected) * (1.25 - 1.5 * price) + rng.gauss(0, 0.01))
        rows.append({"userID": "U0001", "timestamp": ts, "customer_consumption": round(consumption, 4),
                     "customer_consumption_unit": "kW", "signal_incentive_Class:Cost": price,
                     "signal_incentive_Class:Cost_unit": "€/kWh"})
    return ElasticityInput.model_validate({"user_profile": rows})


def hluc11_puc2(world: World) -> str:
    """The DSO posts a user profile to SP001's elasticity service and keeps the elasticity it answers."""
    b = world.backend
    profile = _profile(world)
    out = b.elasticity_request(profile, "SP001")
    output = world.answer("DSO", "elasticity-input", out.message, ElasticityOutput, to=out.recipient or "")
    b.record_elasticity_output(output, responder=out.recipient or "")
    expect(output.userID == "U0001", f"elasticity of {output.userID}, expected U0001")
    own = b.compute_elasticity(profile).model_dump(mode="json", by_alias=True, exclude_none=True)
    hours = len(output.flexibility_response)
    expect(hours == 24, f"expected elasticity for 24 hours, got {hours}")
    same = dso_saref.canonical("elasticity-output", own) == dso_saref.canonical(
        "elasticity-output", output.model_dump(mode="json", by_alias=True, exclude_none=True))
    expect(same, "SP001's elasticity differs from the DSO's own run of the reference method")
    return f"{len(profile.user_profile)} readings -> elasticity of {hours} hours, equal to the DSO's own run"


def hluc11_puc3(world: World) -> str:
    """Disaggregated data from the data service provider; flexibility opportunities by zip code."""
    b = world.backend
    out = b.disaggregated_data_request("DSP001", ["U0001", "U0002"])
    data = world.answer("DSO", "disaggregated-data-request", out.message, DisaggregatedData, to=out.recipient or "")
    stored = b.record_disaggregated_data(data, responder=out.recipient or "")
    expect(stored == 2 * 3 * 24, f"expected 144 disaggregated values, stored {stored}")
    answer = world.answer("TP", "opportunities-request", world.third_party.opportunities_request(["4405", "4200"]),
                          Opportunities)
    by_zip = {o.zip_code: o.message for o in answer.opportunities}
    expect(any("need 1" in m for m in by_zip.get("4405-123", [])),
           f"expected an opportunity for need 1 around 4405-123, got {by_zip.get('4405-123')}")
    count = sum(len(m) for m in by_zip.values())
    return f"{stored} disaggregated values stored, {count} opportunity messages for {len(by_zip)} postal codes"


# -- the table ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One primary use case: its name in the spec, what it is, how to run it, the exchanges it starts
    (``sends``: what a deployment running only it registers) and the use cases it needs first."""

    puc: str
    title: str
    run: Callable[[World], str]
    sends: tuple[str, ...]
    needs: tuple[str, ...] = ()


_FLEXIBILITY = ("flexibility-needs", "flexibility-needs-request", "flexibility-offers", "activation-plan")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("HLUC5 PUC1", "Data access authorization management", hluc5_puc1,
             ("authorization-request", "metering-request")),
    Scenario("HLUC5 PUC2", "DSO data sharing services", hluc5_puc2,
             ("metering-request", "flexibility-data-request", "incentive-offer")),
    Scenario("HLUC10 PUC1", "Day-ahead grid operation planning with flexibility", hluc10_puc1, _FLEXIBILITY),
    Scenario("HLUC10 PUC2", "Intraday adjustment of flexibility needs", hluc10_puc2, _FLEXIBILITY,
             ("HLUC10 PUC1",)),
    Scenario("HLUC11 PUC1", "HEMS data to support fault location", hluc11_puc1,
             ("fault-min-hems", "fault-min-elapsed-time", "fault-postal-codes", "fault-notification",
              "hems-status-request", "hems-voltage-request")),
    Scenario("HLUC11 PUC2", "Quantification of consumers' load elasticity", hluc11_puc2, ("elasticity-input",)),
    Scenario("HLUC11 PUC3", "LV network operation status and load types", hluc11_puc3,
             ("disaggregated-data-request", "opportunities-request"), ("HLUC10 PUC1",)),
)


def prerequisites(puc: str) -> list[Scenario]:
    """The scenarios to run, in order, for ``puc`` to run: what it builds on, then itself; raises
    ``KeyError`` for an unknown use case."""
    by_name = {s.puc: s for s in SCENARIOS}
    if puc not in by_name:
        raise KeyError(f"unknown use case {puc!r} (one of {', '.join(by_name)})")
    order: list[Scenario] = []
    for needed in by_name[puc].needs:
        order += [s for s in prerequisites(needed) if s not in order]
    return [*order, by_name[puc]]


def exchanges_of(pucs: Iterable[str]) -> set[str]:
    """Every exchange that use cases ``pucs`` and what they build on start; raises ``KeyError`` for an
    unknown use case."""
    return {name for puc in pucs for scenario in prerequisites(puc) for name in scenario.sends}
