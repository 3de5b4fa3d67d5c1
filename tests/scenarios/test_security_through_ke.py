"""Spec 3.5 (privacy and security) through the Knowledge Engine: the requester is the knowledge base the
KE names, tokens are bound to a provider and an end user, and every refusal ends the exchange as FAILED
with a clear message and a row in the registry of operations."""

from __future__ import annotations

import pytest

from dso_saref.app.counterparts import ServiceProviderRole
from dso_saref.app.demo import Network
from dso_saref.app.seed import DSO_KB
from dso_saref.backend import Outcome
from dso_saref.ke.adapter import Adapter

#: What a requester reads for a token that is not its own for that end user (issue 15 item 9).
NOT_VALID = "the authorization token does not give access to this end user's data"


def token_for(network: Network, end_user: str, provider: str = "SP001") -> str:
    """Ask for access as ``provider``, let the end user grant it, ask again: the token."""
    world = network.world
    ask = ServiceProviderRole(provider, "").authorization_request(end_user, world.summary.start, world.summary.end)
    network.send(provider, "authorization-request", ask, to=DSO_KB)
    [pending] = [c for c in network.backend.consents.consents(end_user=end_user) if c.status.value == "pending"]
    network.backend.grant_consent(pending.id)
    granted = network.send(provider, "authorization-request", ask, to=DSO_KB)
    return granted.answers[DSO_KB]["authorization_token"]


def metering(network: Network, sender: str, end_user: str, token: str):
    world = network.world
    request = world.providers["SP001"].metering_request(end_user, token, world.summary.start, world.summary.end, 2)
    return network.send(sender, "metering-request", request, to=DSO_KB)


def test_spec_3_5_a_token_for_user_a_cannot_read_user_b(network) -> None:
    token = token_for(network, "U0001")
    assert metering(network, "SP001", "U0001", token).answered
    exchange = metering(network, "SP001", "U0002", token)
    assert exchange.answers == {}
    assert exchange.failed[DSO_KB] == f"metering-request: {NOT_VALID}"  # the registry keeps why
    [row] = network.backend.registry.entries(subject="U0002", outcome=Outcome.REFUSED)
    assert (row.actor, row.operation, row.token) == ("SP001", "metering-request", token)
    assert row.reason == "the token does not cover this end user"


def test_spec_3_5_a_provider_cannot_use_another_providers_token(network) -> None:
    token = token_for(network, "U0001", provider="SP001")
    assert network.adapters["SP001"].kb_id != network.adapters["SP002"].kb_id
    exchange = metering(network, "SP002", "U0001", token)
    assert exchange.answers == {}
    assert exchange.failed[DSO_KB] == f"metering-request: {NOT_VALID}"
    [row] = network.backend.registry.entries(actor="SP002", outcome=Outcome.REFUSED)
    assert (row.subject, row.token) == ("U0001", token)
    assert row.reason == "the token was issued to another service provider"


def test_spec_3_5_a_knowledge_base_without_agreement_gets_nothing(network) -> None:
    token = token_for(network, "U0001")
    intruder = Adapter(network.client(), "service-provider", kb_id="https://intruder.example.org/kb")
    intruder.register()
    try:
        world = network.world
        request = world.providers["SP001"].metering_request("U0001", token, world.summary.start, world.summary.end)
        stolen = intruder.send("metering-request", request.model_dump(mode="json", exclude_none=True))
        ask = world.providers["SP001"].authorization_request("U0002", world.summary.start, world.summary.end)
        asked = intruder.send("authorization-request", ask.model_dump(mode="json", exclude_none=True))
    finally:
        intruder.close()
        intruder.client.close()
    assert stolen.failed[DSO_KB] == "metering-request: no agreement with the DSO: it serves this exchange only to " \
        "parties with an agreement"
    refusal = asked.answers[DSO_KB]
    assert refusal["granted"] is False and "no agreement with the DSO" in refusal["reason"]
    refused = network.backend.registry.entries(actor="https://intruder.example.org/kb", outcome=Outcome.REFUSED)
    assert [r.operation for r in refused] == ["metering-request", "authorization-request"]


@pytest.mark.parametrize("ending", ["revoke", "expire"])
def test_spec_3_5_a_revoked_or_expired_token_is_refused(network, ending: str) -> None:
    token = token_for(network, "U0001")
    [consent] = network.backend.consents.consents(end_user="U0001")
    if ending == "revoke":
        network.backend.revoke_consent(consent.id)
        expected = "the consent was revoked by the end user"
    else:
        with network.backend.storage.transaction("test: the token runs out") as db:
            db.execute("UPDATE consents SET expires_at = '2000-01-01T00:00:00.000000Z'")
        expected = "the authorization token has expired"
    exchange = metering(network, "SP001", "U0001", token)
    assert exchange.failed == {DSO_KB: f"metering-request: {expected}"}
    assert network.backend.registry.entries(token=token, outcome=Outcome.REFUSED)[-1].reason == expected

