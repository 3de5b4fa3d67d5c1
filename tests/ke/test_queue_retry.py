"""Asking again when the KE cancelled a request because the peer's queue was full (issue 15 item 8):
through the stand-in over HTTP the crowded-out asker is answered, only the crowded-out peer is asked
again, and nobody receives a request twice; the policy's bounds."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from ke_support import KB_A, KB_B, KB_C, PREFIXES, WAIT, Worker, serve, start

from dso_saref.ke import EmulatorServer, HTTPTransport, KnowledgeEngineClient, QueueRetry, Timeouts
from dso_saref.ke.emulator import QUEUE_FULL_MESSAGE
from dso_saref.ke.queue_retry import crowded_out, crowded_peers, send_with_retry
from dso_saref.ke.results import AskResult, ExchangeInfo

TIMEOUTS = Timeouts(read=WAIT, exchange=WAIT, long_poll=WAIT)
#: many quick attempts: the test's askers push each other out until the answering side polls
PATIENT = QueueRetry(attempts=1000, initial=0.005, cap=0.02)


def row(value: str) -> dict[str, str]:
    return {"s": "<http://example.org/s>", "o": f'"{value}"'}


class Crowding:
    """A session factory whose sessions set :attr:`seen` once a reply says a queue was full."""

    def __init__(self) -> None:
        self.seen = threading.Event()

    def session(self) -> requests.Session:
        session = requests.Session()
        session.hooks["response"].append(self._look)
        return session

    def _look(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        if "queue is full" in response.text:
            self.seen.set()


def asker(server: EmulatorServer, crowding: Crowding, policy: QueueRetry | None = PATIENT) -> KnowledgeEngineClient:
    transport = HTTPTransport(server.base_url, session_factory=crowding.session)
    return KnowledgeEngineClient(transport=transport, timeout=TIMEOUTS, queue_retry=policy)


def crowd_out_the_first_ask(
    server: EmulatorServer, a: KnowledgeEngineClient, b: KnowledgeEngineClient
) -> tuple[Worker, Worker]:
    """A asks B twice while B does not poll (its queue holds one): the first ask is cancelled, undelivered."""
    a.register_knowledge_base(KB_A, "A", "asks")
    b.register_knowledge_base(KB_B, "B", "answers once it polls")
    ask = a.register_ask(KB_A, "?s ex:p ?o .", prefixes=PREFIXES)
    b.register_answer(KB_B, "?s ex:p ?o .", prefixes=PREFIXES)
    first = start(lambda: a.ask(KB_A, ask))
    assert server.emulator.wait_for_queue(KB_B, 1, WAIT)
    return first, start(lambda: a.ask(KB_A, ask))


def test_a_crowded_out_ask_is_sent_again_and_answered_once(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(queue_limit=1)
    crowding = Crowding()
    with asker(server, crowding) as a, KnowledgeEngineClient(server.base_url, timeout=TIMEOUTS) as b:
        first, second = crowd_out_the_first_ask(server, a, b)
        assert crowding.seen.wait(WAIT)  # the first was cancelled, undelivered: it is being sent again
        answered = serve(b, KB_B, lambda request: [row("b")], count=2)
        for asking in (first, second):
            result = asking.result()
            assert isinstance(result, AskResult)
            assert result.binding_set == [row("b")]
            assert [(i.knowledge_base_id, i.status) for i in result.exchange_info] == [(KB_B, "SUCCEEDED")]
        seen = answered.result()
        assert isinstance(seen, list) and len(seen) == 2
        # B never saw request 1 (cancelled in the queue): what it answered includes a request sent again
        assert max(r.handle_request_id for r in seen) >= 3
        assert not server.emulator.wait_for_queue(KB_B, 1, 0.0)


def test_only_the_crowded_out_peer_is_asked_again(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(queue_limit=1)
    crowding = Crowding()
    with (asker(server, crowding) as a, KnowledgeEngineClient(server.base_url, timeout=TIMEOUTS) as b,
          KnowledgeEngineClient(server.base_url, timeout=TIMEOUTS) as c):
        a.register_knowledge_base(KB_A, "A", "asks everybody")
        b.register_knowledge_base(KB_B, "B", "answers once it polls")
        c.register_knowledge_base(KB_C, "C", "answers at once")
        ask = a.register_ask(KB_A, "?s ex:p ?o .", prefixes=PREFIXES)
        b.register_answer(KB_B, "?s ex:p ?o .", prefixes=PREFIXES)
        c.register_answer(KB_C, "?s ex:p ?o .", prefixes=PREFIXES)
        c_answered = serve(c, KB_C, lambda request: [row("c")], count=2)
        first = start(lambda: a.ask(KB_A, ask))
        assert server.emulator.wait_for_queue(KB_B, 1, WAIT)
        second = start(lambda: a.ask(KB_A, ask))
        assert crowding.seen.wait(WAIT)
        b_answered = serve(b, KB_B, lambda request: [row("b")], count=2)
        for asking in (first, second):
            result = asking.result()
            assert isinstance(result, AskResult)
            assert sorted(r["o"] for r in result.binding_set) == ['"b"', '"c"']
            assert sorted((i.knowledge_base_id, i.status) for i in result.exchange_info) == [
                (KB_B, "SUCCEEDED"), (KB_C, "SUCCEEDED")]
        for answered in (b_answered, c_answered):
            seen = answered.result()
            assert isinstance(seen, list) and len(seen) == 2
        assert not server.emulator.wait_for_queue(KB_C, 1, 0.0)  # C was never asked a third time


def test_without_a_retry_the_crowded_out_peer_stays_failed(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(queue_limit=1)
    crowding = Crowding()
    with asker(server, crowding, policy=None) as a, KnowledgeEngineClient(server.base_url, timeout=TIMEOUTS) as b:
        first, second = crowd_out_the_first_ask(server, a, b)
        [dropped] = first.result().exchange_info  # type: ignore[attr-defined]
        assert dropped.failed_message == QUEUE_FULL_MESSAGE  # the KE 1.5.0's text
        serve(b, KB_B, lambda request: [row("b")]).result()
        assert second.result().binding_set == [row("b")]  # type: ignore[attr-defined]


# -- the policy -------------------------------------------------------------------------------------------


def info(kb: str, status: str = "SUCCEEDED", message: str | None = None, ki: str = "ki") -> ExchangeInfo:
    now = datetime.now(UTC)
    return ExchangeInfo("knowledgeBase", kb, f"{kb}/{ki}", now, now, status, message)


def test_crowded_out_reads_the_kes_text_and_a_peer_with_a_delivered_part_is_not_asked_again() -> None:
    full = info(KB_B, "FAILED", QUEUE_FULL_MESSAGE)
    assert crowded_out(full)
    assert crowded_out(info(KB_B, "FAILED", "Handle request queue is full. This oldest request has been cancelled."))
    assert crowded_out(info(KB_B, "FAILED", "java.lang.Exception: It was not possible to add this request to the "
                                            "knowledge base's queue."))
    assert not crowded_out(info(KB_B, "FAILED", "KB with id x will no longer respond, because it stopped."))
    delivered = "Knowledge base x should have max 100 outstanding handle requests. Cancelling oldest handle request 7."
    assert not crowded_out(info(KB_B, "FAILED", f"java.lang.Exception: {delivered}"))
    assert not crowded_out(info(KB_B, "SUCCEEDED", QUEUE_FULL_MESSAGE))
    infos = [full, info(KB_C, "FAILED", QUEUE_FULL_MESSAGE), info(KB_C, ki="other"), info(KB_A)]
    assert crowded_peers(infos) == [KB_B]


def test_the_retries_stay_within_the_attempts_and_the_deadline() -> None:
    now = [0.0]
    sends: list[Sequence[str] | None] = []

    def crowded(to: Sequence[str] | None, seconds: float) -> AskResult:
        assert seconds > 0
        sends.append(to)
        return AskResult([], [info(KB_B, "FAILED", QUEUE_FULL_MESSAGE), info(KB_C)] if to is None
                         else [info(KB_B, "FAILED", QUEUE_FULL_MESSAGE)])

    def sleep(seconds: float) -> None:
        now[0] += seconds

    policy = QueueRetry(attempts=5, initial=0.1, cap=0.2)
    result = send_with_retry(crowded, None, policy, 60.0, clock=lambda: now[0], sleep=sleep)
    assert sends == [None, [KB_B], [KB_B], [KB_B], [KB_B]]
    assert [(i.knowledge_base_id, i.status) for i in result.exchange_info] == [(KB_C, "SUCCEEDED"), (KB_B, "FAILED")]
    sends.clear()
    now[0] = 0.0
    slow = QueueRetry(attempts=1000, initial=0.5, cap=0.5)
    send_with_retry(crowded, None, slow, 2.0, clock=lambda: now[0], sleep=sleep)
    assert now[0] < 2.0 and len(sends) < 1000  # never past the call's deadline


@given(st.integers(min_value=1, max_value=60), st.floats(min_value=1e-3, max_value=5),
       st.floats(min_value=1e-3, max_value=5))
def test_every_pause_is_within_its_bound(attempt: int, initial: float, cap: float) -> None:
    policy = QueueRetry(attempts=2, initial=initial, cap=cap)
    assert 0.0 <= policy.pause(attempt, random.Random(attempt)) <= min(cap, initial * 2 ** (attempt - 1))


@pytest.mark.parametrize(("field", "value"), [("attempts", 0), ("attempts", 1.5), ("attempts", True),
                                              ("initial", 0), ("cap", -1.0), ("cap", "1")])
def test_a_bad_policy_is_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"QueueRetry.{field}"):
        QueueRetry(**{field: value})  # type: ignore[arg-type]
