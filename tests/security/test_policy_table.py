"""Issue 15, Proof: the policy table of docs/backend.md, case by case. For every message that carries
personal data or grid data below k, every party without the right agreement or consent gets nothing
(a refusal, registered and logged once, or an answer without the data), while the party with the right
does get it (so that no case passes for want of data).

Parties (tests/security/conftest.py): SP001 holds a token of U0001 for 10:00-14:00 of the seed day and
manages the seed's HEMS; SP002 and the third party TP001 have an agreement and nothing else; ``nobody``
is a knowledge base the DSO has never heard of; ``anonymous`` is a requester the carrier could not name;
ADMS is one of the DSO's own systems.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest

from dso_saref.app.seed import SP001, SP002, THIRD_PARTY, example_needs
from dso_saref.backend import Outcome, Refused
from dso_saref.backend.policy import RULES
from dso_saref.exchange import Query
from dso_saref.messages.data_sharing import (
    AuthorizationRequest,
    DataType,
    FlexibilityDataRequest,
    MeteringRequest,
)
from dso_saref.messages.elasticity import ElasticityInput
from dso_saref.messages.flexibility import FlexibilityNeedsRequest
from dso_saref.messages.observability import OpportunitiesRequest
from tests.security.conftest import NOBODY, NOW, World, make_world

OUTSIDERS = ("nobody", "anonymous")


@dataclass(frozen=True)
class Case:
    """One row of the table: ``request(world)`` asked of ``exchange``; ``gives(answer, world)`` says
    whether an answer gives out what the row protects; ``allowed`` parties get it, ``denied`` do not."""

    id: str
    exchange: str
    request: Callable[[World], Any]
    gives: Callable[[Any, World], bool]
    allowed: tuple[str, ...]
    denied: tuple[str, ...]
    k: int = 5
    needs: bool = False  # publish the seed's example needs first
    personal: tuple[str, ...] = field(default=())  # identifiers that must never appear in a log line


def _user_metering(user: str) -> Callable[[World], MeteringRequest]:
    return lambda w: MeteringRequest(data_type=DataType.USER, id=user, authorization_token=w.token, granularity=2,
                                     start=w.window[0], end=w.window[1])


def _zone(zone: str) -> Callable[[World], MeteringRequest]:
    return lambda w: MeteringRequest(data_type=DataType.ANONYMIZED, id=zone, granularity=2,
                                     start=w.summary.start, end=w.summary.end)


def _lookup(**fields: Any) -> Callable[[World], Query]:
    return lambda w: Query(None, dict(fields))


def _readings_of(*ids: str) -> Callable[[Any, World], bool]:
    """Whether a lookup's answer holds readings of ``ids`` (of anything when none is given)."""
    return lambda answer, w: any(not ids or r.id in ids for r in answer.root)


def _series(answer: Any, world: World) -> bool:
    return any(series.readings for series in answer.root)


EVERY_PROVIDER = ("SP002", "TP001", *OUTSIDERS)

CASES = [
    Case("user metering, the token's holder", "metering-request", _user_metering("U0001"), _series,
         allowed=("SP001",), denied=EVERY_PROVIDER, personal=("U0001",)),
    Case("user metering, a token of another end user", "metering-request", _user_metering("U0002"), _series,
         allowed=(), denied=("SP001", *EVERY_PROVIDER), personal=("U0002",)),
    Case("anonymised zone below k", "metering-request", _zone("Z-SS02"), _series,
         allowed=(), denied=("SP001", *EVERY_PROVIDER, "ADMS")),
    Case("anonymised zone at k or more", "metering-request", _zone("Z-SS01"), _series,
         allowed=("TP001", "SP002"), denied=OUTSIDERS),
    Case("LV client readings by id", "lv-client-reading", _lookup(id="LV0001"), _readings_of("LV0001"),
         allowed=("SP001", "ADMS"), denied=EVERY_PROVIDER, personal=("LV0001",)),
    Case("LV client readings, every client", "lv-client-reading", _lookup(), _readings_of(),
         allowed=("SP001", "ADMS"), denied=EVERY_PROVIDER),
    Case("MV client readings", "mv-client-reading", _lookup(id="MV0001"), _readings_of("MV0001"),
         allowed=("ADMS",), denied=("SP001", *EVERY_PROVIDER), personal=("MV0001",)),
    Case("secondary substation below k", "secondary-substation-reading", _lookup(id="SS02"), _readings_of("SS02"),
         allowed=("ADMS",), denied=("SP001", *EVERY_PROVIDER)),
    Case("secondary substations, every one", "secondary-substation-reading", _lookup(), _readings_of("SS02"),
         allowed=("ADMS",), denied=("SP001", *EVERY_PROVIDER)),
    Case("secondary substation at k or more", "secondary-substation-reading", _lookup(id="SS01"),
         _readings_of("SS01"), allowed=("TP001", "SP002"), denied=OUTSIDERS),
    Case("primary substation below k (k = 20 > its 15 customers)", "primary-substation-reading", _lookup(id="PS01"),
         _readings_of("PS01"), allowed=("ADMS",), denied=("SP001", *EVERY_PROVIDER), k=20),
    Case("primary substation at k or more", "primary-substation-reading", _lookup(), _readings_of("PS01"),
         allowed=("TP001",), denied=OUTSIDERS),
    Case("grid topology", "grid-topology", _lookup(), lambda a, w: bool(a.root), allowed=("TP001",),
         denied=OUTSIDERS),
    Case("flexibility needs", "flexibility-needs-request",
         lambda w: FlexibilityNeedsRequest(start=w.summary.start, end=w.summary.end), lambda a, w: bool(a.root),
         allowed=("SP002",), denied=OUTSIDERS, needs=True),
    Case("flexibility data of a zone", "flexibility-data-request",
         lambda w: FlexibilityDataRequest(zone_id="Z-SS01", start=date(2021, 9, 27), end=date(2021, 9, 28)),
         lambda a, w: bool(a.dates), allowed=("SP002",), denied=OUTSIDERS, needs=True),
    Case("opportunities", "opportunities-request", lambda w: OpportunitiesRequest(zip_codes=["4405"]),
         lambda a, w: bool(a.opportunities), allowed=("TP001",), denied=OUTSIDERS),
    Case("authorization: the token of a consent granted to SP001", "authorization-request",
         lambda w: AuthorizationRequest(end_user="U0001", start=w.window[0], end=w.window[1]),
         lambda a, w: a.granted or a.authorization_token is not None,
         allowed=("SP001",), denied=EVERY_PROVIDER, personal=("U0001",)),
]

_WORLDS: dict[tuple[int, bool], World] = {}


def world_for(case: Case) -> World:
    """One world per k and needs (asking changes nothing but the registry), made on first use."""
    key = (case.k, case.needs)
    if key not in _WORLDS:
        world = make_world(case.k)
        if case.needs:
            world.backend.publish_needs(example_needs(world.summary))
        _WORLDS[key] = world
    return _WORLDS[key]


def _pairs(kind: str) -> list[Any]:
    return [pytest.param(case, party, id=f"{case.id} / {party}") for case in CASES
            for party in (case.denied if kind == "denied" else case.allowed)]


@pytest.mark.parametrize(("case", "party"), _pairs("denied"))
def test_a_party_without_the_right_gets_nothing(case: Case, party: str, refusal_lines) -> None:
    world = world_for(case)
    registry = world.backend.registry
    before = len(registry.entries(operation=case.exchange, outcome=Outcome.REFUSED))
    lines = len(refusal_lines())
    answer: Any = None
    try:
        answer = world.ask(case.exchange, case.request(world), party)
    except Refused as refusal:
        assert refusal.reason and refusal.code
    else:
        assert not case.gives(answer, world), f"{party} was given {case.id}"
    new_rows = len(registry.entries(operation=case.exchange, outcome=Outcome.REFUSED)) - before
    new_lines = refusal_lines()[lines:]
    assert len(new_lines) == new_rows <= 1, "a refusal is registered once and logged once"
    assert new_rows == 1 or answer is not None
    for line in new_lines:
        logged = json.loads(line)
        assert logged["exchange"] == case.exchange and logged["outcome"] == "refused"
        assert logged["requester"] == world.context(party).requester and logged["request_id"] == f"test-{party}"
        for secret in (world.token, *case.personal):
            assert secret not in line, f"the log line discloses {secret}"


@pytest.mark.parametrize(("case", "party"), _pairs("allowed"))
def test_the_party_with_the_right_gets_it(case: Case, party: str) -> None:
    world = world_for(case)
    assert case.gives(world.ask(case.exchange, case.request(world), party), world)


def test_the_table_covers_every_exchange_that_gives_out_data() -> None:
    """Every exchange the DSO serves is in the table unless all it gives is the party's own (an
    acknowledgement): those are in test_refusals.py."""
    served = set(make_world().backend.handlers())
    own = {rule.message for rule in RULES if rule.data == "the party's own"}
    assert {case.exchange for case in CASES} == served - own


# -- messages the DSO sends -------------------------------------------------------------------------------


def _profile(user: str) -> ElasticityInput:
    start = NOW - timedelta(days=1)
    return ElasticityInput.model_validate({"user_profile": [
        {"userID": user, "timestamp": (start + timedelta(hours=h)).isoformat(), "customer_consumption": 1.0 + h % 3,
         "customer_consumption_unit": "kW", "signal_incentive_Class:Cost": 0.1 + (h % 5) / 10,
         "signal_incentive_Class:Cost_unit": "€/kWh"} for h in range(48)]})


SENDS = {
    "incentive-offer": lambda w, to: w.backend.incentive_offer(
        end_user="U0001", recipient=to, contracted_power=3.45, incentive=0.05, start=NOW, end=NOW + timedelta(days=1)),
    "elasticity-input": lambda w, to: w.backend.elasticity_request(_profile("U0001"), to),
    "disaggregated-data-request": lambda w, to: w.backend.disaggregated_data_request(to, ["U0001"]),
}


@pytest.mark.parametrize(("message", "recipient", "sent"), [
    ("incentive-offer", SP001, True),            # SP001 manages U0001's HEMS
    ("incentive-offer", SP002, False),           # an agreement, but nothing to do with U0001
    ("incentive-offer", THIRD_PARTY, False),
    ("incentive-offer", NOBODY, False),
    ("elasticity-input", "SP001", True),
    ("elasticity-input", "SP002", False),
    ("elasticity-input", "nobody", False),
    ("disaggregated-data-request", "SP002", True),
    ("disaggregated-data-request", "nobody", False),
])
def test_the_dso_sends_personal_data_only_to_a_recipient_serving_the_end_user(world: World, message: str,
                                                                              recipient: str, sent: bool,
                                                                              refusal_lines) -> None:
    if sent:
        assert SENDS[message](world, recipient).message is not None
        return
    with pytest.raises(Refused):
        SENDS[message](world, recipient)
    [row] = world.backend.registry.entries(operation=message, outcome=Outcome.REFUSED)
    assert row.actor == "DSO" and row.reason
    [line] = refusal_lines()
    assert json.loads(line)["exchange"] == message and "U0001" not in line


def test_a_consent_lets_a_provider_receive_what_it_serves(world: World) -> None:
    """SP002 gets U0001's incentive offer once U0001 granted it a consent."""
    ask = AuthorizationRequest(end_user="U0001", start=world.window[0], end=world.window[1])
    world.ask("authorization-request", ask, "SP002")
    [pending] = [c for c in world.backend.consents.consents(end_user="U0001") if c.service_provider == "SP002"]
    world.backend.grant_consent(pending.id)
    assert SENDS["incentive-offer"](world, SP002).recipient == SP002
