"""HLUC 5 PUC 2 SCN2: contracted power incentive offers, responses, user preferences."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dso_saref.app.seed import SP001, SP002
from dso_saref.backend import NotFound, Outcome
from dso_saref.messages.data_sharing import IncentiveResponse


@pytest.fixture
def offer(backend, summary, clock):
    return backend.incentive_offer(end_user="U0001", recipient=SP001, contracted_power=3.45, incentive=0.05,
                                   start=clock.now, end=clock.now + timedelta(days=7), offer_id="INC-1")


def test_hluc5_puc2_scn2_offer_is_stored_and_addressed(backend, offer):
    assert offer.recipient == SP001 and offer.reference == "INC-1"
    assert offer.message.contracted_power == 3.45 and offer.message.incentive_unit == "EUR/kWh"
    assert backend.incentives.status("INC-1") == "sent"
    with pytest.raises(NotFound):
        backend.incentive_offer(end_user="U9999", recipient=SP001, contracted_power=1, incentive=0.1,
                                start=offer.message.start, end=offer.message.end)


def test_hluc5_puc2_scn2_acceptance_updates_user_preferences(backend, offer):
    ack = backend.record_incentive_response(IncentiveResponse(offer_id="INC-1", end_user="U0001", accepted=True),
                                            responder=SP001)
    assert ack.status == "accepted" and ack.reference == "INC-1"
    preferences = backend.incentives.preferences("U0001")
    assert preferences.accepts_incentives is True and preferences.contracted_power == 3.45
    assert backend.incentives.status("INC-1") == "accepted"
    again = backend.record_incentive_response(IncentiveResponse(offer_id="INC-1", end_user="U0001", accepted=True),
                                              responder=SP001)
    assert again.status == "accepted"  # the same answer twice
    changed = backend.record_incentive_response(IncentiveResponse(offer_id="INC-1", end_user="U0001",
                                                                  accepted=False), responder=SP001)
    assert changed.status == "rejected" and "already accepted" in changed.reason


def test_hluc5_puc2_scn2_refusal_keeps_the_contracted_power(backend, offer):
    backend.record_incentive_response(IncentiveResponse(offer_id="INC-1", end_user="U0001", accepted=False),
                                      responder=SP001)
    preferences = backend.incentives.preferences("U0001")
    assert preferences.accepts_incentives is False and preferences.contracted_power is None


@pytest.mark.parametrize(("response", "responder", "reason"), [
    ({"offer_id": "INC-404", "end_user": "U0001"}, SP001, "unknown incentive offer"),
    ({"offer_id": "INC-1", "end_user": "U0002"}, SP001, "another end user"),
    ({"offer_id": "INC-1", "end_user": "U0001"}, SP002, "not sent to this requester"),
])
def test_hluc5_puc2_scn2_wrong_responses_are_rejected_and_logged(backend, offer, response, responder, reason):
    ack = backend.record_incentive_response(IncentiveResponse(**response, accepted=True), responder=responder)
    assert ack.status == "rejected" and reason in ack.reason
    assert backend.incentives.preferences("U0001") is None
    assert backend.registry.entries(operation="incentive-response", outcome=Outcome.REJECTED)


def test_hluc5_puc2_scn2_a_late_response_is_rejected(backend, offer, clock):
    clock.advance(days=8)
    ack = backend.record_incentive_response(IncentiveResponse(offer_id="INC-1", end_user="U0001", accepted=True),
                                            responder=SP001)
    assert ack.status == "rejected" and "expired" in ack.reason
