"""The backend's face: the handler registry against the catalog, typed handlers, import rules, and every
use case end to end between the reference DSO and the reference service provider (no Knowledge Engine)."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest

import dso_saref
import dso_saref.backend
from dso_saref.app.counterparts import ManagedHems, ServiceProviderRole, ThirdPartyRole
from dso_saref.app.seed import SP001, THIRD_PARTY, example_needs
from dso_saref.backend import ExchangeContext, Refused
from dso_saref.exchange import Query
from dso_saref.messages.flexibility import FlexibilityNeedsRequest

BACKEND = Path(dso_saref.backend.__file__).parent
DSO_KB = "https://dso.example.org/kb"


def dso_served() -> set[str]:
    """Catalog names of every exchange whose responder is the DSO."""
    names = set()
    for name in dso_saref.catalog:
        interaction = dso_saref.catalog[name].interaction
        if interaction is not None and "dso" in interaction.responders:
            names.add(name)
    return names


def test_every_exchange_the_dso_serves_has_a_handler(backend):
    handlers = backend.handlers()
    assert set(handlers) == dso_served()
    assert all(callable(handler) for handler in handlers.values())


def test_every_exchange_the_dso_starts_is_served_by_the_reference_provider():
    started = {n for n in dso_saref.catalog if (i := dso_saref.catalog[n].interaction) and "dso" in i.initiators}
    role = ServiceProviderRole("SP001", SP001)
    assert set(role.handlers()) == started


def test_exchange_context_needs_an_aware_time():
    from datetime import datetime

    with pytest.raises(ValueError, match="aware"):
        ExchangeContext(SP001, datetime(2021, 9, 27))


@pytest.mark.parametrize("path", sorted(BACKEND.glob("*.py")), ids=lambda p: p.name)
def test_the_backend_never_imports_rdflib_nor_an_http_library(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"rdflib", "requests", "httpx", "urllib3", "pyshacl"}
    assert len(path.read_text(encoding="utf-8").splitlines()) < 520, "keep modules small"


def test_public_names_are_exported_and_sorted():
    names = dso_saref.backend.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(dso_saref.backend, name) is not None


def test_every_use_case_end_to_end_with_the_reference_provider(backend, summary, clock):
    """HLUC 5, 10 and 11 in one story: what the demo does, through typed messages only."""
    handlers = backend.handlers()
    sp = ServiceProviderRole("SP001", SP001, clock=clock, hems=[
        ManagedHems(h, summary.postal_codes[c], meter_id=summary.meters[c]) for h, c in summary.hems.items()])
    to_sp = sp.handlers()
    dso = ExchangeContext(DSO_KB, clock())

    def from_sp():
        return ExchangeContext(SP001, clock())

    # HLUC 5 PUC 1: authorization, consent, metering under the token
    start = summary.start + timedelta(hours=18)
    request = sp.authorization_request("U0002", start, start + timedelta(hours=2))
    assert handlers["authorization-request"](request, from_sp()).granted is False
    backend.grant_consent(backend.consents.consents(end_user="U0002")[0].id)
    token = handlers["authorization-request"](request, from_sp()).authorization_token
    data = handlers["metering-request"](sp.metering_request("U0002", token, *request_window(request), 2), from_sp())
    assert len(data.root[0].readings) == 2
    # HLUC 5 PUC 2 SCN2: incentive offer answered by the provider
    incentive = backend.incentive_offer(end_user="U0002", recipient=SP001, contracted_power=3.45, incentive=0.05,
                                        start=clock.now, end=clock.now + timedelta(days=1))
    answer = to_sp[incentive.message.name](incentive.message, dso)
    assert backend.record_incentive_response(answer, responder=SP001).status == "accepted"
    # HLUC 10 PUC 1: needs published, offers, clearing, activation plan acknowledged
    published = backend.publish_needs(example_needs(summary))
    assert to_sp["flexibility-needs"](published.message, dso).status == "accepted"
    assert handlers["flexibility-offers"](sp.make_offers(), from_sp()).status == "accepted"
    [plan] = backend.build_activation_plans()
    assert plan.recipient == SP001
    backend.record_activation_acknowledgement(plan.reference, to_sp["activation-plan"](plan.message, dso))
    assert {o.status for o in backend.market.offers()} == {"activated"}
    # HLUC 10 PUC 2: additional need, the provider asks for the needs and offers again
    backend.add_to_needs({"1": 2.0})
    sp.remember_needs(handlers["flexibility-needs-request"](
        FlexibilityNeedsRequest(start=summary.start, end=summary.end), from_sp()))
    assert handlers["flexibility-offers"](sp.make_offers(["1"]), from_sp()).status == "accepted"
    [intraday] = backend.build_activation_plans(["1"])
    assert sum(e.quantity for e in intraday.message.root if e.activation) == pytest.approx(6.0)
    # HLUC 11 PUC 1: settings, subscription, outage, notification, fault event; HEMS status and voltage
    for out in (backend.set_min_faulty_hems("SP001", 3), backend.set_min_elapsed_time("SP001", 180)):
        backend.record_settings_acknowledgement("SP001", out.message.name, to_sp[out.message.name](out.message, dso))
    subscription = backend.subscribe_postal_codes("SP001", ["4405-123", "4405-200"])
    response = to_sp["fault-postal-codes"](subscription.message, dso)
    assert response.status == "denied" and "no HEMS in 4405-200" in response.reason
    subscription = backend.subscribe_postal_codes("SP001", ["4405-123"])
    backend.record_subscription_response("SP001", ["4405-123"], to_sp["fault-postal-codes"](subscription.message, dso))
    sp.outage("4405-123", at=clock.now)
    assert sp.fault_notification(now=clock.now) is None  # not for long enough yet
    clock.advance(minutes=5)
    ack = handlers["fault-notification"](sp.fault_notification(now=clock.now), from_sp())
    assert ack.status == "accepted"
    [event] = backend.faults.fault_events(status="open")
    assert event.postal_code == "4405-123" and event.faulty_hems == 4
    sp.hems["H0001"].voltage = 262.0
    ask = backend.hems_voltage_request("H0001")
    [alarm] = backend.record_hems_voltage(to_sp["hems-voltage-request"](ask.message, dso), responder=ask.recipient)
    assert alarm.voltage == 262.0
    status = to_sp["hems-status-request"](backend.hems_status_request("H0001").message, dso)
    assert status.Voltage_Monitoring[0].Status == "off"
    assert backend.record_hems_status(status, responder=SP001)
    # HLUC 11 PUC 3: opportunities for a third party, disaggregated data from a data service provider
    opportunities = handlers["opportunities-request"](ThirdPartyRole(THIRD_PARTY).opportunities_request(["4405"]),
                                                      ExchangeContext(THIRD_PARTY, clock()))
    assert {o.zip_code for o in opportunities.opportunities} == {"4405-123", "4405-124", "4405-200"}
    ask = backend.disaggregated_data_request("SP001", ["U0001", "U0002"])
    assert backend.record_disaggregated_data(to_sp[ask.message.name](ask.message, dso), responder=SP001) == 144
    # the data layer: the provider holds a live consent for U0002's client LV0002 only
    readings = handlers["lv-client-reading"](Query(None), from_sp()).root
    assert {r.id for r in readings} == {"LV0002"} and len(readings) == 8


def request_window(request):
    return request.start, request.end


def test_handlers_plug_into_the_ke_adapter_as_they_are(backend, summary, clock):
    from dso_saref.exchange import ANONYMOUS
    from dso_saref.ke import KnowledgeEngineClient
    from dso_saref.ke.adapter import Adapter

    adapter = Adapter(KnowledgeEngineClient("http://127.0.0.1:9/rest"), "dso", kb_id=DSO_KB,
                      handlers=backend.handlers())
    assert set(adapter.handlers) == set(backend.handlers())
    context = ExchangeContext(THIRD_PARTY, clock(), "primary-substation-reading", "ke")
    everything = backend.handlers()["primary-substation-reading"](Query(None), context)
    assert len(everything.root) == 96  # the adapter keeps the rows compatible with the asker's bindings
    anonymous = ExchangeContext(ANONYMOUS, clock(), "grid-topology", "ke")
    with pytest.raises(Refused, match="no agreement"):  # grid data goes only to parties with an agreement
        backend.handlers()["grid-topology"](Query(None), anonymous)
    assert backend.registry.entries(operation="grid-topology")[-1].actor == "anonymous"
    assert len(backend.handlers()["grid-topology"](Query(None), context).root) == 15
    sp = ServiceProviderRole("SP001", SP001, hems=[ManagedHems("H0001", "4405-123")], clock=clock)
    from dso_saref.messages.observability import HemsVoltageRequest

    voltage = sp.handlers()["hems-voltage-request"](HemsVoltageRequest(Hems_ID="H0001"),
                                                     ExchangeContext(DSO_KB, clock(), "hems-voltage-request", "ke"))
    assert voltage.Voltage_Monitoring[0].Hems_ID == "H0001"
