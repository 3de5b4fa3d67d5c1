"""One knowledge base's registration at the Knowledge Engine: claimed, lost, taken back, released.

The KE has no authentication: anyone may unregister a knowledge base (``DELETE /sc`` with its id),
and a second process may be started with the same id. :class:`Registration` registers the knowledge
base and its interactions and tells a **live** registration of the same id from a **stale** one:

- the id is *free* when the KE does not list it (``GET /sc`` with the id answers 404);
- it is *live* when the KE lists it and another connection holds its long poll: a poll of ours is
  refused with 409, or is ended (410) by the owner taking its registration back within
  ``probe_window`` seconds (an adapter that sees 409 on its own poll re-registers, which ends every
  other poll of the id);
- it is *stale* when it is listed and nobody takes the long poll back within ``probe_window``: a
  previous run that did not unregister. A stale registration is replaced, with a warning.

:meth:`Registration.claim` refuses a live id with :class:`KnowledgeBaseInUse`. Work the probing
poll receives (meant for nobody, or for a live owner between two of its polls) is answered with an
error message, so the asker never waits for it::

    registration = Registration(client, kb_id, "DSO", "the grid operator", probe_window=2.0)
    ki_ids = registration.claim(specs)   # KnowledgeBaseInUse when another process serves kb_id
    registration.release()               # unregister (only if we hold the registration)
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable
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

__all__ = ["KnowledgeBaseInUse", "Liveness", "Registration", "liveness"]

log = logging.getLogger(__name__)

_RECHECK = 0.05  # seconds between two looks at the KE's listing after our probing poll was ended


class KnowledgeBaseInUse(KnowledgeEngineError):
    """The knowledge base id is registered at the KE and another connection serves it."""


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


def liveness(client: KnowledgeEngineClient, kb_id: str, *, window: float,
             pause: threading.Event | None = None) -> Liveness:
    """Whether ``kb_id`` is free, live or stale at the KE (module doc), deciding within about
    ``window`` seconds. Raises ``KnowledgeEngineUnavailable`` when the KE cannot be reached."""
    if not _listed(client, kb_id):
        return Liveness.FREE
    pause = pause or threading.Event()
    deadline = time.monotonic() + window
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            request = client.poll(kb_id, timeout=remaining)
        except Conflict:
            return Liveness.LIVE
        except KnowledgeBaseNotFound:
            return Liveness.FREE
        except KnowledgeEngineTimeout:
            return Liveness.STALE  # our poll stayed open the whole window: nobody claimed the id
        except Gone:  # the owner took its registration back, or it was removed, or the KE stops
            while time.monotonic() < deadline:
                if _listed(client, kb_id):
                    return Liveness.LIVE
                pause.wait(_RECHECK)
            return Liveness.FREE
        if request is not None:
            with contextlib.suppress(KnowledgeEngineError):
                client.respond_error(kb_id, request.knowledge_interaction_id, request.handle_request_id,
                                     f"{kb_id} is being taken over by a new instance: ask again")
    return Liveness.STALE


class Registration:
    """The knowledge base ``kb_id`` and its interactions at the KE, as one adapter holds them."""

    def __init__(self, client: KnowledgeEngineClient, kb_id: str, name: str, description: str, *,
                 probe_window: float = 2.0) -> None:
        if probe_window <= 0:
            raise ValueError(f"probe_window must be a positive number of seconds, got {probe_window!r}")
        self.client = client
        self.kb_id = kb_id
        self.name = name
        self.description = description
        self.probe_window = probe_window
        self.ki_ids: dict[str, str] = {}
        self._held = threading.Event()

    @property
    def held(self) -> bool:
        """Whether we registered the knowledge base and have not learnt that it is gone."""
        return self._held.is_set()

    def claim(self, specs: Iterable[KnowledgeInteractionSpec]) -> dict[str, str]:
        """Register the knowledge base (replacing a stale registration of the id) and every KI of
        ``specs``; returns the KI ids by name. Raises :class:`KnowledgeBaseInUse` when the id is live,
        ``KnowledgeEngineUnavailable`` when the KE cannot be reached."""
        try:
            self.client.register_knowledge_base(self.kb_id, self.name, self.description)
        except BadRequest:  # the id is in use, or is no valid id (then the second try says so again)
            state = liveness(self.client, self.kb_id, window=self.probe_window)
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
