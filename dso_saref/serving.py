"""uvicorn serving in a thread of this process: :class:`ThreadServer` tells when it listens, stops as
soon as :meth:`ThreadServer.stop` is called (uvicorn alone looks for the request to stop every 0.1 s;
signals stay uvicorn's, which listens to them only in the main thread), and may bound the threads its
application's blocking work runs on (the requests beyond wait their turn)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

import uvicorn
from anyio import to_thread

__all__ = ["ThreadServer", "checked_threads"]

#: uvicorn's tick: the date header and its other periodic work run every tenth of a second.
_TICK = 0.1


def checked_threads(threads: int) -> int:
    """``threads`` when it is a positive integer; raises ValueError otherwise."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    return threads


class ThreadServer(uvicorn.Server):
    """uvicorn's server for a background thread: ``listening`` is set once it serves; :meth:`stop`
    begins its graceful shutdown at once, from any thread. ``threads`` bounds the worker threads of its
    event loop (anyio's default limiter, which Starlette's ``run_in_threadpool`` takes: 40 when ``None``);
    the calls beyond wait their turn (the limiter serves its waiters first come, first served)."""

    def __init__(self, config: uvicorn.Config, *, threads: int | None = None) -> None:
        super().__init__(config)
        self._threads = None if threads is None else checked_threads(threads)
        self.listening = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if self._threads is not None:
            to_thread.current_default_thread_limiter().total_tokens = self._threads
        await super().startup(sockets=sockets)
        self.listening.set()

    async def main_loop(self) -> None:
        """uvicorn's ticks, each cut short by :meth:`stop`."""
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), _TICK)

    def stop(self) -> None:
        """Begin the graceful shutdown now (callable from any thread)."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(wake.set)
