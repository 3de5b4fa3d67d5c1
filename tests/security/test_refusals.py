"""Issue 15 item 9: every refusal is registered and logged (one structured line, no personal data),
malformed requests included, and a refusal never discloses what it protects. Item 4: every exchange
the DSO serves is behind the policy's guard, and the table of docs/backend.md is the policy's own."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from dso_saref.app.seed import example_needs
from dso_saref.backend import ExchangeContext, Outcome, Refused
from dso_saref.backend.policy import RULES, SERVED, rules_markdown
from dso_saref.exchange import Query
from dso_saref.messages.data_sharing import DataType, MeteringRequest
from dso_saref.messages.flexibility import FlexibilityOffers
from dso_saref.messages.observability import FaultNotification
from tests.security.conftest import NOBODY, NOW, World

DOCS = Path(__file__).resolve().parents[2] / "docs" / "backend.md"


def metering(world: World, user: str, token: str | None) -> MeteringRequest:
    return MeteringRequest(data_type=DataType.USER, id=user, authorization_token=token, granularity=2,
                           start=world.window[0], end=world.window[1])


def refusal_of(world: World, message: object, party: str, name: str = "metering-request") -> Refused:
    with pytest.raises(Refused) as refused:
        world.ask(name, message, party)
    return refused.value


def test_issue_15_9_an_unknown_token_and_a_token_of_another_party_or_user_get_the_same_answer(world: World) -> None:
    unknown = refusal_of(world, metering(world, "U0001", "49d259db-755c-4929-8410-15ede30dbc2d"), "SP002")
    others = refusal_of(world, metering(world, "U0001", world.token), "SP002")     # SP001's token, used by SP002
    other_user = refusal_of(world, metering(world, "U0002", world.token), "SP001")  # SP001's token, for U0002
    guessed = refusal_of(world, metering(world, "U0002", "U0002"), "SP001")
    assert unknown.reason == others.reason == other_user.reason == guessed.reason
    assert {unknown.code, others.code, other_user.code} == {"no-consent"}
    # the registry, which only the DSO reads, keeps why
    reasons = [r.reason for r in world.backend.registry.entries(operation="metering-request",
                                                                outcome=Outcome.REFUSED)]
    assert reasons == ["unknown authorization token", "the token was issued to another service provider",
                       "the token does not cover this end user", "unknown authorization token"]


def test_issue_15_9_the_holder_of_a_token_learns_why_its_own_token_no_longer_serves(world: World) -> None:
    [consent] = world.backend.consents.consents(end_user="U0001")
    world.backend.revoke_consent(consent.id)
    assert refusal_of(world, metering(world, "U0001", world.token), "SP001").reason == \
        "the consent was revoked by the end user"
    assert refusal_of(world, metering(world, "U0001", world.token), "SP002").reason == \
        refusal_of(world, metering(world, "U0001", "no-such-token"), "SP002").reason


def test_issue_15_9_a_zone_refused_for_k_does_not_state_its_household_count(world: World) -> None:
    def zone(zone_id: str) -> MeteringRequest:
        return MeteringRequest(data_type=DataType.ANONYMIZED, id=zone_id, granularity=2, start=world.window[0],
                               end=world.window[1])

    small, unknown = refusal_of(world, zone("Z-SS02"), "TP001"), refusal_of(world, zone("Z-NOWHERE"), "TP001")
    assert small.reason == unknown.reason and "4" not in small.reason and small.code == "k-anonymity"
    ss02 = refusal_of(world, Query(None, {"id": "SS02"}), "TP001", "secondary-substation-reading")
    nowhere = refusal_of(world, Query(None, {"id": "SS99"}), "TP001", "secondary-substation-reading")
    assert ss02.reason == nowhere.reason and "4" not in ss02.reason


def test_issue_15_9_a_malformed_request_is_registered_and_logged(world: World, refusal_lines) -> None:
    year_one = MeteringRequest(data_type=DataType.ANONYMIZED, id="Z-SS01", granularity=2,
                               start="9999-12-31T23:00:00Z", end="9999-12-31T23:59:59Z")
    overflow = refusal_of(world, year_one, "TP001")
    assert overflow.code == "malformed" and overflow.reason.startswith("malformed request")
    bad_filter = refusal_of(world, Query(None, {"timestamp": "noon"}), "SP001", "lv-client-reading")
    assert bad_filter.code == "malformed" and bad_filter.reason.startswith("malformed request: timestamp:")
    # a request its carrier could not read (bindings that are no message) is registered through the backend
    context = ExchangeContext("https://evil.example.org/kb\ud800\n{\"code\": \"fake\"}", NOW, "flexibility-offers",
                              "ke", "req-7")
    carried = world.backend.record_malformed("flexibility-offers", context, "bindings[0]: '?x' is not a literal")
    assert carried.code == "malformed" and "bindings[0]" in carried.reason
    rows = world.backend.registry.entries(outcome=Outcome.REFUSED)
    assert [r.operation for r in rows] == ["metering-request", "lv-client-reading", "flexibility-offers"]
    assert all(r.reason.startswith("malformed request") for r in rows)
    assert "\\ud800" in rows[-1].actor  # stored escaped: a lone surrogate never reaches the database
    lines = refusal_lines()
    assert len(lines) == 3 and all("\n" not in line for line in lines)
    assert json.loads(lines[-1]) == {"event": "refusal", "exchange": "flexibility-offers", "outcome": "refused",
                                     "code": "malformed", "requester": context.requester.encode(
                                         "utf-8", "backslashreplace").decode(), "channel": "ke",
                                     "request_id": "req-7"}


def test_issue_15_9_posts_of_a_party_without_agreement_are_rejected_registered_and_logged(world: World,
                                                                                          refusal_lines) -> None:
    world.backend.publish_needs(example_needs(world.summary))
    evening = world.summary.start + timedelta(hours=18), world.summary.start + timedelta(hours=21)
    offers = FlexibilityOffers.model_validate([{
        "request_id": "1", "offer_id": "7", "offer": 1.0, "unit": "kW", "price": 0.1, "start": evening[0].isoformat(),
        "end": evening[1].isoformat(), "meter_ids": ["M0001"]}])
    notification = FaultNotification.model_validate({"Fault_Location_ID": "F1", "Fault_Location_Identification": [
        {"Postal_Code": "4405-123"}]})
    for name, message in (("flexibility-offers", offers), ("fault-notification", notification)):
        for party in ("nobody", "anonymous"):
            ack = world.ask(name, message, party)
            assert ack.status == "rejected" and ack.reason.startswith("no agreement")
    assert world.backend.market.offers() == [] and world.backend.faults.fault_events() == []
    rows = world.backend.registry.entries(outcome=Outcome.REJECTED)
    assert [(r.operation, r.actor) for r in rows] == [(name, actor) for name in ("flexibility-offers",
                                                                                  "fault-notification")
                                                      for actor in (NOBODY, "anonymous")]
    assert [json.loads(line)["code"] for line in refusal_lines()] == ["no-agreement"] * 4


def test_issue_15_4_every_handler_is_behind_the_guard_and_every_message_has_a_rule(world: World) -> None:
    from dso_saref.catalog import DEFAULT

    handlers = world.backend.handlers()
    assert set(handlers) == set(SERVED)
    assert all(handler.__name__.startswith("guarded_") for handler in handlers.values())
    sent = {name for name in DEFAULT if DEFAULT[name].interaction is not None
            and "dso" in DEFAULT[name].interaction.initiators}
    assert {rule.message for rule in RULES if rule.sent_by == "dso"} == sent


def test_issue_15_4_the_policy_table_is_written_down_in_docs_backend_md() -> None:
    assert rules_markdown() in DOCS.read_text(encoding="utf-8")
