"""HLUC 11 (spec 2.1.3), end to end through the adapters and the KE emulator over loopback HTTP."""

from __future__ import annotations

from dso_saref.app.demo import run_puc
from dso_saref.app.seed import DSO_KB, DSP001, SP001, THIRD_PARTY

from .conftest import answer_of, steps


def test_hluc11_puc1_fault_location_and_abnormal_voltage(network) -> None:
    [result] = run_puc(network, "HLUC11 PUC1")
    assert result.passed, result.detail
    backend = network.backend
    settings = {s.postal_code: s for s in backend.faults.subscriptions("SP001")}
    assert settings["*"].min_faulty_hems == 2 and settings["*"].min_elapsed_seconds == 300
    assert settings["4405-123"].subscription == "accepted" and settings["4405-124"].subscription == "denied"
    [notification] = steps(network, "fault-notification")
    assert "fault event" in answer_of(notification, DSO_KB)["reason"]
    [event] = backend.faults.fault_events(status="open")
    assert event.postal_code == "4405-123" and event.faulty_hems == 4
    statuses = [answer_of(s, SP001)["Voltage_Monitoring"][0] for s in steps(network, "hems-status-request")]
    assert [(s["Hems_ID"], s["Status"]) for s in statuses] == [("H0001", "off"), ("H0006", "on")]
    alarms = backend.observability.abnormal_voltages()
    assert {(a.hems_id, a.voltage) for a in alarms} == {("H0006", 262.0), ("H0006", None)}


def test_hluc11_puc2_load_elasticity(network) -> None:
    [result] = run_puc(network, "HLUC11 PUC2")
    assert result.passed, result.detail
    [step] = steps(network, "elasticity-input")
    assert len(step.payload["user_profile"]) == 96 and step.triples > 1000
    output = answer_of(step, SP001)
    assert output["userID"] == "U0001" and len(output["Ranking"]) == 24
    runs = network.backend.elasticity.runs("U0001")
    assert len(runs) == 2  # the provider's answer, kept, and the DSO's own run of the method


def test_hluc11_puc3_disaggregated_data_and_opportunities(network) -> None:
    results = run_puc(network, "HLUC11 PUC3")
    assert all(r.passed for r in results), [r.detail for r in results]
    [request] = steps(network, "disaggregated-data-request")
    customers = answer_of(request, DSP001)["customers"]
    assert [c["customer_id"] for c in customers] == ["U0001", "U0002"]
    assert {load["load_type"] for load in customers[0]["loads"]} == {"base", "EV", "heat_pump"}
    assert set(network.backend.observability.disaggregated_series("U0002")) == {"base", "EV", "heat_pump"}
    [ask] = steps(network, "opportunities-request")
    assert network.adapters["TP"].kb_id == THIRD_PARTY
    by_zip = {o["zip_code"]: o["message"] for o in answer_of(ask, DSO_KB)["opportunities"]}
    assert set(by_zip) == {"4405-123", "4405-124", "4405-200", "4200-013"}
    assert any("need 1" in m and "eligible clients in this area" in m for m in by_zip["4405-123"])
