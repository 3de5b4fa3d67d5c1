"""Stopping cleanly: every party of the demo is registered while it runs, and closing the network ends
every poll thread and the emulator."""

from __future__ import annotations

from dso_saref.app.demo import DemoConfig, Network
from dso_saref.app.scenarios import PARTIES


def test_closing_the_network_ends_every_poll_thread() -> None:
    with Network.start(DemoConfig(handle_timeout=0.5)) as network:
        with network.client() as client:
            assert sorted(kb.id for kb in client.list_knowledge_bases()) == sorted(p.kb_id for p in PARTIES)
        threads = list(network._threads)
        assert len(threads) == 4  # the third party only asks: it has nothing to serve
    assert all(not t.is_alive() for t in threads)
    assert network.emulator.closed
