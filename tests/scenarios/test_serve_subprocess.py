"""``dso-saref serve`` in its own process answers ``dso-saref ke send`` processes through a
``dso-saref ke emulate`` process on an ephemeral loopback port, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from click.testing import CliRunner

from dso_saref.app.seed import DSO_KB, SP001
from dso_saref.cli import main
from dso_saref.ke import KnowledgeEngineClient

CLI = "import sys; from dso_saref.cli import main; main(sys.argv[1:], prog_name='dso-saref')"
ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0


def dso_saref(*args: str, **popen: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CLI, *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(base_url: str, process: subprocess.Popen) -> None:
    """Poll ``/version`` until the emulator answers (bounded; fails early if the process died)."""
    deadline = time.monotonic() + WAIT
    pause = threading.Event()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the emulator exited: {process.communicate()}")
        try:
            if requests.get(f"{base_url}/version", timeout=1.0).ok:
                return
        except requests.ConnectionError:
            pass
        pause.wait(0.05)
    raise AssertionError(f"{base_url} did not come up within {WAIT:g} s")


def send(base_url: str, name: str, payload: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    """``dso-saref ke send`` as a service provider speaking from the seed's SP001 (zone data goes only to
    parties with an agreement)."""
    source = tmp_path / f"{name}-{time.monotonic_ns()}.json"
    source.write_text(json.dumps(payload), encoding="utf-8")
    return subprocess.run([sys.executable, "-c", CLI, "ke", "send", name, str(source), "--ke-url", base_url,
                           "--role", "service-provider", "--kb-id", SP001], cwd=ROOT, capture_output=True, text=True,
                          timeout=WAIT)


def test_serve_answers_ke_send_through_ke_emulate(tmp_path: Path) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/rest"
    db = tmp_path / "dso.sqlite"
    emulator = dso_saref("ke", "emulate", "--port", str(port), "--handle-timeout", "1", "--exchange-timeout", "10")
    processes = [emulator]

    def kill_all() -> None:
        for process in processes:
            process.kill()

    watchdog = threading.Timer(3 * WAIT, kill_all)
    watchdog.start()
    try:
        wait_until_up(base_url, emulator)
        server = dso_saref("serve", "--ke-url", base_url, "--db", str(db), "--seed", "--attempts", "3")
        processes.append(server)
        banner = server.stdout.readline()  # the watchdog ends a process that never says it serves
        assert banner.startswith("serving the DSO as https://dso.example.org/kb"), server.communicate()
        window = {"start": "2021-09-27T00:00:00Z", "end": "2021-09-28T00:00:00Z"}
        served = send(base_url, "metering-request",
                      {"data_type": "Anonymized", "id": "Z-SS01", "granularity": 2, **window}, tmp_path)
        assert served.returncode == 0, served.stderr
        [series] = json.loads(served.stdout)["answers"][DSO_KB]
        assert series["id"] == "Z-SS01" and len(series["readings"]) == 24
        refused = send(base_url, "metering-request",
                       {"data_type": "Anonymized", "id": "Z-SS02", "granularity": 2, **window}, tmp_path)
        assert refused.returncode == 1 and "fewer than the 5 households needed to anonymise" in refused.stderr
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=WAIT)
        assert server.returncode == 0, err
        assert "stopped after 2 exchanges" in out
        assert f"metering-request from {SP001}: answered" in err
        assert f"metering-request from {SP001}: refused: no anonymised data for this zone" in err
        with KnowledgeEngineClient(base_url) as client:
            assert DSO_KB not in [kb.id for kb in client.list_knowledge_bases()], "not unregistered"
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.communicate(timeout=WAIT)
        watchdog.cancel()
    assert emulator.returncode == 0
    registry = CliRunner().invoke(main, ["operations", "--db", str(db), "--outcome", "refused", "--format", "json"])
    assert registry.exit_code == 0, registry.output
    assert [(r["operation"], r["subject"]) for r in json.loads(registry.stdout)] == [("metering-request", "Z-SS02")]
