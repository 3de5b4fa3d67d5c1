"""Helpers of the stand-in's HTTP tests: raw HTTP/1.1 over loopback sockets (for what ``requests``
will not send: half requests, bad Content-Length, endless bodies), and the stand-in in its own process."""

from __future__ import annotations

import json
import re
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from ke_support import REPO, WAIT

LAUNCH = [sys.executable, "-m", "dso_saref.ke.standin"]


@dataclass
class RawResponse:
    """One HTTP response as it came over the socket."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def json(self) -> object:
        return json.loads(self.body)

    def is_ke_error(self) -> bool:
        """Whether the body is the KE's error format."""
        body = self.json
        return isinstance(body, dict) and set(body) == {"messageType", "message"} and isinstance(body["message"], str)


def connect(port: int, timeout: float = WAIT) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_response(sock: socket.socket) -> RawResponse:
    """Read one response (with a Content-Length, as the stand-in always sends) from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a whole response head: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed in the middle of a response body")
        body += chunk
    return RawResponse(int(status_line.split()[1]), headers, body[:length])


def exchange(port: int, data: bytes, timeout: float = WAIT) -> RawResponse:
    """Send ``data`` on a new connection and read the one response."""
    with connect(port, timeout) as sock:
        sock.sendall(data)
        return read_response(sock)


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """A whole HTTP/1.1 request as bytes (``Connection: close``)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def closed_by_peer(sock: socket.socket) -> bool:
    """Read until the server closes ``sock`` (True) or the socket's timeout passes (False)."""
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def send_until_answered(port: int, head: bytes, chunk: bytes, most: int) -> tuple[int, int]:
    """Send ``head``, then ``chunk`` after ``chunk`` (at most ``most`` bytes) until a response is
    readable; the response status and how many body bytes went out."""
    with connect(port) as sock:
        sock.sendall(head)
        sent = 0
        while sent < most:
            readable, writable, _ = select.select([sock], [sock], [], WAIT)
            if readable:
                break
            if writable:
                try:
                    sent += sock.send(chunk)
                except OSError:
                    break
        return read_response(sock).status, sent


class StandinProcess:
    """``python -m dso_saref.ke.standin --port 0 ...`` in its own process; knows its URL."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([*LAUNCH, "--port", "0", *args], cwd=REPO, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        banner = self.process.stdout.readline()  # the caller's watchdog ends a process that never prints it
        found = re.search(r"at (http://127\.0\.0\.1:(\d+)/rest)", banner)
        assert found, (banner, self.process.stderr.read() if self.process.stderr else "")
        self.base_url = found.group(1)
        self.port = int(found.group(2))

    def stop(self, sig: int, bound: float) -> tuple[float, str, str]:
        """Send ``sig``; the seconds until the process exited (failing past ``bound``), its stdout and stderr."""
        began = time.monotonic()
        self.process.send_signal(sig)
        try:
            out, err = self.process.communicate(timeout=bound)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
            raise AssertionError(f"the stand-in did not stop within {bound} s: {err}") from None
        return time.monotonic() - began, out, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
