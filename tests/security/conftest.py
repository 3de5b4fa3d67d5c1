"""Fixtures of the security suite: a seeded reference DSO in memory and the parties of the policy table,
from one with every right to one the DSO has never heard of."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from dso_saref.app.seed import SP001, SP002, THIRD_PARTY, SeedSummary, seed
from dso_saref.backend import BackendSettings, DsoBackend, ExchangeContext, Storage
from dso_saref.exchange import ANONYMOUS
from dso_saref.messages.data_sharing import AuthorizationRequest

#: When the tests "are": the day after the seed's day of readings.
NOW = datetime(2021, 9, 28, 8, 0, tzinfo=UTC)
#: One of the DSO's own systems (configured as an internal requester).
ADMS = "https://dso.example.org/adms/kb"
#: A knowledge base the DSO has no agreement with.
NOBODY = "https://nobody.example.org/kb"

#: The parties of the table, by name: knowledge base ids.
PARTIES = {"SP001": SP001, "SP002": SP002, "TP001": THIRD_PARTY, "nobody": NOBODY, "anonymous": ANONYMOUS,
           "ADMS": ADMS}
POLICY_LOGGER = "dso_saref.backend.policy"


@dataclass
class World:
    """A seeded DSO where SP001 holds a token of U0001 for 10:00-14:00 of the seed day."""

    backend: DsoBackend
    summary: SeedSummary
    token: str

    def context(self, party: str) -> ExchangeContext:
        """The context of an exchange started now by ``party`` (a name of :data:`PARTIES`)."""
        return ExchangeContext(PARTIES[party], NOW, channel="ke", request_id=f"test-{party}")

    def ask(self, name: str, message: object, party: str) -> object:
        """Serve exchange ``name`` to ``party`` through the DSO's handlers."""
        return self.backend.handlers()[name](message, self.context(party))

    @property
    def window(self) -> tuple[datetime, datetime]:
        """The window of SP001's consent."""
        return self.summary.start + timedelta(hours=10), self.summary.start + timedelta(hours=14)


def make_world(k: int = 5) -> World:
    """A new seeded DSO (``k_anonymity=k``, ADMS internal) where U0001 granted SP001 a token."""
    backend = DsoBackend(Storage(), settings=BackendSettings(k_anonymity=k, internal_requesters=frozenset({ADMS})),
                         clock=lambda: NOW)
    summary = seed(backend)
    start, end = summary.start + timedelta(hours=10), summary.start + timedelta(hours=14)
    ask = AuthorizationRequest(end_user="U0001", start=start, end=end)
    authorize = backend.handlers()["authorization-request"]
    authorize(ask, ExchangeContext(SP001, NOW))
    backend.grant_consent(backend.consents.consents(end_user="U0001")[0].id)
    token = authorize(ask, ExchangeContext(SP001, NOW)).authorization_token
    return World(backend, summary, token)


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def refusal_lines(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """The refusal lines the policy logged so far (one per refusal)."""
    caplog.set_level(logging.INFO, logger=POLICY_LOGGER)
    return lambda: [r.getMessage() for r in caplog.records if r.name == POLICY_LOGGER]
