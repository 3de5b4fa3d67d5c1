"""The developer portal (D4.2 Table 1: API documentation, versioning, code templates to download): a static
site generated from the catalog with the package's Jinja templates, with no external asset (styles are
inline, charts are inline SVG, there is no script).

=============================  ==========================================================================
``index.html``                 every message by use case, the API version, where to start
``api.html``                   the REST API: version, authentication, statuses, every operation
``messages/NAME.html``         one message: purpose, spec section, example, JSON Schema, Turtle, graph
                               patterns, what its shape checks, KE registrations, REST operations
``downloads/...``              examples (JSON, Turtle, N-Triples), JSON Schemas, client snippets, OpenAPI
``changelog.html``             ``CHANGELOG.md``, or a note that this build had none
``status.html``                request rate, latency, exchanges, refusals of the last hours (live only
                               when served by a running DSO: ``/portal/status.html``)
=============================  ==========================================================================

::

    site = Site()
    site.build(Path("portal"))               # dso-saref portal build portal
    site.pages()["messages/hems-voltage.html"]
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from dso_saref.catalog import DEFAULT, ROLES, Catalog
from dso_saref.portal.changelog import find_changelog, render_markdown
from dso_saref.portal.content import MessagePage, Registrations, message_page, use_case
from dso_saref.portal.status import WINDOWS, StatusView, status_view
from dso_saref.rest.openapi import API_VERSION
from dso_saref.rest.operations import DSO_OPERATIONS, PARTNER_OPERATIONS
from dso_saref.rest.problems import __doc__ as STATUSES_DOC

__all__ = ["MEDIA_TYPES", "Site"]

#: The media type of each kind of file of the site.
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json", ".ttl": "text/turtle; charset=utf-8",
               ".nt": "application/n-triples; charset=utf-8", ".py": "text/plain; charset=utf-8",
               ".sh": "text/plain; charset=utf-8"}


def _statuses() -> list[tuple[str, str]]:
    """The table of statuses of :mod:`dso_saref.rest.problems` (its docstring): (status, meaning)."""
    rows: list[tuple[str, str]] = []
    for line in (STATUSES_DOC or "").splitlines():
        code, _, text = line.partition(" ")
        if code.isdigit() and len(code) == 3:
            rows.append((code, text.strip()))
        elif rows and line.startswith("       ") and line.strip():
            rows[-1] = (rows[-1][0], f"{rows[-1][1]} {line.strip()}")
    return rows


class Site:
    """The portal of ``catalog``; ``changelog`` is the ``CHANGELOG.md`` to show (default: the source
    tree's, when there is one); ``version`` is the package's version."""

    def __init__(self, catalog: Catalog = DEFAULT, *, changelog: Path | None = None,
                 version: str | None = None) -> None:
        self.catalog = catalog
        self.changelog = changelog if changelog is not None else find_changelog()
        if version is None:
            from importlib.metadata import PackageNotFoundError
            from importlib.metadata import version as installed

            try:
                version = installed("dso-saref")
            except PackageNotFoundError:
                version = "unknown"
        self.version = version
        self.env = Environment(loader=PackageLoader("dso_saref.portal", "templates"),
                               autoescape=select_autoescape(default=True), undefined=StrictUndefined,
                               trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        self._pages: dict[str, bytes] | None = None
        self._lock = threading.Lock()

    def _render(self, template: str, root: str, **context: Any) -> bytes:
        return self.env.get_template(template).render(root=root, api_version=API_VERSION, version=self.version,
                                                      **context).encode("utf-8")

    def message_pages(self) -> list[MessagePage]:
        """The page of every message, by name."""
        registrations = Registrations.of(self.catalog)
        return [message_page(self.catalog[name], registrations, self.catalog) for name in sorted(self.catalog)]

    def pages(self) -> Mapping[str, bytes]:
        """Every file of the site but the status page, by path (made once, then kept)."""
        with self._lock:
            if self._pages is None:
                self._pages = self._make()
            return self._pages

    def _make(self) -> dict[str, bytes]:
        from dso_saref.rest.app import api_document

        messages = self.message_pages()
        groups: dict[str, list[MessagePage]] = {}
        for page in messages:
            groups.setdefault(page.use_case, []).append(page)
        out: dict[str, bytes] = {}
        for page in messages:
            out[f"messages/{page.name}.html"] = self._render("message.html", "../", page=page, roles=ROLES)
            for download in page.downloads:
                out[f"downloads/{download.name}"] = download.text.encode("utf-8")
        documents = {"openapi.json": api_document("dso"), "partner-openapi.json": api_document("partner")}
        for name, document in documents.items():
            out[f"downloads/{name}"] = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        out["index.html"] = self._render("index.html", "", groups=groups, count=len(messages))
        operations = [("dso", op, use_case(self.catalog[op.exchange])) for op in DSO_OPERATIONS]
        operations += [("partner", op, use_case(self.catalog[op.exchange])) for op in PARTNER_OPERATIONS]
        out["api.html"] = self._render("api.html", "", operations=operations, statuses=_statuses(),
                                       catalog=self.catalog)
        changelog = render_markdown(self.changelog.read_text(encoding="utf-8")) if self.changelog else None
        out["changelog.html"] = self._render("changelog.html", "", changelog=changelog)
        out["status.html"] = self.status(status_view(None))
        return out

    def status(self, view: StatusView) -> bytes:
        """The status page of ``view``."""
        return self._render("status.html", "", view=view, windows=WINDOWS)

    def build(self, directory: Path) -> list[Path]:
        """Write the site under ``directory`` (created if needed); returns the files written."""
        written = []
        for name, content in sorted(self.pages().items()):
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            written.append(path)
        return written
