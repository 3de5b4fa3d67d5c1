"""``/health``, ``/ready`` and ``/metrics`` on a FastAPI application.

- ``GET /health``: 200 ``{"status": "ok"}`` while the process serves (liveness: it checks nothing else);
- ``GET /ready``: 200 when every readiness probe passes, else 503; the body lists each check;
- ``GET /metrics``: the Prometheus text format.

They are public paths (:data:`MONITORING_PATHS`, to add to ``RestConfig.public``): a probe or a scraper
has no API key, and none of them carries data of a party::

    add_monitoring_routes(app, metrics, Readiness([database_probe(storage)]))
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dso_saref.monitoring.health import Readiness
from dso_saref.monitoring.metrics import Metrics

__all__ = ["MONITORING_PATHS", "add_monitoring_routes"]

#: The paths :func:`add_monitoring_routes` serves.
MONITORING_PATHS = ("/health", "/ready", "/metrics")


def add_monitoring_routes(app: FastAPI, metrics: Metrics, readiness: Readiness) -> None:
    """Serve ``/health``, ``/ready`` (``readiness``'s probes, run in a worker thread) and ``/metrics``."""

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})

    def ready(request: Request) -> Response:
        checks = readiness.run()
        ok = all(c.ok for c in checks)
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": [c.to_dict() for c in checks]},
                            status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})

    def exposition(request: Request) -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})

    app.add_api_route("/health", health, methods=["GET"], include_in_schema=False)
    app.add_api_route("/ready", ready, methods=["GET"], include_in_schema=False)
    app.add_api_route("/metrics", exposition, methods=["GET"], include_in_schema=False)
