"""The adapter: one party of the DSO interface on a Knowledge Engine, speaking typed messages.

It registers a knowledge base and the KIs of its role (generated from its catalog), serves incoming
ASK/POST work by reading the bindings into the typed message once, calling the server's handler
(:mod:`dso_saref.exchange`) and writing the typed answer back through its binding table, and starts
exchanges with :meth:`Adapter.send`. Requests and answers are checked against the catalog's models.
It knows no HTTP: the client's transport does::

    adapter = Adapter(KnowledgeEngineClient("http://127.0.0.1:8280/rest"), "dso",
                      kb_id="https://dso.example.org/kb/dso", handlers=backend.handlers(), workers=8, backlog=64)
    adapter.register()       # KnowledgeBaseInUse when another process serves the id
    threading.Thread(target=adapter.serve, args=(stop,)).start()
    ...
    adapter.close()          # running exchanges finish and are answered, then the knowledge base goes

Serving: one poller thread holds the long poll and hands each request to a bounded pool
(:class:`~dso_saref.ke.pool.HandlerPool`: ``workers`` handlers at once, ``backlog`` more waiting), so
exchanges are handled concurrently while the long poll keeps being served. The loop follows the KE's
rules and never gives the knowledge base up unasked: 202 and 500 poll again; 404 (the KE restarted,
or someone unregistered the knowledge base) and 410 (the KE is stopping, or the knowledge base was
removed) lead to registering again, with a warning; 409 (another connection polls as us: a second
instance or an impersonator) to taking the registration back; connection errors back off up to a
cap. A handler that raises, or bindings that do not fit the message, are answered with a 1.5.0
``errorMessage`` so the asker never hangs, and fail only that exchange. Each handler call gets a
fresh ``request_id`` in its :class:`~dso_saref.exchange.ExchangeContext`, for logs and the registry
of operations (the handle request id is the KE's own, unique only per interaction and KE run).

Sending: an exchange that carries a token or personal data (:mod:`dso_saref.ke.addressing`) goes
only to the knowledge bases named in the call or configured as ``peers`` (by default the reference
DSO); only public exchanges are broadcast.
"""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from dso_saref.carrier import answer_instances, bound_fields, compatible, filter_bindings
from dso_saref.catalog import ASK_ANSWER, DEFAULT, Catalog, Description
from dso_saref.errors import DsoSarefError, PayloadError, Problem
from dso_saref.exchange import ANONYMOUS, ExchangeContext, Handler, Query
from dso_saref.ke.addressing import DEFAULT_PEERS, recipients_for
from dso_saref.ke.assembly import Assembly
from dso_saref.ke.client import KnowledgeEngineClient
from dso_saref.ke.errors import (
    BadRequest,
    Conflict,
    Gone,
    KnowledgeBaseNotFound,
    KnowledgeEngineError,
    KnowledgeEngineUnavailable,
    NotFound,
    ServerError,
)
from dso_saref.ke.pool import HandlerPool
from dso_saref.ke.registration import KnowledgeBaseInUse, Probe, Registration
from dso_saref.ke.results import ExchangeInfo, HandleRequest
from dso_saref.ke.roles import REACT, interactions_for, ki_of, parts_owner
from dso_saref.parts import ki_name
from dso_saref.terms import Settings

__all__ = ["PART_GRACE", "Adapter", "Backoff", "Exchange"]

log = logging.getLogger(__name__)

#: Seconds a closing adapter waits for an asker to fetch the parts of an answer it was given.
PART_GRACE = 2.0


@dataclass(frozen=True)
class Backoff:
    """Retry delays after connection errors: doubling from ``initial`` up to ``cap`` seconds;
    ``attempts`` tries before giving up at start (``None``: forever while serving)."""

    initial: float = 0.5
    cap: float = 30.0
    attempts: int | None = 8

    def delays(self) -> list[float]:
        """The delays before each retry when ``attempts`` is bounded."""
        count = max((self.attempts or 1) - 1, 0)
        return [min(self.initial * 2**i, self.cap) for i in range(count)]


@dataclass(frozen=True)
class Exchange:
    """The outcome of :meth:`Adapter.send`: every peer's answer (canonical JSON), and who failed."""

    name: str
    answers: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        """Whether at least one peer answered."""
        return bool(self.answers)


class Adapter:
    """One knowledge base on a KE playing ``role`` with the catalog's interactions.

    ``workers`` handlers run at once and ``backlog`` more requests wait for one (1 and 0: one
    exchange at a time; handlers must be thread-safe above 1); :meth:`close` waits up to
    ``drain_timeout`` seconds for them. ``peers`` are the knowledge bases, by role, that addressed
    exchanges go to when a call names none (default: :data:`~dso_saref.ke.addressing.DEFAULT_PEERS`).
    ``probe`` says how :meth:`register` tells an id already registered by a live process from a stale
    one (:class:`~dso_saref.ke.registration.Probe`; :mod:`dso_saref.ke.registration`).
    """

    def __init__(
        self,
        client: KnowledgeEngineClient,
        role: str,
        *,
        kb_id: str,
        kb_name: str | None = None,
        kb_description: str | None = None,
        handlers: Mapping[str, Handler] | None = None,
        settings: Settings | None = None,
        backoff: Backoff | None = None,
        catalog: Catalog | None = None,
        workers: int = 1,
        backlog: int = 0,
        drain_timeout: float = 10.0,
        peers: Mapping[str, Sequence[str]] | None = None,
        probe: Probe | None = None,
        profiles: Sequence[str] = ("saref",),
    ) -> None:
        self.client = client
        self.role = role
        self.catalog = DEFAULT if catalog is None else catalog
        self.kb_id = kb_id
        self.kb_name = kb_name or f"dso-saref {role}"
        self.kb_description = kb_description or f"dso-saref adapter playing the {role} role of the DSO interface"
        self.settings = settings or Settings()
        self.backoff = backoff or Backoff()
        self.profiles = tuple(profiles)
        self.specs = {spec.name: spec for spec in interactions_for(role, self.catalog, self.profiles)}
        self.handlers = dict(handlers or {})
        self.assembly = Assembly()
        served = {self.catalog[s.exchange].message for s in self.specs.values() if not s.initiates and s.part is None}
        missing = sorted(n for n in self.handlers if n not in served)
        if missing:
            raise ValueError(f"role {role!r} does not serve {missing}")
        HandlerPool(workers, backlog).close()  # checks the sizes now rather than when serving starts
        self.workers = workers
        self.backlog = backlog
        self.drain_timeout = drain_timeout
        self.peers = {r: tuple(kbs) for r, kbs in (DEFAULT_PEERS if peers is None else peers).items()}
        self.registration = Registration(client, kb_id, self.kb_name, self.kb_description, probe=probe)
        self._names_by_ki: dict[str, str] = {}
        self._stopped = threading.Event()
        self._pool: HandlerPool | None = None

    @property
    def ki_ids(self) -> dict[str, str]:
        """The registered KI ids by KI name."""
        return self.registration.ki_ids

    # -- registration ------------------------------------------------------------------------

    def register(self) -> list[str]:
        """Register the knowledge base (replacing a stale registration of the same id) and every KI
        of the role; returns the KI ids. Raises
        :class:`~dso_saref.ke.registration.KnowledgeBaseInUse` when another process serves the id;
        retries connection errors per :class:`Backoff`, then raises
        :class:`~dso_saref.ke.errors.KnowledgeEngineUnavailable`."""
        delays = iter(self.backoff.delays())
        while True:
            try:
                return self._claim()
            except KnowledgeEngineUnavailable:
                delay = next(delays, None)
                if delay is None:
                    raise
                log.warning("KE unreachable, retrying registration in %.1f s", delay)
                if self._stopped.wait(delay):
                    raise

    def _claim(self) -> list[str]:
        ki_ids = self.registration.claim(self.specs.values(), self._stopped)
        self._names_by_ki = {ki: name for name, ki in ki_ids.items()}
        return list(ki_ids.values())

    def _register_again(self, stop: threading.Event) -> None:
        """Register again after an unregistration nobody here asked for, until it works or we stop;
        an id that another process now serves is tried again later, never given up."""
        delay = self.backoff.initial
        while not self._stopping(stop):
            try:
                self._claim()
                log.warning("registered %s again", self.kb_id)
                return
            except KnowledgeBaseInUse as exc:
                log.error("%s; trying again in %.1f s", exc, delay)
            except KnowledgeEngineUnavailable:
                pass
            except KnowledgeEngineError as exc:
                log.error("registering %s again failed: %s; trying again in %.1f s", self.kb_id, exc, delay)
            if stop.wait(delay):
                return
            delay = min(delay * 2, self.backoff.cap)

    def close(self) -> None:
        """Stop serving: requests being handled or waiting are answered first (up to
        ``drain_timeout`` seconds), then the knowledge base is unregistered (its KIs go with it; an
        open long poll ends). A knowledge base this adapter does not hold is left alone."""
        self._stopped.set()
        pool = self._pool
        if pool is not None:
            pool.wake()
            if not pool.drain(self.drain_timeout, lambda: self._settled(pool)):
                log.warning("%d exchanges of %s still running after %.0f s: unregistering anyway", pool.pending,
                            self.kb_id, self.drain_timeout)
        self.registration.release()

    # -- the initiating side -----------------------------------------------------------------

    def send(self, name: str, payload: Any = None, *, recipients: Sequence[str] | None = None,
             timeout: float | None = None, profile: str = "saref") -> Exchange:
        """Start exchange ``name`` (ASK or POST, as the catalog says) with ``payload``; returns every
        peer's answer as canonical JSON and who failed. For an ASK whose answer is the message
        itself (readings, topology), ``payload`` may be ``None`` (ask everything) or a dict of JSON
        fields that the asker binds (e.g. ``{"id": "LV0001"}``). ``recipients`` names the knowledge
        bases to ask; without it an addressed exchange (:mod:`dso_saref.ke.addressing`) goes to the
        configured ``peers`` and a public one to everyone. ``timeout`` bounds the whole call
        (default: the client's ``Timeouts.exchange``). Raises PayloadError for a bad payload,
        ValueError when the role does not start ``name`` or ``Unaddressed`` when an addressed
        exchange has no recipient, KnowledgeEngineError from the KE (``KnowledgeEngineTimeout``
        past ``timeout``). ``profile``: the pattern profile the exchange is sent in (one the adapter
        registered; docs/interop.md)."""
        key = ki_of(name, profile)
        spec = self.specs.get(key)
        if spec is None or not spec.initiates or spec.part is not None:
            raise ValueError(f"role {self.role!r} does not start the exchange {name!r} in profile {profile!r}")
        exchange = self.catalog[spec.exchange]
        name = exchange.name
        counterpart = self._counterpart(exchange)
        ki_id = self.ki_ids.get(key)
        if ki_id is None:
            raise ValueError("register() first")
        responders = exchange.interaction.responders if exchange.interaction is not None else ()
        recipients = recipients_for(exchange.message, responders=responders, given=recipients, peers=self.peers)
        if exchange.interaction is not None and exchange.interaction.type == ASK_ANSWER:
            bindings = self._ask_bindings(exchange, counterpart, payload)
            result = self.client.ask(self.kb_id, ki_id, bindings, recipients=recipients, timeout=timeout)
            return self._collect(name, counterpart, result.exchange_info, result.binding_set,
                                 lambda info: info.binding_set, timeout)
        sets = exchange.table(payload, self.settings).bindings()
        for part in exchange.parts[1:]:  # the optional values first: the reactor joins them to the core
            if sets.get(part.key):
                self.client.post(self.kb_id, self.ki_ids[ki_name(part.key)], sets[part.key], recipients=recipients,
                                 timeout=timeout)
        posted = self.client.post(self.kb_id, ki_id, sets[exchange.name], recipients=recipients, timeout=timeout)
        return self._collect(name, counterpart, posted.exchange_info, posted.result_binding_set,
                             lambda info: info.result_binding_set, timeout)

    def _counterpart(self, exchange: Description) -> Description:
        interaction = exchange.interaction
        return self.catalog[interaction.counterpart] if interaction is not None else exchange

    def _ask_bindings(self, exchange: Description, counterpart: Description, payload: Any) -> list[dict[str, str]]:
        if exchange is not counterpart:
            core = counterpart.parts[0].variables
            return [{k: v for k, v in row.items() if k in core}
                    for row in exchange.table(payload, self.settings).bindings()[exchange.name]]
        if payload is None:
            return []
        if not isinstance(payload, Mapping):
            raise PayloadError(exchange.name, [Problem("$", "an ASK filter must be a JSON object")])
        return [filter_bindings(exchange, payload, self.settings)]

    def _collect(self, name: str, counterpart: Description, infos: Sequence[ExchangeInfo], merged: Any,
                 bindings_of: Callable[[ExchangeInfo], Any], timeout: float | None) -> Exchange:
        """Each peer's answer as our JSON. The KE gives the merged rows in our variables and each peer's
        rows in that peer's own variables (the same as ours only when it registered our very pattern):
        one peer's answer is the merged rows; of several, each must be in our variables."""
        answers: dict[str, Any] = {}
        failed: dict[str, str] = {}
        succeeded = [info for info in infos if info.succeeded]
        ours = set(counterpart.parts[0].variables)
        for info in infos:
            if not info.succeeded:
                failed[info.knowledge_base_id] = info.failed_message or info.status
                continue
            rows = list(merged or []) if len(succeeded) == 1 else list(bindings_of(info) or [])
            strange = sorted({k for row in rows for k in row} - ours)
            if strange:
                failed[info.knowledge_base_id] = (
                    f"its answer is in its own variables ({', '.join(strange)}) and several peers answered: "
                    f"the Knowledge Engine says whose rows are whose only in each peer's own variables")
                continue
            sets = {counterpart.name: rows}
            try:
                sets.update(self._fetch_parts(counterpart, sets[counterpart.name], info.knowledge_base_id, timeout))
                rows = counterpart.parse_bindings(sets)
                if counterpart.name == name and not counterpart.top_list:
                    # a lookup of single-object messages (readings): one answer per instance
                    answers[info.knowledge_base_id] = [counterpart.from_term_rows(group, self.settings)
                                                       for group in counterpart.instances(rows)]
                else:
                    answers[info.knowledge_base_id] = counterpart.from_term_rows(rows, self.settings)
            except PayloadError as exc:
                failed[info.knowledge_base_id] = f"answer is not a valid {counterpart.name}: {exc}"
            except KnowledgeEngineError as exc:
                failed[info.knowledge_base_id] = f"the parts of the answer could not be fetched: {exc}"
        return Exchange(name, answers, failed)

    def _fetch_parts(self, counterpart: Description, core: list[dict[str, str]], peer: str,
                     timeout: float | None) -> dict[str, list[dict[str, str]]]:
        """The parts of an answer, asked of the peer that gave its core, bound to the core's nodes."""
        sets: dict[str, list[dict[str, str]]] = {}
        if not core:
            return sets
        for part in counterpart.parts[1:]:
            parent = sets.get(counterpart.name + "." + part.parent) if part.parent else core
            if not parent:
                continue
            shared = sorted(part.anchors & set(parent[0]))
            anchors = list({tuple(row[a] for a in shared): {a: row[a] for a in shared} for row in parent}.values())
            result = self.client.ask(self.kb_id, self.ki_ids[ki_name(part.key) + "--ask"], anchors,
                                     recipients=[peer], timeout=timeout)
            if result.binding_set:  # one peer: the merged rows, in our variables
                sets[part.key] = list(result.binding_set)
        return sets

    # -- the serving side --------------------------------------------------------------------

    def serve(self, stop: threading.Event | None = None) -> None:
        """Poll for work and hand it to the handler pool until ``stop`` is set or :meth:`close` is
        called; then wait (up to ``drain_timeout``) for the work taken. The KE's 404, 409 and 410
        lead to registering again (module doc), never to the end of serving."""
        stop = stop or self._stopped
        pool = HandlerPool(self.workers, self.backlog, name=f"ke-{self.role}")
        self._pool = pool
        delay = self.backoff.initial
        try:
            while pool.wait_for_room(lambda: self._stopping(stop) and self._settled(pool)):
                try:
                    request = self.client.poll(self.kb_id)
                except KnowledgeEngineError as exc:
                    if self._stopping(stop):
                        break  # close() unregistered us, or the KE went away while we stop
                    delay = self._recover(exc, stop, delay)
                    continue
                delay = self.backoff.initial
                if request is None:
                    continue
                spec = self.specs.get(self._names_by_ki.get(request.knowledge_interaction_id, ""))
                if self._stopping(stop) and (spec is None or spec.part is None):
                    # stopping: new exchanges are refused; the parts of answers given are still served
                    self._reply_error(request, f"{self.kb_id} is stopping: ask again later")
                    continue
                pool.submit(functools.partial(self._serve_request, request))
        finally:
            if not pool.drain(self.drain_timeout, lambda: self._settled(pool)):
                log.warning("%d exchanges of %s still running after %.0f s", pool.pending, self.kb_id,
                            self.drain_timeout)
            pool.close()

    def _stopping(self, stop: threading.Event) -> bool:
        return stop.is_set() or self._stopped.is_set()

    def _settled(self, pool: HandlerPool) -> bool:
        """Whether no exchange is running or waiting, and no asker is still to fetch the parts of an answer."""
        return pool.pending == 0 and not self.assembly.awaited(PART_GRACE)

    def _recover(self, error: KnowledgeEngineError, stop: threading.Event, delay: float) -> float:
        """Act on a failed long poll; returns the delay before the next one after a failure."""
        if isinstance(error, KnowledgeBaseNotFound):
            log.warning("the KE does not know %s (it restarted, or someone unregistered it): registering again",
                        self.kb_id)
            self.registration.lost()
            self._register_again(stop)
            return self.backoff.initial
        if isinstance(error, Conflict):
            log.warning("another connection polls as %s (a second instance, or someone impersonating it): "
                        "taking the registration back", self.kb_id)
            self.registration.release()  # ends every other poll of the id
            self._register_again(stop)
            return self.backoff.initial
        if isinstance(error, Gone):
            log.warning("the KE ended the long poll of %s (it is stopping, or someone unregistered the knowledge "
                        "base): polling again in %.1f s", self.kb_id, delay)
        elif not isinstance(error, ServerError | KnowledgeEngineUnavailable):
            log.error("long poll of %s failed: %s; polling again in %.1f s", self.kb_id, error, delay)
        stop.wait(delay)
        return min(delay * 2, self.backoff.cap)

    def handle_one(self) -> bool:
        """One long poll, its work answered in this thread; ``False`` when the KE said "poll again"."""
        request = self.client.poll(self.kb_id)
        if request is None:
            return False
        self._serve_request(request)
        return True

    def _serve_request(self, request: HandleRequest) -> None:
        """Answer one handle request: the handler's answer, or an error message when it fails."""
        name = self._names_by_ki.get(request.knowledge_interaction_id)
        request_id = uuid.uuid4().hex
        try:
            bindings = self._answer(name, request, request_id)
        except (DsoSarefError, ValueError) as exc:
            self._reply_error(request, f"{name or 'unknown interaction'}: {exc}")
            return
        except Exception as exc:  # a handler's own failure must reach the asker, not hang it
            log.exception("handler for %s failed (handle request %s, request %s)", name, request.handle_request_id,
                          request_id)
            self._reply_error(request, f"{name}: the handler failed: {type(exc).__name__}: {exc}")
            return
        try:
            self.client.respond(self.kb_id, request.knowledge_interaction_id, request.handle_request_id, bindings)
        except BadRequest as exc:
            self._reply_error(request, f"{name}: the answer was refused by the KE: {exc}")
        except NotFound as exc:
            # the knowledge base or the request vanished meanwhile (KE restarted, we unregistered):
            # the next poll tells the loop what to do
            log.warning("the KE no longer expects handle request %s: %s", request.handle_request_id, exc)

    def _reply_error(self, request: HandleRequest, message: str) -> None:
        try:
            self.client.respond_error(self.kb_id, request.knowledge_interaction_id, request.handle_request_id, message)
        except KnowledgeEngineError as exc:
            log.error("could not report the failure of handle request %s: %s", request.handle_request_id, exc)

    def _answer(self, name: str | None, request: HandleRequest, request_id: str) -> list[dict[str, str]]:
        spec = self.specs.get(name or "")
        if spec is None or spec.initiates:
            raise ValueError(f"no handler for {request.knowledge_interaction_id}")
        asker = request.requesting_knowledge_base_id or ANONYMOUS
        incoming = list(request.binding_set)
        if spec.part is not None:
            message = spec.part.partition(".")[0]
            if message == spec.exchange and spec.type == REACT:  # a part of the message, before its core
                self.assembly.arrived(asker, spec.exchange, spec.part, incoming)
                return []
            return self.assembly.part_rows(asker, message, spec.part, [r for r in incoming if r])
        exchange = self.catalog[spec.exchange]
        if exchange.message not in self.handlers:
            raise ValueError(f"no handler for {request.knowledge_interaction_id}")
        counterpart = self._counterpart(exchange)
        context = ExchangeContext(asker, datetime.now(UTC), exchange.message, "ke", request_id)
        lookup = exchange is counterpart
        asking = exchange.interaction is not None and exchange.interaction.type == ASK_ANSWER
        if asking and lookup:
            message_in: Any = Query(None, bound_fields(counterpart, incoming, self.settings), tuple(incoming))
        elif asking:
            message_in = ask_request(exchange, incoming, self.settings)
        else:
            parts = self.assembly.take(asker, parts_owner(exchange))
            message_in = exchange.message_of_rows(exchange.parse_bindings({exchange.name: incoming, **parts}),
                                                  self.settings)
        answer = self.handlers[exchange.message](message_in, context)
        sets: dict[str, list[dict[str, str]]] = {}
        seen: dict[str, set[tuple[tuple[str, str], ...]]] = {}  # each binding once, in linear time
        for item in answer_instances(answer, counterpart, lookup, self.settings):
            for key, rows in counterpart.table_of(item, self.settings).bindings().items():
                kept, known = sets.setdefault(key, []), seen.setdefault(key, set())
                for row in rows:
                    identity = tuple(sorted(row.items()))
                    if identity not in known:
                        known.add(identity)
                        kept.append(row)
        if asking and incoming:
            core = sets.get(counterpart.name, [])
            sets[counterpart.name] = [row for row in core if any(compatible(row, bound, counterpart)
                                                                   for bound in incoming)]
        self.assembly.served(asker, counterpart.name, sets, _fetches(counterpart, sets))
        return sets.get(counterpart.name, [])


def _fetches(counterpart: Description, sets: Mapping[str, Sequence[Mapping[str, str]]]) -> list[str]:
    """The parts of an answer its asker will fetch (as :meth:`Adapter._fetch_parts` does): each part
    whose parent (the core, or another part) has rows."""
    return [part.key for part in counterpart.parts[1:]
            if sets.get(counterpart.name + "." + part.parent if part.parent else counterpart.name)]


def ask_request(exchange: Description, incoming: Sequence[Mapping[str, str]], settings: Settings) -> BaseModel:
    """The typed request of an ASK whose request is its own message (HEMS status, voltage); raises
    PayloadError unless the asker bound every variable of the request's core in one binding."""
    if len(incoming) != 1:
        raise PayloadError(exchange.name, [Problem("bindings", "an ASK for this exchange binds exactly one request",
                                                   "binding")])
    core = exchange.parts[0].variables
    row = {k: v for k, v in incoming[0].items() if k in core}
    missing = sorted(core - set(row))
    if missing:
        raise PayloadError(exchange.name, [Problem("bindings[0]", f"the ASK leaves {missing} unbound", "binding")])
    return exchange.message_of_rows(exchange.parse_bindings({exchange.name: [row]}), settings)
