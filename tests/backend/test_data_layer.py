"""Spec 4.2 data layer: seed data, reading and topology lookups, and who may see client readings."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from dso_saref.app.seed import SP001, THIRD_PARTY, seed
from dso_saref.backend import (
    BackendSettings,
    DsoBackend,
    ExchangeContext,
    Outcome,
    Refused,
    StateError,
    Storage,
)
from dso_saref.exchange import Query
from dso_saref.messages.data_sharing import AuthorizationRequest
from dso_saref.messages.grid_data import LvClientReading

ADMS = "https://dso.example.org/adms/kb"
NOBODY = "https://nobody.example.org/kb"


def test_spec_4_2_seed_is_reproducible_and_complete(clock):
    first, second = DsoBackend(Storage(), clock=clock), DsoBackend(Storage(), clock=clock)
    summary = seed(first)
    seed(second)
    for name in ("lv-client-reading", "mv-client-reading", "secondary-substation-reading",
                 "primary-substation-reading"):
        assert first.grid.readings(name) == second.grid.readings(name)
    assert len(first.grid.clients(voltage_level="LV")) >= 12 and len(first.grid.clients(voltage_level="MV")) == 1
    assert len(first.grid.readings("lv-client-reading", id="LV0001")) == 96
    assert len(first.grid.readings("primary-substation-reading")) == 96
    assert len(summary.hems) >= 6 and len(first.grid.topology().root) == 15
    different = DsoBackend(Storage(), clock=clock)
    seed(different, seed=8)
    assert different.grid.readings("lv-client-reading") != first.grid.readings("lv-client-reading")


def test_spec_4_2_secondary_substation_reading_is_its_households_plus_losses(backend, summary):
    at = summary.start + timedelta(hours=19)
    [ss] = backend.grid.readings("secondary-substation-reading", id="SS02", timestamp=at)
    households = [r for r in backend.grid.readings("lv-client-reading", timestamp=at)
                  if r.id in summary.households["Z-SS02"]]
    assert ss.active_power_withdrawn == pytest.approx(1.03 * math.fsum(r.active_power_withdrawn for r in households),
                                                      abs=2e-3)


def test_spec_4_2_topology_lookup_by_any_key(backend, summary, clock):
    handler = backend.handlers()["grid-topology"]
    context = ExchangeContext(THIRD_PARTY, clock())
    [mv] = handler(Query(None, {"voltage_level": "MV"}), context).root
    assert (mv.client_id, mv.secondary_substation, mv.ps_feeder) == ("MV0001", None, "PS01-F2")
    feeder = handler(Query(None, {"ss_feeder": "SS01-F2"}), context).root
    assert [e.client_id for e in feeder] == ["LV0006", "LV0007", "LV0008", "LV0009", "LV0010"]
    assert len(handler(Query(None), context).root) == 15


def test_spec_4_2_substation_readings_go_to_parties_with_an_agreement(backend, summary, clock):
    handler = backend.handlers()["primary-substation-reading"]
    answer = handler(Query(None, {"id": "PS01", "timestamp": summary.start}), ExchangeContext(THIRD_PARTY, clock()))
    [reading] = answer.root
    assert reading.tap_position == 5 and reading.timestamp == summary.start
    assert backend.registry.entries(operation="primary-substation-reading", outcome=Outcome.SERVED)


def test_spec_3_5_client_readings_need_a_live_consent_or_an_internal_requester(backend, summary, clock):
    handler = backend.handlers()["lv-client-reading"]
    with pytest.raises(Refused, match="no agreement"):
        handler(Query(None, {"id": "LV0001"}), ExchangeContext(NOBODY, clock()))
    with pytest.raises(Refused, match="no live consent"):
        handler(Query(None, {"id": "LV0001"}), ExchangeContext(SP001, clock()))
    assert handler(Query(None), ExchangeContext(SP001, clock())).root == []
    start = summary.start + timedelta(hours=10)
    request = AuthorizationRequest(end_user="U0001", start=start, end=start + timedelta(hours=1))
    backend.handlers()["authorization-request"](request, ExchangeContext(SP001, clock()))
    backend.grant_consent(backend.consents.consents(end_user="U0001")[0].id)
    readings = handler(Query(None, {"id": "LV0001"}), ExchangeContext(SP001, clock())).root
    assert [r.timestamp for r in readings] == [start + timedelta(minutes=15 * i) for i in range(4)]
    assert {r.id for r in handler(Query(None), ExchangeContext(SP001, clock())).root} == {"LV0001"}
    assert len(backend.registry.entries(operation="lv-client-reading", outcome=Outcome.REFUSED)) == 2


def test_spec_3_5_internal_requesters_see_every_client_reading(clock, database):
    backend = DsoBackend(database.open(), settings=BackendSettings(internal_requesters=frozenset({ADMS})), clock=clock)
    seed(backend)
    answer = backend.handlers()["mv-client-reading"](Query(None, {"id": "MV0001"}), ExchangeContext(ADMS, clock()))
    assert len(answer.root) == 96


def test_spec_4_2_readings_of_unknown_clients_are_refused_whole(backend, summary):
    good = backend.grid.readings("lv-client-reading", id="LV0001")[0].model_copy(update={"voltage": 240.0})
    bad = LvClientReading(id="LV9999", timestamp=summary.start, active_power_injected=0, active_power_withdrawn=1,
                          reactive_power_injected=0, reactive_power_withdrawn=0, voltage=230)
    with pytest.raises(StateError, match="unknown client"):
        backend.grid.record_readings([good, bad])
    assert backend.grid.readings("lv-client-reading", id="LV0001")[0].voltage != 240.0
