"""Issue 12 item 8: ``/metrics`` in the Prometheus text format, read back with prometheus-client's own
parser: requests by route and status, latency histograms, refusals by reason, validation failures by
message; label values stay bounded whatever paths clients send."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from dso_saref.monitoring.exchanges import (
    ANSWERED,
    FAILED,
    INVALID,
    REFUSED,
    SENT,
    SERVED,
    UNANSWERED,
    ExchangeRecord,
    sent_record,
)
from dso_saref.monitoring.metrics import Metrics, refusal_reason
from dso_saref.rest.gate import RequestRecord
from dso_saref.rest.operations import DSO_OPERATIONS
from tests.portal.support import Served, serving

NEEDS = "/v1/flexibility/needs?start=2021-09-28T00:00:00Z&end=2021-09-29T00:00:00Z"


@pytest.fixture
def dso() -> Iterator[Served]:
    with serving() as served:
        yield served


def test_requests_are_counted_by_route_method_and_status(dso: Served) -> None:
    for _ in range(2):
        assert dso.get(NEEDS, key="SP001").status == 200
    assert dso.get(NEEDS).status == 401
    assert dso.get("/v1/data-layer/topology?client_id=LV0001", key="SP001").status == 200
    assert dso.get("/v1/no/such/thing", key="SP001").status == 404
    total = "dso_saref_http_requests_total"
    assert dso.metric(total, route="/v1/flexibility/needs", method="GET", status="200") == 2
    assert dso.metric(total, route="/v1/flexibility/needs", method="GET", status="401") == 1
    assert dso.metric(total, route="/v1/data-layer/topology", method="GET", status="200") == 1
    assert dso.metric(total, route="other", method="GET", status="404") == 1
    count = "dso_saref_http_request_duration_seconds_count"
    assert dso.metric(count, route="/v1/flexibility/needs", method="GET") == 3
    assert dso.metric("dso_saref_http_request_duration_seconds_bucket", route="/v1/flexibility/needs",
                      method="GET", le="+Inf") == 3
    assert dso.metric(total, route="/metrics", method="GET", status="200") >= 1  # its own scrapes


def test_refusals_by_reason_and_validation_failures_by_message(dso: Served) -> None:
    assert dso.get(NEEDS).status == 401
    assert dso.get(NEEDS, key="not-a-key-of-anyone").status == 401
    assert dso.get(NEEDS, key="TP").status == 403  # a third party does not ask for needs
    offers = dso.call("POST", "/v1/flexibility/offers", key="SP001", body=json.dumps([{"offer": "much"}]).encode(),
                      headers={"Content-Type": "application/json"})
    assert offers.status == 400
    assert dso.get(f"{NEEDS}&bogus=1", key="SP001").status == 400
    assert dso.metric("dso_saref_refusals_total", channel="rest", reason="no-key") == 1
    assert dso.metric("dso_saref_refusals_total", channel="rest", reason="bad-key") == 1
    assert dso.metric("dso_saref_refusals_total", channel="rest", reason="forbidden") == 1
    assert dso.metric("dso_saref_refusals_total", channel="rest", reason="invalid") == 2
    failures = "dso_saref_validation_failures_total"
    assert dso.metric(failures, channel="rest", message="flexibility-offers") == 1
    assert dso.metric(failures, channel="rest", message="flexibility-needs-request") == 1


def test_the_monitoring_paths_are_public_and_the_rest_is_not(dso: Served) -> None:
    assert dso.get("/metrics").headers["content-type"].startswith("text/plain; version=")
    assert json.loads(dso.get("/health").body) == {"status": "ok"}
    assert dso.get("/metrics/../v1/flexibility/needs").status == 401
    assert dso.get("/healthz").status == 401


def _record(path: str, status: int = 200, operation: str | None = None, refusal: str | None = None) -> RequestRecord:
    return RequestRecord("r1", "GET", path, operation, status, 0.002, None, refusal)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.text(min_size=1, max_size=60).map(lambda t: "/" + t),
       status=st.sampled_from([200, 400, 401, 403, 404, 405, 406, 415, 418, 500]))
def test_label_values_stay_bounded_whatever_the_path(path: str, status: int) -> None:
    metrics = Metrics()
    metrics.observe(_record(path, status))
    text = metrics.exposition()[0].decode("utf-8")
    routes = {s.labels["route"] for f in text_string_to_metric_families(text) for s in f.samples if "route" in s.labels}
    allowed = {op.path for op in DSO_OPERATIONS} | {"other", "/health", "/ready", "/metrics", "/openapi.json",
                                                     "/docs", "/docs/oauth2-redirect", "/redoc", "/static/docs/",
                                                     "/portal", "/portal/"}
    assert routes <= allowed
    reasons = {s.labels["reason"] for f in text_string_to_metric_families(text) for s in f.samples
               if "reason" in s.labels}
    assert all(len(r) < 30 and " " not in r for r in reasons)


def test_refusal_reasons_are_kinds() -> None:
    assert refusal_reason(401, "an API key is required: send it as Authorization: Bearer <key>") == "no-key"
    assert refusal_reason(401, "the API key is not valid (unknown, malformed, expired or revoked)") == "bad-key"
    assert refusal_reason(403, "service_provider SP9 is not the caller (SP1)") == "forbidden"
    assert refusal_reason(418) == "status-418"


def test_exchanges_are_counted_by_interaction_side_and_outcome() -> None:
    metrics = Metrics()
    for outcome in (ANSWERED, ANSWERED, REFUSED, INVALID, FAILED):
        metrics.exchange(ExchangeRecord("metering-request", SERVED, outcome, 0.01, "7"))
    metrics.exchange(ExchangeRecord("disaggregated-data-request", SERVED, REFUSED, 0.01, "9", reason="k-anonymity"))
    metrics.exchange(ExchangeRecord("disaggregated-data-request", SERVED, REFUSED, 0.01, "10", reason="free text"))
    metrics.exchange(ExchangeRecord("flexibility-needs", SENT, ANSWERED, 0.2, "8"))
    text = metrics.exposition()[0].decode("utf-8")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("dso_saref_ke_exchanges_total", interaction="metering-request", side="served", outcome="answered") == 2
    assert value("dso_saref_ke_exchanges_total", interaction="flexibility-needs", side="sent", outcome="answered") == 1
    assert value("dso_saref_refusals_total", channel="ke", reason="refused") == 2  # no kind, or not a known one
    assert value("dso_saref_refusals_total", channel="ke", reason="k-anonymity") == 1
    assert value("dso_saref_validation_failures_total", channel="ke", message="metering-request") == 1
    assert value("dso_saref_ke_exchange_duration_seconds_count", interaction="metering-request", side="served") == 5
    minute = metrics.history.window(hours=1 / 60)[-1]
    assert minute.exchanges == {"answered": 3, "refused": 3, "invalid": 1, "failed": 1}
    assert minute.refusals == {"ke-refused": 2, "ke-k-anonymity": 1, "ke-invalid": 1}


def test_an_exchange_record_refuses_unknown_sides_and_outcomes() -> None:
    with pytest.raises(ValueError, match="side"):
        ExchangeRecord("x", "both", ANSWERED, 0.1)
    with pytest.raises(ValueError, match="outcome"):
        ExchangeRecord("x", SERVED, "maybe", 0.1)


def test_an_exchange_the_dso_sent_is_recorded_from_what_the_adapter_returned() -> None:
    from dso_saref.ke.adapter import Exchange

    answered = sent_record(Exchange("flexibility-needs", {"https://sp1": {}}, {"https://sp2": "timeout"}), 0.5)
    assert (answered.side, answered.outcome, answered.peer) == (SENT, ANSWERED, "https://sp1")
    assert answered.detail == "https://sp2: timeout"
    failed = sent_record(Exchange("activation-plan", {}, {"https://sp2": "handler failed"}), 0.1)
    assert failed.outcome == FAILED and failed.peer is None
    nobody = sent_record(Exchange("activation-plan"), 0.1, request_id="r9")
    assert nobody.outcome == UNANSWERED and nobody.request_id == "r9" and nobody.detail is None
