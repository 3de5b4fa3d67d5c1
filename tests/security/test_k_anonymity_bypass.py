"""Issue 15 item 4, the reviewer's bypass (adversarial run D3): the readings of secondary substation SS02,
which serves the 4 households of zone Z-SS02 (refused as anonymised data because 4 < k = 5), are their
sum plus losses, so serving them discloses the households' data. Readings of a grid asset serving fewer
than k customers are personal data: nobody but the DSO's own systems gets them."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from dso_saref.backend import Outcome, Refused
from dso_saref.exchange import Query
from tests.security.conftest import World


def test_ss02_readings_are_the_sum_of_its_four_households(world: World) -> None:
    """Why they are personal data: they give away what zone Z-SS02's refusal protects (within 1 %)."""
    at = world.summary.start + timedelta(hours=19)
    [ss02] = world.backend.grid.readings("secondary-substation-reading", id="SS02", timestamp=at)
    households = [r for r in world.backend.grid.readings("lv-client-reading", timestamp=at)
                  if r.id in world.summary.households["Z-SS02"]]
    assert len(households) == 4 < world.backend.settings.k_anonymity
    total = math.fsum(r.active_power_withdrawn for r in households)
    assert ss02.active_power_withdrawn == pytest.approx(1.03 * total, rel=0.01)  # the seed's 3 % losses


@pytest.mark.parametrize("party", ["nobody", "anonymous", "TP001", "SP001", "SP002"])
def test_issue_15_4_readings_of_a_substation_below_k_are_refused(world: World, party: str) -> None:
    with pytest.raises(Refused) as refused:
        world.ask("secondary-substation-reading", Query(None, {"id": "SS02"}), party)
    assert "4" not in refused.value.reason  # the refusal does not say how many customers SS02 serves
    everything = world.ask("secondary-substation-reading", Query(None), party) if party not in (
        "nobody", "anonymous") else None
    if everything is not None:
        assert {r.id for r in everything.root} == {"SS01"}  # SS02 is left out of a lookup of every substation
    [row] = world.backend.registry.entries(operation="secondary-substation-reading", subject="SS02",
                                           outcome=Outcome.REFUSED)
    assert row.reason.startswith("no agreement") or "fewer than k = 5" in row.reason


def test_issue_15_4_the_dsos_own_systems_still_see_them(world: World) -> None:
    readings = world.ask("secondary-substation-reading", Query(None, {"id": "SS02"}), "ADMS").root
    assert len(readings) == 96
