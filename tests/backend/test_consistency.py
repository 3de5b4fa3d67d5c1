"""The database's own consistency checks find what a crash or a race could leave behind."""

from __future__ import annotations

from datetime import timedelta

from dso_saref.app.seed import example_needs
from dso_saref.backend.consistency import check_consistency
from dso_saref.messages.flexibility import Acknowledgement, FlexibilityOffer, FlexibilityOffers


def test_a_cleared_market_is_consistent_and_tampering_is_found(backend, summary, sp1):
    backend.publish_needs(example_needs(summary))
    start = summary.start + timedelta(hours=18)
    offers = FlexibilityOffers([FlexibilityOffer(request_id="1", offer_id=i, offer=3.0, price=0.1, start=start,
                                                 end=start + timedelta(hours=3), meter_ids=[summary.meters["LV0001"]])
                                for i in ("a", "b")])
    assert backend.handlers()["flexibility-offers"](offers, sp1()).status == "accepted"
    [plan] = backend.build_activation_plans(["1"])
    backend.record_activation_acknowledgement(plan.reference, Acknowledgement(status="accepted"))
    assert check_consistency(backend.storage) == []

    with backend.storage.transaction("tamper") as db:
        db.execute("UPDATE flexibility_offers SET status = 'received' WHERE offer_id = 'b'")
        db.execute("UPDATE allocations SET quantity = 9 WHERE offer_id = 'b'")
        db.execute("DELETE FROM offer_meters WHERE offer_id = 'a'")
        db.execute("DELETE FROM allocations WHERE offer_id = 'a'")
        db.execute("DELETE FROM flexibility_offers WHERE offer_id = 'a'")
    problems = check_consistency(backend.storage)
    assert any(p.startswith("an offer of a cleared need that the clearing did not consider: 1, SP001, b")
               for p in problems)
    assert "offers a of SP001 acknowledged but not stored" in problems
    assert any(p.startswith("need 1 allocates 9 of 4 at") for p in problems)
    assert any(p.startswith("an allocation of an offer the clearing did not accept: 1, SP001, b") for p in problems)
