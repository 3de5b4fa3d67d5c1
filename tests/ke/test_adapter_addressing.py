"""Issue 15 item 6: a message that carries a token or personal data goes only to the configured DSO
knowledge base(s), never to every knowledge base that registered the DSO's interactions; only public
exchanges are broadcast. The table, the rule, and the rule at work through the stand-in over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from adapter_support import DSO, FAST, authorization, client, dso_adapter, granting, provider, standin

from dso_saref.catalog import DEFAULT
from dso_saref.ke import EmulatorServer
from dso_saref.ke.adapter import Adapter
from dso_saref.ke.addressing import ADDRESSING, DEFAULT_PEERS, Disclosure, Unaddressed, recipients_for
from tests.support.reference_dso import serving

INTRUDER = "https://intruder.example.org/kb"


def test_the_table_names_every_exchange_the_catalog_starts_once() -> None:
    started = {d.name for d in DEFAULT.values() if d.interaction is not None and d.interaction.responders}
    assert set(ADDRESSING) == started
    assert all(row.exchange == name and row.carries for name, row in ADDRESSING.items())


def test_docs_print_the_table_as_it_is() -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "ke.md"
    rows = {cells[0].strip("`"): cells for line in page.read_text(encoding="utf-8").splitlines()
            if line.startswith("| `") and len(cells := [c.strip() for c in line.strip("|").split("|")]) == 5}
    assert set(rows) == set(ADDRESSING)
    for name, row in ADDRESSING.items():
        assert rows[name][2:] == [row.disclosure.value, "addressed" if row.addressed else "broadcast", row.carries]


@pytest.mark.parametrize("exchange", ["metering-request", "authorization-request", "lv-client-reading",
                                      "grid-topology", "flexibility-offers"])
def test_protected_exchanges_go_to_the_configured_peers_only(exchange: str) -> None:
    assert ADDRESSING[exchange].disclosure is not Disclosure.PUBLIC
    assert recipients_for(exchange, responders=("dso",), given=None, peers=DEFAULT_PEERS) == list(DEFAULT_PEERS["dso"])
    with pytest.raises(Unaddressed, match=f"{exchange} carries .* pass recipients"):
        recipients_for(exchange, responders=("dso",), given=None, peers={})


def test_public_exchanges_are_broadcast_and_named_recipients_win() -> None:
    assert recipients_for("flexibility-needs-request", responders=("dso",), given=None, peers={}) is None
    assert recipients_for("metering-request", responders=("dso",), given=[DSO, DSO, INTRUDER],
                          peers=DEFAULT_PEERS) == [DSO, INTRUDER]


@pytest.mark.parametrize("given", [[], ()])
def test_an_empty_recipient_list_is_refused(given: list[str]) -> None:
    """On the KE an empty list of knowledge bases means everybody."""
    with pytest.raises(ValueError, match="empty recipient list means every knowledge base"):
        recipients_for("flexibility-needs-request", responders=("dso",), given=given, peers=DEFAULT_PEERS)


def test_an_unknown_exchange_is_refused() -> None:
    with pytest.raises(ValueError, match="not an exchange of the addressing table"):
        recipients_for("no-such-exchange", responders=("dso",), given=None, peers=DEFAULT_PEERS)


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    running = standin()
    yield running
    running.close()


def test_a_knowledge_base_posing_as_the_dso_never_receives_a_protected_request(server: EmulatorServer) -> None:
    to_dso: list[str] = []
    to_intruder: list[str] = []
    lock = threading.Lock()
    dso = dso_adapter(server, granting(to_dso, lock), workers=2)
    intruder = Adapter(client(server), "dso", kb_id=INTRUDER, backoff=FAST,
                       handlers={"authorization-request": granting(to_intruder, lock)})
    intruder.register()
    asker = provider(server, "sp")
    with serving(dso), serving(intruder):
        exchange = asker.send("authorization-request", authorization("U1"))
        assert set(exchange.answers) == {DSO} and exchange.failed == {}
        assert to_dso == ["U1"] and to_intruder == [], "the request (an end user's identity) went to the DSO only"
        named = asker.send("authorization-request", authorization("U2"), recipients=[INTRUDER])
        assert set(named.answers) == {INTRUDER} and to_intruder == ["U2"], "a caller may name whom it trusts"
    asker.close()
    asker.client.close()
