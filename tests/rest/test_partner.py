"""Issue 12 item 5: the typed client of the APIs the DSO calls, against the reference service provider's
API (``create_partner_app`` over :class:`ServiceProviderRole`): every endpoint, typed answers, typed
refusals, the DSO's key required; and the transport sends a request again only when that is safe."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dso_saref.app.rest_demo import reference_provider
from dso_saref.app.seed import DSO_KB
from dso_saref.messages.data_sharing import IncentiveOffer, IncentiveResponse
from dso_saref.messages.flexibility import Acknowledgement, FlexibilityNeed, FlexibilityNeeds
from dso_saref.messages.observability import (
    DisaggregatedData,
    DisaggregatedDataRequest,
    FaultMinElapsedTime,
    FaultMinHems,
    FaultPostalCodes,
    HemsStatus,
    HemsStatusRequest,
    HemsVoltage,
    HemsVoltageRequest,
    SubscriptionResponse,
)
from dso_saref.rest.app import create_partner_app
from dso_saref.rest.client import PartnerClient, RestRefused
from dso_saref.rest.server import RestServer
from dso_saref.rest.transport import HttpRequest, HTTPTransport, RestUnavailable

TOKEN = "partner-key-for-the-tests-0123456789"


@pytest.fixture
def sp() -> Iterator[PartnerClient]:
    provider = reference_provider("SP001")
    app = create_partner_app(provider.handlers(), token=TOKEN, dso_knowledge_base=DSO_KB)
    with RestServer(app) as server, PartnerClient(server.base_url, api_key=TOKEN) as client:
        client.provider = provider  # type: ignore[attr-defined]
        yield client


def test_every_endpoint_answers_its_typed_answer(sp: PartnerClient) -> None:
    start = datetime(2030, 1, 1, 18, tzinfo=UTC)
    needs = FlexibilityNeeds([FlexibilityNeed(request_id="7", needs=2.0, unit="kW", direction="Up", power_type="Active",
                                              start=start, end=start + timedelta(hours=1), eligible_clients=["M0001"])])
    ack = sp.flexibility_needs(needs)
    assert isinstance(ack, Acknowledgement) and ack.status.value == "accepted"
    assert "7" in sp.provider.needs  # type: ignore[attr-defined]
    assert sp.fault_min_hems(FaultMinHems.model_validate(
        {"Postal_Code": "4405-123", "Fault_Location_Inputs": [{"Min_nbr_Hems_faulty": 2}]})).status.value == "accepted"
    assert sp.fault_min_elapsed_time(FaultMinElapsedTime.model_validate(
        {"Fault_Location_Inputs": [{"Min_time_of_interruption": 300, "Min_time_of_interruption_unit": "seconds"}]}
    )).status.value == "accepted"
    subscribed = sp.fault_postal_codes(FaultPostalCodes.model_validate(
        {"Fault_Location_Inputs": [{"Postal_Code": "4405-123"}]}))
    assert isinstance(subscribed, SubscriptionResponse) and subscribed.status.value == "accepted"
    status = sp.hems_status_request(HemsStatusRequest(Hems_ID="H0001"))
    assert isinstance(status, HemsStatus) and status.Voltage_Monitoring[0].Hems_ID == "H0001"
    volts = sp.hems_voltage_request(HemsVoltageRequest(Hems_ID="H0001"))
    assert isinstance(volts, HemsVoltage) and volts.Voltage_Monitoring[0].Voltage_from_Hems == 230.0
    data = sp.disaggregated_data_request(DisaggregatedDataRequest(customers_ids=["U0001", "U0002"]))
    assert isinstance(data, DisaggregatedData) and {c.customer_id for c in data.customers} == {"U0001", "U0002"}
    answer = sp.incentive_offer(IncentiveOffer(offer_id="I1", end_user="U0001", contracted_power=3.45,
                                               contracted_power_unit="kW", incentive_unit="EUR/kWh", incentive=0.05,
                                               start=start, end=start + timedelta(days=30)))
    assert isinstance(answer, IncentiveResponse) and answer.accepted


def test_refusals_are_typed(sp: PartnerClient) -> None:
    with pytest.raises(RestRefused) as unknown:
        sp.hems_status_request(HemsStatusRequest(Hems_ID="H9999"))
    assert unknown.value.status == 404 and "H9999" in unknown.value.detail
    with PartnerClient(transport=sp.transport, api_key="wrong-key") as intruder, pytest.raises(RestRefused) as denied:
        intruder.hems_voltage_request(HemsVoltageRequest(Hems_ID="H0001"))
    assert denied.value.status == 401


def test_the_path_carries_its_field_percent_encoded(sp: PartnerClient) -> None:
    request = sp.request(sp._by_name["hems-status-request"], HemsStatusRequest(Hems_ID="H 1/2", Postal_Code="4405"))
    assert request.target == "/v1/grid-observability/hems/H%201%2F2/status?Postal_Code=4405"
    assert "Idempotency-Key" not in request.headers
    post = sp.request(sp._by_name["activation-plan"], None)
    assert post.headers["Idempotency-Key"] and post.headers["Content-Type"] == "application/json"


def test_no_reply_is_rest_unavailable() -> None:
    with HTTPTransport("http://127.0.0.1:9", timeout=2) as transport, pytest.raises(RestUnavailable):
        transport.handle(HttpRequest("GET", "/v1/anything"))


def test_a_closed_kept_alive_connection_is_retried_only_when_safe() -> None:
    """The server closes every connection after its reply without saying so: a GET or a POST with an
    Idempotency-Key goes again on a new connection; a POST without one fails instead of being sent twice."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            data = conn.recv(65536)
            if not data:
                conn.close()
                continue
            seen.append(data.split(b"\r\n", 1)[0])
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")
            conn.close()  # no "Connection: close": the client believes it can reuse it

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with HTTPTransport(f"http://127.0.0.1:{port}", timeout=5) as transport:
            assert transport.handle(HttpRequest("GET", "/a")).status == 200
            assert transport.handle(HttpRequest("GET", "/b")).status == 200
            assert transport.handle(HttpRequest("POST", "/c", {"Idempotency-Key": "k"}, b"{}")).status == 200
            with pytest.raises(RestUnavailable):
                transport.handle(HttpRequest("POST", "/d", {}, b"{}"))
    finally:
        listener.close()
    assert seen[:3] == [b"GET /a HTTP/1.1", b"GET /b HTTP/1.1", b"POST /c HTTP/1.1"]
    assert b"POST /d HTTP/1.1" not in seen
