"""HLUC 10 (spec 2.1.2), end to end through the adapters and the KE emulator over loopback HTTP."""

from __future__ import annotations

from dso_saref.app.demo import run_puc
from dso_saref.app.seed import DSO_KB, SP001, SP002

from .conftest import answer_of, steps


def test_hluc10_puc1_day_ahead_needs_offers_clearing_activation(network) -> None:
    [result] = run_puc(network, "HLUC10 PUC1")
    assert result.passed, result.detail
    [publication] = steps(network, "flexibility-needs")
    assert set(publication.exchange.answers) == {SP001, SP002}  # published to every service provider
    [request] = steps(network, "flexibility-needs-request")
    assert [n["request_id"] for n in answer_of(request, DSO_KB)] == ["2", "1"]  # by start
    acks = [answer_of(s, DSO_KB) for s in steps(network, "flexibility-offers")]
    assert [a["status"] for a in acks] == ["accepted", "rejected", "accepted"]
    assert "meters M0013 are not eligible" in acks[1]["reason"]
    plans = steps(network, "activation-plan")
    assert sorted(kb for s in plans for kb in s.exchange.answers) == [SP001, SP002]
    rows = network.backend.storage.query("SELECT status FROM activation_plans")
    assert [r["status"] for r in rows] == ["acknowledged", "acknowledged"]
    cheaper = {a.provider: a.quantity for a in network.backend.market.allocations("1")}
    assert cheaper == {"SP002": 1.5, "SP001": 2.5}  # merit order: SP002 is cheaper, SP001 fills the rest


def test_hluc10_puc2_intraday_adjustment(network) -> None:
    results = run_puc(network, "HLUC10 PUC2")
    assert [r.puc for r in results] == ["HLUC10 PUC1", "HLUC10 PUC2"]
    assert all(r.passed for r in results), [r.detail for r in results]
    market = network.backend.market
    assert market.need("1").need.needs == 6.0 and market.need("1").version == 2
    assert market.need("3").kind == "intraday"
    day_ahead = steps(network, "activation-plan")[:2]
    intraday = steps(network, "activation-plan")[2:]
    assert len(intraday) == 2
    before = {e["offer_id"]: e["quantity"] for s in day_ahead for e in s.payload if e["request_id"] == "1"}
    after = {e["offer_id"]: e["quantity"] for s in intraday for e in s.payload if e["request_id"] == "1"}
    # an agreed offer is never displaced; SP001-1-1 had 1.5 kW unallocated, cheaper than SP001-1-2: it grows
    assert all(after[offer] >= quantity for offer, quantity in before.items()), (before, after)
    assert after["SP001-1-1"] == 3.0 and after["SP002-1-2"] == 1.5 and after.get("SP001-1-2", 0.0) == 0.0
    assert sum(after.values()) == 6.0
