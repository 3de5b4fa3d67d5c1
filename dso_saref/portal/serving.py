"""The portal served by a running DSO at ``/portal/``: the pages of :class:`~dso_saref.portal.site.Site`
(made on the first request, then kept) and a live status page drawn from the application's metrics and
readiness probes at each request.

``/portal`` and everything under ``/portal/`` are public paths (:data:`PORTAL_PATHS`, to add to
``RestConfig.public``): the portal documents the API and holds no party's data::

    add_portal(app, Site(), history=metrics.history, readiness=readiness)
"""

from __future__ import annotations

from pathlib import PurePosixPath

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dso_saref.monitoring.health import Readiness
from dso_saref.monitoring.history import Activity
from dso_saref.portal.site import MEDIA_TYPES, Site
from dso_saref.portal.status import status_view

__all__ = ["PORTAL_PATHS", "add_portal"]

#: The paths :func:`add_portal` serves (an exact path and a prefix).
PORTAL_PATHS = ("/portal", "/portal/")

_NOT_FOUND = (b'<!DOCTYPE html><html lang="en"><title>Not found</title><p>No such page of the portal: '
              b'<a href="/portal/">the index</a>.</p></html>')


def _hours(text: str | None) -> float:
    try:
        hours = float(text) if text is not None else 6.0
    except ValueError:
        return 6.0
    return min(max(hours, 1 / 60), 24.0) if hours == hours else 6.0  # NaN -> the default


def add_portal(app: FastAPI, site: Site, *, history: Activity | None = None,
               readiness: Readiness | None = None) -> None:
    """Serve ``site`` at ``/portal/`` on ``app``, its status page live from ``history`` and ``readiness``
    (``?hours=`` chooses the window, 1 minute to 24 hours)."""

    def index(request: Request) -> Response:
        return RedirectResponse("/portal/", status_code=308)

    def page(request: Request) -> Response:
        name = request.path_params.get("name") or "index.html"
        if name == "status.html" and history is not None:
            view = status_view(history, readiness, hours=_hours(request.query_params.get("hours")))
            return Response(site.status(view), media_type=MEDIA_TYPES[".html"], headers={"Cache-Control": "no-store"})
        content = site.pages().get(name)
        if content is None:
            return Response(_NOT_FOUND, status_code=404, media_type=MEDIA_TYPES[".html"])
        path = PurePosixPath(name)
        headers = {"Cache-Control": "max-age=300"}
        if name.startswith("downloads/"):
            headers["Content-Disposition"] = f'inline; filename="{path.name}"'
        return Response(content, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"), headers=headers)

    app.add_api_route("/portal", index, methods=["GET"], include_in_schema=False)
    app.add_api_route("/portal/", page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/portal/{name:path}", page, methods=["GET"], include_in_schema=False)
