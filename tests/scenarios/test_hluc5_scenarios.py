"""HLUC 5 (spec 2.1.1), end to end through the adapters and the KE emulator over loopback HTTP."""

from __future__ import annotations

from dso_saref.app.demo import run_puc
from dso_saref.app.seed import DSO_KB, SP001
from dso_saref.backend import Outcome
from dso_saref.backend.consent import ConsentState

from .conftest import answer_of, steps


def test_hluc5_puc1_authorization_then_metering(network) -> None:
    [result] = run_puc(network, "HLUC5 PUC1")
    assert result.passed, result.detail
    backend = network.backend
    first, second, *_ = steps(network, "authorization-request")
    assert answer_of(first, DSO_KB)["granted"] is False and "pending" in answer_of(first, DSO_KB)["reason"]
    token = answer_of(second, DSO_KB)["authorization_token"]
    [consent] = backend.consents.consents(end_user="U0001")
    assert consent.status is ConsentState.GRANTED and consent.token == token
    served, *refused = steps(network, "metering-request")
    [series] = answer_of(served, DSO_KB)
    assert series["id"] == "U0001" and len(series["readings"]) == 24  # hourly, the consented day
    assert served.triples > 0 and served.payload["authorization_token"] == token
    assert [s.exchange.answers for s in refused] == [{}, {}]
    log = backend.registry.entries(subject="U0001")
    assert [op.operation for op in log if op.outcome is Outcome.GRANTED and op.actor == "U0001"] == ["grant consent"]
    assert any(op.operation == "metering-request" and op.outcome is Outcome.SERVED and op.token == token for op in log)
    [u3] = backend.consents.consents(end_user="U0003")
    assert u3.status is ConsentState.REFUSED


def test_hluc5_puc2_anonymised_data_history_and_incentive(network) -> None:
    [result] = run_puc(network, "HLUC5 PUC2")
    assert result.passed, result.detail
    zone, small = steps(network, "metering-request")
    assert answer_of(zone, DSO_KB)[0]["id"] == "Z-SS01"
    refusal = small.exchange.failed[DSO_KB]
    assert "fewer than the 5 households" in refusal and "4" not in refusal  # no household count (issue 15 item 9)
    [history] = steps(network, "flexibility-data-request")
    data = answer_of(history, DSO_KB)
    assert data["zone_id"] == "Z-SS01" and data["directions"] == ["Down", "Up"]  # by start: noon, then evening
    [offer] = steps(network, "incentive-offer")
    assert answer_of(offer, SP001)["accepted"] is True
    preferences = network.backend.incentives.preferences("U0001")
    assert preferences.accepts_incentives and preferences.contracted_power == 3.45
    assert network.backend.registry.entries(subject="Z-SS02", outcome=Outcome.REFUSED)
