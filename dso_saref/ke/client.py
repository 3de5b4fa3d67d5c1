"""A typed client for the Knowledge Engine smart-connector REST API (1.5.0), and its HTTP transport.

Every endpoint of the API has one method; every call has a timeout (the long poll its own, longer
one); every non-success status becomes a typed :mod:`~dso_saref.ke.errors` exception. This is the
only module of the library that imports ``requests``::

    with KnowledgeEngineClient("http://localhost:8280/rest") as ke:
        ke.register_knowledge_base("https://example.org/kb/dso", "DSO", "the grid operator")
        ki = ke.register_ask("https://example.org/kb/dso", "?m a saref:Measurement .",
                             prefixes={"saref": "https://saref.etsi.org/core/"}, name="measurements")
        result = ke.ask("https://example.org/kb/dso", ki)

Pass ``transport=`` to talk through the InterConnect generic adapter or to an in-process emulator,
and ``credentials=`` for a KE behind a reverse proxy that asks for them (extra headers, a bearer token or
basic auth; sent on every HTTP request, never logged nor shown in ``repr`` or errors)::

    KnowledgeEngineClient("https://ke.example.org/rest", credentials=Credentials(token="..."))
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import requests

from dso_saref.ke.credentials import Credentials
from dso_saref.ke.errors import (
    KnowledgeBaseNotFound,
    KnowledgeEngineError,
    KnowledgeEngineTimeout,
    KnowledgeEngineUnavailable,
    NotFound,
    UnexpectedResponse,
    error_for_status,
)
from dso_saref.ke.queue_retry import DEFAULT_QUEUE_RETRY, QueueRetry, Result, send_with_retry
from dso_saref.ke.results import (
    AskResult,
    CommunicativeAct,
    HandleRequest,
    KnowledgeBaseInfo,
    KnowledgeInteractionInfo,
    Lease,
    PostResult,
)
from dso_saref.ke.transport import KERequest, KEResponse, Transport

__all__ = ["HTTPTransport", "KnowledgeEngineClient", "Timeouts"]

_JSON = "application/json; charset=UTF-8"
_TEXT = "text/plain; charset=UTF-8"
#: Statuses with which a KE says it is stopping (410 on a long poll, 503 on any call).
_STOPPING = frozenset({410, 503})


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait: to connect; for a reply to lifecycle calls (``read``); for an ASK or POST,
    which waits on its peers (``exchange``; the KE gives each peer 10 s by default); and for the
    long poll (``long_poll``; the KE answers 202 after 29 s, so keep it above that)."""

    connect: float = 5.0
    read: float = 30.0
    exchange: float = 60.0
    long_poll: float = 60.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "exchange", "long_poll"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"Timeouts.{name} must be a positive number of seconds, got {value!r}")


class HTTPTransport(Transport):
    """The KE REST API over HTTP with ``requests``: one session per thread, JSON bodies in UTF-8.

    ``base_url`` is the REST base (``http://localhost:8280/rest``, or the generic adapter's
    ``http://localhost:9090``); ``credentials`` are sent on every request; ``session_factory`` makes
    each thread's session (tests add hooks).
    """

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        credentials: Credentials | None = None,
        session_factory: Callable[[], requests.Session] = requests.Session,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials.http_headers() if credentials is not None else {}
        self._connect = connect_timeout
        self._read = read_timeout
        self._factory = session_factory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sessions: list[requests.Session] = []
        self._closed = False

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            with self._lock:
                if self._closed:
                    raise KnowledgeEngineError("the HTTP transport is closed")
                session = self._factory()
                self._sessions.append(session)
            # what requests takes from the environment (proxies for the KE, a CA bundle), read once:
            # it would read the whole environment on every call (a quarter of a busy adapter's CPU time)
            session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if bundle and session.verify is True:
                session.verify = bundle
            session.trust_env = False
            self._local.session = session
        return session

    def handle(self, request: KERequest) -> KEResponse:
        """Send ``request`` and return the reply; connection failures and timeouts raise
        :class:`~dso_saref.ke.errors.KnowledgeEngineUnavailable` / ``KnowledgeEngineTimeout``."""
        headers = {**self._credentials, "Accept": "application/json", **request.headers}
        data: bytes | None = None
        if request.json is not None:
            data = json.dumps(request.json, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = _JSON
        elif request.text is not None:
            data = request.text.encode("utf-8")
            headers["Content-Type"] = _TEXT
        url = self.base_url + request.path
        timeout = request.timeout or self._read
        what = f"{request.method} {url}"
        session = self._session()
        try:
            reply = session.request(request.method, url, headers=headers, data=data, timeout=(self._connect, timeout))
            text = reply.text
        except requests.Timeout as exc:
            raise KnowledgeEngineTimeout(f"{what}: no reply within {timeout:g} s") from exc
        except requests.ConnectionError as exc:
            raise KnowledgeEngineUnavailable(f"{what}: cannot reach the Knowledge Engine ({exc})") from exc
        except requests.RequestException as exc:
            raise KnowledgeEngineError(f"{what}: {exc}") from exc
        if reply.status_code in _STOPPING:
            # the KE (or the instance behind this kept-alive connection) is stopping: the next call
            # opens a new connection, which reaches it once restarted instead of the stopping one
            session.close()
        payload: Any = None
        if reply.content:
            try:
                payload = reply.json()
            except ValueError:
                payload = None
        return KEResponse(reply.status_code, payload, text)

    def close(self) -> None:
        """Close every thread's session."""
        with self._lock:
            self._closed = True
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()


class KnowledgeEngineClient:
    """Every call of the KE smart-connector REST API, typed.

    Give ``base_url`` (an ``HTTPTransport`` is made for it) or a ready ``transport``.
    ``reasoner_level`` (1-5, default 1, the closest to exact pattern matching) is sent when a
    knowledge base is registered; ``None`` leaves it to the KE's configuration. Communicative acts
    are only sent when given. ``credentials`` go with ``base_url`` (a ready transport carries its own).
    ``queue_retry``: how an ASK or POST is sent again to the peers whose part the KE cancelled because
    their queue was full (they never received it; :mod:`~dso_saref.ke.queue_retry`); ``None``: never.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        transport: Transport | None = None,
        timeout: Timeouts | None = None,
        reasoner_level: int | None = 1,
        credentials: Credentials | None = None,
        queue_retry: QueueRetry | None = DEFAULT_QUEUE_RETRY,
    ) -> None:
        if (base_url is None) == (transport is None):
            raise ValueError("give exactly one of base_url and transport")
        if credentials is not None and transport is not None:
            raise ValueError("credentials go with base_url; a ready transport carries its own")
        if reasoner_level is not None and (isinstance(reasoner_level, bool) or reasoner_level not in range(1, 6)):
            raise ValueError(f"reasoner_level must be 1 to 5 or None, got {reasoner_level!r}")
        self.timeouts = timeout or Timeouts()
        self.reasoner_level = reasoner_level
        self.queue_retry = queue_retry
        self.transport = transport or HTTPTransport(
            str(base_url), connect_timeout=self.timeouts.connect, read_timeout=self.timeouts.read,
            credentials=credentials,
        )

    def close(self) -> None:
        """Close the transport."""
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        kb_id: str | None = None,
        ki_id: str | None = None,
        body: object = None,
        text: str | None = None,
        timeout: float | None = None,
        ok: Sequence[int] = (200,),
        not_found: type[NotFound] = NotFound,
    ) -> KEResponse:
        headers = {}
        if kb_id is not None:
            headers["Knowledge-Base-Id"] = kb_id
        if ki_id is not None:
            headers["Knowledge-Interaction-Id"] = ki_id
        request = KERequest(method, path, headers, body, text, timeout or self.timeouts.read)
        response = self.transport.handle(request)
        if response.status not in ok:
            raise error_for_status(response.status, response.body, operation=f"{method} {path}", not_found=not_found)
        return response

    @staticmethod
    def _json(response: KEResponse, operation: str) -> object:
        if response.json is None:
            raise UnexpectedResponse(
                f"{operation}: expected a JSON body, got {response.text[:200]!r}", status=response.status,
                body=response.text,
            )
        return response.json

    # -- version and knowledge bases ---------------------------------------------------------

    def version(self) -> str:
        """The version of the KE REST server."""
        data = self._json(self._call("GET", "/version"), "GET /version")
        if not isinstance(data, Mapping) or not isinstance(data.get("version"), str):
            raise UnexpectedResponse("GET /version: no version string in the reply", status=200, body=data)
        return str(data["version"])

    def list_knowledge_bases(self) -> list[KnowledgeBaseInfo]:
        """Every knowledge base registered at the KE."""
        data = self._json(self._call("GET", "/sc"), "GET /sc")
        if not isinstance(data, list):
            raise UnexpectedResponse("GET /sc: expected a JSON array", status=200, body=data)
        return [KnowledgeBaseInfo.from_json(item, f"$[{i}]") for i, item in enumerate(data)]

    def get_knowledge_base(self, kb_id: str) -> KnowledgeBaseInfo:
        """The knowledge base ``kb_id``; raises :class:`~dso_saref.ke.errors.KnowledgeBaseNotFound`."""
        data = self._json(self._call("GET", "/sc", kb_id=kb_id, not_found=KnowledgeBaseNotFound), "GET /sc")
        if not isinstance(data, list) or len(data) != 1:
            raise UnexpectedResponse("GET /sc: expected a list of one knowledge base", status=200, body=data)
        return KnowledgeBaseInfo.from_json(data[0], "$[0]")

    def register_knowledge_base(
        self, kb_id: str, name: str, description: str, *, lease_renewal_time: int | None = None
    ) -> None:
        """Register a knowledge base (its smart connector); ``lease_renewal_time`` (30-3600 s) makes
        the KE remove it unless :meth:`renew_lease` is called in time. Raises
        :class:`~dso_saref.ke.errors.BadRequest` for a bad id or one already in use."""
        body: dict[str, object] = {
            "knowledgeBaseId": kb_id,
            "knowledgeBaseName": name,
            "knowledgeBaseDescription": description,
        }
        if lease_renewal_time is not None:
            body["leaseRenewalTime"] = lease_renewal_time
        if self.reasoner_level is not None:
            body["reasonerLevel"] = self.reasoner_level
        self._call("POST", "/sc", body=body)

    def delete_knowledge_base(self, kb_id: str) -> None:
        """Unregister a knowledge base and all its interactions; its open long poll gets 410."""
        self._call("DELETE", "/sc", kb_id=kb_id, not_found=KnowledgeBaseNotFound)

    def renew_lease(self, kb_id: str) -> Lease:
        """Extend the lease of ``kb_id`` by its lease renewal time; returns the new expiry."""
        response = self._call("PUT", "/sc/lease/renew", kb_id=kb_id, not_found=KnowledgeBaseNotFound)
        return Lease.from_json(self._json(response, "PUT /sc/lease/renew"))

    def load_domain_knowledge(self, kb_id: str, rules: str) -> None:
        """Replace the domain knowledge (Apache Jena rules) the KE uses for ``kb_id``."""
        self._call("POST", "/sc/knowledge", kb_id=kb_id, text=rules, not_found=KnowledgeBaseNotFound)

    # -- knowledge interactions --------------------------------------------------------------

    def list_knowledge_interactions(self, kb_id: str) -> list[KnowledgeInteractionInfo]:
        """Every interaction registered by ``kb_id``."""
        data = self._json(self._call("GET", "/sc/ki", kb_id=kb_id, not_found=KnowledgeBaseNotFound), "GET /sc/ki")
        if not isinstance(data, list):
            raise UnexpectedResponse("GET /sc/ki: expected a JSON array", status=200, body=data)
        return [KnowledgeInteractionInfo.from_json(item, f"$[{i}]") for i, item in enumerate(data)]

    def _register(
        self,
        kb_id: str,
        kind: str,
        patterns: Mapping[str, str | None],
        name: str | None,
        prefixes: Mapping[str, str] | None,
        communicative_act: CommunicativeAct | None,
    ) -> str:
        body: dict[str, object] = {"knowledgeInteractionType": kind}
        if name is not None:
            body["knowledgeInteractionName"] = name
        body.update({key: value for key, value in patterns.items() if value is not None})
        if prefixes:
            body["prefixes"] = dict(prefixes)
        if communicative_act is not None:
            body["communicativeAct"] = communicative_act.to_json()
        response = self._call("POST", "/sc/ki", kb_id=kb_id, body=body, not_found=KnowledgeBaseNotFound)
        data = self._json(response, "POST /sc/ki")
        if not isinstance(data, Mapping) or not isinstance(data.get("knowledgeInteractionId"), str):
            raise UnexpectedResponse("POST /sc/ki: no knowledgeInteractionId in the reply", status=200, body=data)
        return str(data["knowledgeInteractionId"])

    def register_ask(
        self,
        kb_id: str,
        graph_pattern: str,
        *,
        name: str | None = None,
        prefixes: Mapping[str, str] | None = None,
        communicative_act: CommunicativeAct | None = None,
    ) -> str:
        """Register an ASK interaction; returns its id. Raises ``BadRequest`` for a bad pattern or name."""
        patterns = {"graphPattern": graph_pattern}
        return self._register(kb_id, "AskKnowledgeInteraction", patterns, name, prefixes, communicative_act)

    def register_answer(
        self,
        kb_id: str,
        graph_pattern: str,
        *,
        name: str | None = None,
        prefixes: Mapping[str, str] | None = None,
        communicative_act: CommunicativeAct | None = None,
    ) -> str:
        """Register an ANSWER interaction; returns its id. Its work arrives through :meth:`poll`."""
        patterns = {"graphPattern": graph_pattern}
        return self._register(kb_id, "AnswerKnowledgeInteraction", patterns, name, prefixes, communicative_act)

    def register_post(
        self,
        kb_id: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None = None,
        *,
        name: str | None = None,
        prefixes: Mapping[str, str] | None = None,
        communicative_act: CommunicativeAct | None = None,
    ) -> str:
        """Register a POST interaction; returns its id."""
        patterns = {"argumentGraphPattern": argument_graph_pattern, "resultGraphPattern": result_graph_pattern}
        return self._register(kb_id, "PostKnowledgeInteraction", patterns, name, prefixes, communicative_act)

    def register_react(
        self,
        kb_id: str,
        argument_graph_pattern: str,
        result_graph_pattern: str | None = None,
        *,
        name: str | None = None,
        prefixes: Mapping[str, str] | None = None,
        communicative_act: CommunicativeAct | None = None,
    ) -> str:
        """Register a REACT interaction; returns its id. Its work arrives through :meth:`poll`."""
        patterns = {"argumentGraphPattern": argument_graph_pattern, "resultGraphPattern": result_graph_pattern}
        return self._register(kb_id, "ReactKnowledgeInteraction", patterns, name, prefixes, communicative_act)

    def delete_knowledge_interaction(self, kb_id: str, ki_id: str) -> None:
        """Unregister one interaction of ``kb_id``."""
        self._call("DELETE", "/sc/ki", kb_id=kb_id, ki_id=ki_id)

    # -- exchanges ---------------------------------------------------------------------------

    @staticmethod
    def _exchange_body(bindings: Sequence[Mapping[str, str]], recipients: Sequence[str] | None) -> object:
        binding_set = [dict(row) for row in bindings]
        if recipients is None:
            return binding_set
        if isinstance(recipients, str) or not recipients:
            # the KE reads an empty knowledgeBases list as "everybody": never send one by mistake
            raise ValueError(f"recipients must be a non-empty list of knowledge base ids (None: everybody), "
                             f"got {recipients!r}")
        return {"recipientSelector": {"knowledgeBases": list(recipients)}, "bindingSet": binding_set}

    def ask(
        self,
        kb_id: str,
        ki_id: str,
        bindings: Sequence[Mapping[str, str]] = (),
        *,
        recipients: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> AskResult:
        """ASK through ``ki_id``: ``bindings`` may bind some variables to filter the answers;
        ``recipients`` limits the knowledge bases asked. Waits up to ``timeout`` seconds (default
        ``Timeouts.exchange``, retries included), then raises ``KnowledgeEngineTimeout``."""
        return self._exchange("/sc/ask", kb_id, ki_id, bindings, recipients, timeout, AskResult.from_json)

    def post(
        self,
        kb_id: str,
        ki_id: str,
        bindings: Sequence[Mapping[str, str]],
        *,
        recipients: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> PostResult:
        """POST complete argument ``bindings`` through ``ki_id`` to every matching REACT (or only
        ``recipients``); returns their merged results. Waits up to ``timeout`` seconds (default
        ``Timeouts.exchange``, retries included), then raises ``KnowledgeEngineTimeout``."""
        return self._exchange("/sc/post", kb_id, ki_id, bindings, recipients, timeout, PostResult.from_json)

    def _exchange(
        self,
        path: str,
        kb_id: str,
        ki_id: str,
        bindings: Sequence[Mapping[str, str]],
        recipients: Sequence[str] | None,
        timeout: float | None,
        read: Callable[[object], Result],
    ) -> Result:
        """One ASK or POST, sent again to crowded-out peers as :attr:`queue_retry` says."""
        operation = f"POST {path}"

        def send(to: Sequence[str] | None, seconds: float) -> Result:
            response = self._call("POST", path, kb_id=kb_id, ki_id=ki_id, body=self._exchange_body(bindings, to),
                                  timeout=seconds)
            return read(self._json(response, operation))

        return send_with_retry(send, recipients, self.queue_retry, timeout or self.timeouts.exchange)

    # -- the reactive side -------------------------------------------------------------------

    def poll(self, kb_id: str, *, timeout: float | None = None) -> HandleRequest | None:
        """Wait for work for ``kb_id``'s ANSWER and REACT interactions (the long poll, at most
        ``timeout`` seconds, default ``Timeouts.long_poll``); ``None`` when the KE says "poll again"
        (202). Raises ``KnowledgeBaseNotFound`` (404: register again), ``Conflict`` (409: another
        poll is open), ``Gone`` (410: stop), ``ServerError``, ``KnowledgeEngineTimeout``."""
        response = self._call(
            "GET", "/sc/handle", kb_id=kb_id, timeout=timeout or self.timeouts.long_poll, ok=(200, 202),
            not_found=KnowledgeBaseNotFound,
        )
        if response.status == 202:
            return None
        return HandleRequest.from_json(self._json(response, "GET /sc/handle"))

    def respond(self, kb_id: str, ki_id: str, handle_request_id: int, bindings: Sequence[Mapping[str, str]]) -> None:
        """Send the answer or reaction to a :class:`~dso_saref.ke.results.HandleRequest`; every
        variable of the ANSWER pattern or REACT result pattern must be bound (else ``BadRequest``)."""
        body = {"handleRequestId": handle_request_id, "bindingSet": [dict(row) for row in bindings]}
        self._call("POST", "/sc/handle", kb_id=kb_id, ki_id=ki_id, body=body)

    def respond_error(self, kb_id: str, ki_id: str, handle_request_id: int, message: str) -> None:
        """Tell the asking side that handling failed (KE 1.5.0 ``errorMessage``); it sees FAILED."""
        body = {"handleRequestId": handle_request_id, "errorMessage": message}
        self._call("POST", "/sc/handle", kb_id=kb_id, ki_id=ki_id, body=body)

