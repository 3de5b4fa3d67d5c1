"""Fixtures of the scenario tests: the demo's parties on a Knowledge Engine emulator over loopback HTTP,
each with its own adapter and knowledge base, and helpers to read what went over the KE."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dso_saref.app.demo import DemoConfig, Network, Step

#: Short long polls keep shutdown quick; a peer that does not answer fails after this many seconds.
CONFIG = DemoConfig(http=True, handle_timeout=0.5, exchange_timeout=10.0)


@pytest.fixture
def network() -> Iterator[Network]:
    """A seeded reference DSO, SP001, SP002, DSP001 and a third party, serving over loopback HTTP."""
    with Network.start(CONFIG) as running:
        yield running


def steps(network: Network, name: str) -> list[Step]:
    """The exchanges named ``name`` so far, in order."""
    return [s for s in network.steps if s.name == name]


def answer_of(step: Step, kb_id: str) -> Any:
    """What ``kb_id`` answered in ``step`` (fails the test naming why there is none)."""
    assert kb_id in step.exchange.answers, f"{step.name}: no answer from {kb_id}: {step.exchange.failed}"
    return step.exchange.answers[kb_id]
