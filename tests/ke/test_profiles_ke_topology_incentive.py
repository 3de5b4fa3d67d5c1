"""The grid topology and the contracted-power incentive offer in the InterConnect dialect, met by pilot-style
patterns (tests/fixtures/interconnect) through the in-process KE emulator (issue 13 item 1, docs/interop.md):
both directions for each (the pilot starts, and our side starts), and the data each side sees round-trips
to our JSON. The topology travels in two KIs (the core, and the secondary side of LV clients, a part of its
own); the offer is one POST/REACT whose result is the end user's response."""

from __future__ import annotations

from typing import Any

import pytest

import dso_saref
from dso_saref.exchange import ExchangeContext
from dso_saref.ke import EmulatorConfig, KnowledgeEngineEmulator
from dso_saref.ke.adapter import Adapter
from tests.ke.test_profiles_ke import (
    PILOT,
    Rows,
    fixture,
    ours,
    pilot,
    rename,
    renaming,
    running,
    spec_of,
)

TOPOLOGY = "grid-topology@interconnect"
SECONDARY = "grid-topology@interconnect.secondary-substation"
OFFER = "incentive-offer@interconnect"
RESPONSE = "incentive-response@interconnect"


@pytest.fixture
def emulator() -> KnowledgeEngineEmulator:
    return KnowledgeEngineEmulator(EmulatorConfig(handle_timeout=0.3, exchange_timeout=5.0))


def _topology() -> tuple[dict[str, Rows], Any]:
    example = dso_saref.catalog[TOPOLOGY].example()
    return dso_saref.to_bindings(TOPOLOGY, example), dso_saref.canonical("grid-topology", example)


def _topology_names(adapter: Adapter, side: str) -> tuple[dict[str, str], dict[str, str], dict[str, str],
                                                         dict[str, str]]:
    """The pilot's two registrations (core, secondary side) and our variable names -> theirs for each;
    ``side`` is ``ask`` or ``answer``: which of our part KIs the adapter registered."""
    core, part = fixture("grid-topology.ask.gp"), fixture("grid-topology.secondary-substation.ask.json")
    return (core, part, renaming(*spec_of(adapter, "grid-topology--interconnect"), core["graph"], core["prefixes"]),
            renaming(*spec_of(adapter, f"grid-topology--interconnect--secondary-substation--{side}"), part["graph"],
                     part["prefixes"]))


def test_the_pilot_answers_our_topology_ask_and_we_read_its_answer_as_our_json(
        emulator: KnowledgeEngineEmulator) -> None:
    adapter = ours("service-provider", "interconnect", emulator)
    core, part, names, part_names = _topology_names(adapter, "ask")
    sets, expected = _topology()
    back = {v: k for k, v in part_names.items()}

    def secondary(incoming: Rows) -> Rows:  # the rows of the LV clients whose nodes the asker binds
        wanted = rename(incoming, back)
        return rename([row for row in sets[SECONDARY] if any(all(row[k] == v for k, v in bound.items())
                                                             for bound in wanted)], part_names)

    peer = pilot(emulator, {"core": ("answer", core), "secondary": ("answer", part)},
                 {"core": lambda rows: rename(sets[TOPOLOGY], names), "secondary": secondary})
    with running(peer.serve):
        exchanged = adapter.send("grid-topology", None, profile="interconnect", recipients=[PILOT])
    adapter.close()
    assert exchanged.failed == {}
    assert exchanged.answers == {PILOT: expected}
    asked = peer.received["secondary"][0]
    assert asked and all(set(row) < set(back) for row in asked), "the part is asked bound to the core's nodes"


def test_the_pilot_asks_our_dso_for_the_topology_and_reads_it_as_our_json(emulator: KnowledgeEngineEmulator) -> None:
    example = dso_saref.catalog[TOPOLOGY].example()
    adapter = ours("dso", "interconnect", emulator, grid_topology=lambda message, context: example)
    core, part, names, part_names = _topology_names(adapter, "answer")
    peer = pilot(emulator, {"core": ("ask", core), "secondary": ("ask", part)})
    anchors = sorted(dso_saref.catalog[TOPOLOGY].parts[1].anchors)
    with running(adapter.serve):
        asked = peer.client.ask(PILOT, peer.kis["core"], [])
        rows = rename(asked.binding_set, {v: k for k, v in names.items()})
        bound = [{part_names[a]: row[a] for a in anchors if a in row} for row in rows]
        secondary = peer.client.ask(PILOT, peer.kis["secondary"], bound)
    assert [(info.status, info.failed_message) for info in asked.exchange_info] == [("SUCCEEDED", None)]
    assert [(info.status, info.failed_message) for info in secondary.exchange_info] == [("SUCCEEDED", None)]
    part_rows = rename(secondary.binding_set, {v: k for k, v in part_names.items()})
    assert len(rows) == 3 and len(part_rows) == 2  # three clients, two of them LV
    got = dso_saref.from_bindings(TOPOLOGY, {TOPOLOGY: rows, SECONDARY: part_rows})
    assert got == dso_saref.canonical("grid-topology", example)


def _offer_names(adapter: Adapter) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The pilot's registration and our variable names -> theirs (argument, result)."""
    registration = fixture("incentive-offer.react.json")
    spec = adapter.specs["incentive-offer--interconnect"]
    return (registration, renaming(spec.argument_pattern or "", spec.prefixes, registration["argument"],
                                   registration["prefixes"]),
            renaming(spec.result_pattern or "", spec.prefixes, registration["result"], registration["prefixes"]))


def _offer_and_response() -> tuple[Any, Any]:
    offer = dso_saref.catalog[OFFER].example()
    return offer, {"offer_id": offer["offer_id"], "end_user": offer["end_user"], "accepted": True}


def test_our_dso_offers_an_incentive_to_a_pilot_that_reacts_in_its_dialect(emulator: KnowledgeEngineEmulator) -> None:
    adapter = ours("dso", "interconnect", emulator)
    registration, names, result_names = _offer_names(adapter)
    offer, response = _offer_and_response()
    reply = rename(dso_saref.to_bindings(RESPONSE, response)[RESPONSE], result_names)
    peer = pilot(emulator, {"offer": ("react", registration)}, {"offer": lambda rows: reply})
    with running(peer.serve):
        exchanged = adapter.send("incentive-offer", offer, profile="interconnect", recipients=[PILOT])
    adapter.close()
    assert exchanged.failed == {}
    assert exchanged.answers == {PILOT: dso_saref.canonical("incentive-response", response)}
    received = rename(peer.received["offer"][0], {v: k for k, v in names.items()})
    assert dso_saref.from_bindings(OFFER, received) == dso_saref.canonical("incentive-offer", offer)
    assert all(row["incentive_unit"] == "<http://ontology.tno.nl/interconnect/units#euroPerKilowattHour>"
               for row in received)


def test_the_pilot_posts_an_incentive_offer_in_its_dialect_and_our_service_provider_answers(
        emulator: KnowledgeEngineEmulator) -> None:
    offer, response = _offer_and_response()
    received: list[Any] = []

    def handle(message: Any, context: ExchangeContext) -> Any:
        received.append((message.model_dump(mode="json", by_alias=True), context.exchange))
        return response

    adapter = ours("service-provider", "interconnect", emulator, incentive_offer=handle)
    registration, names, result_names = _offer_names(adapter)
    peer = pilot(emulator, {"offer": ("post", registration)})
    with running(adapter.serve):
        posted = peer.client.post(PILOT, peer.kis["offer"], rename(dso_saref.to_bindings(OFFER, offer)[OFFER], names))
    assert [(info.status, info.failed_message) for info in posted.exchange_info] == [("SUCCEEDED", None)]
    answer = rename(posted.result_binding_set, {v: k for k, v in result_names.items()})
    assert dso_saref.from_bindings(RESPONSE, answer) == dso_saref.canonical("incentive-response", response)
    assert len(received) == 1
    message, exchange = received[0]
    assert exchange == "incentive-offer"  # the backend sees the message, whatever the profile
    assert dso_saref.canonical("incentive-offer", message) == dso_saref.canonical("incentive-offer", offer)
