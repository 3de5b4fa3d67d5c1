"""Issue 12 item 2: the statuses of D4.2 Table 13 (200, 201, 202, 400, 401, 404, 500) plus 403, 405, 406
and 415, each with a problem+json body that says why; 400 carries the validation report with every error
at its JSON path; 500 says nothing of the internals."""

from __future__ import annotations

import json

from dso_saref.backend import Outcome
from dso_saref.rest.app import create_app
from dso_saref.rest.server import RestServer

from .conftest import Api, publish_need

NEEDS = "/v1/flexibility/needs?start=2021-09-27T00:00:00Z&end=2021-09-28T00:00:00Z"


def _problem(reply) -> dict:
    assert reply.headers["content-type"] == "application/problem+json"
    body = reply.json()
    assert body["status"] == reply.status and body["request_id"] == reply.headers["x-request-id"]
    return body


def test_200_answers_a_get_with_the_answer_json(api: Api) -> None:
    reply = api.call("GET", NEEDS, key="SP001")
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    assert [n["request_id"] for n in reply.json()] == []  # the seed's history needs are cleared, not open


def test_201_created_for_an_accepted_post_and_200_for_a_rejected_one(api: Api) -> None:
    offer = publish_need(api, meters=("M0001",))
    created = api.post_json("/v1/flexibility/offers", [offer], key="SP001")
    assert created.status == 201 and created.json()["status"] == "accepted"
    rejected = api.post_json("/v1/flexibility/offers", [{**offer, "offer_id": "O2", "meter_ids": ["M0002"]}],
                             key="SP001")
    assert rejected.status == 200 and rejected.json()["status"] == "rejected"
    assert "not eligible" in rejected.json()["reason"]


def test_202_while_the_end_user_has_not_decided_then_201_with_the_token(api: Api) -> None:
    ask = {"end_user": "U0001", "start": "2021-09-27T00:00:00Z", "end": "2021-09-28T00:00:00Z"}
    pending = api.post_json("/v1/data/authorizations", ask, key="SP001")
    assert pending.status == 202 and pending.json()["granted"] is False and "authorization_token" not in pending.json()
    [consent] = api.backend.consents.consents(end_user="U0001")
    api.backend.grant_consent(consent.id)
    granted = api.post_json("/v1/data/authorizations", ask, key="SP001")
    assert granted.status == 201 and granted.json()["authorization_token"] == api.backend.consents.get(consent.id).token


def test_400_reports_each_error_at_its_json_path(api: Api) -> None:
    bad = [{"request_id": "1", "offer_id": "1", "offer": -3, "unit": "kW", "price": "cheap",
            "start": "2021-09-27T10:00:00Z", "end": "2021-09-27T13:00:00Z", "meter_ids": ["M1"]}]
    reply = api.post_json("/v1/flexibility/offers", bad, key="SP001")
    assert reply.status == 400
    report = _problem(reply)["report"]
    assert report["message"] == "flexibility-offers" and not report["conforms"]
    assert {e["location"] for e in report["errors"]} == {"$[0].offer", "$[0].price"}


def test_400_for_a_bad_query_not_422(api: Api) -> None:
    reply = api.call("GET", "/v1/data/metering?data_type=User&id=U0001&granularity=7&start=2021-09-27T00:00:00Z"
                            "&end=2021-09-28T00:00:00Z&colour=blue", key="SP001")
    assert reply.status == 400
    locations = {e["location"] for e in _problem(reply)["report"]["errors"]}
    assert {"$.granularity", "$.colour"} <= locations


def test_400_for_malformed_json_and_an_unknown_lookup_filter(api: Api) -> None:
    reply = api.call("POST", "/v1/flexibility/offers", key="SP001", body="[{",
                     headers={"Content-Type": "application/json"})
    assert reply.status == 400 and _problem(reply)["report"]["errors"][0]["layer"] == "input"
    reply = api.call("GET", "/v1/data-layer/topology?colour=blue", key="SP001")
    assert reply.status == 400 and _problem(reply)["report"]["errors"][0]["location"] == "$.colour"
    reply = api.call("GET", "/v1/data-layer/primary-substation-readings?voltage=high", key="SP001")
    assert reply.status == 400 and _problem(reply)["report"]["errors"][0]["location"] == "$.voltage"


def test_401_without_a_key_with_a_challenge(api: Api) -> None:
    reply = api.call("GET", NEEDS)
    assert reply.status == 401 and reply.headers["www-authenticate"].startswith("Bearer")
    assert "API key" in _problem(reply)["detail"]


def test_403_for_an_exchange_the_callers_role_does_not_start(api: Api) -> None:
    reply = api.call("GET", "/v1/grid-observability/opportunities?zip_codes=4405", key="SP001")
    assert reply.status == 403 and "third-party" in _problem(reply)["detail"]


def test_404_for_an_unknown_path_and_an_unknown_identifier(api: Api) -> None:
    assert _problem(api.call("GET", "/v1/flexibility/nothing", key="SP001"))["status"] == 404
    reply = api.post_json("/v1/grid-observability/hems-status", {"Voltage_Monitoring": [
        {"Hems_ID": "H0001", "Abnormal_Voltage": False, "timestamp": "2021-09-28T08:00:00Z"}]}, key="SP002")
    assert reply.status == 403  # a HEMS of SP001: not SP002's


def test_405_with_the_methods_allowed(api: Api) -> None:
    reply = api.call("DELETE", "/v1/flexibility/offers", key="SP001")
    assert reply.status == 405 and reply.headers["allow"] == "POST"
    _problem(reply)


def test_406_and_415_for_media_types_the_api_does_not_speak(api: Api) -> None:
    assert _problem(api.call("GET", NEEDS, key="SP001", headers={"Accept": "application/xml"}))["status"] == 406
    reply = api.call("POST", "/v1/flexibility/offers", key="SP001", body="<offers/>",
                     headers={"Content-Type": "application/xml"})
    assert _problem(reply)["status"] == 415
    reply = api.call("POST", "/v1/flexibility/offers", key="SP001", body="[]",
                     headers={"Content-Type": "application/json; charset=latin-1"})
    assert reply.status == 415


def test_500_says_nothing_of_the_internals(api: Api) -> None:
    def broken(message, context):
        raise RuntimeError("SELECT secret FROM internals /home/dso/backend.py line 42")

    app = create_app(api.backend, handlers={**api.backend.handlers(), "flexibility-needs-request": broken})
    with RestServer(app) as server:
        other = Api(server, api.backend, api.credentials, api.summary, api.clock, api.keys)
        reply = other.call("GET", NEEDS, key="SP001")
    body = _problem(reply)
    assert reply.status == 500
    text = json.dumps(body)
    assert "SELECT" not in text and "RuntimeError" not in text and ".py" not in text and "Traceback" not in text
    assert body["request_id"] in body["detail"]
    [logged] = api.backend.registry.entries(request_id=body["request_id"])
    assert logged.outcome is Outcome.REFUSED and logged.reason.startswith("500")


def test_every_refusal_and_access_is_in_the_registry_with_its_request_id(api: Api) -> None:
    served = api.call("GET", NEEDS, key="SP001")
    refused = api.call("GET", NEEDS, key="dso_000000000000_" + "A" * 43)
    invalid = api.call("GET", "/v1/flexibility/needs?start=x&end=y", key="SP001")
    for reply, outcome in ((served, Outcome.SERVED), (refused, Outcome.REFUSED), (invalid, Outcome.REFUSED)):
        rows = api.backend.registry.entries(request_id=reply.headers["x-request-id"])
        assert [r.outcome for r in rows] == [outcome]
    assert api.backend.registry.entries(request_id=served.headers["x-request-id"])[0].actor == "SP001"


def test_a_client_request_id_is_kept_and_a_bad_one_replaced(api: Api) -> None:
    assert api.call("GET", NEEDS, key="SP001", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"] == "abc-123"
    replaced = api.call("GET", NEEDS, key="SP001", headers={"X-Request-Id": "a b\u00e9"}).headers["x-request-id"]
    assert replaced != "a b\u00e9" and len(replaced) == 32
