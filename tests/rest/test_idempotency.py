"""Issue 12 item 1 (with backend/idempotency.py): a POST sent again with the same ``Idempotency-Key`` is
applied once and answered the same; the same key with another body is refused (400)."""

from __future__ import annotations

from .conftest import Api, publish_need


def test_a_retried_post_is_applied_once_and_answered_the_same(api: Api) -> None:
    offer = publish_need(api)
    first = api.post_json("/v1/flexibility/offers", [offer], key="SP001", headers={"Idempotency-Key": "retry-1"})
    again = api.post_json("/v1/flexibility/offers", [offer], key="SP001", headers={"Idempotency-Key": "retry-1"})
    assert first.status == again.status == 201 and first.body == again.body
    logged = api.backend.registry.entries(operation="flexibility-offers")
    assert len(logged) == 1 and logged[0].request_id == first.headers["x-request-id"]


def test_the_same_key_with_another_body_is_refused(api: Api) -> None:
    offer = publish_need(api)
    api.post_json("/v1/flexibility/offers", [offer], key="SP001", headers={"Idempotency-Key": "k"})
    other = api.post_json("/v1/flexibility/offers", [{**offer, "price": 0.3}], key="SP001",
                          headers={"Idempotency-Key": "k"})
    assert other.status == 400 and "Idempotency-Key" in other.json()["detail"]
    assert [o.offer.price for o in api.backend.market.offers(offer["request_id"])] == [0.1]


def test_a_bad_key_is_refused(api: Api) -> None:
    offer = publish_need(api)
    reply = api.post_json("/v1/flexibility/offers", [offer], key="SP001", headers={"Idempotency-Key": "x" * 300})
    assert reply.status == 400 and not api.backend.market.offers(offer["request_id"])
