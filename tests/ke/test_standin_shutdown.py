"""Issue 15, item 3: the stand-in stops within a bound whatever its clients do. In process, ``close``
answers an open long poll 410 and a half-sent body 503; as a process (``python -m
dso_saref.ke.standin``), SIGTERM and SIGINT end it within a few seconds with half-sent
requests and long polls open, exit code 0 and no traceback; and a 300 MB body does not raise its
peak memory."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
from ke_support import KB_A, WAIT, start
from standin_support import StandinProcess, closed_by_peer, connect, read_response, send_until_answered

from dso_saref.ke import (
    EmulatorConfig,
    EmulatorServer,
    Gone,
    KnowledgeEngineClient,
    KnowledgeEngineEmulator,
    KnowledgeEngineError,
    KnowledgeEngineUnavailable,
    Timeouts,
)
from dso_saref.ke.emulator_http import ServerLimits

#: What "a few seconds" means here: the default graceful-stop timeout (3 s) plus slack for a busy machine.
BOUND = 8.0
LONG = Timeouts(read=WAIT, exchange=WAIT, long_poll=120.0)


def half_sent(port: int) -> list:
    """Two connections that stall: one in its headers, one in its body."""
    headers = connect(port)
    headers.sendall(b"POST /rest/sc HTTP/1.1\r\nHost: x\r\nContent-Len")
    body = connect(port)
    body.sendall(b"POST /rest/sc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    return [headers, body]


def test_close_answers_open_long_polls_410_and_half_sent_bodies_503_within_the_bound() -> None:
    config = EmulatorConfig(handle_timeout=120.0)
    server = EmulatorServer(KnowledgeEngineEmulator(config), port=0, limits=ServerLimits(read_timeout=120.0)).start()
    stalled = half_sent(server.port)
    try:
        with KnowledgeEngineClient(server.base_url, timeout=LONG) as ke:
            ke.register_knowledge_base(KB_A, "A", "polls")
            poll = start(lambda: ke.poll(KB_A))
            assert server.emulator.wait_for_poll(KB_A, WAIT)
            began = time.monotonic()
            server.close()
            took = time.monotonic() - began
            with pytest.raises(Gone):
                poll.result()
        assert took < server.limits.shutdown_timeout, took
        headers, body = stalled
        assert closed_by_peer(headers)
        response = read_response(body)
        assert response.status == 503 and response.is_ke_error()
    finally:
        for sock in stalled:
            sock.close()
        server.close()


def poller(base_url: str) -> tuple[threading.Thread, list[BaseException], threading.Event]:
    """A knowledge base that long-polls the process until the KE stops it; what ended it, and an
    event set once it has polled at least once."""
    ended: list[BaseException] = []
    polled = threading.Event()

    def loop() -> None:
        with KnowledgeEngineClient(base_url, timeout=LONG) as ke:
            ke.register_knowledge_base(KB_A, "A", "polls")
            try:
                while True:
                    polled.set()
                    ke.poll(KB_A)
            except KnowledgeEngineError as exc:
                ended.append(exc)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread, ended, polled


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_process_within_the_bound_despite_open_requests(sig: signal.Signals) -> None:
    standin = StandinProcess("--handle-timeout", "1", "--read-timeout", "120")
    watchdog = threading.Timer(3 * WAIT, standin.kill)
    watchdog.start()
    stalled: list = []
    try:
        thread, ended, polled = poller(standin.base_url)
        assert polled.wait(WAIT)
        stalled = half_sent(standin.port)
        took, out, err = standin.stop(sig, BOUND)
        thread.join(WAIT)
    finally:
        watchdog.cancel()
        standin.kill()
        for sock in stalled:
            sock.close()
    assert standin.process.returncode == 0, err
    assert took < BOUND and "stopped" in out
    assert "Traceback" not in err, err
    assert len(ended) == 1 and isinstance(ended[0], Gone | KnowledgeEngineUnavailable), ended


def peak_memory_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads peak memory from /proc")
def test_a_300_mb_body_does_not_raise_the_peak_memory_of_the_process() -> None:
    standin = StandinProcess("--max-body", str(2**20))
    watchdog = threading.Timer(3 * WAIT, standin.kill)
    watchdog.start()
    try:
        before = peak_memory_kb(standin.process.pid)
        chunked = b"POST /rest/sc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunk = b"100000\r\n" + b"x" * 2**20 + b"\r\n"
        status, sent = send_until_answered(standin.port, chunked, chunk, 300 * 2**20)
        declared = b"POST /rest/sc HTTP/1.1\r\nHost: x\r\nContent-Length: 314572800\r\n\r\n"
        status_declared, _ = send_until_answered(standin.port, declared, b"x" * 2**20, 300 * 2**20)
        after = peak_memory_kb(standin.process.pid)
        _, _, err = standin.stop(signal.SIGTERM, BOUND)
    finally:
        watchdog.cancel()
        standin.kill()
    assert status == 413 and status_declared == 413
    assert after - before < 32 * 1024, (before, after, sent)
    assert "Traceback" not in err
