"""The transport seam between the KE client and whatever carries its calls.

A :class:`Transport` turns one :class:`KERequest` (method, KE REST path such as ``/sc/ask``,
headers, JSON body) into one :class:`KEResponse` (status, decoded body). Three implementations:

* ``HTTPTransport`` (in :mod:`dso_saref.ke.client`, the only module that imports ``requests``):
  the KE smart-connector REST API over HTTP;
* :class:`GenericAdapterTransport`: the same calls on the InterConnect generic adapter's paths
  (``/smartconnector/...``, headers ``KnowledgeBaseId`` / ``KnowledgeInteractionId``), wrapping
  another transport;
* :class:`InProcessTransport`: calls an in-process handler (the emulator) directly, no socket::

    with InProcessTransport(KnowledgeEngineEmulator()) as transport:
        response = transport.handle(KERequest("GET", "/version"))
        assert response.status == 200
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType, TracebackType
from typing import Any, Protocol, Self

from dso_saref.ke.errors import KnowledgeEngineError, UnsupportedOperation

__all__ = [
    "GENERIC_ADAPTER_ROUTES",
    "GenericAdapterTransport",
    "InProcessTransport",
    "KERequest",
    "KEResponse",
    "RequestHandler",
    "Transport",
    "from_generic_adapter",
    "to_generic_adapter",
]


@dataclass(frozen=True)
class KERequest:
    """One call of the KE REST API: ``path`` is relative to the REST base (``/sc/ki``, ``/version``);
    ``json`` is the JSON body (``None``: no body), ``text`` a plain-text body, ``timeout`` the
    seconds to wait for the reply (``None``: the transport's choice)."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    text: str | None = None
    timeout: float | None = None

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


@dataclass(frozen=True)
class KEResponse:
    """The reply to a :class:`KERequest`: HTTP ``status``, decoded JSON ``json`` (``None`` if the body
    was empty or not JSON) and the raw ``text`` of the body."""

    status: int
    json: Any = None
    text: str = ""

    @property
    def body(self) -> object:
        """The decoded JSON body if there is one, else the text (``""`` for an empty body)."""
        return self.json if self.json is not None else self.text


class Transport(ABC):
    """Carries KE REST calls; use as a context manager or call :meth:`close` when done."""

    @abstractmethod
    def handle(self, request: KERequest) -> KEResponse:
        """The reply to ``request``; raises :class:`~dso_saref.ke.errors.KnowledgeEngineUnavailable`
        when no reply arrives (never an error of a lower-level library)."""

    def close(self) -> None:  # noqa: B027 - a transport without resources has nothing to close
        """Release connections and other resources; the transport is not used afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class RequestHandler(Protocol):
    """Anything that answers KE REST calls in process (the emulator)."""

    def handle(self, request: KERequest) -> KEResponse:
        """The reply to ``request``."""
        ...


class InProcessTransport(Transport):
    """Hands every request to an in-process handler (normally the emulator) without HTTP.

    Bodies go through a JSON round trip both ways, so what arrives is exactly what HTTP would carry
    and nothing mutable is shared between the two sides.
    """

    def __init__(self, handler: RequestHandler) -> None:
        self._handler = handler

    def handle(self, request: KERequest) -> KEResponse:
        """The handler's reply to ``request``."""
        body = _json_copy(request.json, "request")
        response = self._handler.handle(replace(request, json=body, headers=dict(request.headers)))
        return replace(response, json=_json_copy(response.json, "response"))


def _json_copy(value: object, what: str) -> object:
    if value is None:
        return None
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise KnowledgeEngineError(f"the {what} body cannot be written as JSON: {exc}") from exc


#: KE REST call (method, path) -> the generic adapter's (method, path). ``POST /sc/ki`` is split by
#: interaction type (see :data:`_GA_REGISTER`). The paths were read from public client code of the
#: InterConnect project; the adapter has no lease renewal, version or domain-knowledge call.
GENERIC_ADAPTER_ROUTES: Mapping[tuple[str, str], tuple[str, str]] = MappingProxyType(
    {
        ("GET", "/sc"): ("GET", "/smartconnector/"),
        ("POST", "/sc"): ("POST", "/smartconnector/create"),
        ("DELETE", "/sc"): ("DELETE", "/smartconnector/delete"),
        ("GET", "/sc/ki"): ("GET", "/smartconnector/ki/get"),
        ("DELETE", "/sc/ki"): ("DELETE", "/smartconnector/ki/unregister"),
        ("POST", "/sc/ask"): ("POST", "/smartconnector/ask"),
        ("POST", "/sc/post"): ("POST", "/smartconnector/post"),
        ("GET", "/sc/handle"): ("GET", "/smartconnector/handle/start"),
        ("POST", "/sc/handle"): ("POST", "/smartconnector/handle/send"),
    }
)
_GA_REGISTER: Mapping[str, str] = MappingProxyType(
    {
        "AskKnowledgeInteraction": "/smartconnector/ki/register-ask-answer",
        "AnswerKnowledgeInteraction": "/smartconnector/ki/register-ask-answer",
        "PostKnowledgeInteraction": "/smartconnector/ki/register-post-react",
        "ReactKnowledgeInteraction": "/smartconnector/ki/register-post-react",
    }
)
_GA_HEADERS: Mapping[str, str] = MappingProxyType(
    {"knowledge-base-id": "KnowledgeBaseId", "knowledge-interaction-id": "KnowledgeInteractionId"}
)
_KE_HEADERS: Mapping[str, str] = MappingProxyType(
    {"knowledgebaseid": "Knowledge-Base-Id", "knowledgeinteractionid": "Knowledge-Interaction-Id"}
)


class GenericAdapterTransport(Transport):
    """Carries KE REST calls over the InterConnect generic adapter's paths and headers.

    ``inner`` is the transport that reaches the adapter (an ``HTTPTransport`` whose base URL is the
    adapter's, e.g. ``http://localhost:9090``). JSON bodies are the KE's and pass unchanged. Calls
    the adapter does not offer raise :class:`~dso_saref.ke.errors.UnsupportedOperation`.
    """

    def __init__(self, inner: Transport) -> None:
        self._inner = inner

    def handle(self, request: KERequest) -> KEResponse:
        """The adapter's reply to ``request`` translated onto its paths."""
        return self._inner.handle(to_generic_adapter(request))

    def close(self) -> None:
        """Close the inner transport."""
        self._inner.close()


def to_generic_adapter(request: KERequest) -> KERequest:
    """``request`` on the generic adapter's path and header names; raises
    :class:`~dso_saref.ke.errors.UnsupportedOperation` for calls the adapter does not offer."""
    key = (request.method.upper(), request.path)
    if key == ("POST", "/sc/ki"):
        kind = request.json.get("knowledgeInteractionType") if isinstance(request.json, Mapping) else None
        if kind not in _GA_REGISTER:
            raise UnsupportedOperation(
                f"knowledgeInteractionType {kind!r} has no generic adapter registration path"
            )
        method, path = "POST", _GA_REGISTER[kind]
    elif key in GENERIC_ADAPTER_ROUTES:
        method, path = GENERIC_ADAPTER_ROUTES[key]
    else:
        raise UnsupportedOperation(f"the InterConnect generic adapter offers no {key[0]} {key[1]}")
    headers = {_GA_HEADERS.get(name.lower(), name): value for name, value in request.headers.items()}
    return replace(request, method=method, path=path, headers=headers)


def from_generic_adapter(request: KERequest) -> KERequest | None:
    """The KE REST call that a generic adapter request stands for, or ``None`` if ``request`` is
    not on one of the adapter's paths (the emulator uses this to serve both path families).

    Raises :class:`ValueError` when a registration body's ``knowledgeInteractionType`` does not
    belong on the registration path it was sent to.
    """
    method = request.method.upper()
    path = request.path.rstrip("/") or "/"
    target: tuple[str, str] | None = None
    if method == "POST" and path in _GA_REGISTER.values():
        kind = request.json.get("knowledgeInteractionType") if isinstance(request.json, Mapping) else None
        if kind in _GA_REGISTER and _GA_REGISTER[kind] != path:
            raise ValueError(f"knowledgeInteractionType {kind!r} cannot be registered through {path}")
        target = ("POST", "/sc/ki")
    else:
        for ke, ga in GENERIC_ADAPTER_ROUTES.items():
            if ga[0] == method and (ga[1].rstrip("/") or "/") == path:
                target = ke
    if target is None:
        return None
    headers = {_KE_HEADERS.get(name.lower(), name): value for name, value in request.headers.items()}
    return replace(request, method=target[0], path=target[1], headers=headers)
