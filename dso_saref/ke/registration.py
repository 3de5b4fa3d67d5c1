"""One knowledge base's registration at the Knowledge Engine: claimed, lost, taken back, released.

The KE has no authentication: anyone may unregister a knowledge base (``DELETE /sc`` with its id),
and a second process may be started with the same id. :class:`Registration` registers the knowledge
base and its interactions and tells a **live** registration of the same id from a **stale** one:

- the id is *free* when the KE does not list it (``GET /sc`` with the id answers 404);
- it is *live* when the KE lists it and another connection keeps its long poll: our polls are refused
  (409) for longer than the KE holds a poll (``Probe.hold``: the open poll of a process that died ends
  by then, a live owner's is renewed), or a poll of ours is ended (410) by the owner taking its
  registration back within ``Probe.window`` seconds (an adapter that sees 409 on its own poll
  re-registers, which ends every other poll of the id);
- it is *stale* when it is listed and, once a poll of ours is open, nobody takes it back within
  ``Probe.window``: a previous run that did not unregister (stopped by ``kill -9``, say). A stale
  registration is replaced, with a warning.

So a second instance of a live id is refused after about ``Probe.hold`` seconds (31 by default), and a
restart after a crash starts within ``Probe.window`` seconds once the dead process's poll has ended
at the KE (at once after a clean stop, which unregisters).

:meth:`Registration.claim` refuses a live id with :class:`KnowledgeBaseInUse`. Work the probing
poll receives (meant for nobody, or for a live owner between two of its polls) is answered with an
error message, so the asker never waits for it::

    registration = Registration(client, kb_id, "DSO", "the grid operator", probe=Probe(window=2.0))
    ki_ids = registration.claim(specs)   # KnowledgeBaseInUse when another process serves kb_id
    registration.release()               # unregister (only if we hold the registration)
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from dso_saref.ke.client import KnowledgeEngineClient
from dso_saref.ke.errors import (
    BadRequest,
    Conflict,
    Gone,
    KnowledgeBaseNotFound,
    KnowledgeEngineError,
    KnowledgeEngineTimeout,
    KnowledgeEngineUnavailable,
)
from dso_saref.ke.roles import ANSWER, ASK, POST, KnowledgeInteractionSpec

__all__ = ["KE_LONG_POLL", "KnowledgeBaseInUse", "Liveness", "Probe", "ProbeStopped", "Registration", "liveness"]

log = logging.getLogger(__name__)

_RECHECK = 0.05  # seconds between two looks at the KE's listing after our probing poll was ended
_CONFLICT_PAUSE = 0.25  # seconds between two polls of ours that the KE refused (409)

#: The longest the Knowledge Engine holds a long poll open before it answers 202 (seconds).
KE_LONG_POLL = 29.0


@dataclass(frozen=True)
class Probe:
    """How an id that is registered already is probed (module doc): a poll of ours must stay
    unchallenged for ``window`` seconds to call the id stale, and the KE's refusals (409) are waited
    out for ``hold`` seconds, longer than the KE holds a poll (:data:`KE_LONG_POLL`), since the poll
    of a process that died stays open at the KE until then."""

    window: float = 2.0
    hold: float = KE_LONG_POLL + 1.0

    def __post_init__(self) -> None:
        for name in ("window", "hold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"probe {name} must be a positive number of seconds, got {value!r}")


class KnowledgeBaseInUse(KnowledgeEngineError):
    """The knowledge base id is registered at the KE and another connection serves it."""


class ProbeStopped(KnowledgeEngineError):
    """The adapter was stopped while it probed a knowledge base id."""


class Liveness(StrEnum):
    """What the KE says about a knowledge base id (see the module doc)."""

    FREE = "free"
    LIVE = "live"
    STALE = "stale"


def _listed(client: KnowledgeEngineClient, kb_id: str) -> bool:
    try:
        client.get_knowledge_base(kb_id)
    except KnowledgeBaseNotFound:
        return False
    return True


def liveness(client: KnowledgeEngineClient, kb_id: str, probe: Probe | None = None, *,
             stopped: threading.Event | None = None) -> Liveness:
    """Whether ``kb_id`` is free, live or stale at the KE (module doc), deciding within about
    ``probe.hold + probe.window`` seconds at most. Raises ``KnowledgeEngineUnavailable`` when the KE
    cannot be reached, :class:`ProbeStopped` once ``stopped`` is set."""
    probe = probe or Probe()
    if not _listed(client, kb_id):
        return Liveness.FREE
    pause = stopped or threading.Event()
    refused_until = time.monotonic() + probe.hold
    deadline: float | None = None  # set once a poll of ours is open: watched for ``probe.window``
    while True:
        if pause.is_set():
            raise ProbeStopped(f"stopped while checking whether another process serves {kb_id}")
        now = time.monotonic()
        if deadline is None and now >= refused_until:
            return Liveness.LIVE  # refused longer than the KE holds a poll: its holder polls again and again
        if deadline is not None and now >= deadline:
            return Liveness.STALE  # our polls went unchallenged for the whole window
        try:
            request = client.poll(kb_id, timeout=probe.window if deadline is None else deadline - now)
        except Conflict:
            if deadline is not None:
                return Liveness.LIVE  # someone else polled between two polls of ours
            pause.wait(_CONFLICT_PAUSE)  # a live owner's poll, or the dangling poll of a process that died
            continue
        except KnowledgeBaseNotFound:
            return Liveness.FREE
        except KnowledgeEngineTimeout:
            return Liveness.STALE  # our poll stayed open the whole window: nobody claimed the id
        except Gone:  # the owner took its registration back, or it was removed, or the KE stops
            return _after_gone(client, kb_id, time.monotonic() + probe.window, pause)
        if deadline is None:
            deadline = time.monotonic() + probe.window
        if request is not None:
            with contextlib.suppress(KnowledgeEngineError):
                client.respond_error(kb_id, request.knowledge_interaction_id, request.handle_request_id,
                                     f"{kb_id} is being taken over by a new instance: ask again")


def _after_gone(client: KnowledgeEngineClient, kb_id: str, deadline: float, pause: threading.Event) -> Liveness:
    """Live when the knowledge base is listed again before ``deadline`` (its owner took it back), else free."""
    while time.monotonic() < deadline and not pause.is_set():
        if _listed(client, kb_id):
            return Liveness.LIVE
        pause.wait(_RECHECK)
    return Liveness.FREE


class Registration:
    """The knowledge base ``kb_id`` and its interactions at the KE, as one adapter holds them."""

    def __init__(self, client: KnowledgeEngineClient, kb_id: str, name: str, description: str, *,
                 probe: Probe | None = None) -> None:
        self.client = client
        self.kb_id = kb_id
        self.name = name
        self.description = description
        self.probe = probe or Probe()
        self.ki_ids: dict[str, str] = {}
        self._held = threading.Event()

    @property
    def held(self) -> bool:
        """Whether we registered the knowledge base and have not learnt that it is gone."""
        return self._held.is_set()

    def claim(self, specs: Iterable[KnowledgeInteractionSpec],
              stopped: threading.Event | None = None) -> dict[str, str]:
        """Register the knowledge base (replacing a stale registration of the id) and every KI of
        ``specs``; returns the KI ids by name. Raises :class:`KnowledgeBaseInUse` when the id is live,
        ``KnowledgeEngineUnavailable`` when the KE cannot be reached, :class:`ProbeStopped` when
        ``stopped`` is set while the id is probed."""
        try:
            self.client.register_knowledge_base(self.kb_id, self.name, self.description)
        except BadRequest:  # the id is in use, or is no valid id (then the second try says so again)
            log.info("knowledge base %s is registered already: checking whether another process serves it "
                     "(at most %.0f s)", self.kb_id, self.probe.hold + self.probe.window)
            state = liveness(self.client, self.kb_id, self.probe, stopped=stopped)
            if state is Liveness.LIVE:
                raise KnowledgeBaseInUse(
                    f"knowledge base {self.kb_id} is served by another process: the KE lists it and its long "
                    "poll is held by another connection. Stop that process first, or use another knowledge "
                    "base id") from None
            if state is Liveness.STALE:
                log.warning("knowledge base %s was registered but nobody served it (a previous run that did not "
                            "unregister): replacing it", self.kb_id)
                with contextlib.suppress(KnowledgeBaseNotFound):
                    self.client.delete_knowledge_base(self.kb_id)
            self.client.register_knowledge_base(self.kb_id, self.name, self.description)
        self._held.set()
        self.ki_ids = {spec.name: self._register_ki(spec) for spec in specs}
        return dict(self.ki_ids)

    def _register_ki(self, spec: KnowledgeInteractionSpec) -> str:
        pattern, prefixes = spec.graph_pattern or "", spec.prefixes
        if spec.type == ASK:
            return self.client.register_ask(self.kb_id, pattern, name=spec.name, prefixes=prefixes)
        if spec.type == ANSWER:
            return self.client.register_answer(self.kb_id, pattern, name=spec.name, prefixes=prefixes)
        argument = spec.argument_pattern or ""
        if spec.type == POST:
            return self.client.register_post(self.kb_id, argument, spec.result_pattern, name=spec.name,
                                             prefixes=prefixes)
        return self.client.register_react(self.kb_id, argument, spec.result_pattern, name=spec.name,
                                          prefixes=prefixes)

    def lost(self) -> None:
        """Note that the KE no longer knows the knowledge base (it restarted, or someone unregistered it)."""
        self._held.clear()

    def release(self) -> None:
        """Unregister the knowledge base (its KIs go with it), unless it is not ours to release."""
        if not self._held.is_set():
            return
        self._held.clear()
        with contextlib.suppress(KnowledgeBaseNotFound, KnowledgeEngineUnavailable, Gone):
            self.client.delete_knowledge_base(self.kb_id)
