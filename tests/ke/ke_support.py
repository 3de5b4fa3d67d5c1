"""Helpers of the Knowledge Engine tests: constants, recorded HTTP traffic, worker threads that
long-poll and reply, and where the KE's own OpenAPI 1.5.0 file lives."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import requests

from dso_saref.ke import (
    BindingSet,
    HandleRequest,
    KnowledgeEngineClient,
)

REPO = Path(__file__).resolve().parents[2]
KE_SHARED = REPO / ".." / "shared" / "ke"

#: Short waits so that the suite stays fast: a long poll answers 202 after this long.
HANDLE_TIMEOUT = 0.5
#: ... and an exchange gives up on a silent peer after this long (reached only where a test wants it).
EXCHANGE_TIMEOUT = 5.0
#: Generous bound for waiting on threads of a test; a test never sleeps, it waits on events.
WAIT = 15.0

PREFIXES = {"ex": "http://example.org/ns#", "saref": "https://saref.etsi.org/core/"}
KB_A = "http://example.org/kb/a"
KB_B = "http://example.org/kb/b"
KB_C = "http://example.org/kb/c"


def spec_file() -> Path | None:
    """The KE OpenAPI 1.5.0 file shipped next to the repository, if present."""
    candidate = KE_SHARED / "openapi-sc.v1.5.0.yaml"
    return candidate if candidate.is_file() else None


class Traffic:
    """Every requests.Response a client received (its .request is what went over the wire)."""

    def __init__(self) -> None:
        self.responses: list[requests.Response] = []

    def session(self) -> requests.Session:
        session = requests.Session()
        session.hooks["response"].append(self._record)
        return session

    def _record(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        self.responses.append(response)


class Worker(threading.Thread):
    """A thread that keeps what its target returned or raised; :meth:`result` joins and re-raises."""

    def __init__(self, target: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self._target_fn = target
        self.value: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self._target_fn()
        except BaseException as exc:  # handed to the test thread by result()
            self.error = exc

    def result(self) -> object:
        self.join(WAIT)
        assert not self.is_alive(), "worker thread did not finish in time"
        if self.error is not None:
            raise self.error
        return self.value


def start(target: Callable[[], object]) -> Worker:
    """Run ``target`` in a new :class:`Worker` thread."""
    worker = Worker(target)
    worker.start()
    return worker


def serve(
    ke: KnowledgeEngineClient,
    kb_id: str,
    handler: Callable[[HandleRequest], BindingSet],
    count: int = 1,
) -> Worker:
    """A knowledge base's reactive side in its own thread: long-poll (202 means poll again) and
    reply to ``count`` handle requests with ``handler``'s bindings; returns the requests seen."""

    def loop() -> list[HandleRequest]:
        seen: list[HandleRequest] = []
        while len(seen) < count:
            request = ke.poll(kb_id)
            if request is None:
                continue
            seen.append(request)
            ke.respond(kb_id, request.knowledge_interaction_id, request.handle_request_id, handler(request))
        return seen

    return start(loop)
