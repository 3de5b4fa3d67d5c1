"""HLUC 10: flexibility needs, offers validated against an open need, clearing by price into activation
plans, activation acknowledgements, intraday adjustments."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dso_saref.app.seed import SP001, SP002
from dso_saref.backend import ExchangeContext, NotFound, Outcome, StateError
from dso_saref.messages.flexibility import (
    Acknowledgement,
    FlexibilityNeed,
    FlexibilityNeedsRequest,
    FlexibilityOffer,
    FlexibilityOffers,
)


def offer(request_id, offer_id, quantity, price, start, end, meters=("M0001",), unit="kW"):
    return FlexibilityOffer(request_id=request_id, offer_id=offer_id, offer=quantity, unit=unit, price=price,
                            start=start, end=end, meter_ids=list(meters))


def post(backend, context, *offers):
    return backend.handlers()["flexibility-offers"](FlexibilityOffers(list(offers)), context)


def test_hluc10_puc1_scn1_needs_publication_is_stored_and_broadcast(backend, needs):
    assert [n.request_id for n in needs.root] == ["1", "2"]
    record = backend.market.need("1")
    assert (record.kind, record.status, record.version) == ("day-ahead", "open", 1)
    assert record.need == needs.root[0]
    with pytest.raises(StateError, match="already published"):
        backend.publish_needs(needs.root[:1])


def test_hluc10_publication_refuses_unknown_meters_and_mismatched_units(backend, summary, evening):
    bad_meter = FlexibilityNeed(request_id="9", needs=1, unit="kW", direction="Up", power_type="Active",
                                start=evening[0], end=evening[1], eligible_clients=["M9999"])
    with pytest.raises(StateError, match="unknown eligible meters M9999"):
        backend.publish_needs([bad_meter])
    bad_unit = bad_meter.model_copy(update={"unit": "kVAr", "eligible_clients": ["M0001"]})
    with pytest.raises(StateError, match="does not fit Active"):
        backend.publish_needs([bad_unit])
    assert backend.market.needs() == []


def test_hluc10_puc1_scn2_needs_request_answers_the_open_needs_of_the_window(backend, summary, needs, sp1):
    handler = backend.handlers()["flexibility-needs-request"]
    evening_only = FlexibilityNeedsRequest(start=summary.start + timedelta(hours=15), end=summary.end)
    assert [n.request_id for n in handler(evening_only, sp1()).root] == ["1"]
    whole_day = FlexibilityNeedsRequest(start=summary.start, end=summary.end)
    assert [n.request_id for n in handler(whole_day, sp1()).root] == ["2", "1"]


@pytest.mark.parametrize(("make", "reason"), [
    (lambda s, e: offer("77", "a", 1, 0.1, s, e), "unknown need"),
    (lambda s, e: offer("1", "a", 1, 0.1, s - timedelta(hours=1), e), "outside the need's"),
    (lambda s, e: offer("1", "a", 1, 0.1, s, e, meters=("M0008",)), "meters M0008 are not eligible"),
    (lambda s, e: offer("1", "a", 1, 0.1, s, e, unit="kVAr"), "unit kVAr does not fit a Active power need"),
    (lambda s, e: offer("1", "a", 0, 0.1, s, e), "offers nothing"),
])
def test_hluc10_puc1_invalid_offers_are_rejected_with_a_reason(backend, needs, evening, sp1, make, reason):
    ack = post(backend, sp1(), offer("1", "ok", 1, 0.1, *evening), make(*evening))
    assert ack.status == "rejected" and reason in ack.reason
    assert backend.market.offers() == []  # all or nothing: the valid offer is not stored either
    [logged] = backend.registry.entries(operation="flexibility-offers", outcome=Outcome.REJECTED)
    assert logged.actor == "SP001" and reason in logged.reason


def test_hluc10_offers_from_an_unknown_requester_are_rejected(backend, needs, evening, clock):
    ack = post(backend, ExchangeContext("https://nobody.example.org/kb", clock()), offer("1", "a", 1, 0.1, *evening))
    assert ack.status == "rejected" and "no agreement" in ack.reason and ack.reference == "a"
    assert backend.market.offers() == []


def test_hluc10_an_offer_sent_again_is_idempotent_but_not_with_other_terms(backend, needs, evening, sp1):
    first = offer("1", "a", 1.5, 0.1, *evening, meters=("M0002", "M0001"))
    assert post(backend, sp1(), first).status == "accepted"
    assert post(backend, sp1(), first).status == "accepted"
    assert len(backend.market.offers("1")) == 1
    changed = post(backend, sp1(), offer("1", "a", 2.5, 0.1, *evening))
    assert changed.status == "rejected" and "other terms" in changed.reason


def test_hluc10_puc1_clearing_is_merit_order_with_a_partial_marginal_offer(backend, needs, evening, sp1, sp2):
    # need 1 asks 4 kW Up over 18:00-21:00
    assert post(backend, sp1(), offer("1", "1", 2.0, 0.12, *evening), offer("1", "2", 3.0, 0.20, *evening,
                                                                            meters=("M0002",))).status == "accepted"
    assert post(backend, sp2(), offer("1", "1", 1.5, 0.10, *evening, meters=("M0004",))).status == "accepted"
    plans = {p.recipient: p for p in backend.build_activation_plans(["1"])}
    assert set(plans) == {SP001, SP002}
    sp1_entries = {(e.offer_id, e.activation, e.quantity) for e in plans[SP001].message.root}
    assert sp1_entries == {("1", True, 2.0), ("2", True, 0.5)}  # 1.5 (SP002) + 2.0 + 0.5 of 3.0 = 4.0
    assert [(e.offer_id, e.quantity) for e in plans[SP002].message.root] == [("1", 1.5)]
    total = sum(a.quantity for a in backend.market.allocations("1"))
    assert total == pytest.approx(4.0)
    statuses = {(o.provider_id, o.offer.offer_id): o.status for o in backend.market.offers("1")}
    assert statuses == {("SP001", "1"): "accepted", ("SP001", "2"): "accepted", ("SP002", "1"): "accepted"}
    assert backend.market.need("1").status == "cleared"


def test_hluc10_puc1_offers_left_out_of_the_merit_order_are_not_activated(backend, needs, evening, sp1):
    post(backend, sp1(), offer("1", "cheap", 4.0, 0.05, *evening), offer("1", "dear", 2.0, 0.30, *evening))
    [plan] = backend.build_activation_plans(["1"])
    entries = {e.offer_id: (e.activation, e.quantity) for e in plan.message.root}
    assert entries == {"cheap": (True, 4.0), "dear": (False, 0.0)}
    assert backend.market.offer("1", "dear", "SP001").status == "rejected"


def test_hluc10_sub_window_offers_are_cleared_slot_by_slot(backend, needs, evening, sp1):
    s, e = evening
    post(backend, sp1(), offer("1", "a", 3.0, 0.05, s, s + timedelta(hours=1)), offer("1", "b", 3.0, 0.10, s, e))
    [plan] = backend.build_activation_plans(["1"])
    pieces = sorted((x.offer_id, x.start, x.end, x.quantity) for x in plan.message.root)
    assert pieces == [("a", s, s + timedelta(hours=1), 3.0), ("b", s, s + timedelta(hours=1), 1.0),
                      ("b", s + timedelta(hours=1), e, 3.0)]


def test_hluc10_offers_for_a_cleared_need_are_rejected(backend, needs, evening, sp1):
    post(backend, sp1(), offer("1", "a", 1.0, 0.1, *evening))
    backend.build_activation_plans(["1"])
    ack = post(backend, sp1(), offer("1", "b", 1.0, 0.1, *evening))
    assert ack.status == "rejected" and "already cleared" in ack.reason


def test_hluc10_activation_plan_acknowledgement_activates_the_offers(backend, needs, evening, sp1):
    post(backend, sp1(), offer("1", "a", 1.0, 0.1, *evening))
    [plan] = backend.build_activation_plans(["1"])
    backend.record_activation_acknowledgement(plan.reference, Acknowledgement(status="accepted"))
    assert backend.market.offer("1", "a", "SP001").status == "activated"
    with pytest.raises(NotFound):
        backend.record_activation_acknowledgement("999", Acknowledgement(status="accepted"))


def test_hluc10_a_refused_plan_leaves_offers_accepted(backend, needs, evening, sp1):
    post(backend, sp1(), offer("1", "a", 1.0, 0.1, *evening))
    [plan] = backend.build_activation_plans(["1"])
    backend.record_activation_acknowledgement(plan.reference, Acknowledgement(status="rejected", reason="busy"))
    assert backend.market.offer("1", "a", "SP001").status == "accepted"
    assert backend.registry.entries(operation="activation-plan", outcome=Outcome.REJECTED)[0].reason == "busy"


def test_hluc10_puc2_additional_needs_reopen_clearing_and_keep_agreed_offers(backend, needs, evening, sp1, sp2):
    post(backend, sp1(), offer("1", "a", 3.0, 0.10, *evening), offer("1", "b", 3.0, 0.20, *evening))
    [plan] = backend.build_activation_plans(["1"])
    backend.record_activation_acknowledgement(plan.reference, Acknowledgement(status="accepted"))
    assert {a.offer_id: a.quantity for a in backend.market.allocations("1")} == {"a": 3.0, "b": 1.0}
    update = backend.add_to_needs({"1": 3.0}).message
    assert update.root[0].needs == 7.0 and backend.market.need("1").version == 2
    assert backend.market.need("1").status == "open"
    # a cheaper offer arrives intraday: it fills the addition but does not displace the agreed ones
    assert post(backend, sp2(), offer("1", "c", 5.0, 0.01, *evening, meters=("M0004",))).status == "accepted"
    plans = {p.recipient: p.message for p in backend.build_activation_plans()}
    allocation = {(a.provider, a.offer_id): a.quantity for a in backend.market.allocations("1")}
    assert allocation == {("SP001", "a"): 3.0, ("SP001", "b"): 1.0, ("SP002", "c"): 3.0}
    assert backend.market.offer("1", "a", "SP001").status == "activated"  # unchanged, still activated
    assert {(e.offer_id, e.quantity) for e in plans[SP002].root} == {("c", 3.0)}


def test_hluc10_puc2_an_addition_must_be_positive_and_for_a_known_need(backend, needs):
    with pytest.raises(StateError):
        backend.add_to_needs({"1": -1.0})
    with pytest.raises(NotFound):
        backend.add_to_needs({"404": 1.0})


def test_hluc10_puc2_intraday_new_needs_are_published_as_intraday(backend, summary, evening):
    need = FlexibilityNeed(request_id="i1", needs=1, unit="MW", direction="Down", power_type="Active",
                           start=evening[0], end=evening[1], eligible_clients=[])
    backend.publish_needs([need], intraday=True)
    assert backend.market.need("i1").kind == "intraday"


def test_hluc10_offers_in_another_unit_are_converted_for_clearing(backend, summary, evening, sp1):
    need = FlexibilityNeed(request_id="big", needs=1, unit="MW", direction="Up", power_type="Active",
                           start=evening[0], end=evening[1], eligible_clients=[])
    backend.publish_needs([need])
    post(backend, sp1(), offer("big", "a", 600.0, 0.1, *evening), offer("big", "b", 600.0, 0.2, *evening))
    [plan] = backend.build_activation_plans(["big"])
    assert {(e.offer_id, e.quantity, e.unit) for e in plan.message.root} == {("a", 600.0, "kW"),
                                                                              ("b", 400.0, "kW")}


def test_hluc10_hostile_identifiers_are_kept_exactly(backend, summary, evening, sp1):
    meter = "M \x1f'\"<ü>\n1"
    backend.grid.add_client("LV-hostile", voltage_level="LV", meter_id=meter, zone_id="Z-SS01")
    need = FlexibilityNeed(request_id="x'); DROP TABLE flexibility_needs; --", needs=2, unit="kW", direction="Up",
                           power_type="Active", start=evening[0], end=evening[1], eligible_clients=[meter, "M0001"])
    backend.publish_needs([need])
    assert backend.market.need(need.request_id).need.eligible_clients == sorted([meter, "M0001"])
    ack = post(backend, sp1(), offer(need.request_id, "o,\x1f", 1.0, 0.1, *evening, meters=(meter, "M0001")))
    assert ack.status == "accepted"
    [stored] = backend.market.offers(need.request_id)
    assert stored.offer.offer_id == "o,\x1f" and stored.offer.meter_ids == sorted([meter, "M0001"])
