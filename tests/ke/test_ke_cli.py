"""``dso-saref ke emulate``: serves the KE REST API until SIGINT or SIGTERM, then stops cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading

import pytest
from click.testing import CliRunner
from ke_support import REPO, WAIT

from dso_saref.cli.ke import ke
from dso_saref.ke import KnowledgeEngineClient

LAUNCH = "import sys; from dso_saref.cli.ke import ke; ke(sys.argv[1:], prog_name='ke')"


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_emulate_serves_until_a_signal_then_stops_cleanly(stop_with: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "emulate", "--port", "0", "--handle-timeout", "0.5", "--exchange-timeout", "2"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    watchdog = threading.Timer(WAIT, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "Knowledge Engine emulator at http://127.0.0.1:" in banner, banner
        base_url = banner.split(" at ", 1)[1].split()[0]
        assert base_url.endswith("/rest")
        with KnowledgeEngineClient(base_url) as client:
            assert client.version()
        process.send_signal(stop_with)
        out, err = process.communicate(timeout=WAIT)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out


def test_emulate_options_are_checked() -> None:
    runner = CliRunner()
    result = runner.invoke(ke, ["emulate", "--handle-timeout", "0"])
    assert result.exit_code == 2 and "--handle-timeout" in result.output
    assert "127.0.0.1" in runner.invoke(ke, ["emulate", "--help"]).output


def test_emulate_reports_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(ke, ["emulate", "--port", str(port)])
    assert result.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.output
