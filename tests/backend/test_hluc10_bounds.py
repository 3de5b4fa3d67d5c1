"""Issue 15 item 7: physical bounds on the quantities and prices of flexibility needs and offers
(``BackendSettings.bounds``), and clearing that isolates a bad offer instead of failing the market (the
adversarial run's D7: one 1e308 MW offer made ``build_activation_plans()`` raise for every need)."""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dso_saref.app.seed import SP001, SP002, example_needs
from dso_saref.backend import BackendSettings, Bounds, DsoBackend, Outcome, StateError, Storage
from dso_saref.backend.storage import to_db_time
from dso_saref.messages.flexibility import FlexibilityNeed
from tests.backend.test_hluc10_flexibility import offer, post


def test_issue_15_7_an_offer_of_1e308_mw_is_refused_naming_the_field(backend, needs, evening, sp1, caplog):
    caplog.set_level(logging.INFO, logger="dso_saref.backend.policy")
    ack = post(backend, sp1(), offer("1", "ok", 1, 0.1, *evening), offer("1", "big", 1e308, 0.1, *evening, unit="MW"))
    assert ack.status == "rejected"
    assert "offer big for need 1: $[1].offer: 1e+308 MW is above the largest power the DSO accepts (1e+06 kW)" \
        in ack.reason
    assert backend.market.offers() == []  # all or nothing
    [row] = backend.registry.entries(operation="flexibility-offers", outcome=Outcome.REJECTED)
    assert row.actor == "SP001" and "$[1].offer" in row.reason
    [line] = [r.getMessage() for r in caplog.records if r.name == "dso_saref.backend.policy"]
    assert json.loads(line)["code"] == "out-of-bounds"
    assert post(backend, sp1(), offer("1", "ok", 1, 0.1, *evening)).status == "accepted"
    [plan] = backend.build_activation_plans(["1"])  # the market clears what was accepted
    assert [e.offer_id for e in plan.message.root] == ["ok"]


@pytest.mark.parametrize(("price", "accepted"), [(-10.0, True), (10.0, True), (-10.5, False), (1e6, False)])
def test_issue_15_7_prices_outside_the_bounds_are_refused(backend, needs, evening, sp1, price, accepted):
    ack = post(backend, sp1(), offer("1", "a", 1, price, *evening))
    assert (ack.status == "accepted") is accepted
    if not accepted:
        assert "$[0].price" in ack.reason and "outside the prices the DSO accepts (-10 to 10 EUR/kWh)" in ack.reason


def test_issue_15_7_the_bounds_are_configurable(clock, database):
    from dso_saref.app.seed import seed

    backend = DsoBackend(database.open(), settings=BackendSettings(bounds=Bounds(max_power=5.0, max_price=0.5)),
                         clock=clock)
    summary = seed(backend)
    backend.publish_needs(example_needs(summary))
    evening = summary.start + timedelta(hours=18), summary.start + timedelta(hours=21)
    from dso_saref.backend import ExchangeContext

    context = ExchangeContext(SP001, clock())
    assert post(backend, context, offer("1", "a", 5.0, 0.5, *evening)).status == "accepted"
    too_much = post(backend, context, offer("1", "b", 0.006, 0.1, *evening, unit="MW"))
    assert too_much.status == "rejected" and "0.006 MW is above the largest power the DSO accepts (5 kW)" in \
        too_much.reason
    assert post(backend, context, offer("1", "c", 1, 0.6, *evening)).status == "rejected"


@pytest.mark.parametrize("bounds", [dict(max_power=0), dict(max_power=math.inf), dict(min_price=1, max_price=1),
                                    dict(min_price=math.nan)])
def test_issue_15_7_bounds_themselves_are_checked(bounds):
    with pytest.raises(ValueError):
        Bounds(**bounds)


def test_issue_15_7_needs_beyond_the_bounds_are_refused(backend, summary, needs, evening):
    huge = FlexibilityNeed(request_id="9", needs=2e6, unit="kW", direction="Up", power_type="Active",
                           start=evening[0], end=evening[1], eligible_clients=["M0001"])
    with pytest.raises(StateError, match=r"need 9: needs: 2e\+06 kW is above"):
        backend.publish_needs([huge])
    with pytest.raises(StateError, match=r"need 1: with 2e\+06 kW more, needs: 2e\+06 kW is above"):
        backend.add_to_needs({"1": 2e6})
    assert backend.market.need("1").need.needs == 4.0 and backend.market.need("1").version == 1


def store(backend, request_id, provider, offer_id, quantity, unit, price, start, end, status="received"):
    """Store an offer as an older release (before the bounds) or a tightened configuration leaves it."""
    with backend.storage.transaction("test: stored offer") as db:
        db.execute('INSERT INTO flexibility_offers (request_id, provider_id, offer_id, quantity, unit, price, start, '
                   '"end", status, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
                   (request_id, provider, offer_id, quantity, unit, price, to_db_time(start), to_db_time(end),
                    status, to_db_time(start)))
        db.execute("INSERT INTO offer_meters VALUES (?, ?, ?, ?)", (request_id, provider, offer_id, "M0001"))


def test_issue_15_7_clearing_isolates_a_1e308_mw_offer(backend, needs, evening, sp1, caplog):
    caplog.set_level(logging.INFO, logger="dso_saref.backend.policy")
    assert post(backend, sp1(), offer("1", "good", 3, 0.2, *evening)).status == "accepted"
    store(backend, "1", "SP002", "huge", 1e308, "MW", 0.01, *evening)
    plans = {plan.recipient: plan.message.root for plan in backend.build_activation_plans(["1"])}
    [good] = plans[SP001]
    [huge] = plans[SP002]
    assert (good.offer_id, good.activation, good.quantity) == ("good", True, 3.0)
    assert (huge.offer_id, huge.activation, huge.quantity) == ("huge", False, 0.0)
    assert backend.market.offer("1", "huge", "SP002").status == "rejected"
    [row] = backend.registry.entries(operation="clearing", outcome=Outcome.REJECTED)
    assert row.actor == "SP002" and "offer 'huge' of 'SP002': offer: 1e+308 MW is above" in row.reason
    assert [json.loads(r.getMessage())["code"] for r in caplog.records] == ["out-of-bounds"]


# -- whatever the offers, every need gets a plan or a per-offer refusal ---------------------------------

T0 = datetime(2030, 1, 1, 10, tzinfo=UTC)
NEEDS = {"A": ("kW", "Active"), "B": ("MVAr", "Reactive")}


def market() -> DsoBackend:
    """A small market: two providers, one meter, need A (4 kW up) and need B (0.5 MVAr up), 10:00-14:00."""
    backend = DsoBackend(Storage(), clock=lambda: T0)
    backend.parties.register_service_provider("SP001", knowledge_base_id=SP001)
    backend.parties.register_service_provider("SP002", knowledge_base_id=SP002)
    backend.grid.add_client("C1", voltage_level="LV", meter_id="M0001")
    backend.publish_needs([FlexibilityNeed(request_id=r, needs=4.0 if unit == "kW" else 0.5, unit=unit,
                                           direction="Up", power_type=power, start=T0, end=T0 + timedelta(hours=4),
                                           eligible_clients=["M0001"]) for r, (unit, power) in NEEDS.items()])
    return backend


@st.composite
def stored_offers(draw):
    out = []
    for i in range(draw(st.integers(min_value=0, max_value=7))):
        a = draw(st.integers(min_value=-2, max_value=5))
        b = draw(st.integers(min_value=a + 1, max_value=7))
        out.append((draw(st.sampled_from(sorted(NEEDS))), draw(st.sampled_from(["SP001", "SP002"])), str(i),
                    draw(st.one_of(st.floats(min_value=0, allow_infinity=False), st.sampled_from([1e308, 5e-324]))),
                    draw(st.sampled_from(["kW", "MW", "kVAr", "MVAr"])),
                    draw(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0.1, 0.2]))),
                    T0 + timedelta(hours=a), T0 + timedelta(hours=b)))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offers=stored_offers())
def test_issue_15_7_whatever_offers_every_need_gets_a_plan_or_a_per_offer_refusal(offers):
    backend = market()
    for request_id, provider, offer_id, quantity, unit, price, start, end in offers:
        store(backend, request_id, provider, offer_id, quantity, unit, price, start, end)
    plans = backend.build_activation_plans()  # never raises
    assert {n.need.request_id: n.status for n in backend.market.needs()} == {"A": "cleared", "B": "cleared"}
    entries = {(plan.recipient, e.request_id, e.offer_id): e for plan in plans for e in plan.message.root}
    refused = backend.registry.entries(operation="clearing", outcome=Outcome.REJECTED)
    for request_id, provider, offer_id, *_ in offers:
        record = backend.market.offer(request_id, offer_id, provider)
        kb = backend.parties.provider(provider).knowledge_base_id
        assert (kb, request_id, offer_id) in entries, "every offer is in its provider's plan"
        assert record.status in ("accepted", "rejected")
        if record.status == "accepted":
            assert record.offer.offer > 0 and math.isfinite(record.offer.price)
    explained = {(r.actor, r.subject, r.reason.split("'")[1]) for r in refused}
    for (kb, request_id, offer_id), entry in entries.items():
        provider = backend.parties.provider_for(kb).id
        if (provider, request_id, offer_id) in explained:
            assert entry.activation is False  # a refused offer is never activated
    for need in ("A", "B"):
        record = backend.market.need(need).need
        total = math.fsum(a.quantity for a in backend.market.allocations(need))
        hours = (record.end - record.start) / timedelta(hours=1)
        assert total <= record.needs * hours + 1e-9  # pieces over at most every hour of the need
