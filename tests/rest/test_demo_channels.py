"""Issue 12 item 5: ``dso-saref demo --channel rest|ke`` runs the seven use cases both ways (over REST: the
DSO's API and the service providers' APIs on loopback); ``serve --role service-provider --rest`` serves a
reference provider's API."""

from __future__ import annotations

import re
import threading

import pytest
from click.testing import CliRunner

from dso_saref.app.demo import DemoConfig, Network, run_demo
from dso_saref.app.rest_demo import serve_provider
from dso_saref.app.scenarios import SCENARIOS
from dso_saref.cli import main
from dso_saref.messages.observability import HemsVoltageRequest
from dso_saref.rest.client import PartnerClient


@pytest.mark.parametrize("channel", ["ke", "rest"])
def test_all_seven_use_cases_pass(channel: str) -> None:
    results = run_demo(DemoConfig(channel=channel, handle_timeout=0.5), echo=lambda _line: None)
    assert [r.puc for r in results] == [s.puc for s in SCENARIOS]
    assert all(r.passed for r in results), [(r.puc, r.detail) for r in results if not r.passed]


def test_over_rest_the_exchanges_are_refused_with_the_dsos_reasons() -> None:
    with Network.start(DemoConfig(channel="rest")) as network:
        from dso_saref.app.demo import run_puc

        [result] = run_puc(network, "HLUC5 PUC1")
        assert result.passed, result.detail
        refused = [s for s in network.steps if s.exchange.failed]
        assert [next(iter(s.exchange.failed.values()))[:3] for s in refused] == ["403", "403"]
        assert "rest" in network.where.lower()


def test_the_demo_command_over_rest() -> None:
    result = CliRunner().invoke(main, ["demo", "--channel", "rest", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "7/7 use cases passed" in result.output


def test_a_reference_provider_serves_its_api_until_stopped() -> None:
    stop, lines, up = threading.Event(), [], threading.Event()

    def ready(line: str) -> None:
        lines.append(line)
        up.set()

    token = "a-key-the-dso-sends-0123456789"
    worker = threading.Thread(target=serve_provider, args=("SP001", "127.0.0.1:0", token, stop),
                              kwargs={"ready": ready}, daemon=True)
    worker.start()
    assert up.wait(30)
    url = re.search(r"http://127\.0\.0\.1:\d+", lines[0]).group(0)
    with PartnerClient(url, api_key=token) as client:
        assert client.hems_voltage_request(HemsVoltageRequest(Hems_ID="H0001")).Voltage_Monitoring[0].Hems_ID == "H0001"
    stop.set()
    worker.join(15)
    assert not worker.is_alive()
