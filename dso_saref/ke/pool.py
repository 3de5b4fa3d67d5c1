"""A bounded pool of handler threads: the exchanges a knowledge base serves at once.

The adapter's poller takes work off the Knowledge Engine's long poll and hands it to the pool, then
polls again at once, so the long poll keeps being served while handlers run. At most ``workers``
handlers run at once and at most ``backlog`` more wait their turn; when both are taken the poller
waits for room before it polls, and the work stays queued at the KE. Keep ``workers + backlog``
below the KE's limit of 100 delivered-but-unanswered requests per knowledge base::

    pool = HandlerPool(workers=8, backlog=64)
    pool.wait_for_room(stop.is_set)   # False once stop is set or the pool closes
    pool.submit(lambda: serve_one(request))
    pool.drain(timeout=10.0)          # at shutdown: let running and waiting work finish
    pool.close()

A task that raises is logged and ends only its own exchange (the adapter answers the asker first).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

__all__ = ["MAX_OUTSTANDING", "HandlerPool"]

log = logging.getLogger(__name__)

#: The KE's limit of handle requests delivered to a knowledge base and not yet answered.
MAX_OUTSTANDING = 100
_RECHECK = 0.05  # seconds between two looks at a drain's ``settled`` condition


class HandlerPool:
    """Runs tasks on at most ``workers`` threads with at most ``backlog`` more waiting (see the module doc)."""

    def __init__(self, workers: int = 1, backlog: int = 0, *, name: str = "ke-handler") -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
        if isinstance(backlog, bool) or not isinstance(backlog, int) or backlog < 0:
            raise ValueError(f"backlog must be a non-negative integer, got {backlog!r}")
        if workers + backlog >= MAX_OUTSTANDING:
            raise ValueError(f"workers + backlog must stay below the KE's {MAX_OUTSTANDING} outstanding "
                             f"requests per knowledge base, got {workers} + {backlog}")
        self.workers = workers
        self.capacity = workers + backlog
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._cond = threading.Condition()
        self._pending = 0
        self._closed = False

    @property
    def pending(self) -> int:
        """Tasks running or waiting."""
        with self._cond:
            return self._pending

    def wait_for_room(self, stopped: Callable[[], bool] = lambda: False) -> bool:
        """Block until a task can be taken; ``False`` when ``stopped()`` or the pool is closed. Whoever
        makes ``stopped()`` true calls :meth:`wake` (closing the pool does); a finished task wakes too."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or stopped() or self._pending < self.capacity)
            return not self._closed and not stopped()

    def wake(self) -> None:
        """Wake :meth:`wait_for_room` so that it sees a stop."""
        with self._cond:
            self._cond.notify_all()

    def submit(self, task: Callable[[], None]) -> None:
        """Run ``task`` on a worker thread (after the waiting ones); raises ``RuntimeError`` once closed."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the handler pool is closed")
            self._pending += 1
        try:
            self._executor.submit(self._run, task)
        except RuntimeError:
            self._done()
            raise

    def _run(self, task: Callable[[], None]) -> None:
        try:
            task()
        except Exception:  # the task answered its asker already; nothing else may suffer
            log.exception("a handler task failed")
        finally:
            self._done()

    def _done(self) -> None:
        with self._cond:
            self._pending -= 1
            self._cond.notify_all()

    def drain(self, timeout: float | None = None, settled: Callable[[], bool] = lambda: True) -> bool:
        """Wait until every task taken has finished and ``settled()`` holds (at most ``timeout``
        seconds; ``settled`` is looked at again every :data:`_RECHECK` seconds); whether both hold."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not (self._pending == 0 and settled()):
                remaining = _RECHECK if deadline is None else min(_RECHECK, deadline - time.monotonic())
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self) -> None:
        """Take no more tasks and release the threads once the taken ones have finished (does not wait)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._executor.shutdown(wait=False)
