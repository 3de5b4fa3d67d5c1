"""Errors of the Knowledge Engine side: what the KE answered, or that it could not be reached.

Every error carries the HTTP ``status`` (``None`` when no answer arrived) and the decoded ``body``
of the reply (the KE's ``{"messageType": "error", "message": ...}``, or its plain text). Errors of
the HTTP library are converted at the transport boundary with ``raise ... from exc``::

    DsoSarefError                           (dso_saref.errors)
    └── KnowledgeEngineError                anything the KE side reports; status + body
        ├── BadRequest                      400: a bad id, pattern, binding set or body
        ├── NotFound                        404: an unknown knowledge interaction or handle request
        │   └── KnowledgeBaseNotFound       404: the knowledge base is unknown (the KE restarted,
        │                                   its lease expired): register everything again
        ├── Conflict                        409: a second long poll for the same knowledge base
        ├── Gone                            410: the long poll was stopped (KE or KB stopping)
        ├── ServerError                     5xx: the KE failed; poll or try again
        ├── UnexpectedResponse              a status or body the API does not define
        ├── UnsupportedOperation            the transport cannot carry this call (e.g. the
        │                                   generic adapter has no lease renewal)
        └── KnowledgeEngineUnavailable      no answer: connection refused, reset, DNS failure
            └── KnowledgeEngineTimeout      no answer within the configured timeout

Usage::

    try:
        request = client.poll(kb_id)
    except KnowledgeBaseNotFound:
        register_again()
    except Gone:
        stop()
"""

from __future__ import annotations

from collections.abc import Mapping

from dso_saref.errors import DsoSarefError

__all__ = [
    "BadRequest",
    "Conflict",
    "Gone",
    "KnowledgeBaseNotFound",
    "KnowledgeEngineError",
    "KnowledgeEngineTimeout",
    "KnowledgeEngineUnavailable",
    "NotFound",
    "ServerError",
    "UnexpectedResponse",
    "UnsupportedOperation",
    "error_for_status",
]


class KnowledgeEngineError(DsoSarefError):
    """Something the Knowledge Engine side reported: ``status`` (or ``None``) and decoded ``body``."""

    def __init__(self, message: str, *, status: int | None = None, body: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body


class BadRequest(KnowledgeEngineError):
    """400: the KE refused the request (a bad IRI, pattern, binding set or body)."""


class NotFound(KnowledgeEngineError):
    """404: the knowledge interaction or handle request named in the request is unknown."""


class KnowledgeBaseNotFound(NotFound):
    """404 where it means the knowledge base is unknown: register it (and its KIs) again."""


class Conflict(KnowledgeEngineError):
    """409: another long poll for the same knowledge base is already open."""


class Gone(KnowledgeEngineError):
    """410: the long poll was ended because the KE or the knowledge base is stopping; do not poll again."""


class ServerError(KnowledgeEngineError):
    """5xx: the KE failed to handle the request; the KE asks to simply try again."""


class UnexpectedResponse(KnowledgeEngineError):
    """A status code or body that the KE REST API does not define for this call."""


class UnsupportedOperation(KnowledgeEngineError):
    """The transport cannot carry this call (the generic adapter has no lease renewal, for example)."""


class KnowledgeEngineUnavailable(KnowledgeEngineError):
    """No reply from the KE: the connection was refused, reset or could not be made."""


class KnowledgeEngineTimeout(KnowledgeEngineUnavailable):
    """No reply from the KE within the configured timeout."""


_BY_STATUS: Mapping[int, type[KnowledgeEngineError]] = {
    400: BadRequest,
    404: NotFound,
    409: Conflict,
    410: Gone,
}


def error_for_status(
    status: int,
    body: object,
    *,
    operation: str,
    not_found: type[NotFound] = NotFound,
) -> KnowledgeEngineError:
    """The error to raise for a non-success reply to ``operation`` (a short description such as
    ``"POST /sc/ask"``); ``not_found`` picks the 404 class where the call says what is missing."""
    detail = _detail(body)
    message = f"{operation} failed with HTTP {status}" + (f": {detail}" if detail else "")
    if status == 404:
        return not_found(message, status=status, body=body)
    if status >= 500:
        return ServerError(message, status=status, body=body)
    cls = _BY_STATUS.get(status, UnexpectedResponse)
    return cls(message, status=status, body=body)


def _detail(body: object) -> str:
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return str(body["message"])
    if isinstance(body, str):
        return body.strip()[:500]
    return ""
