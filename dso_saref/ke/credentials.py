"""Credentials for a Knowledge Engine behind a reverse proxy: extra headers, a bearer token or basic
auth, sent by the HTTP transport on every request and never shown::

    client = KnowledgeEngineClient("https://ke.example.org/rest", credentials=Credentials(token="..."))
    repr(Credentials(token="..."))          # 'Credentials(token=***)'

The configuration (:mod:`dso_saref.config`: ``ke_token``, ``ke_username``/``ke_password``,
``ke_headers``) makes them for the commands.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Credentials"]

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: Headers the client sets itself; credentials may not replace them.
_OWN_HEADERS = {"accept", "content-type", "content-length", "host", "knowledge-base-id", "knowledge-interaction-id"}


@dataclass(frozen=True, repr=False)
class Credentials:
    """What a reverse proxy in front of a Knowledge Engine asks for: extra ``headers`` (an API key,
    say), a bearer ``token``, or basic auth (``username`` and ``password``); at most one way to set
    ``Authorization``. Shown masked (``repr``, ``str``), so that logging one reveals nothing.
    Raises ValueError for a header that cannot be sent (a bad name, a line break in a value)."""

    headers: Mapping[str, str] = field(default_factory=dict)
    token: str | None = None
    username: str | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        for name, value in self.headers.items():
            if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"ke_headers: {name!r} is not an HTTP header name")
            if name.lower() in _OWN_HEADERS:
                raise ValueError(f"ke_headers: {name} is set by the client itself")
            if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
                raise ValueError(f"ke_headers: the value of {name} must be one line of text")
        authorization = any(name.lower() == "authorization" for name in self.headers)
        ways = [authorization, self.token is not None, self.username is not None or self.password is not None]
        if sum(ways) > 1:
            raise ValueError("give one of a bearer token, basic auth (username and password) or an "
                             "Authorization header, not several")
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both a username and a password")
        for name, value in (("token", self.token), ("username", self.username), ("password", self.password)):
            if value is not None and (not isinstance(value, str) or not value or any(c in value for c in "\r\n\0")):
                raise ValueError(f"the KE {name} must be one line of text")
        if self.username is not None and ":" in self.username:
            raise ValueError("a basic-auth username cannot hold ':'")

    def http_headers(self) -> dict[str, str]:
        """The headers to send on every request."""
        out = dict(self.headers)
        if self.token is not None:
            out["Authorization"] = f"Bearer {self.token}"
        elif self.username is not None and self.password is not None:
            pair = f"{self.username}:{self.password}".encode()
            out["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return out

    def __repr__(self) -> str:
        shown = [f"headers={sorted(self.headers)}"] if self.headers else []
        if self.token is not None:
            shown.append("token=***")
        if self.username is not None:
            shown.append("username=***, password=***")
        return f"Credentials({', '.join(shown)})"

    __str__ = __repr__
