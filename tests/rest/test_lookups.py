"""Spec 4.2 over REST: a lookup's query parameters narrow the answer like the fields a Knowledge Engine
asker binds (any field of the answer, optional ones too), and personal readings are served only under a
live consent of the end user."""

from __future__ import annotations

from .conftest import Api


def test_topology_narrowed_by_any_field(api: Api) -> None:
    lv = api.call("GET", "/v1/data-layer/topology?voltage_level=LV", key="SP001").json()
    assert len(lv) == 14 and {e["voltage_level"] for e in lv} == {"LV"}
    feeder = api.call("GET", "/v1/data-layer/topology?ss_feeder=SS01-F1&primary_substation=PS01", key="SP001").json()
    assert sorted(e["client_id"] for e in feeder) == ["LV0001", "LV0002", "LV0003", "LV0004", "LV0005"]
    assert api.call("GET", "/v1/data-layer/topology?client_id=NOBODY", key="TP").status == 403  # TP: not a caller
    assert api.call("GET", "/v1/data-layer/topology?client_id=NOBODY", key="DSP001").json() == []


def test_readings_narrowed_by_values_and_times_in_any_spelling(api: Api) -> None:
    one = api.call("GET", "/v1/data-layer/secondary-substation-readings?id=SS01&timestamp=2021/09/27%2010:15",
                   key="SP001").json()
    assert [(r["id"], r["timestamp"]) for r in one] == [("SS01", "2021-09-27T10:15:00Z")]
    tap = api.call("GET", "/v1/data-layer/primary-substation-readings?tap_position=5", key="SP001").json()
    assert len(tap) == 96
    assert api.call("GET", "/v1/data-layer/primary-substation-readings?tap_position=five", key="SP001").status == 400
    assert api.call("GET", "/v1/data-layer/primary-substation-readings?id=", key="SP001").status == 400


def test_client_readings_only_under_a_live_consent(api: Api) -> None:
    assert api.call("GET", "/v1/data-layer/lv-client-readings?id=LV0001", key="SP001").status == 403
    api.backend.consents.request(end_user="U0001", service_provider="SP001", start=api.summary.start,
                                 end=api.summary.end, now=api.clock.now)
    [consent] = api.backend.consents.consents(end_user="U0001")
    api.backend.grant_consent(consent.id)
    readings = api.call("GET", "/v1/data-layer/lv-client-readings?id=LV0001", key="SP001").json()
    assert len(readings) == 96 and {r["id"] for r in readings} == {"LV0001"}
    every = api.call("GET", "/v1/data-layer/lv-client-readings", key="SP001").json()
    assert {r["id"] for r in every} == {"LV0001"}  # no client named: only what the consents cover
    api.backend.revoke_consent(consent.id)
    assert api.call("GET", "/v1/data-layer/lv-client-readings?id=LV0001", key="SP001").status == 403
    assert api.call("GET", "/v1/data-layer/lv-client-readings", key="SP001").json() == []


def test_empty_or_bad_filters_are_refused_with_their_path(api: Api) -> None:
    for target in ("/v1/data-layer/topology?client_id=", "/v1/data-layer/topology?voltage_level=HV",
                   "/v1/data-layer/lv-client-readings?timestamp=yesterday"):
        reply = api.call("GET", target, key="SP001")
        assert reply.status == 400, target
        assert reply.json()["report"]["errors"][0]["location"].startswith("$.")
