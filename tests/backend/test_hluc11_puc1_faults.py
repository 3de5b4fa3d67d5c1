"""HLUC 11 PUC 1: fault-location settings and subscriptions, fault notifications raising fault events when
the DSO's thresholds hold."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dso_saref.app.seed import SP001, SP002
from dso_saref.backend import ExchangeContext, NotFound, Outcome
from dso_saref.messages.flexibility import Acknowledgement
from dso_saref.messages.observability import FaultNotification, SubscriptionResponse


@pytest.fixture
def subscribed(backend, summary):
    backend.set_min_faulty_hems("SP001", 3, postal_code="4405-123")
    backend.set_min_elapsed_time("SP001", 180.0)
    out = backend.subscribe_postal_codes("SP001", ["4405-123", "4405-124"])
    backend.record_subscription_response("SP001", ["4405-123", "4405-124"], SubscriptionResponse(status="accepted"))
    return out


def notify(backend, clock, entries, requester=SP001, fault_id="F1"):
    message = FaultNotification(Fault_Location_ID=fault_id, Fault_Location_Identification=entries)
    return backend.handlers()["fault-notification"](message, ExchangeContext(requester, clock()))


def test_hluc11_puc1_settings_messages_are_addressed_to_the_provider(backend, summary):
    hems = backend.set_min_faulty_hems("SP001", 3, postal_code="4405-123")
    assert hems.recipient == SP001 and hems.message.Postal_Code == "4405-123"
    assert hems.message.Fault_Location_Inputs[0].Min_nbr_Hems_faulty == 3
    elapsed = backend.set_min_elapsed_time("SP001", 180)
    assert elapsed.message.Postal_Code is None
    assert elapsed.message.Fault_Location_Inputs[0].Min_time_of_interruption == 180.0
    codes = backend.subscribe_postal_codes("SP001", ["4405-123"])
    assert [i.Postal_Code for i in codes.message.Fault_Location_Inputs] == ["4405-123"]
    states = {(s.postal_code, s.subscription, s.min_faulty_hems, s.min_elapsed_seconds)
              for s in backend.faults.subscriptions("SP001")}
    assert states == {("4405-123", "pending", 3, None), ("*", "none", None, 180.0)}
    with pytest.raises(NotFound):
        backend.set_min_faulty_hems("SP404", 1)
    backend.record_settings_acknowledgement("SP001", "fault-min-hems", Acknowledgement(status="accepted"),
                                            postal_code="4405-123")
    assert backend.registry.entries(operation="fault-min-hems", outcome=Outcome.ACCEPTED)


def test_hluc11_puc1_subscription_accepted_or_denied(backend, summary):
    backend.subscribe_postal_codes("SP001", ["4405-123", "9999-999"])
    backend.record_subscription_response("SP001", ["9999-999"],
                                         SubscriptionResponse(status="denied", reason="no HEMS in 9999-999"))
    backend.record_subscription_response("SP001", ["4405-123"], SubscriptionResponse(status="accepted"))
    states = {s.postal_code: (s.subscription, s.reason) for s in backend.faults.subscriptions("SP001")}
    assert states == {"4405-123": ("accepted", ""), "9999-999": ("denied", "no HEMS in 9999-999")}


def test_hluc11_puc1_notification_meeting_the_thresholds_raises_a_fault_event(backend, subscribed, clock):
    since = clock.now - timedelta(seconds=200)
    ack = notify(backend, clock, [{"Postal_Code": "4405-123", "Nbr_Faulty_Hems": 4, "timestamp": since}])
    assert ack.status == "accepted" and ack.reference == "F1" and "raised" in ack.reason
    [event] = backend.faults.fault_events(status="open")
    assert (event.postal_code, event.provider_id, event.faulty_hems, event.started_at) == ("4405-123", "SP001", 4,
                                                                                          since)
    again = notify(backend, clock, [{"Postal_Code": "4405-123", "Nbr_Faulty_Hems": 5}], fault_id="F2")
    assert "already open" in again.reason
    [event] = backend.faults.fault_events()
    assert event.faulty_hems == 5  # updated, not duplicated
    backend.faults.resolve_fault(event.id, now=clock.now)
    assert backend.faults.fault_events(status="open") == []


def test_hluc11_puc1_too_few_faulty_hems_raise_nothing(backend, subscribed, clock):
    ack = notify(backend, clock, [{"Postal_Code": "4405-123", "Nbr_Faulty_Hems": 2,
                                   "timestamp": clock.now - timedelta(hours=1)}])
    assert ack.status == "accepted" and "fewer than 3" in ack.reason
    assert backend.faults.fault_events() == []


def test_hluc11_puc1_a_fault_waits_for_the_minimum_elapsed_time(backend, subscribed, clock):
    ack = notify(backend, clock, [{"Postal_Code": "4405-124"}])  # provider-wide 180 s, no count: trusted
    assert "waiting" in ack.reason and backend.faults.fault_events() == []
    clock.advance(seconds=100)
    assert backend.raise_due_faults() == []
    clock.advance(seconds=80)
    [event] = backend.raise_due_faults()
    assert event.postal_code == "4405-124" and event.started_at == clock.now - timedelta(seconds=180)


def test_hluc11_puc1_a_repeated_notification_raises_once_the_time_has_passed(backend, subscribed, clock):
    notify(backend, clock, [{"Postal_Code": "4405-124"}])
    clock.advance(seconds=181)
    ack = notify(backend, clock, [{"Postal_Code": "4405-124"}], fault_id="F2")
    assert "raised" in ack.reason
    assert len(backend.faults.fault_events(postal_code="4405-124")) == 1


def test_hluc11_puc1_notifications_for_unsubscribed_codes_or_providers_are_rejected(backend, subscribed, clock):
    ack = notify(backend, clock, [{"Postal_Code": "4405-123"}, {"Postal_Code": "4200-013"}])
    assert ack.status == "rejected" and "4200-013" in ack.reason
    other = notify(backend, clock, [{"Postal_Code": "4405-123"}], requester=SP002)
    assert other.status == "rejected"
    stranger = notify(backend, clock, [{"Postal_Code": "4405-123"}], requester="https://nobody.example/kb")
    assert stranger.status == "rejected" and "no agreement" in stranger.reason
    assert backend.faults.fault_events() == []
    assert len(backend.registry.entries(operation="fault-notification", outcome=Outcome.REJECTED)) == 3
