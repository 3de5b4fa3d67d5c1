"""Handlers observed: each exchange the DSO serves through them is recorded (answered, refused by the
backend, failed) and runs in the registry's :func:`~dso_saref.backend.registry.request_scope` of its
context's request id (the Knowledge Engine's handle request id, or a new one), so the rows it writes to
the registry of operations and its log lines carry it::

    metrics = Metrics()
    handlers = observed_handlers(backend.handlers(), [metrics.exchange, exchange_log()])
    adapter = Adapter(client, "dso", kb_id=DSO_KB, handlers=handlers)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from dso_saref.backend.errors import Refused
from dso_saref.backend.registry import request_scope
from dso_saref.exchange import ExchangeContext, Handler
from dso_saref.monitoring.exchanges import ANSWERED, FAILED, REFUSED, SERVED, ExchangeObserver, ExchangeRecord, tell

__all__ = ["observed_handlers"]


def observed_handlers(handlers: Mapping[str, Handler],
                      observers: Sequence[ExchangeObserver]) -> dict[str, Handler]:
    """``handlers`` that run in the request scope of their context's request id (a new one when the
    carrier gave none) and tell ``observers`` what came of each exchange they serve."""
    observers = tuple(observers)

    def wrap(name: str, handler: Handler) -> Handler:
        def observed(message: Any, context: ExchangeContext, /) -> Any:
            request_id = str(context.request_id) if context.request_id is not None else uuid.uuid4().hex
            started = time.perf_counter()
            outcome, detail, reason = FAILED, None, None
            try:
                with request_scope(request_id):
                    answer = handler(message, context)
                outcome = ANSWERED
                return answer
            except Refused as exc:
                outcome, detail, reason = REFUSED, exc.detail, exc.code  # the DSO's account, not the requester's
                raise
            except Exception as exc:
                detail = f"{type(exc).__name__}: {exc}"[:500]
                raise
            finally:
                tell(observers, ExchangeRecord(context.exchange or name, SERVED, outcome,
                                               time.perf_counter() - started, request_id,
                                               context.requester, detail, reason))

        return observed

    return {name: wrap(name, handler) for name, handler in handlers.items()}
