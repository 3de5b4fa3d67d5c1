"""The DSO's REST API as a running DSO serves it: the API (:func:`~dso_saref.rest.app.create_app`), the
developer portal at ``/portal/`` with its live status page, ``/health``, ``/ready`` and ``/metrics``, one
JSON log line per request, and the metrics its Knowledge Engine side reports to::

    api = dso_api(backend, ke_url="http://127.0.0.1:8280/rest", kb_id=DSO_KB)
    handlers = observed_handlers(backend.handlers(), [api.metrics.exchange, exchange_log()])
    with RestServer(api.app, "127.0.0.1:8080"):
        ...

The portal, the documentation and the monitoring paths are public (no API key): none carries a party's
data; everything else stays behind the gate's bearer key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from fastapi import FastAPI

from dso_saref.backend import DsoBackend
from dso_saref.monitoring.health import Readiness, database_probe, ke_probe
from dso_saref.monitoring.logs import access_log
from dso_saref.monitoring.metrics import Metrics
from dso_saref.monitoring.routes import MONITORING_PATHS, add_monitoring_routes
from dso_saref.portal.serving import PORTAL_PATHS, add_portal
from dso_saref.portal.site import Site
from dso_saref.rest.app import RestConfig, create_app
from dso_saref.rest.gate import Observer

__all__ = ["DsoApi", "dso_api"]


@dataclass(frozen=True)
class DsoApi:
    """A served DSO API: the application, its metrics (give ``metrics.exchange`` to the KE side) and
    its readiness probes."""

    app: FastAPI
    metrics: Metrics
    readiness: Readiness


def dso_api(backend: DsoBackend, *, config: RestConfig | None = None, ke_url: str | None = None,
            kb_id: str | None = None, observers: Sequence[Observer] = (), site: Site | None = None,
            metrics: Metrics | None = None) -> DsoApi:
    """The API over ``backend`` with the portal and monitoring (see the module doc). ``ke_url`` (and the
    DSO's ``kb_id`` on it) make the Knowledge Engine part of readiness; ``observers`` get every request
    besides the metrics and the access log; ``site`` is the portal to serve (default: the catalog's)."""
    config = config or RestConfig()
    public = tuple(dict.fromkeys((*config.public, *MONITORING_PATHS, *PORTAL_PATHS)))
    metrics = metrics or Metrics()
    app = create_app(backend, config=replace(config, public=public),
                     observers=[metrics.observe, access_log(), *observers])
    probes = [database_probe(backend.storage)]
    if ke_url is not None:
        probes.append(ke_probe(ke_url, kb_id=kb_id))
    readiness = Readiness(probes)
    add_monitoring_routes(app, metrics, readiness)
    add_portal(app, site or Site(), history=metrics.history, readiness=readiness)
    app.state.metrics = metrics
    app.state.readiness = readiness
    return DsoApi(app, metrics, readiness)
