"""Issue 12 item 8, the Knowledge Engine side: the DSO serving on a KE stand-in (over loopback HTTP) with
its handlers observed (:func:`~dso_saref.monitoring.observed.observed_handlers`) and its REST API beside
it. Exchanges are counted by interaction and outcome in ``/metrics`` and on the status page; each one's
request id (the KE's handle request id) is in its JSON log line and in the rows it wrote to the registry
of operations; ``/ready`` says whether the KE is reachable and knows the DSO."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from dso_saref.app.seed import DSO_KB, SP001
from dso_saref.backend.policy import TOKEN_NOT_VALID
from dso_saref.backend.registry import Outcome
from dso_saref.ke.adapter import Adapter, Backoff
from dso_saref.ke.client import KnowledgeEngineClient
from dso_saref.ke.emulator import EmulatorConfig, KnowledgeEngineEmulator
from dso_saref.ke.emulator_http import EmulatorServer
from dso_saref.monitoring.logs import EXCHANGE_LOGGER, exchange_log
from dso_saref.monitoring.observed import observed_handlers
from tests.portal.support import Served, json_log, serving

WINDOW = {"start": "2021-09-28T00:00:00Z", "end": "2021-09-29T00:00:00Z"}


@dataclass
class Live:
    """The DSO on a KE stand-in and over REST, SP001 on the KE, and the DSO's JSON-lines log."""

    dso: Served
    dso_adapter: Adapter
    sp: Adapter
    log: io.StringIO

    def lines(self, logger: str) -> list[dict[str, object]]:
        return [line for line in map(json.loads, self.log.getvalue().splitlines()) if line["logger"] == logger]


@pytest.fixture
def live() -> Iterator[Live]:
    emulator = KnowledgeEngineEmulator(EmulatorConfig(handle_timeout=0.5, exchange_timeout=10.0))
    with json_log() as stream, EmulatorServer(emulator, port=0) as ke, \
            serving(ke_url=ke.base_url, kb_id=DSO_KB) as dso:
        handlers = observed_handlers(dso.backend.handlers(), [dso.metrics.exchange, exchange_log()])
        dso_client, sp_client = KnowledgeEngineClient(ke.base_url), KnowledgeEngineClient(ke.base_url)
        dso_adapter = Adapter(dso_client, "dso", kb_id=DSO_KB, handlers=handlers, backoff=Backoff(attempts=2))
        sp = Adapter(sp_client, "service-provider", kb_id=SP001, backoff=Backoff(attempts=2))
        stop = threading.Event()
        worker = threading.Thread(target=dso_adapter.serve, args=(stop,), daemon=True)
        try:
            not_yet = json.loads(dso.get("/ready").body)
            assert not_yet["status"] == "not ready"
            dso_adapter.register()
            sp.register()
            worker.start()
            yield Live(dso, dso_adapter, sp, stream)
        finally:
            stop.set()
            dso_adapter.close()
            sp.close()
            worker.join(30)
            dso_client.close()
            sp_client.close()
    assert not worker.is_alive()


def test_exchanges_are_counted_by_interaction_and_outcome(live: Live) -> None:
    needs = live.sp.send("flexibility-needs-request", WINDOW)
    assert needs.answered
    refused = live.sp.send("metering-request", {
        "data_type": "User", "id": "U0001", "authorization_token": "no-such-token", "granularity": 1, **WINDOW})
    assert not refused.answered and TOKEN_NOT_VALID in next(iter(refused.failed.values()))
    total = "dso_saref_ke_exchanges_total"
    assert live.dso.metric(total, interaction="flexibility-needs-request", side="served", outcome="answered") == 1
    assert live.dso.metric(total, interaction="metering-request", side="served", outcome="refused") == 1
    assert live.dso.metric("dso_saref_refusals_total", channel="ke", reason="no-consent") == 1
    assert live.dso.metric("dso_saref_ke_exchange_duration_seconds_count", interaction="metering-request",
                           side="served") == 1
    status = live.dso.get("/portal/status.html?hours=1").body.decode("utf-8")
    assert "answered: 1, refused: 1" in status and "ke-no-consent: 1" in status


def test_an_exchange_carries_its_request_id_into_the_log_and_the_registry(live: Live) -> None:
    live.sp.send("metering-request", {"data_type": "User", "id": "U0001", "authorization_token": "no-such-token",
                                      "granularity": 1, **WINDOW})
    [line] = [line for line in live.lines(EXCHANGE_LOGGER) if line["interaction"] == "metering-request"]
    assert line["level"] == "WARNING" and line["outcome"] == "refused" and line["side"] == "served"
    assert line["peer"] == SP001 and line["detail"] == "unknown authorization token"  # the DSO's account
    assert line["reason"] == "no-consent"
    request_id = line["request_id"]
    assert isinstance(request_id, str) and request_id
    [row] = live.dso.backend.registry.entries(operation="metering-request", outcome=Outcome.REFUSED)
    assert row.request_id == request_id and row.reason == "unknown authorization token"


def test_ready_when_the_knowledge_engine_knows_the_dso(live: Live) -> None:
    reply = live.dso.get("/ready")
    body = json.loads(reply.body)
    assert reply.status == 200, body
    assert [(c["name"], c["ok"]) for c in body["checks"]] == [("database", True), ("knowledge-engine", True)]


def test_not_ready_when_the_knowledge_engine_cannot_be_reached() -> None:
    with serving(ke_url="http://127.0.0.1:9/rest", kb_id=DSO_KB) as dso:
        reply = dso.get("/ready")
        assert dso.get("/health").status == 200  # alive all the same
    body = json.loads(reply.body)
    assert reply.status == 503 and body["status"] == "not ready"
    [database, ke] = body["checks"]
    assert database["ok"] and not ke["ok"]
    assert ke["detail"] and "Traceback" not in ke["detail"]
