"""Pilot-style patterns (tests/fixtures/interconnect, written in the InterConnect pilots' styles) meet
the adapter's profile KIs through the in-process KE emulator: each matches its KI exactly, in both
directions (the pilot starts, and the DSO side starts), and the data the pilot sees round-trips to
our JSON (issue 13 item 1, docs/interop.md)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import dso_saref
from dso_saref.exchange import ExchangeContext
from dso_saref.ke import EmulatorConfig, InProcessTransport, KnowledgeEngineClient, KnowledgeEngineEmulator, Timeouts
from dso_saref.ke.adapter import Adapter, Backoff
from dso_saref.ke.roles import interactions_for, ki_of, profiles_of
from dso_saref.patterns import Pattern, isomorphism, parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "interconnect"
#: The prefixes the pilot-style ``.gp`` fixtures are written with.
PREFIXES = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "saref": "https://saref.etsi.org/core/",
    "s4grid": "https://saref.etsi.org/saref4grid/", "om": "http://www.ontology-of-units-of-measure.org/resource/om-2/",
    "unit": "http://qudt.org/vocab/unit/", "time": "http://www.w3.org/2006/time#", "schema": "http://schema.org/",
    "skos": "http://www.w3.org/2004/02/skos/core#", "dso": "https://w3id.org/dso-saref/ontology/",
    "dpv": "https://w3id.org/dpv#", "ic-data": "http://ontology.tno.nl/interconnect/datapoint#",
    "ic-tplg": "http://ontology.tno.nl/interconnect/topology#", "ic-uom": "http://ontology.tno.nl/interconnect/units#",
    "ic-dev": "http://ontology.tno.nl/interconnect/device#", "ic-flex": "http://ontology.tno.nl/interconnect/flexibility#",
    "ic-inc": "http://ontology.tno.nl/interconnect/incentivetable#",
    "ic-pwlm": "http://ontology.tno.nl/interconnect/powerlimit#", "ic-user": "http://ontology.tno.nl/interconnect/user#",
}
PILOT = "https://pilot.example.org/kb"
OURS = "https://dso.example.org/kb/ours"
FAST = Backoff(initial=0.05, cap=0.2, attempts=3)
Rows = list[dict[str, str]]


def fixture(name: str) -> dict[str, str]:
    """A fixture as a registration: ``graph`` or ``argument`` (and ``result``) text and its prefixes."""
    path = FIXTURES / name
    if path.suffix == ".json":
        body = json.loads(path.read_text(encoding="utf-8"))
        keys = {"graphPattern": "graph", "argumentGraphPattern": "argument", "resultGraphPattern": "result"}
        return {"prefixes": body["prefixes"], **{ours: body[key] for key, ours in keys.items() if key in body}}
    key = "argument" if ".post." in path.name else "graph"  # a POST without result (a part's KI)
    return {"prefixes": PREFIXES, key: path.read_text(encoding="utf-8")}


def every_ki() -> list[tuple[str, str, Pattern | None, Pattern | None]]:
    """Every KI any role registers in any profile: (name, ask|post, graph or argument, result)."""
    found = {}
    for role in ("dso", "service-provider", "third-party", "data-service-provider"):
        for spec in interactions_for(role, profiles=profiles_of()):
            kind = "ask" if spec.graph_pattern is not None else "post"
            first = parse(spec.graph_pattern or spec.argument_pattern or "", spec.prefixes)
            result = parse(spec.result_pattern, spec.prefixes) if spec.result_pattern else None
            found[(spec.name, kind)] = (spec.name, kind, first, result)
    return list(found.values())


def matches(registration: Mapping[str, str]) -> list[str]:
    """The KIs of ours that a pilot registration matches exactly (level 1: isomorphic patterns)."""
    prefixes = registration["prefixes"]
    first = parse(registration.get("graph") or registration["argument"], prefixes)
    result = parse(registration["result"], prefixes) if "result" in registration else None
    kind = "ask" if "graph" in registration else "post"
    return sorted(name for name, k, pattern, res in every_ki() if k == kind and isomorphism(first, pattern) is not None
                  and ((result is None and res is None) or (result is not None and res is not None
                                                           and isomorphism(result, res) is not None)))


EXACT = {
    "hems-voltage.answer.gp": ["hems-voltage-request--interconnect"],
    "hems-voltage.saref-core.answer.gp": ["hems-voltage-request--saref-core"],
    "lv-client-reading.ask.gp": ["lv-client-reading--interconnect"],
    "primary-substation-reading.saref-core.answer.gp": ["primary-substation-reading--saref-core"],
    "metering-data.post.json": ["metering-request--interconnect"],
    "metering-data.readings.ask.json": ["metering-data--interconnect--readings--answer",
                                        "metering-data--interconnect--readings--ask"],
    "flexibility-offers.post.json": ["flexibility-offers--interconnect"],
    "flexibility-offers.meters.post.gp": ["flexibility-offers--interconnect--meters"],
    "grid-topology.ask.gp": ["grid-topology--interconnect"],
    "grid-topology.secondary-substation.ask.json": ["grid-topology--interconnect--secondary-substation--answer",
                                                    "grid-topology--interconnect--secondary-substation--ask"],
    "incentive-offer.react.json": ["incentive-offer--interconnect"],
}
NEAR_MISSES = ["hems-voltage.near-miss-extra.gp", "metering-data.near-miss-missing.gp",
               "mv-client-reading.near-miss-typo.gp"]


def test_every_fixture_is_listed() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*") if p.suffix != ".md") == sorted([*EXACT, *NEAR_MISSES])


@pytest.mark.parametrize("name", sorted(EXACT))
def test_each_pilot_pattern_matches_exactly_its_profile_ki_and_no_other(name: str) -> None:
    assert matches(fixture(name)) == EXACT[name]


@pytest.mark.parametrize("name", NEAR_MISSES)
def test_near_misses_match_nothing(name: str) -> None:
    assert matches(fixture(name)) == []


def test_the_pilots_kilowatt_typo_is_the_only_difference_of_its_near_miss() -> None:
    registration = fixture("mv-client-reading.near-miss-typo.gp")
    registration["graph"] = registration["graph"].replace("om:kiloWatt", "om:kilowatt")
    assert matches(registration) == ["mv-client-reading--interconnect"]


# -- through the emulator -------------------------------------------------------------------------


def renaming(ours: str, prefixes: Mapping[str, str], theirs: str, their_prefixes: Mapping[str, str]) -> dict[str, str]:
    """Our variable names -> the pilot's, for two isomorphic patterns."""
    found = isomorphism(parse(ours, prefixes), parse(theirs, their_prefixes))
    assert found is not None
    return found


def rename(rows: Sequence[Mapping[str, str]], names: Mapping[str, str]) -> Rows:
    return [{names[k]: v for k, v in row.items()} for row in rows]


@dataclass
class Pilot:
    """A pilot's knowledge base on the emulator with its own KIs; answers with ``replies``."""

    client: KnowledgeEngineClient
    kis: dict[str, str]
    replies: dict[str, Callable[[Rows], Rows]]
    received: dict[str, list[Rows]]
    kb_id: str = PILOT

    def serve(self, stop: threading.Event) -> None:
        names = {ki: name for name, ki in self.kis.items()}
        while not stop.is_set():
            request = self.client.poll(self.kb_id)
            if request is None:
                continue
            name = names[request.knowledge_interaction_id]
            self.received.setdefault(name, []).append([dict(r) for r in request.binding_set])
            reply = self.replies.get(name, lambda rows: [])
            self.client.respond(self.kb_id, request.knowledge_interaction_id, request.handle_request_id,
                                reply([dict(r) for r in request.binding_set]))


@pytest.fixture
def emulator() -> KnowledgeEngineEmulator:
    return KnowledgeEngineEmulator(EmulatorConfig(handle_timeout=0.3, exchange_timeout=5.0))


def client_of(emulator: KnowledgeEngineEmulator) -> KnowledgeEngineClient:
    return KnowledgeEngineClient(transport=InProcessTransport(emulator), timeout=Timeouts(read=10, exchange=10,
                                                                                        long_poll=10))


def pilot(emulator: KnowledgeEngineEmulator, kis: Mapping[str, tuple[str, Mapping[str, str]]],
          replies: Mapping[str, Callable[[Rows], Rows]] | None = None, kb_id: str = PILOT) -> Pilot:
    """A pilot registering ``kis``: name -> (KE type, registration)."""
    client = client_of(emulator)
    client.register_knowledge_base(kb_id, "pilot", "a pilot's knowledge base")
    ids = {}
    for name, (kind, reg) in kis.items():
        register = {"ask": client.register_ask, "answer": client.register_answer}.get(kind)
        if register is not None:
            ids[name] = register(kb_id, reg["graph"], name=name, prefixes=reg["prefixes"])
        else:
            register = client.register_post if kind == "post" else client.register_react
            ids[name] = register(kb_id, reg["argument"], reg.get("result"), name=name, prefixes=reg["prefixes"])
    return Pilot(client, ids, dict(replies or {}), {}, kb_id)


@contextmanager
def running(*loops: Callable[[threading.Event], None]) -> Iterator[None]:
    stop = threading.Event()
    threads = [threading.Thread(target=loop, args=(stop,), daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)


def ours(role: str, profile: str, emulator: KnowledgeEngineEmulator, **handlers: Any) -> Adapter:
    adapter = Adapter(client_of(emulator), role, kb_id=OURS, profiles=[profile], backoff=FAST,
                      handlers={name.replace("_", "-"): h for name, h in handlers.items()})
    adapter.register()
    return adapter


def spec_of(adapter: Adapter, ki: str) -> tuple[str, dict[str, str]]:
    spec = adapter.specs[ki]
    return spec.graph_pattern or spec.argument_pattern or "", spec.prefixes


#: (fixture, exchange, profile, initiator role, responder role, request payload or None for a lookup)
LOOKUPS = [
    ("hems-voltage.answer.gp", "hems-voltage-request", "interconnect", "dso", "service-provider"),
    ("hems-voltage.saref-core.answer.gp", "hems-voltage-request", "saref-core", "dso", "service-provider"),
    ("lv-client-reading.ask.gp", "lv-client-reading", "interconnect", "service-provider", "dso"),
    ("primary-substation-reading.saref-core.answer.gp", "primary-substation-reading", "saref-core", "service-provider",
     "dso"),
]


def _request_and_expected(exchange: str, profile: str) -> tuple[Any, str, Rows, Any]:
    """The request payload (``None`` for a lookup of everything), the answer's message, our rows of the
    example answer that fit the request, and their JSON."""
    description = dso_saref.catalog[f"{exchange}@{profile}"]
    answer = dso_saref.catalog[description.interaction.counterpart]
    rows = dso_saref.to_bindings(answer.name, answer.example())[answer.name]
    if answer.message == exchange:
        return None, answer.name, rows, [dso_saref.canonical(answer.name, answer.example())]
    hems_id = rows[0]["hems_id"]
    fitting = [row for row in rows if row["hems_id"] == hems_id]
    request = {"Hems_ID": json.loads(hems_id.split("^^")[0])}
    return request, answer.name, fitting, dso_saref.from_bindings(answer.name, fitting)


@pytest.mark.parametrize(("name", "exchange", "profile", "initiator", "responder"), LOOKUPS)
def test_the_pilot_answers_our_ask_and_we_read_its_answer_as_our_json(
        emulator: KnowledgeEngineEmulator, name: str, exchange: str, profile: str, initiator: str,
        responder: str) -> None:
    request, _, rows, expected = _request_and_expected(exchange, profile)
    adapter = ours(initiator, profile, emulator)
    ki = ki_of(exchange, profile)
    registration = fixture(name)
    names = renaming(*spec_of(adapter, ki), registration["graph"], registration["prefixes"])
    back = {v: k for k, v in names.items()}

    def answer(incoming: Rows) -> Rows:
        wanted = rename(incoming, back)
        return rename([row for row in rows if not wanted or any(all(row.get(k) == v for k, v in bound.items()
                                                                    if not v.startswith("<"))
                                                                for bound in wanted)], names)

    peer = pilot(emulator, {"pilot-answer": ("answer", registration)}, {"pilot-answer": answer})
    with running(peer.serve):
        exchanged = adapter.send(exchange, request, profile=profile, recipients=[PILOT])
    adapter.close()
    assert exchanged.failed == {}
    assert exchanged.answers == {PILOT: expected}


def test_two_pilots_answering_in_their_own_variables_are_refused_by_name_not_misread(
        emulator: KnowledgeEngineEmulator) -> None:
    # the KE 1.5.0 gives each peer's rows in that peer's own variables and only the merged rows in ours:
    # one peer's answer is read from the merged rows (the test above); of two, whose rows are whose is
    # said only in their variables, so each is reported failed with the reason, never read as ours
    _, _, rows, _ = _request_and_expected("lv-client-reading", "interconnect")
    adapter = ours("service-provider", "interconnect", emulator)
    registration = fixture("lv-client-reading.ask.gp")
    names = renaming(*spec_of(adapter, ki_of("lv-client-reading", "interconnect")), registration["graph"],
                     registration["prefixes"])
    second = "https://pilot-2.example.org/kb"
    reply = {"pilot-answer": lambda _: rename(rows, names)}
    peers = [pilot(emulator, {"pilot-answer": ("answer", registration)}, reply, kb_id=kb) for kb in (PILOT, second)]
    with running(*(peer.serve for peer in peers)):
        exchanged = adapter.send("lv-client-reading", None, profile="interconnect", recipients=[PILOT, second])
    adapter.close()
    assert exchanged.answers == {}
    assert set(exchanged.failed) == {PILOT, second}
    assert all("in its own variables" in why for why in exchanged.failed.values()), exchanged.failed


@pytest.mark.parametrize(("name", "exchange", "profile", "initiator", "responder"), LOOKUPS)
def test_the_pilot_asks_our_ki_and_reads_our_answer(
        emulator: KnowledgeEngineEmulator, name: str, exchange: str, profile: str, initiator: str,
        responder: str) -> None:
    request, answer_name, rows, expected = _request_and_expected(exchange, profile)
    answer = dso_saref.catalog[answer_name]
    adapter = ours(responder, profile, emulator, **{exchange: lambda message, context: answer.example()})
    registration = fixture(name)
    names = renaming(*spec_of(adapter, ki_of(exchange, profile)), registration["graph"], registration["prefixes"])
    peer = pilot(emulator, {"pilot-ask": ("ask", registration)})
    asked = dso_saref.catalog[f"{exchange}@{profile}"].parts[0].variables  # what an ASK of the request binds
    bound = [] if request is None else rename([{k: v for k, v in rows[0].items() if k in asked}], names)
    with running(adapter.serve):
        result = peer.client.ask(PILOT, peer.kis["pilot-ask"], bound)
    back = {v: k for k, v in names.items()}
    got = dso_saref.from_bindings(answer_name, rename(result.binding_set, back))
    assert [(info.status, info.failed_message) for info in result.exchange_info] == [("SUCCEEDED", None)]
    assert (got if request is not None else [got]) == expected


def _offer_sets() -> tuple[dict[str, Rows], Any]:
    name = "flexibility-offers@interconnect"
    example = dso_saref.catalog[name].example()
    return dso_saref.to_bindings(name, example), dso_saref.canonical(name, example)


def _offer_fixtures(adapter: Adapter) -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str],
                                                dict[str, str]]:
    """The offers' pilot registrations (core, meters part) and our variable names -> theirs (core,
    part, result)."""
    core, part = fixture("flexibility-offers.post.json"), fixture("flexibility-offers.meters.post.gp")
    spec = adapter.specs["flexibility-offers--interconnect"]
    return (core, part, renaming(*spec_of(adapter, spec.name), core["argument"], core["prefixes"]),
            renaming(*spec_of(adapter, spec.name + "--meters"), part["argument"], part["prefixes"]),
            renaming(spec.result_pattern or "", spec.prefixes, core["result"], core["prefixes"]))


ACK = {"status": "accepted"}  # an acknowledgement without its optional parts (fetched by their own KIs)


def test_the_pilot_posts_offers_in_its_dialect_and_our_dso_reads_them(emulator: KnowledgeEngineEmulator) -> None:
    received: list[Any] = []

    def handle(message: Any, context: ExchangeContext) -> Any:
        received.append((message.model_dump(mode="json", by_alias=True), context.exchange))
        return ACK

    adapter = ours("dso", "interconnect", emulator, flexibility_offers=handle)
    core, part, names, part_names, result_names = _offer_fixtures(adapter)
    peer = pilot(emulator, {"offer": ("post", core), "meters": ("post", part)})
    sets, expected = _offer_sets()
    with running(adapter.serve):
        peer.client.post(PILOT, peer.kis["meters"], rename(sets["flexibility-offers@interconnect.meters"],
                                                           part_names))
        posted = peer.client.post(PILOT, peer.kis["offer"], rename(sets["flexibility-offers@interconnect"], names))
    assert [(info.status, info.failed_message) for info in posted.exchange_info] == [("SUCCEEDED", None)]
    back = {v: k for k, v in result_names.items()}
    assert dso_saref.from_bindings("acknowledgement", rename(posted.result_binding_set, back)) == \
        dso_saref.canonical("acknowledgement", ACK)
    assert len(received) == 1
    message, exchange = received[0]
    assert exchange == "flexibility-offers"  # the backend sees the message, whatever the profile
    assert dso_saref.canonical("flexibility-offers", message) == expected


def test_our_service_provider_posts_offers_to_a_pilot_that_reacts_in_its_dialect(
        emulator: KnowledgeEngineEmulator) -> None:
    adapter = ours("service-provider", "interconnect", emulator)
    core, part, names, part_names, result_names = _offer_fixtures(adapter)
    ack = rename(dso_saref.to_bindings("acknowledgement", ACK)["acknowledgement"], result_names)
    peer = pilot(emulator, {"offer": ("react", core), "meters": ("react", part)}, {"offer": lambda rows: ack})
    expected = _offer_sets()[1]
    payload = dso_saref.catalog["flexibility-offers@interconnect"].example()
    with running(peer.serve):
        exchanged = adapter.send("flexibility-offers", payload, profile="interconnect", recipients=[PILOT])
    assert exchanged.answers == {PILOT: dso_saref.canonical("acknowledgement", ACK)}
    core_rows = rename(peer.received["offer"][0], {v: k for k, v in names.items()})
    meter_rows = rename(peer.received["meters"][0], {v: k for k, v in part_names.items()})
    sets = {"flexibility-offers@interconnect": core_rows, "flexibility-offers@interconnect.meters": meter_rows}
    assert dso_saref.from_bindings("flexibility-offers@interconnect", sets) == expected


def test_the_pilot_requests_metering_data_and_reads_the_readings_in_its_dialect(
        emulator: KnowledgeEngineEmulator) -> None:
    data = dso_saref.catalog["metering-data@interconnect"]
    adapter = ours("dso", "interconnect", emulator, metering_request=lambda message, context: data.example())
    post, readings = fixture("metering-data.post.json"), fixture("metering-data.readings.ask.json")
    spec = adapter.specs["metering-request--interconnect"]
    names = renaming(spec.argument_pattern or "", spec.prefixes, post["argument"], post["prefixes"])
    result_names = renaming(spec.result_pattern or "", spec.prefixes, post["result"], post["prefixes"])
    reading_names = renaming(*spec_of(adapter, "metering-data--interconnect--readings--answer"), readings["graph"],
                             readings["prefixes"])
    token = adapter.specs["metering-request--token"]  # the request's optional token: the default's part
    peer = pilot(emulator, {"request": ("post", post), "readings": ("ask", readings),
                            "token": ("post", {"argument": token.argument_pattern or "", "prefixes": token.prefixes})})
    request = dso_saref.catalog["metering-request"].example()
    sets = dso_saref.to_bindings("metering-request@interconnect", request)
    assert set(sets) == {"metering-request@interconnect", "metering-request.token"}
    with running(adapter.serve):
        peer.client.post(PILOT, peer.kis["token"], sets["metering-request.token"])
        posted = peer.client.post(PILOT, peer.kis["request"], rename(sets["metering-request@interconnect"], names))
        assert [(info.status, info.failed_message) for info in posted.exchange_info] == [("SUCCEEDED", None)]
        core = rename(posted.result_binding_set, {v: k for k, v in result_names.items()})
        series = [{reading_names["property"]: row["property"]} for row in core]
        asked = peer.client.ask(PILOT, peer.kis["readings"], series)
    rows = rename(asked.binding_set, {v: k for k, v in reading_names.items()})
    got = dso_saref.from_bindings(data.name, {data.name: core, "metering-data@interconnect.readings": rows})
    assert got == dso_saref.canonical(data.name, data.example())


# -- the command line ---------------------------------------------------------------------------------


def test_ke_kis_lists_the_profiles_kis_named_for_the_ke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from dso_saref.cli.ke import ke

    monkeypatch.delenv("DSO_SAREF_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    runner = CliRunner()
    result = runner.invoke(ke, ["kis", "--role", "dso", "--profile", "saref,interconnect"])
    assert result.exit_code == 0, result.output
    names = {body["knowledgeInteractionName"] for body in json.loads(result.output)}
    assert {"lv-client-reading", "lv-client-reading--interconnect", "metering-request--interconnect"} <= names
    assert not any("saref-core" in name or "@" in name for name in names)
    refused = runner.invoke(ke, ["kis", "--role", "dso", "--profile", "saref,interconect"])
    assert refused.exit_code == 2 and "unknown profile 'interconect'" in refused.output
    (tmp_path / "config.toml").write_text('profile = ["saref-core"]\n', encoding="utf-8")
    configured = runner.invoke(ke, ["kis", "--role", "dso", "--config", str(tmp_path / "config.toml")])
    assert configured.exit_code == 0, configured.output
    configured_names = {b["knowledgeInteractionName"] for b in json.loads(configured.output)}
    assert "hems-voltage-request--saref-core" in configured_names


def test_ke_kis_reads_a_users_profile_folder_and_names_a_broken_file(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from dso_saref.cli.ke import ke

    monkeypatch.delenv("DSO_SAREF_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    source = Path(__file__).resolve().parents[2] / "graph_patterns" / "profiles" / "hems-voltage@interconnect.toml"
    folder = tmp_path / "patterns"
    folder.mkdir()
    text = source.read_text(encoding="utf-8").replace('profile = "interconnect"', 'profile = "pilot"')
    (folder / "hems-voltage@pilot.toml").write_text(text, encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(ke, ["kis", "--role", "dso", "--profile", "pilot", "--patterns", str(folder)])
    assert result.exit_code == 0, result.output
    assert [b["knowledgeInteractionName"] for b in json.loads(result.output)] == ["hems-voltage-request--pilot"]
    (folder / "hems-voltage@pilot.toml").write_text(text.replace("om:hasUnit", "om:hasUnits"), encoding="utf-8")
    broken = runner.invoke(ke, ["kis", "--role", "dso", "--profile", "pilot", "--patterns", str(folder)])
    assert broken.exit_code == 1
    assert "hems-voltage@pilot.toml: pattern:" in broken.output and "hasUnits" in broken.output
