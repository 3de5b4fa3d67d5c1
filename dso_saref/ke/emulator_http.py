"""The Knowledge Engine emulator over HTTP, with the standard library's ``ThreadingHTTPServer``.

The KE REST API is served under ``/rest`` (``http://127.0.0.1:8280/rest/sc``, as the KE), the
InterConnect generic adapter's paths at the root (``http://127.0.0.1:8280/smartconnector/ask``).
Port 0 picks a free port::

    with EmulatorServer(port=0) as server:
        client = KnowledgeEngineClient(server.base_url)
        print(client.version())
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from dso_saref.ke.emulator import KnowledgeEngineEmulator
from dso_saref.ke.transport import KERequest, KEResponse

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "EmulatorServer"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8280
_GA_PREFIX = "/smartconnector"


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that knows its emulator; joins its request threads on close."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], emulator: KnowledgeEngineEmulator, base_path: str) -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator
        self.base_path = base_path


class _Handler(BaseHTTPRequestHandler):
    # One request per connection: a closing server never waits on idle keep-alive connections.
    protocol_version = "HTTP/1.0"
    server: _Server
    server_version = "dso-saref-ke-emulator"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the emulator does not write a line per request."""

    def _serve(self) -> None:
        path = urlsplit(self.path).path
        base = self.server.base_path
        if path == base or path.startswith(base + "/"):
            path = path[len(base):] or "/"
        elif not (path == _GA_PREFIX or path.startswith(_GA_PREFIX + "/")):
            self._send(KEResponse(404, {"messageType": "error", "message": f"no such path: {path}"}))
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        body: object = None
        text: str | None = None
        try:
            decoded = raw.decode("utf-8")
            if raw and self.headers.get_content_type() == "text/plain":
                text = decoded
            elif raw:
                body = json.loads(decoded)
        except ValueError as exc:
            self._send(KEResponse(400, {"messageType": "error", "message": f"the body is not valid JSON: {exc}"}))
            return
        request = KERequest(self.command, path, dict(self.headers.items()), body, text)
        self._send(self.server.emulator.handle(request))

    def _send(self, response: KEResponse) -> None:
        if response.json is not None:
            payload = json.dumps(response.json, ensure_ascii=False).encode("utf-8")
            content_type: str | None = "application/json; charset=UTF-8"
        elif response.text:
            payload, content_type = response.text.encode("utf-8"), "text/plain; charset=UTF-8"
        else:
            payload, content_type = b"", None
        try:
            self.send_response(response.status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its long-poll timeout); nothing left to tell it


class EmulatorServer:
    """Serves a :class:`~dso_saref.ke.emulator.KnowledgeEngineEmulator` over HTTP in a background
    thread. :meth:`start` (or ``with``) to serve, :meth:`close` to stop the emulator (long polls
    get 410) and the server. Binds ``127.0.0.1`` unless told otherwise."""

    def __init__(
        self,
        emulator: KnowledgeEngineEmulator | None = None,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        base_path: str = "/rest",
    ) -> None:
        if not base_path.startswith("/") or base_path.endswith("/"):
            raise ValueError(f"base_path must start and not end with '/', got {base_path!r}")
        self.emulator = emulator or KnowledgeEngineEmulator()
        self._server = _Server((host, port), self.emulator, base_path)
        self.host = host
        self.port = int(self._server.server_address[1])
        self.base_path = base_path
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def root_url(self) -> str:
        """``http://host:port`` (where the generic adapter's ``/smartconnector`` paths are)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The KE REST base, ``http://host:port/rest``."""
        return self.root_url + self.base_path

    def start(self) -> Self:
        """Serve in a background thread; returns ``self``."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                    name=f"ke-emulator-{self.port}", daemon=True,
                )
                self._thread.start()
        return self

    def close(self) -> None:
        """Stop the emulator and the server; waits for every request thread. Idempotent."""
        self.emulator.close()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._server.shutdown()
            thread.join()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
