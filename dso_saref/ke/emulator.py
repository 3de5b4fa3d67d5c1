"""A faithful in-process stand-in for the Knowledge Engine's smart-connector REST API (1.5.0).

:class:`KnowledgeEngineEmulator` answers :class:`~dso_saref.ke.transport.KERequest` s exactly as the
REST API would (same paths, headers, bodies, status codes and ``{"messageType": "error", ...}``
errors); :mod:`dso_saref.ke.emulator_http` serves it over HTTP and
:class:`~dso_saref.ke.transport.InProcessTransport` calls it without a socket. It also accepts the
InterConnect generic adapter's paths (``/smartconnector/...``)::

    with KnowledgeEngineEmulator(EmulatorConfig(handle_timeout=1.0)) as emulator:
        client = KnowledgeEngineClient(transport=InProcessTransport(emulator))
        client.register_knowledge_base("http://example.org/kb1", "kb 1", "a knowledge base")

What it mirrors: knowledge bases (absolute URL ids, duplicates refused, leases), knowledge interactions
(basic graph patterns only, names, ``<kbId>/interaction/<name>`` ids), matching as the KE 1.5.0 does at
reasoner level 1 (an ANSWER's pattern covers the ASK's, a variable may meet a constant; POST/REACT
argument patterns cover each other, result patterns only decide which rows are merged; communicative
acts), ASK = union of the answers renamed to the asker's variables and filtered by its bindings (an ASK
without bindings reaches the answerer as ``[{}]``), POST = fan-out to every matching REACT with the rows
of matching result patterns merged, ``exchangeInfo`` per knowledge base (its binding sets in that
knowledge base's own variables, as the KE's), the ``/sc/handle`` long poll
(202, 409, 410, queue of 50 per knowledge base), replies or 1.5.0 ``errorMessage`` s, and a per-exchange
timeout after which a silent peer is reported FAILED. What it does not: reasoning above level 1
(combining answers, chaining REACTs into ASKs), knowledge gaps, meta knowledge interactions, domain
knowledge (stored, unused), suspension of knowledge bases that stop polling, persistence (like the KE, a
restart forgets all).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from dso_saref.ke.covering import Correspondence
from dso_saref.ke.emulator_match import DEFAULT_MATCH_BUDGET
from dso_saref.ke.emulator_rules import (
    ASK,
    POST,
    Bindings,
    Interaction,
    Refusal,
    check_bindings,
    check_document,
    compatible,
    match,
    parse_exchange_body,
    parse_handle_response,
    parse_interaction,
    parse_knowledge_base,
    result_match,
    to_initiator,
    to_target,
    union,
)
from dso_saref.ke.emulator_state import Handle, KnowledgeBaseState, Slot, timestamp
from dso_saref.ke.transport import KERequest, KEResponse, from_generic_adapter

__all__ = ["WAITING_ROUTES", "EmulatorConfig", "KnowledgeEngineEmulator"]

#: The calls that may wait (for peers, or for work): (method, path relative to the REST base).
WAITING_ROUTES = frozenset({("POST", "/sc/ask"), ("POST", "/sc/post"), ("GET", "/sc/handle")})

#: Pairs of interaction signatures whose match is remembered before the memory starts afresh.
_MATCHES_KEPT = 100_000
#: The KE 1.5.0's ``failedMessage`` for a handle request cancelled because its queue was full.
QUEUE_FULL_MESSAGE = "java.lang.Exception: Handle request queue is full. This oldest request has been cancelled."

_STOPPED = "KB with id {} will no longer respond, because it stopped."


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator behaves where the KE is configurable (times in seconds).

    ``handle_timeout``: a long poll answers 202 after this long without work (the KE: 29 s);
    ``exchange_timeout``: an ASK/POST stops waiting for a peer after this long and reports it FAILED
    (the KE: 10 s); ``queue_limit``: handle requests queued per knowledge base before the oldest
    fails (50); ``outstanding_limit``: delivered but unanswered ones (100); ``default_reasoner_level``
    reported when a knowledge base gives none (2; matching is always as at level 1); ``clock``: the
    monotonic clock used for leases (tests may pass their own); ``match_budget``: the steps one
    comparison of two interactions may take before it counts as no match (and is logged);
    ``max_json_depth``: how deeply arrays and objects may nest in a body (KE bodies need 3).
    """

    handle_timeout: float = 29.0
    exchange_timeout: float = 10.0
    queue_limit: int = 50
    outstanding_limit: int = 100
    default_reasoner_level: int = 2
    version: str = "1.5.0"
    clock: Callable[[], float] = time.monotonic
    match_budget: int = DEFAULT_MATCH_BUDGET
    max_json_depth: int = 32

    def __post_init__(self) -> None:
        for name in ("handle_timeout", "exchange_timeout", "queue_limit", "outstanding_limit", "match_budget",
                     "max_json_depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if self.default_reasoner_level not in range(1, 6):
            raise ValueError(f"default_reasoner_level must be 1 to 5, got {self.default_reasoner_level!r}")


def _error(status: int, message: str, kind: str = "error") -> KEResponse:
    return KEResponse(status, {"messageType": kind, "message": message})


class KnowledgeEngineEmulator:
    """The KE's semantics behind its REST API, in process; thread-safe; :meth:`close` to stop."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        # one lock; each long poll and each exchange waits on a condition of its own, so that a
        # queued request or a reply wakes one waiter, not every open exchange
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._kbs: dict[str, KnowledgeBaseState] = {}
        self._closing = False
        # how two interactions match (arguments; POST/REACT results), by what matching reads of them
        # (Interaction.signature): a crowd of askers registering the catalog's patterns is matched once
        self._matches: dict[tuple[tuple[object, ...], tuple[object, ...]], Correspondence | None] = {}
        self._results: dict[tuple[tuple[object, ...], tuple[object, ...]], Correspondence | None] = {}
        self._routes: Mapping[tuple[str, str], Callable[[KERequest], KEResponse]] = {
            ("GET", "/version"): self._version,
            ("GET", "/sc"): self._list_kbs,
            ("POST", "/sc"): self._register_kb,
            ("DELETE", "/sc"): self._delete_kb,
            ("PUT", "/sc/lease/renew"): self._renew_lease,
            ("GET", "/sc/ki"): self._list_kis,
            ("POST", "/sc/ki"): self._register_ki,
            ("DELETE", "/sc/ki"): self._delete_ki,
            ("POST", "/sc/ask"): self._ask,
            ("POST", "/sc/post"): self._post,
            ("GET", "/sc/handle"): self._poll,
            ("POST", "/sc/handle"): self._reply,
            ("POST", "/sc/knowledge"): self._domain_knowledge,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop: open long polls get 410, running exchanges end (unanswered peers FAILED), every
        later call gets 503. Idempotent."""
        with self._cond:
            self._closing = True
            for kb in list(self._kbs.values()):
                self._remove(kb)
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closing

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def wait_for_poll(self, kb_id: str, timeout: float) -> bool:
        """Block until ``kb_id`` has a long poll open (for tests and demos); ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: (kb := self._kbs.get(kb_id)) is not None and kb.polling, timeout)

    def wait_for_queue(self, kb_id: str, size: int, timeout: float) -> bool:
        """Block until ``size`` handle requests wait in ``kb_id``'s queue (for tests and demos);
        ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: (kb := self._kbs.get(kb_id)) is not None and len(kb.queue) >= size,
                                       timeout)

    def wait_for_delivered(self, kb_id: str, size: int, timeout: float) -> bool:
        """Block until ``size`` handle requests were delivered to ``kb_id`` and not yet answered, and
        none waits in its queue (for tests and demos); ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: (kb := self._kbs.get(kb_id)) is not None and len(kb.outstanding) >= size and not kb.queue,
                timeout)

    def handle(self, request: KERequest) -> KEResponse:
        """The KE's reply to ``request``: a KE REST path (``/sc/ask``) or a generic adapter path
        (``/smartconnector/ask``). Never raises for bad input: it answers 4xx as the KE does; text that
        could not be sent back (lone surrogates) and over-deep JSON are refused before anything else."""
        response = self._handle(request, wait=True)
        if response is None:  # pragma: no cover - a waiting call always answers
            raise RuntimeError("a waiting call came back without a reply")
        return response

    def handle_ready(self, request: KERequest) -> KEResponse | None:
        """:meth:`handle`'s reply when it is ready without waiting (a long poll that finds work
        queued, every refusal, every call that never waits); ``None`` for an ASK, a POST, or a long
        poll that would wait for work: send those to :meth:`handle` (an HTTP server calls this on
        its event loop and the waiting ones in threads)."""
        return self._handle(request, wait=False)

    def _handle(self, request: KERequest, *, wait: bool) -> KEResponse | None:
        try:
            check_document(dict(request.headers), 1, "the headers")
            check_document(request.text, 1, "the text body")
            check_document(request.json, self.config.max_json_depth)
            translated = from_generic_adapter(request)
        except Refusal as refusal:
            return _error(refusal.status, refusal.message)
        except ValueError as exc:
            return _error(400, str(exc))
        request = translated or request
        route = self._routes.get((request.method.upper(), request.path))
        if route is None:
            allowed = self.allowed_methods(request.path)
            if allowed:
                return _error(405, f"{request.method} is not allowed on {request.path} (allowed: {', '.join(allowed)})")
            return _error(404, f"there is no {request.path} in the KE REST API")
        if self._closing:
            if request.path == "/sc/handle" and request.method.upper() == "GET":
                return self._gone()
            return _error(503, "the knowledge engine emulator is stopping")
        try:
            if (request.method.upper(), request.path) == ("GET", "/sc/handle"):
                return self._poll(request, wait=wait)
            if not wait and (request.method.upper(), request.path) in WAITING_ROUTES:
                return None
            return route(request)
        except Refusal as refusal:
            return _error(refusal.status, refusal.message)

    def allowed_methods(self, path: str) -> list[str]:
        """The methods the KE REST API offers on ``path`` (relative to the REST base), sorted."""
        return sorted(method for method, known in self._routes if known == path)

    # -- helpers (call with the lock held) ---------------------------------------------------

    def _expire(self) -> None:
        now = self.config.clock()
        for kb in [kb for kb in self._kbs.values() if kb.deadline is not None and now >= kb.deadline]:
            self._remove(kb)

    def _remove(self, kb: KnowledgeBaseState) -> None:
        self._kbs.pop(kb.id, None)
        kb.stopped = True
        for handle in [*kb.queue, *kb.outstanding.values()]:
            handle.slot.finish("FAILED", failed=_STOPPED.format(kb.id))
        kb.queue.clear()
        kb.outstanding.clear()
        if kb.work is not None:
            kb.work.notify_all()
        self._cond.notify_all()

    def _kb(self, request: KERequest) -> KnowledgeBaseState:
        kb_id = request.header("Knowledge-Base-Id")
        if kb_id is None:
            raise Refusal(400, "the Knowledge-Base-Id header is required")
        self._expire()
        kb = self._kbs.get(kb_id)
        if kb is None:
            raise Refusal(404, f"knowledge base {kb_id!r} not found (never registered, deleted or its lease expired)")
        return kb

    def _ki(self, kb: KnowledgeBaseState, request: KERequest, *, status: int = 404) -> Interaction:
        ki_id = request.header("Knowledge-Interaction-Id")
        if ki_id is None:
            raise Refusal(400, "the Knowledge-Interaction-Id header is required")
        ki = kb.kis.get(ki_id)
        if ki is None:
            raise Refusal(status, f"knowledge interaction {ki_id!r} not found in knowledge base {kb.id!r}")
        return ki

    def _gone(self) -> KEResponse:
        return _error(410, "This long polling request is cancelled by the server because it or the Knowledge "
                           "Base is stopping. Do not reinitiate this request.", "message")

    # -- knowledge bases ---------------------------------------------------------------------

    def _version(self, request: KERequest) -> KEResponse:
        return KEResponse(200, {"version": self.config.version})

    def _list_kbs(self, request: KERequest) -> KEResponse:
        with self._cond:
            self._expire()
            kb_id = request.header("Knowledge-Base-Id")
            if kb_id is None:
                return KEResponse(200, [kb.to_json() for kb in self._kbs.values()])
            return KEResponse(200, [self._kb(request).to_json()])

    def _register_kb(self, request: KERequest) -> KEResponse:
        fields = parse_knowledge_base(request.json)
        with self._cond:
            self._expire()
            if fields["id"] in self._kbs:
                raise Refusal(400, f"knowledgeBaseId {fields['id']!r} is already in use")
            kb = KnowledgeBaseState(
                id=str(fields["id"]),
                name=str(fields["name"]),
                description=str(fields["description"]),
                lease=fields["lease"],  # type: ignore[arg-type]
                level=fields["level"] or self.config.default_reasoner_level,  # type: ignore[arg-type]
                work=threading.Condition(self._lock),
            )
            if kb.lease is not None:
                self._renew(kb)
            self._kbs[kb.id] = kb
        return KEResponse(200)

    def _renew(self, kb: KnowledgeBaseState) -> None:
        seconds = float(kb.lease or 0)
        kb.deadline = self.config.clock() + seconds
        kb.expires = datetime.now(UTC) + timedelta(seconds=seconds)

    def _delete_kb(self, request: KERequest) -> KEResponse:
        with self._cond:
            self._remove(self._kb(request))
        return KEResponse(200)

    def _renew_lease(self, request: KERequest) -> KEResponse:
        with self._cond:
            kb = self._kb(request)
            if kb.lease is None:
                raise Refusal(404, f"knowledge base {kb.id!r} was registered without a lease")
            self._renew(kb)
            return KEResponse(200, {"knowledgeBaseId": kb.id, "expires": timestamp(kb.expires or datetime.now(UTC))})

    def _domain_knowledge(self, request: KERequest) -> KEResponse:
        with self._cond:
            kb = self._kb(request)
            if request.text is None:
                raise Refusal(400, "the domain knowledge must be sent as text/plain")
            kb.domain_knowledge = request.text
        return KEResponse(200)

    # -- knowledge interactions --------------------------------------------------------------

    def _list_kis(self, request: KERequest) -> KEResponse:
        with self._cond:
            return KEResponse(200, [ki.to_json() for ki in self._kb(request).kis.values()])

    def _register_ki(self, request: KERequest) -> KEResponse:
        with self._cond:
            kb_id = self._kb(request).id
        ki = parse_interaction(request.json, kb_id)
        _ = ki.shape  # computed here, outside the lock, once
        with self._cond:
            kb = self._kb(request)
            if ki.id in kb.kis:
                raise Refusal(400, f"knowledgeInteractionName {ki.name!r} is already registered for {kb.id!r}")
            kb.kis[ki.id] = ki
        return KEResponse(200, {"knowledgeInteractionId": ki.id})

    def _delete_ki(self, request: KERequest) -> KEResponse:
        with self._cond:
            kb = self._kb(request)
            ki = self._ki(kb, request)
            del kb.kis[ki.id]
            for handle in [h for h in (*kb.queue, *kb.outstanding.values()) if h.ki.id == ki.id]:
                handle.slot.finish("FAILED", failed=f"knowledge interaction {ki.id} was unregistered")
                kb.outstanding.pop(handle.id, None)
            kb.queue = deque(h for h in kb.queue if h.ki.id != ki.id)
            self._cond.notify_all()
        return KEResponse(200)

    # -- exchanges ---------------------------------------------------------------------------

    def _ask(self, request: KERequest) -> KEResponse:
        slots, asked = self._start(request, ASK, complete=False)
        with self._cond:
            self._await(slots)
        infos, answers = [], []  # every slot has its outcome now, which never changes: no lock needed
        for slot in slots:
            info = self._info(slot)
            info["bindingSet"] = slot.result  # as the KE 1.5.0: each peer's rows in its own variables
            if slot.status == "SUCCEEDED":
                rows = to_initiator(slot.result, slot.correspondence)
                answers.append([row for row in rows if compatible(row, asked)])
            infos.append(info)
        return KEResponse(200, {"bindingSet": union(answers), "exchangeInfo": infos})

    def _post(self, request: KERequest) -> KEResponse:
        slots, posted = self._start(request, POST, complete=True)
        with self._cond:
            self._await(slots)
        infos, results = [], []  # every slot has its outcome now, which never changes: no lock needed
        for slot in slots:
            info = self._info(slot)  # as the KE 1.5.0: each peer's binding sets in its own variables
            info["argumentBindingSet"] = to_target(posted, slot.correspondence)
            info["resultBindingSet"] = slot.result
            if slot.status == "SUCCEEDED" and slot.results is not None:
                results.append(to_initiator(slot.result, slot.results))
            infos.append(info)
        return KEResponse(200, {"resultBindingSet": union(results), "exchangeInfo": infos})

    def _start(
        self, request: KERequest, kind: str, *, complete: bool
    ) -> tuple[list[Slot], Bindings]:
        """Check an ASK/POST and hand its bindings to every matching peer's queue. The registered
        interactions are read under the lock; the bindings are checked and the patterns matched
        outside it, so a slow comparison delays only this request."""
        with self._cond:
            kb = self._kb(request)
            ki = self._ki(kb, request)
            if ki.kind != kind:
                raise Refusal(400, f"knowledge interaction {ki.id!r} is a {ki.kind}, not a {kind}")
            peers = [(peer, list(peer.kis.values())) for peer in self._kbs.values() if peer is not kb]
        recipients, raw = parse_exchange_body(request.json)
        pattern = ki.pattern if kind == ASK else ki.argument
        bindings = check_bindings(raw, "bindingSet", pattern, complete=complete)
        found: list[tuple[KnowledgeBaseState, Interaction, Correspondence, Correspondence | None, Bindings]] = []
        for peer, targets in peers:
            if recipients is not None and peer.id not in recipients:
                continue
            for target in targets:
                correspondence = self._remembered(self._matches, ki, target, match)
                if correspondence is not None:
                    results = self._remembered(self._results, ki, target, result_match) if kind == POST else None
                    sent = to_target(bindings or ([{}] if kind == ASK else []), correspondence)
                    found.append((peer, target, correspondence, results, sent))
        with self._cond:
            if kb.stopped:
                raise Refusal(404, f"knowledge base {kb.id!r} was removed while its request was being matched")
            slots: list[Slot] = []
            waiter = threading.Condition(self._lock)
            for peer, target, correspondence, results, sent in found:
                if peer.stopped or peer.kis.get(target.id) is not target:
                    continue  # it left, or unregistered that interaction, while we matched
                slot = Slot(peer.id, target, correspondence, bindings, datetime.now(UTC), results=results,
                            waiter=waiter)
                slots.append(slot)
                self._enqueue(peer, Handle(0, target, sent, kb.id, slot))
        return slots, bindings

    def _remembered(
        self,
        memory: dict[tuple[tuple[object, ...], tuple[object, ...]], Correspondence | None],
        ki: Interaction,
        target: Interaction,
        compare: Callable[..., Correspondence | None],
    ) -> Correspondence | None:
        """``compare(ki, target)`` (:func:`match` or :func:`result_match`), remembered by the two
        interactions' signatures; called without the lock (a slow comparison delays only its caller)."""
        key = (ki.signature, target.signature)
        if key in memory:
            return memory[key]
        found = compare(ki, target, budget=self.config.match_budget)
        if len(memory) >= _MATCHES_KEPT:
            memory.clear()
        memory[key] = found
        return found

    def _enqueue(self, kb: KnowledgeBaseState, handle: Handle) -> None:
        kb.last_handle_id += 1
        handle.id = kb.last_handle_id
        if len(kb.queue) >= self.config.queue_limit:
            oldest = kb.queue.popleft()
            oldest.slot.finish("FAILED", failed=QUEUE_FULL_MESSAGE)
        kb.queue.append(handle)
        if kb.work is not None:
            kb.work.notify()
        self._cond.notify_all()

    def _await(self, slots: list[Slot]) -> None:
        """Wait (lock held) until every slot has its outcome, or the exchange timeout; the silent fail."""
        timeout = self.config.exchange_timeout
        if slots and slots[0].waiter is not None:
            slots[0].waiter.wait_for(lambda: self._closing or all(s.status for s in slots), timeout=timeout)
        for slot in slots:
            if self._closing:
                slot.finish("FAILED", failed="the knowledge engine emulator is stopping")
            slot.finish("FAILED", failed=f"{slot.kb_id} did not reply within {timeout:g} s")

    def _info(self, slot: Slot) -> dict[str, object]:
        info: dict[str, object] = {
            "initiator": "knowledgeBase",
            "knowledgeBaseId": slot.kb_id,
            "knowledgeInteractionId": slot.target.id,
            "exchangeStart": timestamp(slot.start),
            "exchangeEnd": timestamp(slot.end or datetime.now(UTC)),
            "status": slot.status or "FAILED",
        }
        if slot.failed is not None:
            info["failedMessage"] = slot.failed
        return info

    # -- the reactive side -------------------------------------------------------------------

    def _poll(self, request: KERequest, *, wait: bool = True) -> KEResponse | None:
        """The long poll: the oldest queued handle request, or 202 after ``handle_timeout``; without
        ``wait``, ``None`` instead of waiting when nothing is queued."""
        with self._cond:
            kb = self._kb(request)
            if kb.polling:
                raise Refusal(409, "Only one connection per Knowledge-Base-Id is allowed and we already have one.")
            if not wait and not (kb.queue or kb.stopped or self._closing):
                return None
            kb.polling = True
            self._cond.notify_all()
            try:
                deadline = time.monotonic() + self.config.handle_timeout
                while True:
                    if kb.stopped or self._closing:
                        return self._gone()
                    if kb.queue:
                        return self._deliver(kb, kb.queue.popleft())
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return _error(202, "This is a heartbeat message that the server is still alive, "
                                           "please renew your long polling request.", "info")
                    (kb.work or self._cond).wait(remaining)
            finally:
                kb.polling = False

    def _deliver(self, kb: KnowledgeBaseState, handle: Handle) -> KEResponse:
        kb.outstanding[handle.id] = handle
        self._cond.notify_all()
        while len(kb.outstanding) > self.config.outstanding_limit:
            _, oldest = kb.outstanding.popitem(last=False)
            oldest.slot.finish("FAILED", failed=f"Knowledge base {kb.id} should have max "
                                                f"{self.config.outstanding_limit} outstanding handle requests.")
        return KEResponse(200, {
            "knowledgeInteractionId": handle.ki.id,
            "handleRequestId": handle.id,
            "bindingSet": handle.bindings,
            "requestingKnowledgeBaseId": handle.requester,
        })

    def _reply(self, request: KERequest) -> KEResponse:
        with self._cond:  # the headers are checked first, as the KE does
            self._ki(self._kb(request), request, status=400)
        handle_id, raw, error_message = parse_handle_response(request.json)
        with self._cond:
            ki = self._reply_target(request, handle_id)
        try:  # the reply is checked outside the lock: a large binding set delays only its sender
            rows = None if error_message is not None else check_bindings(raw, "bindingSet", ki.reply_pattern,
                                                                           complete=True)
        except Refusal as refusal:
            # as the KE: the answer is consumed and counts as failed, and the answerer hears why
            self._finish(request, handle_id, "FAILED", failed=f"invalid reply from {ki.kb_id}: {refusal.message}")
            raise
        if rows is None:
            self._finish(request, handle_id, "FAILED", failed=error_message)
        else:
            self._finish(request, handle_id, "SUCCEEDED", result=rows)
        return KEResponse(200)

    def _reply_target(self, request: KERequest, handle_id: int) -> Interaction:
        """The interaction whose handle request ``handle_id`` a ``POST /sc/handle`` answers (lock held)."""
        kb = self._kb(request)
        ki = self._ki(kb, request, status=400)
        handle = kb.outstanding.get(handle_id)
        if handle is None:
            raise Refusal(404, f"Handle request id {handle_id} not found. Are you sure it is still being processed?")
        if handle.ki.id != ki.id:
            raise Refusal(400, f"handle request {handle_id} is for {handle.ki.id}, not {ki.id}")
        return ki

    def _finish(self, request: KERequest, handle_id: int, status: str, *, result: Bindings | None = None,
                failed: str | None = None) -> None:
        """Consume handle request ``handle_id`` with its outcome (404 if another reply took it meanwhile)."""
        with self._cond:
            self._reply_target(request, handle_id)
            handle = self._kb(request).outstanding.pop(handle_id)
            handle.slot.finish(status, result=result, failed=failed)
            self._cond.notify_all()
