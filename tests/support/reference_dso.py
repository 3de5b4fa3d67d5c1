"""The reference DSO (seeded: SP001 has an agreement with it) serving on an in-process KE stand-in, for
tests that talk to it through the command line or a proxy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dso_saref.app.seed import seed
from dso_saref.backend import DsoBackend, Storage
from dso_saref.ke import EmulatorServer, KnowledgeEngineClient
from dso_saref.ke.adapter import Adapter

#: The knowledge base the reference DSO registers.
DSO_KB = "https://dso.example.org/kb"


@contextmanager
def reference_dso_on_standin() -> Iterator[EmulatorServer]:
    """A KE stand-in on a free loopback port with the seeded reference DSO answering on it."""
    with EmulatorServer(port=0) as server, Storage(":memory:") as storage:
        client = KnowledgeEngineClient(server.base_url)
        backend = DsoBackend(storage)
        seed(backend)  # SP001 and its agreement with the DSO
        adapter = Adapter(client, "dso", kb_id=DSO_KB, handlers=backend.handlers())
        adapter.register()
        with serving(adapter):
            yield server


@contextmanager
def serving(adapter: Adapter, timeout: float = 15.0) -> Iterator[threading.Thread]:
    """``adapter`` (registered) serving in a thread; closed, with its client, and its thread ended (within
    ``timeout`` seconds) afterwards."""
    stop = threading.Event()
    thread = threading.Thread(target=adapter.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        adapter.close()
        thread.join(timeout=timeout)
        adapter.client.close()
