"""HLUC 11 PUC 1 and 3: HEMS status and voltage, abnormal-voltage detection, opportunities by zip code,
disaggregated data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dso_saref.app.seed import SP001, SP002, THIRD_PARTY, example_needs, seed
from dso_saref.backend import BackendSettings, DsoBackend, ExchangeContext, NotFound, StateError, VoltageBand
from dso_saref.messages.observability import DisaggregatedData, HemsStatus, HemsVoltage, OpportunitiesRequest


def voltage(hems_id, volts, at):
    return HemsVoltage(Voltage_Monitoring=[{"Hems_ID": hems_id, "timestamp": at, "Voltage_from_Hems": volts}])


def test_hluc11_puc1_hems_questions_go_to_the_provider_of_the_hems(backend, summary):
    status = backend.hems_status_request("H0001")
    assert status.recipient == SP001 and status.message.Hems_ID == "H0001" and status.reference == "H0001"
    volts = backend.hems_voltage_request("H0001")
    assert volts.recipient == SP001 and volts.message.Hems_ID == "H0001"
    with pytest.raises(NotFound):
        backend.hems_voltage_request("H9999")


@pytest.mark.parametrize(("volts", "abnormal"), [(230.0, False), (207.0, False), (253.0, False), (206.9, True),
                                                 (253.1, True), (0.0, True)])
def test_hluc11_puc1_abnormal_voltage_is_outside_en_50160_band(backend, summary, clock, volts, abnormal):
    alarms = backend.record_hems_voltage(voltage("H0001", volts, clock.now), responder=SP001)
    assert bool(alarms) is abnormal
    if abnormal:
        assert alarms[0].voltage == volts and alarms[0].postal_code == "4405-123"
    assert bool(backend.observability.abnormal_voltages()) is abnormal


def test_hluc11_puc1_voltage_band_is_configurable(clock, database):
    backend = DsoBackend(database.open(), settings=BackendSettings(voltage_band=VoltageBand(230.0, 0.05)), clock=clock)
    seed(backend)
    assert backend.record_hems_voltage(voltage("H0001", 243.0, clock.now), responder=SP001)


def test_hluc11_puc1_status_answers_are_recorded_and_flagged(backend, summary, clock):
    status = HemsStatus(Voltage_Monitoring=[
        {"Hems_ID": "H0001", "Status": "on", "Abnormal_Voltage": False, "timestamp": clock.now},
        {"Hems_ID": "H0002", "Status": "off", "Abnormal_Voltage": "Yes", "timestamp": clock.now}])
    alarms = backend.record_hems_status(status, responder=SP001)
    assert [(a.hems_id, a.source, a.voltage) for a in alarms] == [("H0002", "hems-status", None)]
    rows = backend.storage.query("SELECT hems_id, status FROM hems_status ORDER BY hems_id")
    assert [tuple(r) for r in rows] == [("H0001", "on"), ("H0002", "off")]


def test_hluc11_puc1_answers_about_another_providers_hems_are_refused(backend, summary, clock):
    with pytest.raises(StateError, match="not managed by SP002"):
        backend.record_hems_voltage(voltage("H0001", 230.0, clock.now), responder=SP002)
    with pytest.raises(StateError, match="unknown"):
        backend.record_hems_voltage(voltage("H4242", 230.0, clock.now), responder=SP001)


def test_hluc11_puc3_opportunities_by_zip_code_from_needs_and_topology(backend, summary, clock):
    clock.now = summary.start  # the needs of the seed day are still ahead
    backend.publish_needs(example_needs(summary))
    request = OpportunitiesRequest(zip_codes=["4405", "4200", "1000"])
    answer = backend.handlers()["opportunities-request"](request, ExchangeContext(THIRD_PARTY, clock()))
    by_zip = {o.zip_code: o.message for o in answer.opportunities}
    assert set(by_zip) == {"4405-123", "4405-124", "4405-200", "4200-013", "1000"}
    assert by_zip["1000"] == []  # no grid data there
    [upward, downward] = sorted(by_zip["4405-123"], key=lambda m: "need 2" in m)
    assert "4 kW upward" in upward and "18:00 and 21:00" in upward and "4 eligible clients in this area" in upward
    assert "3 kW downward" in downward and "1 eligible client in this area" in downward
    assert "nearby" not in downward  # M0007 hangs on SS01-F2, the clients of 4405-123 on SS01-F1
    [upward_124, _] = sorted(by_zip["4405-124"], key=lambda m: "need 2" in m)
    # M0006 is in 4405-124; M0001-M0004 share SS01-F1 with LV0005, also in 4405-124
    assert "1 eligible client in this area, 4 on the same feeders nearby" in upward_124
    assert by_zip["4200-013"] == ["No flexibility needs in this area."]
    clock.now = summary.end  # the needs are over: nothing to offer any more
    later = backend.handlers()["opportunities-request"](request, ExchangeContext(THIRD_PARTY, clock()))
    assert {o.zip_code: o.message for o in later.opportunities}["4405-123"] == ["No flexibility needs in this area."]


def test_hluc11_puc3_disaggregated_data_request_and_answer(backend, summary, clock):
    out = backend.disaggregated_data_request("SP001", ["xvc989007", "ert552555"])
    assert out.recipient == SP001 and out.message.customers_ids == ["xvc989007", "ert552555"]
    data = DisaggregatedData(customers=[{"customer_id": "xvc989007", "loads": [
        {"load_type": "EV", "unit": "kW", "series": [{"timestamp": clock.now, "consumption": 3.7},
                                                    {"timestamp": clock.now + timedelta(hours=1),
                                                     "consumption": 0.0}]}]}])
    assert backend.record_disaggregated_data(data, responder=SP001) == 2
    series = backend.observability.disaggregated_series("xvc989007")
    assert series == {"EV": [(clock.now, 3.7, "kW"), (clock.now + timedelta(hours=1), 0.0, "kW")]}
