"""Issue 12 item 3 and "Tests and figures": for every operation of the DSO's API, no key, a bad key, a
revoked or expired key, a party whose role does not start the exchange, another party's resource and
another user's consent token are refused, and never a byte of data leaves: the body is the error alone,
the database is unchanged (but for the registry row of the refusal, which carries the request id)."""

from __future__ import annotations

import string
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import dso_saref
from dso_saref.backend import Outcome
from dso_saref.rest.client import DsoClient
from dso_saref.rest.operations import DSO_OPERATIONS, ROLE_ACTS_AS, Operation

from .conftest import Api, Reply

PROBLEM_KEYS = {"title", "status", "detail", "request_id", "report"}
PARTY_ROLES = {"SP001": "service-provider", "SP002": "service-provider", "DSP001": "data-service-provider",
               "TP": "third-party"}


def request_of(op: Operation) -> tuple[str, str, dict[str, str], bytes]:
    """A valid request of ``op`` from the catalog's example (a lookup: no filter)."""
    description = dso_saref.catalog[op.exchange]
    message = None if op.kind == "lookup" else description.parse(description.example())
    built = DsoClient(base_url="http://127.0.0.1:9", api_key="unused").request(op, message)
    headers = {k: v for k, v in built.headers.items() if k != "Authorization"}
    return built.method, built.target, headers, built.body


def snapshot(api: Api) -> dict[str, int]:
    """Rows of every table but the registry of operations."""
    tables = [t for t in api.backend.storage.tables() if t not in ("operations", "schema_version")]
    return {t: api.backend.storage.query_one(f"SELECT COUNT(*) FROM {t}")[0] for t in tables}


def assert_refused(api: Api, reply: Reply, status: int, before: dict[str, int] | None = None) -> None:
    assert reply.status == status, reply.body[:300]
    assert reply.headers["content-type"] == "application/problem+json"
    body = reply.json()
    assert set(body) <= PROBLEM_KEYS
    if before is not None:
        assert snapshot(api) == before
    rows = api.backend.registry.entries(request_id=reply.headers["x-request-id"])
    assert rows and all(r.outcome is Outcome.REFUSED for r in rows)


def send(api: Api, op: Operation, key: str | None, **extra: str) -> Reply:
    method, target, headers, body = request_of(op)
    return api.call(method, target, key=key, body=body or None, headers={**headers, **extra})


OPS = pytest.mark.parametrize("op", DSO_OPERATIONS, ids=lambda op: op.exchange)


@OPS
def test_no_key(api: Api, op: Operation) -> None:
    before = snapshot(api)
    assert_refused(api, send(api, op, None), 401, before)


@OPS
@pytest.mark.parametrize("token", ["", "nonsense", "dso_0123456789ab_" + "A" * 43, "dso_0123456789ab_short"])
def test_bad_key(api: Api, op: Operation, token: str) -> None:
    before = snapshot(api)
    assert_refused(api, send(api, op, token), 401, before)


@OPS
def test_revoked_key(api: Api, op: Operation) -> None:
    role = _allowed_party(op)
    issued = api.credentials.issue_key(role, now=api.clock.now)
    api.credentials.revoke(role, now=api.clock.now, key_id=issued.key.id)
    before = snapshot(api)
    assert_refused(api, send(api, op, issued.token), 401, before)
    [row] = api.backend.registry.entries(actor=f"API key {issued.key.id}")
    assert row.reason == "401 revoked API key" and row.operation == op.exchange


@OPS
def test_expired_key(api: Api, op: Operation) -> None:
    issued = api.credentials.issue_key(_allowed_party(op), now=api.clock.now - timedelta(hours=2),
                                       lifetime=timedelta(hours=1))
    before = snapshot(api)
    assert_refused(api, send(api, op, issued.token), 401, before)


@OPS
def test_a_role_that_does_not_start_the_exchange(api: Api, op: Operation) -> None:
    outsider = next(p for p, role in PARTY_ROLES.items() if ROLE_ACTS_AS[role] not in op.roles())
    before = snapshot(api)
    reply = send(api, op, outsider)
    assert_refused(api, reply, 403, before)
    assert "does not start" in reply.json()["detail"]


def _allowed_party(op: Operation) -> str:
    return next(p for p, role in PARTY_ROLES.items() if ROLE_ACTS_AS[role] in op.roles())


# -- another party's resource, another user's consent token ------------------------------------------------


def _consent(api: Api, user: str = "U0001", provider: str = "SP001") -> str:
    api.backend.consents.request(end_user=user, service_provider=provider, start=api.summary.start,
                                 end=api.summary.end, now=api.clock.now)
    [consent] = [c for c in api.backend.consents.consents(end_user=user) if c.service_provider == provider]
    return api.backend.grant_consent(consent.id).token


def _metering(api: Api, user: str, token: str) -> str:
    return (f"/v1/data/metering?data_type=User&id={user}&granularity=2&start={api.summary.start:%Y-%m-%dT%H:%M:%SZ}"
            f"&end={api.summary.end:%Y-%m-%dT%H:%M:%SZ}")


def metering_with_another_partys_token(api: Api) -> Reply:
    token = _consent(api)
    return api.call("GET", _metering(api, "U0001", token), key="SP002", headers={"Consent-Token": token})


def metering_with_another_users_token(api: Api) -> Reply:
    token = _consent(api)
    return api.call("GET", _metering(api, "U0002", token), key="SP001", headers={"Consent-Token": token})


def authorization_for_another_provider(api: Api) -> Reply:
    return api.post_json("/v1/data/authorizations", {"end_user": "U0001", "service_provider": "SP002",
                                                     "start": "2021-09-27T00:00:00Z", "end": "2021-09-28T00:00:00Z"},
                         key="SP001")


def readings_of_a_client_without_consent(api: Api) -> Reply:
    _consent(api)  # SP001 may read LV0001 (U0001), not LV0002
    return api.call("GET", "/v1/data-layer/lv-client-readings?id=LV0002", key="SP001")


def mv_readings_without_consent(api: Api) -> Reply:
    return api.call("GET", "/v1/data-layer/mv-client-readings?id=MV0001", key="SP001")


def hems_status_of_another_providers_hems(api: Api) -> Reply:
    return api.post_json("/v1/grid-observability/hems-status", {"Voltage_Monitoring": [
        {"Hems_ID": "H0001", "Abnormal_Voltage": True, "timestamp": "2021-09-28T07:00:00Z"}]}, key="SP002")


def hems_voltage_of_another_providers_hems(api: Api) -> Reply:
    return api.post_json("/v1/grid-observability/hems-voltage", {"Voltage_Monitoring": [
        {"Hems_ID": "H0001", "timestamp": "2021-09-28T07:00:00Z", "Voltage_from_Hems": 262,
         "Voltage_from_Hems_unit": "volts"}]}, key="SP002")


#: exchange -> (how another party's resource is asked for, expected status). A POST whose answer can say
#: no (an acknowledgement) answers 200 with a *rejected* acknowledgement and stores nothing.
OWNED: dict[str, list[tuple[Callable[[Api], Reply], int]]] = {
    "authorization-request": [(authorization_for_another_provider, 403)],
    "metering-request": [(metering_with_another_partys_token, 403), (metering_with_another_users_token, 403)],
    "lv-client-reading": [(readings_of_a_client_without_consent, 403)],
    "mv-client-reading": [(mv_readings_without_consent, 403)],
    "hems-status": [(hems_status_of_another_providers_hems, 403)],
    "hems-voltage": [(hems_voltage_of_another_providers_hems, 403)],
}
#: Operations with no resource of one party that another could ask for (public grid data, a party's own
#: postings); incentive responses, fault notifications and offers are checked below with their answers.
#: Disaggregated data and elasticity outputs: the backend does not tie them to the request it sent (a
#: data service provider is trusted for what it sends), so there is nothing of another party to refuse.
UNOWNED = {"flexibility-data-request", "flexibility-needs-request", "opportunities-request", "grid-topology",
           "secondary-substation-reading", "primary-substation-reading", "disaggregated-data", "elasticity-output",
           "incentive-response", "fault-notification", "flexibility-offers"}


def test_every_operation_is_classified_for_ownership() -> None:
    assert set(OWNED) | UNOWNED == {op.exchange for op in DSO_OPERATIONS}
    assert not set(OWNED) & UNOWNED


@pytest.mark.parametrize(("ask", "status"), [case for cases in OWNED.values() for case in cases],
                         ids=lambda value: getattr(value, "__name__", str(value)))
def test_another_partys_resource(api: Api, ask: Callable[[Api], Reply], status: int) -> None:
    before_calls = None
    reply = ask(api)
    assert_refused(api, reply, status, before_calls)


def test_another_partys_incentive_offer_is_rejected_and_changes_nothing(api: Api) -> None:
    out = api.backend.incentive_offer(end_user="U0001", recipient=api.summary.providers["SP001"],
                                      contracted_power=3.45, incentive=0.05, start=api.clock.now,
                                      end=api.clock.now + timedelta(days=30))
    reply = api.post_json("/v1/data/incentive-responses", {"offer_id": out.reference, "end_user": "U0001",
                                                           "accepted": True}, key="SP002")
    assert reply.status == 200 and reply.json() == {"status": "rejected", "reference": out.reference,
                                                    "reason": "the offer was not sent to this requester"}
    assert api.backend.incentives.status(out.reference or "") == "sent"
    assert api.backend.incentives.preferences("U0001") is None


def test_a_fault_notification_for_another_providers_subscription_is_rejected(api: Api) -> None:
    out = api.backend.subscribe_postal_codes("SP001", ["4405-123"])
    from dso_saref.messages.observability import SubscriptionResponse

    api.backend.record_subscription_response("SP001", ["4405-123"], SubscriptionResponse(status="accepted"))
    before = snapshot(api)
    reply = api.post_json("/v1/grid-observability/fault-notifications",
                          {"Fault_Location_Identification": [{"Postal_Code": "4405-123"}]}, key="SP002")
    assert reply.status == 200 and reply.json()["status"] == "rejected"
    assert snapshot(api) == before and out.recipient == api.summary.providers["SP001"]


def test_another_partys_idempotency_key_never_returns_its_answer(api: Api) -> None:
    from .conftest import publish_need

    offer = publish_need(api, meters=("M0001", "M0006"))
    first = api.post_json("/v1/flexibility/offers", [offer], key="SP001", headers={"Idempotency-Key": "k-1"})
    other = api.post_json("/v1/flexibility/offers", [{**offer, "offer_id": "X", "meter_ids": ["M0006"]}],
                          key="SP002", headers={"Idempotency-Key": "k-1"})
    assert first.status == other.status == 201
    assert first.json()["reference"] == "O1" and other.json()["reference"] == "X"
    assert {o.provider_id for o in api.backend.market.offers(offer["request_id"])} == {"SP001", "SP002"}


# -- whatever the path, method or encoding -----------------------------------------------------------------

UNAUTHENTICATED: list[tuple[str, str, dict[str, str], str | None]] = [
    ("GET", "/", {}, None),
    ("GET", "/v1", {}, None),
    ("GET", "/v1/", {}, None),
    ("GET", "/v1/no/such/path", {}, None),
    ("HEAD", "/v1/flexibility/needs", {}, None),
    ("OPTIONS", "/v1/flexibility/needs", {}, None),
    ("PUT", "/v1/flexibility/offers", {"Content-Type": "application/json"}, "[]"),
    ("DELETE", "/v1/flexibility/offers", {}, None),
    ("GET", "/v1/flexibility/needs?start=2021-09-27T00:00:00Z&end=2021-09-28T00:00:00Z", {"Accept": "text/turtle"},
     None),
    ("GET", "/v1/data-layer/topology", {"Accept": "application/ld+json"}, None),
    ("GET", "/v1/data-layer/topology", {"Authorization": "Basic U1AwMDE6c2VjcmV0"}, None),
    ("GET", "/v1/data-layer/topology", {"Authorization": "bearer"}, None),
    ("POST", "/v1/flexibility/offers", {"Content-Type": "text/turtle"}, "<a> <b> <c> ."),
    ("GET", "/v1/flexibility/%6Eeeds", {}, None),
    ("GET", "//v1/flexibility/needs", {}, None),
    ("GET", "/docs/../v1/data-layer/topology", {}, None),
    ("GET", "/static/docs/../../v1/data-layer/topology", {}, None),
    ("GET", "/openapi.json/../v1/data-layer/topology", {}, None),
]


@pytest.mark.parametrize(("method", "target", "headers", "body"), UNAUTHENTICATED,
                         ids=[f"{m} {t} {h}" for m, t, h, _ in UNAUTHENTICATED])
def test_no_data_without_a_key_whatever_the_path_method_or_encoding(api: Api, method: str, target: str,
                                                                     headers: dict[str, str], body: Any) -> None:
    reply = api.call(method, target, headers=headers, body=body)
    assert reply.status == 401, (reply.status, reply.body[:200])
    if method != "HEAD":
        assert set(reply.json()) <= PROBLEM_KEYS


def test_the_documentation_is_public_and_holds_no_data(api: Api) -> None:
    assert api.call("GET", "/openapi.json").status == 200
    assert api.call("GET", "/docs").status == 200
    assert api.call("GET", "/static/docs/swagger-ui.css").status == 200


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(alphabet=string.printable.strip() + "_-", max_size=80),
       path=st.sampled_from([op.path for op in DSO_OPERATIONS] + ["/v1/x", "/"]),
       method=st.sampled_from(["GET", "POST", "PUT", "PATCH"]))
@example(token="TP", path="/v1/data/authorizations", method="GET")  # a party's name is not its key
def test_hostile_tokens_are_refused_without_data(api: Api, token: str, path: str, method: str) -> None:
    sent = {"Authorization": f"Bearer {token}"} if token else {}  # raw: ``key=`` would send a party's real key
    reply = api.call(method, path, headers=sent)
    assert reply.status == 401
    assert set(reply.json()) <= PROBLEM_KEYS
