"""Issue 13 (level 1 is covering): no knowledge interaction of ours reaches another message's by covering.

At reasoner level 1 the Knowledge Engine asks every ANSWER whose pattern covers an ASK's (it may hold
more triples) and calls every REACT whose argument covers a POST's both ways (docs/ke.md, "Matching at
reasoner level 1"). An ANSWER of one message that covers another message's ASK gets that message's
questions: its handler is called with an identifier it does not know and the asker gets a failure beside
its answer (an LV client's reading asked, the secondary-substation handler called with a client id). So,
in every profile and across profiles (a role may register several), each ASK/POST of ours meets only the
ANSWERs/REACTs of its own message, as decided by the stand-in's own matcher
(:func:`dso_saref.ke.emulator_rules.match` over :func:`dso_saref.ke.covering.cover`)."""

from __future__ import annotations

import pytest

from dso_saref.ke.emulator_rules import ANSWER, ASK, POST, REACT
from dso_saref.ke.emulator_rules import match as level_1_match
from dso_saref.ke.match import Candidate, candidates

COUNTERPART = {ASK: ANSWER, POST: REACT}
OURS = candidates()
INITIATORS = [c for c in OURS if c.kind in COUNTERPART]


def reached(initiator: Candidate) -> list[Candidate]:
    """The ANSWERs/REACTs of ours that the KE asks or calls for ``initiator`` at level 1."""
    return [target for target in OURS if target.kind == COUNTERPART[initiator.kind]
            and level_1_match(initiator.interaction(), target.interaction()) is not None]


@pytest.mark.parametrize("initiator", INITIATORS, ids=[c.label for c in INITIATORS])
def test_no_ki_of_ours_covers_another_message_s_ki(initiator: Candidate) -> None:
    strays = [target.label for target in reached(initiator) if target.message != initiator.message]
    assert strays == [], f"{initiator.label} also reaches {strays}"


def test_every_ask_and_post_of_ours_reaches_its_own_message() -> None:
    # the negative test above means nothing if nothing matches at all
    lonely = [c.label for c in INITIATORS if not any(t.message == c.message for t in reached(c))]
    assert lonely == []


@pytest.mark.parametrize("profile", sorted({c.profile for c in OURS if c.message == "metering-data"}))
def test_a_zone_metering_request_reaches_the_metering_service_only(profile: str) -> None:
    """The served zone metering request of tests/scenarios/test_serve_subprocess.py: the service provider
    POSTs the request, then ASKs the readings part of the metering data; a substation's or a client's
    readings (a subject, an active power property, measurements) must not answer it."""
    sent = [c for c in INITIATORS if c.message in ("metering-request", "metering-data") and c.profile == profile]
    assert {c.kind for c in sent} == {POST, ASK}, [c.label for c in sent]
    for initiator in sent:
        assert {t.message for t in reached(initiator)} == {initiator.message}, initiator.label
