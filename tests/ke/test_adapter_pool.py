"""Issue 15 item 8: the adapter handles exchanges concurrently with a bounded pool, through the stand-in
over HTTP on loopback: answers are neither lost nor duplicated and each is matched to its request, the
long poll keeps being served while handlers run, at most ``workers + backlog`` requests are taken from
the KE, a failing handler fails only its own exchange, and closing answers the exchanges taken first."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import pytest
from adapter_support import (
    DSO,
    FAST,
    WAIT,
    authorization,
    client,
    dso_adapter,
    granting,
    provider,
    standin,
    token_of,
)

from dso_saref.ke import EmulatorServer
from dso_saref.ke.adapter import Adapter
from dso_saref.ke.pool import HandlerPool
from dso_saref.messages.observability import HemsVoltage, HemsVoltageRequest
from tests.support.reference_dso import serving

SP = "https://test.example.org/kb/hems-provider"


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    running = standin()
    yield running
    running.close()


def send_all(askers: list[Adapter], per_asker: int) -> dict[str, dict]:
    """Every asker sends ``per_asker`` authorization requests at once (one thread each); the exchange
    of each end user, by end user."""
    def run(asker: Adapter) -> dict[str, dict]:
        out = {}
        for i in range(per_asker):
            end_user = f"{asker.kb_id.rsplit('/', 1)[1]}-U{i}"
            exchange = asker.send("authorization-request", authorization(end_user))
            out[end_user] = {"answers": exchange.answers, "failed": exchange.failed}
        return out

    with ThreadPoolExecutor(len(askers)) as threads:
        results: dict[str, dict] = {}
        for part in threads.map(run, askers):
            results.update(part)
    return results


def test_no_answer_is_lost_duplicated_or_given_to_another_request(server: EmulatorServer) -> None:
    seen: list[str] = []
    dso = dso_adapter(server, granting(seen), workers=4, backlog=8)
    askers = [provider(server, f"sp{i}") for i in range(6)]
    with serving(dso):
        results = send_all(askers, per_asker=8)
    for asker in askers:
        asker.close()
        asker.client.close()
    assert len(results) == 48
    for end_user, outcome in results.items():
        assert outcome["failed"] == {}, end_user
        [answer] = outcome["answers"].values()
        assert (answer["end_user"], answer["authorization_token"]) == (end_user, token_of(end_user))
    assert sorted(seen) == sorted(results), "each request handled exactly once"


def test_handlers_run_together_while_the_long_poll_keeps_being_served(server: EmulatorServer) -> None:
    together = threading.Barrier(4, timeout=WAIT)  # broken unless four handlers run at the same time
    dso = dso_adapter(server, granting(before=lambda message: together.wait()), workers=4)
    askers = [provider(server, f"sp{i}") for i in range(4)]
    with serving(dso):
        results = send_all(askers, per_asker=1)
    assert all(outcome["failed"] == {} and outcome["answers"] for outcome in results.values()), results
    assert not together.broken


def test_no_more_than_workers_plus_backlog_requests_are_taken_from_the_ke() -> None:
    """Six HEMS voltage ASKs (no parts) at a provider with two workers and a backlog of one: two run,
    one waits in the adapter, three stay queued at the KE until a worker is free. The stand-in fails
    the oldest request delivered beyond 3 unanswered (the KE does so beyond 100): none may fail."""
    server = standin(outstanding_limit=3)
    release = threading.Event()
    running = threading.Condition()
    active = [0, 0]  # now, most

    def voltage(request: HemsVoltageRequest, context: object) -> HemsVoltage:
        with running:
            active[0] += 1
            active[1] = max(active)
            running.notify_all()
        release.wait(WAIT)
        with running:
            active[0] -= 1
        return HemsVoltage(Voltage_Monitoring=[{"Hems_ID": request.Hems_ID, "timestamp": "2021-12-03T15:11:20Z",
                                                "Voltage_from_Hems": 230.0, "Voltage_from_Hems_unit": "volts"}])

    hems = Adapter(client(server), "service-provider", kb_id=SP, handlers={"hems-voltage-request": voltage},
                   backoff=FAST, workers=2, backlog=1)
    hems.register()
    askers = [Adapter(client(server), "dso", kb_id=f"https://test.example.org/kb/dso{i}", backoff=FAST)
              for i in range(6)]
    for asker in askers:
        asker.register()
    with serving(hems), ThreadPoolExecutor(6) as threads:
        futures = {f"H{i}": threads.submit(asker.send, "hems-voltage-request", {"Hems_ID": f"H{i}"},
                                           recipients=[SP]) for i, asker in enumerate(askers)}
        with running:
            assert running.wait_for(lambda: active[0] == 2, WAIT)
        assert server.emulator.wait_for_queue(SP, 3, timeout=WAIT)
        # taking a fourth would push the oldest past the limit: its asker would hear at once
        done, _ = wait(futures.values(), timeout=1.0, return_when=FIRST_COMPLETED)
        assert not done, [future.result().failed for future in done]
        release.set()
        answers = {hems_id: future.result(timeout=WAIT) for hems_id, future in futures.items()}
    server.close()
    assert active[1] == 2
    for hems_id, exchange in answers.items():
        assert exchange.failed == {}
        assert [m["Hems_ID"] for m in exchange.answers[SP]["Voltage_Monitoring"]] == [hems_id]


def test_a_failing_handler_fails_only_its_own_exchange(server: EmulatorServer) -> None:
    def refuse_odd(message) -> None:
        if int(message.end_user.rsplit("U", 1)[1]) % 2:
            raise RuntimeError(f"cannot grant {message.end_user}")

    dso = dso_adapter(server, granting(before=refuse_odd), workers=4)
    askers = [provider(server, f"sp{i}") for i in range(3)]
    with serving(dso) as thread:
        results = send_all(askers, per_asker=6)
        assert thread.is_alive(), "the serving loop goes on"
    for end_user, outcome in results.items():
        if int(end_user.rsplit("U", 1)[1]) % 2:
            assert outcome["answers"] == {}
            assert f"cannot grant {end_user}" in outcome["failed"][DSO]
        else:
            assert outcome["failed"] == {}
            assert outcome["answers"][DSO]["authorization_token"] == token_of(end_user)


def test_closing_answers_the_exchanges_taken_before_unregistering(server: EmulatorServer) -> None:
    entered, release = threading.Event(), threading.Event()

    def hold(message: object) -> None:
        entered.set()
        release.wait(WAIT)

    dso = dso_adapter(server, granting(before=hold), workers=2)
    asker = provider(server, "sp")
    stop = threading.Event()
    poller = threading.Thread(target=dso.serve, args=(stop,), daemon=True)
    poller.start()
    with ThreadPoolExecutor(2) as threads:
        sent = threads.submit(asker.send, "authorization-request", authorization("U1"))
        assert entered.wait(WAIT)
        stop.set()
        closing = threads.submit(dso.close)
        finished, _ = wait([closing], timeout=0.5)  # close() would be done at once if it did not drain
        assert not finished, "close() waits for the running exchange"
        assert DSO in [kb.id for kb in asker.client.list_knowledge_bases()], "still registered while draining"
        release.set()
        exchange = sent.result(timeout=WAIT)
        closing.result(timeout=WAIT)
    poller.join(WAIT)
    assert not poller.is_alive()
    assert exchange.failed == {} and exchange.answers[DSO]["authorization_token"] == token_of("U1")
    assert DSO not in [kb.id for kb in asker.client.list_knowledge_bases()], "unregistered once drained"


@pytest.mark.parametrize(("workers", "backlog"), [(0, 0), (1, -1), (50, 50), (True, 0)])
def test_pool_sizes_are_checked(workers: int, backlog: int) -> None:
    with pytest.raises(ValueError, match=r"workers|backlog"):
        HandlerPool(workers, backlog)
