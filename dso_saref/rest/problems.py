"""Error responses of the REST API (``application/problem+json``, RFC 9457) and the statuses of Table 13.

Every refusal is one :class:`RestError` carrying its status and a reason in words the caller may read;
a body that is not a valid message carries the validation report (each error at its JSON path). The body
never holds a traceback, an SQL statement or any data of the resource asked for::

    raise RestError(403, "the token was issued to another service provider")
    problem_response(RestError(400, "invalid flexibility-offers", report=report.to_dict()), request_id)

=====  =============================================================================================
200    the answer (a GET; a POST answered by a rejected acknowledgement or an authorization not granted)
201    created: an accepted acknowledgement (offers stored, notification recorded), a consent granted
202    accepted, not done: a consent waiting for the end user's decision
400    an invalid body, query or header: the validation report (each error at its JSON path)
401    no API key, or an unknown, malformed, expired or revoked one
403    an authenticated party asking what is not its own: an exchange its role does not start, another
       party's resource, end user data without a consent that covers it
404    no such resource (a path of the API that does not exist, an unknown identifier)
405    a method the path does not take
406    an ``Accept`` that names none of the API's media types
415    a body in a media type the API does not read
500    the DSO failed; the body says only that, with the request id to quote
=====  =============================================================================================
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field
from starlette.responses import Response

from dso_saref.rest.media import PROBLEM

__all__ = ["ErrorBody", "ReportBody", "RestError", "ViolationBody", "problem_response"]


class RestError(Exception):
    """A refusal: the HTTP ``status``, a ``detail`` the caller may read, the validation ``report`` (400)
    and extra ``headers`` (``WWW-Authenticate``, ``Allow``)."""

    def __init__(self, status: int, detail: str, *, report: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.detail = detail
        self.report = report
        self.headers = headers or {}
        super().__init__(f"{status}: {detail}")


class ViolationBody(BaseModel):
    """One problem of a request, at the place to fix it."""

    location: str = Field(description="A JSONPath ($.readings[0].time) for JSON, `<focus> property` for RDF")
    message: str
    rule: str
    layer: str = Field(description="input, model or shape")
    severity: str = "violation"
    shape: str | None = None
    focus: str | None = None
    path: str | None = None
    value: str | None = None


class ReportBody(BaseModel):
    """The validation report of a request (dso_saref.validate)."""

    message: str = Field(description="The catalog name of the message the request should be")
    input: str
    conforms: bool
    errors: list[ViolationBody]
    warnings: list[ViolationBody]


class ErrorBody(BaseModel):
    """An error (``application/problem+json``): what went wrong, in words, and the request id to quote."""

    title: str
    status: int
    detail: str
    request_id: str
    report: ReportBody | None = None


def problem_response(error: RestError, request_id: str) -> Response:
    """The response of a refusal."""
    body: dict[str, Any] = {"title": HTTPStatus(error.status).phrase, "status": error.status, "detail": error.detail,
                            "request_id": request_id}
    if error.report is not None:
        body["report"] = error.report
    return Response(json.dumps(body, ensure_ascii=False).encode("utf-8"), status_code=error.status,
                    media_type=PROBLEM, headers=error.headers)
