"""The reference DSO and its counterparts on one Knowledge Engine, every use case of D4.2 end to end.

:class:`Network` puts each party (the DSO, two service providers, a data service provider, a third
party) behind its own :class:`~dso_saref.ke.adapter.Adapter` and knowledge base on a
:class:`~dso_saref.ke.emulator.KnowledgeEngineEmulator`, reached in process
(:class:`~dso_saref.ke.transport.InProcessTransport`) or over loopback HTTP; the parties that serve
exchanges poll in threads. :func:`run_demo` runs the scenarios of :mod:`dso_saref.app.scenarios`,
narrating every exchange (the JSON sent, its number of SAREF triples, each answer) and returns one
:class:`PucResult` per use case::

    results = run_demo(DemoConfig(seed=7, http=False), echo=print)
    print(result_table(results))
    sys.exit(0 if all(r.passed for r in results) else 1)

For tests, :meth:`Network.start` gives the network and its :class:`~dso_saref.app.scenarios.World`, and
:func:`run_puc` runs one use case with what it builds on.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

import dso_saref
from dso_saref.app.scenarios import (
    PARTIES,
    SCENARIOS,
    PartySpec,
    Scenario,
    ScenarioFailed,
    World,
    exchanges_of,
    prerequisites,
)
from dso_saref.app.seed import DSO_KB, seed_world
from dso_saref.backend import DsoBackend, Storage
from dso_saref.errors import DsoSarefError
from dso_saref.exchange import ExchangeContext, Handler
from dso_saref.ke.adapter import Adapter, Backoff, Exchange
from dso_saref.ke.client import KnowledgeEngineClient, Timeouts
from dso_saref.ke.emulator import EmulatorConfig, KnowledgeEngineEmulator
from dso_saref.ke.emulator_http import EmulatorServer
from dso_saref.ke.errors import KnowledgeEngineError
from dso_saref.ke.roles import interactions_for
from dso_saref.ke.scope import Scope
from dso_saref.ke.transport import InProcessTransport

__all__ = ["DemoConfig", "Network", "PucResult", "Step", "result_table", "run_demo", "run_puc", "shorten"]

Echo = Callable[[str], None]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoConfig:
    """How the demo runs: the ``seed`` of its data, the emulator over loopback ``http`` or in process,
    the emulator's long-poll and per-exchange timeouts (seconds), the database (``:memory:``), and the
    ``channel`` the parties talk through: ``ke`` (the Knowledge Engine emulator) or ``rest`` (the DSO's
    REST API and the service providers' on loopback, :mod:`dso_saref.app.rest_demo`).

    ``ke_url``: a real Knowledge Engine's REST URL instead of the emulator (the parties register at
    reasoner level 1, each under a fresh knowledge base id deleted on close; ``exchange_timeout`` is
    then how long an exchange may take). ``scope``: use cases whose exchanges alone the parties
    register (with what they build on; empty: every exchange of each role), as a deployment that
    serves only those would (docs/ke.md, "The POST planning blow-up")."""

    seed: int = 7
    http: bool = False
    handle_timeout: float = 1.0
    exchange_timeout: float = 10.0
    db: str = ":memory:"
    channel: str = "ke"
    ke_url: str | None = None
    scope: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """One exchange of the demo: who sent what to whom, its triples, and how it ended."""

    sender: str
    name: str
    payload: Any
    triples: int
    exchange: Exchange


@dataclass(frozen=True)
class PucResult:
    """The outcome of one use case: ``detail`` is its summary when it passed, the reason when not."""

    puc: str
    title: str
    passed: bool
    detail: str


def shorten(value: Any, limit: int = 200) -> str:
    """Compact JSON of ``value``, lists cut to their first two items and the whole to ``limit`` chars."""

    def trim(item: Any) -> Any:
        if isinstance(item, list):
            head = [trim(i) for i in item[:2]]
            return [*head, f"... {len(item) - 2} more"] if len(item) > 3 else [trim(i) for i in item]
        if isinstance(item, dict):
            return {k: trim(v) for k, v in item.items()}
        return item

    text = json.dumps(trim(value), ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _json(message: Any) -> Any:
    if isinstance(message, BaseModel):
        return message.model_dump(mode="json", by_alias=True, exclude_none=True)
    return message


class Network:
    """The parties of the demo on one KE (the emulator, or a real one at ``config.ke_url``); use
    :meth:`start` (a context manager). The scenarios name parties by their seed knowledge base ids
    (:data:`~dso_saref.app.scenarios.PARTIES`); on a real KE each party registers under that id with
    a fresh suffix, and the network translates between the two at its edges (recipients, answers,
    the requester its handlers see)."""

    def __init__(self, backend: DsoBackend, *, config: DemoConfig, echo: Echo) -> None:
        self.backend = backend
        self.config = config
        self.echo = echo
        self.steps: list[Step] = []
        if config.channel not in ("ke", "rest"):
            raise ValueError(f"channel must be ke or rest, not {config.channel!r}")
        if config.ke_url is not None and config.channel != "ke":
            raise ValueError("ke_url needs the ke channel")
        self.catalog = Scope(dso_saref.catalog, exchanges_of(config.scope)) if config.scope else None
        self.emulator = None if config.ke_url else KnowledgeEngineEmulator(EmulatorConfig(
            handle_timeout=config.handle_timeout, exchange_timeout=config.exchange_timeout))
        self.server = EmulatorServer(self.emulator, port=0).start() if config.http and self.emulator else None
        run = uuid.uuid4().hex[:12] if config.ke_url else None
        #: each party's knowledge base on the KE by its seed id, and back
        self.kb_ids = {p.kb_id: f"{p.kb_id}/{run}" if run else p.kb_id for p in PARTIES}
        self._seed_ids = {real: seed for seed, real in self.kb_ids.items()}
        self.rest = None
        if config.channel == "rest":
            from dso_saref.app.rest_demo import RestCarrier

            self.rest = RestCarrier(backend, timeout=config.exchange_timeout)
        self.adapters: dict[str, Adapter] = {}
        self._names: dict[str, str] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.world: World | None = None

    @classmethod
    @contextmanager
    def start(cls, config: DemoConfig | None = None, *, echo: Echo = lambda _line: None) -> Iterator[Network]:
        """A seeded DSO and every party registered and serving; everything closed on exit."""
        config = config or DemoConfig()
        storage = Storage(config.db)
        network: Network | None = None
        try:
            backend = DsoBackend(storage)
            summary = seed_world(backend, seed_value=config.seed)
            network = cls(backend, config=config, echo=echo)
            world = World.create(backend, summary, network.send, network.note, seed_value=config.seed)
            network.world = world
            for party in PARTIES:
                network._join(party, world)
            yield network
        finally:
            if network is not None:
                network.close()
            storage.close()

    @property
    def where(self) -> str:
        """Where the KE is: its URL or "in process" (with REST: where the DSO's API is)."""
        if self.rest is not None:
            return f"not used: REST, the DSO's API at {self.rest.where}"
        if self.config.ke_url is not None:
            return f"(real) {self.config.ke_url}"
        return f"emulator {self.server.base_url}" if self.server is not None else "emulator in process"

    def client(self) -> KnowledgeEngineClient:
        """A new client of the network's KE (in process, over HTTP, or the real one), for one more party."""
        if self.config.ke_url is not None:  # the real KE's long poll idles 29 s; an exchange may plan long
            timeouts = Timeouts(read=30.0, exchange=self.config.exchange_timeout, long_poll=40.0)
            return KnowledgeEngineClient(self.config.ke_url, timeout=timeouts, reasoner_level=1)
        timeouts = Timeouts(read=10.0, exchange=self.config.exchange_timeout + 5.0,
                            long_poll=self.config.handle_timeout + 10.0)
        if self.server is not None:
            return KnowledgeEngineClient(self.server.base_url, timeout=timeouts)
        return KnowledgeEngineClient(transport=InProcessTransport(self.emulator), timeout=timeouts)

    def _join(self, party: PartySpec, world: World) -> None:
        specs = interactions_for(party.role, self.catalog)  # type: ignore[arg-type]  # a Scope reads as a Catalog
        served = {spec.name for spec in specs if not spec.initiates}
        handlers = {name: self._as_seen_by_seed(h) for name, h in world.handlers(party).items() if name in served}
        self._names[party.kb_id] = party.name
        if self.rest is not None:
            self.rest.join(party, handlers)
            return
        kb_id = self.kb_ids[party.kb_id]
        adapter = Adapter(self.client(), party.role, kb_id=kb_id, kb_name=f"{party.name} (dso-saref demo)",
                          handlers=handlers, backoff=Backoff(initial=0.05, cap=0.5, attempts=3),
                          catalog=self.catalog,  # type: ignore[arg-type]
                          peers={"dso": (self.kb_ids[DSO_KB],)})
        adapter.register()
        self.adapters[party.name] = adapter
        if handlers:
            thread = threading.Thread(target=adapter.serve, args=(self._stop,), name=f"demo-{party.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
            if self.emulator is not None:
                self.emulator.wait_for_poll(kb_id, timeout=10.0)
            # a real KE keeps the handle requests of a knowledge base that has not polled yet (up to 50, for
            # ke.kb.wait.timeout seconds): the first exchange waits for the poll this thread is about to send

    def _as_seen_by_seed(self, handler: Handler) -> Handler:
        """``handler`` seeing the requester by its seed id (the backend's parties know those)."""
        def handle(message: Any, context: ExchangeContext) -> Any:
            seed = self._seed_ids.get(context.requester, context.requester)
            return handler(message, dataclasses.replace(context, requester=seed))
        return handle

    def close(self) -> None:
        """Stop serving, unregister every knowledge base, stop the emulator."""
        self._stop.set()
        if self.rest is not None:
            self.rest.close()
        for adapter in self.adapters.values():
            try:
                adapter.close()
            except KnowledgeEngineError as exc:  # e.g. a real KE that ran out of memory planning: close the rest
                log.warning("could not unregister %s: %s", adapter.kb_id, exc)
        for thread in self._threads:
            thread.join(timeout=self.config.handle_timeout + 10.0)
        for adapter in self.adapters.values():
            adapter.client.close()
        if self.server is not None:
            self.server.close()
        if self.emulator is not None:
            self.emulator.close()

    # -- exchanges ------------------------------------------------------------------------------------

    def note(self, text: str) -> None:
        """Narrate something that happens outside the KE (a decision of the DSO or the end user)."""
        self.echo(f"  * {text}")

    def send(self, sender: str, name: str, message: Any, *, to: str | None = None) -> Exchange:
        """``sender`` starts exchange ``name`` with ``message`` (to one knowledge base, or every party
        that serves it); narrated and kept in :attr:`steps`."""
        payload = _json(message)
        triples = len(dso_saref.saref(name, payload))  # a bad payload raises, failing its use case
        if self.rest is not None:
            exchange = self.rest.send(sender, name, payload, to)
        else:
            sent = self.adapters[sender].send(name, payload, recipients=[self.kb_ids.get(to, to)] if to else None)
            exchange = Exchange(sent.name, {self._seed_ids.get(kb, kb): a for kb, a in sent.answers.items()},
                                {self._seed_ids.get(kb, kb): why for kb, why in sent.failed.items()})
        self.steps.append(Step(sender, name, payload, triples, exchange))
        target = self._names.get(to, to) if to else "all"
        self.echo(f"  {sender} -> {target}  {name}  ({triples} triples)")
        self.echo(f"    sent     {shorten(payload)}")
        for kb, answer in exchange.answers.items():
            who = self._names.get(kb, kb)
            self.echo(f"    {who:8} {shorten(answer)}")
        for kb, why in exchange.failed.items():
            self.echo(f"    {self._names.get(kb, kb):8} FAILED: {why}")
        if not exchange.answers and not exchange.failed:
            self.echo("    nobody answered")
        return exchange


def run_puc(network: Network, puc: str) -> list[PucResult]:
    """Run use case ``puc`` and what it builds on (see :func:`~dso_saref.app.scenarios.prerequisites`)."""
    return [_run(network, scenario) for scenario in prerequisites(puc)]


def _run(network: Network, scenario: Scenario) -> PucResult:
    network.echo(f"\n== {scenario.puc}: {scenario.title} ==")
    world = network.world
    if world is None:  # pragma: no cover - start() always builds it
        raise RuntimeError("the network has no world: use Network.start()")
    try:
        detail = scenario.run(world)
    except ScenarioFailed as exc:
        result = PucResult(scenario.puc, scenario.title, False, str(exc))
    except (DsoSarefError, KnowledgeEngineError, ValueError) as exc:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        result = PucResult(scenario.puc, scenario.title, False, reason if len(reason) <= 160 else reason[:156] + " ...")
    else:
        result = PucResult(scenario.puc, scenario.title, True, detail)
    network.echo(f"  => {'PASS' if result.passed else 'FAIL'}: {result.detail}")
    return result


def run_demo(config: DemoConfig | None = None, *, echo: Echo = print,
             only: Sequence[str] | None = None) -> list[PucResult]:
    """Run every use case (or those in ``only``, with what they build on), narrating on ``echo``."""
    config = config or DemoConfig()
    with Network.start(config, echo=echo) as network:
        echo(f"dso-saref demo: seed {config.seed}, Knowledge Engine {network.where}, "
             f"{len(PARTIES)} parties:")
        for party in PARTIES:
            echo(f"  {party.name:7} {party.role:22} {network.kb_ids[party.kb_id]}")
        if only:
            wanted = [s for puc in only for s in prerequisites(puc)]
            scenarios = [s for s in SCENARIOS if s in wanted]
        else:
            scenarios = list(SCENARIOS)
        results = [_run(network, scenario) for scenario in scenarios]
        echo(f"\n{len(network.steps)} exchanges, "
             f"{sum(s.triples for s in network.steps)} triples sent, "
             f"{sum(len(s.exchange.failed) for s in network.steps)} refused (FAILED exchanges)")
    return results


def result_table(results: Sequence[PucResult]) -> str:
    """The table of use cases and their results (PASS, or FAIL with the reason)."""
    width = max((len(r.title) for r in results), default=10)
    lines = [f"{'use case':12} {'title':{width}}  result", f"{'-' * 12} {'-' * width}  {'-' * 6}"]
    for r in results:
        lines.append(f"{r.puc:12} {r.title:{width}}  {'PASS' if r.passed else 'FAIL: ' + r.detail}")
    passed = sum(r.passed for r in results)
    lines.append(f"{passed}/{len(results)} use cases passed")
    return "\n".join(lines)

