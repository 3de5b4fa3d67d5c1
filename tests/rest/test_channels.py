"""Issue 12 item 1: one ``serve`` process serves the DSO on the Knowledge Engine and over REST, on the same
backend and database: what a service provider does over REST is visible over the KE and the other way
round (a consent asked over REST gives its token over the KE; offers posted over the KE are the ones a
REST posting finds already received)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from dso_saref.app.seed import SP001
from dso_saref.app.serve import ServeConfig, serve
from dso_saref.backend import DsoBackend, Storage
from dso_saref.backend.credentials import Credentials
from dso_saref.ke.adapter import Adapter, Backoff
from dso_saref.ke.client import KnowledgeEngineClient
from dso_saref.ke.emulator import EmulatorConfig, KnowledgeEngineEmulator
from dso_saref.ke.emulator_http import EmulatorServer
from dso_saref.messages.data_sharing import AuthorizationRequest, MeteringRequest
from dso_saref.messages.flexibility import (
    FlexibilityNeed,
    FlexibilityNeedsRequest,
    FlexibilityOffer,
    FlexibilityOffers,
)
from dso_saref.rest.client import DsoClient


@dataclass
class Both:
    """A ``serve`` process's DSO on a KE stand-in and over REST, SP001 on both, and the operator's view
    of the database (another connection to the same file)."""

    adapter: Adapter
    rest: DsoClient
    operator: DsoBackend


@pytest.fixture
def both(tmp_path) -> Iterator[Both]:
    db = str(tmp_path / "dso.sqlite")
    emulator = KnowledgeEngineEmulator(EmulatorConfig(handle_timeout=0.5, exchange_timeout=10.0))
    with EmulatorServer(emulator, port=0) as ke:
        stop, lines, registered = threading.Event(), [], threading.Event()

        def ready(line: str) -> None:
            lines.append(line)
            if "serving the DSO as" in line:
                registered.set()

        config = ServeConfig(ke_url=ke.base_url, db=db, seed=True, rest="127.0.0.1:0", attempts=3)
        worker = threading.Thread(target=serve, args=(config, stop), kwargs={"ready": ready}, daemon=True)
        worker.start()
        try:
            assert registered.wait(30), lines
            rest_url = re.search(r"http://127\.0\.0\.1:\d+", lines[0]).group(0)
            storage = Storage(db)
            key = Credentials(storage).add_party("SP001", "service-provider", now=DsoBackend(storage).now()).token
            client = KnowledgeEngineClient(ke.base_url)
            adapter = Adapter(client, "service-provider", kb_id=SP001, backoff=Backoff(attempts=2))
            adapter.register()
            with DsoClient(rest_url, api_key=key) as rest:
                yield Both(adapter, rest, DsoBackend(storage))
            adapter.close()
            client.close()
            storage.close()
        finally:
            stop.set()
            worker.join(30)
    assert not worker.is_alive()


def test_a_consent_asked_over_rest_gives_its_token_over_the_ke(both: Both) -> None:
    start = both.operator.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    ask = AuthorizationRequest(end_user="U0001", start=start, end=start + timedelta(days=1))
    pending = both.rest.authorization_request(ask)
    assert not pending.granted and pending.reason.startswith("pending")
    [consent] = both.operator.consents.consents(end_user="U0001")
    both.operator.grant_consent(consent.id)  # the end user decides, through the customer channel
    over_ke = both.adapter.send("authorization-request", ask.model_dump(mode="json", exclude_none=True))
    [answer] = over_ke.answers.values()
    assert answer["granted"] is True and answer["authorization_token"] == both.operator.consents.get(consent.id).token
    metering = MeteringRequest(data_type="User", id="U0001", authorization_token=answer["authorization_token"],
                               granularity=3, start=ask.start, end=ask.end)
    over_rest = both.rest.metering_request(metering)
    assert [s.dump() for s in over_rest.root] == next(iter(both.adapter.send(
        "metering-request", metering.model_dump(mode="json", exclude_none=True)).answers.values()))


def test_offers_posted_over_the_ke_are_already_received_over_rest(both: Both) -> None:
    start = both.operator.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    need = FlexibilityNeed(request_id="X1", needs=3.0, unit="kW", direction="Up", power_type="Active", start=start,
                           end=start + timedelta(hours=2), eligible_clients=["M0001"], zone_id="Z-SS01")
    both.operator.publish_needs([need])
    window = FlexibilityNeedsRequest(start=start, end=start + timedelta(hours=1))
    assert [n.request_id for n in both.rest.flexibility_needs_request(window).root] == ["X1"]
    offers = FlexibilityOffers([FlexibilityOffer(request_id="X1", offer_id="K1", offer=1.0, unit="kW", price=0.2,
                                                 start=need.start, end=need.end, meter_ids=["M0001"])])
    over_ke = both.adapter.send("flexibility-offers", offers.model_dump(mode="json", exclude_none=True))
    assert next(iter(over_ke.answers.values()))["status"] == "accepted"
    again = both.rest.flexibility_offers(offers)
    assert again.status.value == "accepted"
    [stored] = both.operator.market.offers("X1")
    assert stored.provider_id == "SP001" and stored.offer.offer_id == "K1"
    logged = both.operator.registry.entries(operation="flexibility-offers")
    assert [op.reason for op in logged] == ["1 new, 0 already received", "0 new, 1 already received"]
    assert logged[0].request_id and logged[1].request_id  # the KE's row and the REST row carry their request ids
    assert logged[0].request_id != logged[1].request_id
