"""Logs as JSON lines: one JSON object per line, with the request id of the request or exchange being
served, for a log shipper or ``dso-saref report errors --log``.

Every line has ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and ``request_id`` (the
one in its fields, else the enclosing :func:`~dso_saref.backend.registry.request_scope`'s, else ``null``); the
fields a caller passes as ``extra={"fields": {...}}`` are added, and ``exception`` holds a traceback::

    handler = json_lines_handler(sys.stderr)           # or a path
    logging.getLogger("dso_saref").addHandler(handler)
    app = create_app(backend, observers=[access_log()])
    handlers = observed_handlers(backend.handlers(), [exchange_log()])

:func:`access_log` writes one line per REST request (logger ``dso_saref.access``), :func:`exchange_log`
one per Knowledge Engine exchange (logger ``dso_saref.exchanges``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from dso_saref.backend.registry import current_request_id
from dso_saref.monitoring.exchanges import ANSWERED, ExchangeRecord
from dso_saref.rest.gate import RequestRecord

__all__ = ["ACCESS_LOGGER", "EXCHANGE_LOGGER", "JsonLinesFormatter", "access_log", "exchange_log",
           "json_lines_handler"]

ACCESS_LOGGER = "dso_saref.access"
EXCHANGE_LOGGER = "dso_saref.exchanges"


class JsonLinesFormatter(logging.Formatter):
    """Formats a log record as one JSON object (see the module doc)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        fields = fields if isinstance(fields, dict) else {}
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": fields.get("request_id") or current_request_id(),
        }
        line.update({k: v for k, v in fields.items() if k not in line})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def json_lines_handler(target: IO[str] | str | Path, *, level: int = logging.INFO) -> logging.Handler:
    """A handler writing JSON lines to a stream, or appending them to a file (UTF-8)."""
    handler: logging.Handler
    if isinstance(target, str | Path):
        handler = logging.FileHandler(target, encoding="utf-8")
    else:
        handler = logging.StreamHandler(target)
    handler.setFormatter(JsonLinesFormatter())
    handler.setLevel(level)
    return handler


def access_log(logger: logging.Logger | None = None) -> Callable[[RequestRecord], None]:
    """A REST request observer writing one line per request: INFO, WARNING for a 4xx refusal other
    than 404, ERROR for a 5xx."""
    logger = logger or logging.getLogger(ACCESS_LOGGER)

    def observe(record: RequestRecord) -> None:
        level = (logging.ERROR if record.status >= 500 else
                 logging.WARNING if record.status >= 400 and record.status != 404 else logging.INFO)
        if not logger.isEnabledFor(level):
            return
        fields = {"request_id": record.request_id, "method": record.method, "path": record.path,
                  "operation": record.operation, "status": record.status,
                  "ms": round(record.seconds * 1000, 3), "party": record.party, "refusal": record.refusal}
        logger.log(level, "%s %s -> %d", record.method, record.path, record.status, extra={"fields": fields})

    return observe


def exchange_log(logger: logging.Logger | None = None) -> Callable[[ExchangeRecord], None]:
    """An exchange observer writing one line per exchange: INFO when answered, WARNING otherwise."""
    logger = logger or logging.getLogger(EXCHANGE_LOGGER)

    def observe(record: ExchangeRecord) -> None:
        level = logging.INFO if record.outcome == ANSWERED else logging.WARNING
        if not logger.isEnabledFor(level):
            return
        fields = {"request_id": record.request_id, "channel": "ke", "interaction": record.interaction,
                  "side": record.side, "outcome": record.outcome, "ms": round(record.seconds * 1000, 3),
                  "peer": record.peer, "detail": record.detail, "reason": record.reason}
        logger.log(level, "%s %s: %s", record.side, record.interaction, record.outcome, extra={"fields": fields})

    return observe
