"""Monitoring the DSO (D4.2 3.3 "monitoring: analytics, errors, error reports", Table 12 "logs and alerts").

- :mod:`~dso_saref.monitoring.metrics`: Prometheus metrics of the REST API and the Knowledge Engine
  exchanges, and the recent history the portal's status page plots;
- :mod:`~dso_saref.monitoring.history`: per-minute counts and latencies of the last hours;
- :mod:`~dso_saref.monitoring.exchanges`: what an exchange carrier (the KE adapter) tells the metrics;
- :mod:`~dso_saref.monitoring.observed`: the DSO's handlers, observed (each exchange served recorded, in
  the request scope of its request id);
- :mod:`~dso_saref.monitoring.logs`: JSON-lines logs carrying each request's id;
- :mod:`~dso_saref.monitoring.health`: liveness and readiness (database and Knowledge Engine reachable);
- :mod:`~dso_saref.monitoring.errors`: the error report of the registry of operations and the logs;
- :mod:`~dso_saref.monitoring.routes`: ``/health``, ``/ready`` and ``/metrics`` on a FastAPI application.

Nothing here is imported by ``import dso_saref``::

    metrics = Metrics()
    app = create_app(backend, observers=[metrics.observe, access_log()])
    add_monitoring_routes(app, metrics, Readiness([database_probe(backend.storage)]))
"""
