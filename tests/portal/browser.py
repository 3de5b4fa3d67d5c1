"""A headless Chromium driven over the DevTools protocol (one WebSocket, ``websocket-client``): the system's
browser (Debian's ``chromium``), never one downloaded at run time.

The browser runs in a session of its own on a throw-away profile with ``--remote-debugging-port=0``; the
port it picked is read from the profile's ``DevToolsActivePort`` file. Waiting is event-driven: a
navigation waits for ``Page.loadEventFired``, a condition is awaited inside the page (a promise that
re-checks it until it holds or its deadline passes)::

    with Chromium.start(tmp_path) as browser:
        page = browser.new_page()
        page.navigate("http://127.0.0.1:8080/portal/")
        page.wait_for("document.querySelector('h1')")
        page.screenshot(tmp_path / "index.png")
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import websocket

#: Where Debian and others install Chromium (``CHROMIUM`` in the environment names another).
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a Chromium on this machine, or ``None``."""
    named = os.environ.get("CHROMIUM")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


class DevToolsError(RuntimeError):
    """The browser answered a command with an error, or an awaited condition never held."""


class Page:
    """One tab, attached with a flat session."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a command to the tab; its result."""
        return self.browser.send(method, params, session=self.session)

    def navigate(self, url: str, *, timeout: float = 30.0) -> None:
        """Load ``url`` and wait for its load event."""
        self.browser.events.clear()
        reply = self.send("Page.navigate", {"url": url})
        if reply.get("errorText"):
            raise DevToolsError(f"{url}: {reply['errorText']}")
        self.browser.wait_event("Page.loadEventFired", session=self.session, timeout=timeout)

    def evaluate(self, expression: str, *, timeout: float = 30.0) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True, "timeout": timeout * 1000})
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            raise DevToolsError(details.get("exception", {}).get("description") or details.get("text", "error"))
        return reply.get("result", {}).get("value")

    def wait_for(self, condition: str, *, timeout: float = 20.0) -> Any:
        """Wait (inside the page) until the JavaScript ``condition`` is truthy; its value (``True`` for an
        object, such as an element)."""
        script = (f"new Promise((resolve, reject) => {{ const deadline = Date.now() + {int(timeout * 1000)};"
                  f" (function check() {{ let value; try {{ value = ({condition}); }} catch (e) {{ value = null; }}"
                  f" if (value) resolve(typeof value === 'object' ? true : value);"
                  f" else if (Date.now() > deadline) reject(new Error({json.dumps('never held: ' + condition)}));"
                  f" else setTimeout(check, 50); }})(); }})")
        return self.evaluate(script, timeout=timeout + 5)

    def click(self, selector: str) -> None:
        """Click the first element matching ``selector`` (raises when there is none)."""
        found = self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                              f" if (!e) return false; e.scrollIntoView(); e.click(); return true; }})()")
        if not found:
            raise DevToolsError(f"nothing matches {selector}")

    def type_into(self, selector: str, text: str) -> None:
        """Focus the element matching ``selector`` and type ``text`` as keyboard input."""
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", {"text": text})

    def screenshot(self, path: Path, selector: str | None = None) -> Path:
        """A PNG at ``path`` of the whole page, or of the first element matching ``selector``."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
        if selector is not None:
            box = self.evaluate(f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                                f".getBoundingClientRect(); return {{x: r.left + scrollX, y: r.top + scrollY, "
                                f"width: r.width, height: r.height}}; }})()")
            params["clip"] = {**box, "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


class Chromium:
    """A headless Chromium process and the WebSocket to its browser endpoint; ``events`` keeps the events
    received while waiting for replies."""

    def __init__(self, process: subprocess.Popen[bytes], socket: websocket.WebSocket) -> None:
        self.process = process
        self.socket = socket
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    @classmethod
    def start(cls, profile: Path, *, binary: str | None = None, timeout: float = 30.0) -> Chromium:
        """Start the browser with a new profile under ``profile``; raises DevToolsError if it does not
        open its DevTools endpoint within ``timeout`` seconds."""
        binary = binary or find_chromium()
        if binary is None:
            raise DevToolsError("no Chromium on this machine")
        profile.mkdir(parents=True, exist_ok=True)
        args = [binary, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--disable-component-update", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--window-size=1280,900",
                f"--user-data-dir={profile}", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run its sandbox as root
        log = (profile / "chromium.log").open("wb")
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.is_file() and len(port_file.read_text().split()) >= 2):  # an external process
            if process.poll() is not None or time.monotonic() > deadline:
                _stop(process)
                raise DevToolsError(f"Chromium did not start: {(profile / 'chromium.log').read_text()[-2000:]}")
            time.sleep(0.05)
        port, path = port_file.read_text().split()[:2]
        socket = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=timeout, suppress_origin=True)
        return cls(process, socket)

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None) -> dict[str, Any]:
        """Send a command and return its result; events that arrive meanwhile are kept."""
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        while True:
            reply = json.loads(self.socket.recv())
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise DevToolsError(f"{method}: {reply['error'].get('message')}")
                return dict(reply.get("result", {}))
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, *, session: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for event ``method`` (of ``session``), kept or still to come."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event["method"] == method and (session is None or event.get("sessionId") == session):
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DevToolsError(f"no {method} within {timeout} s")
            self.socket.settimeout(remaining)
            try:
                reply = json.loads(self.socket.recv())
            except websocket.WebSocketTimeoutException:
                continue
            finally:
                self.socket.settimeout(timeout)
            if "method" in reply:
                self.events.append(reply)

    def new_page(self) -> Page:
        """A new tab, with the Page, Runtime and Network domains on."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Network"):
            page.send(f"{domain}.enable")
        return page

    def requested_urls(self) -> list[str]:
        """Every URL the browser's pages requested (``Network.requestWillBeSent``) since the last navigation."""
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def close(self) -> None:
        """Close the connection and stop the browser (its whole process group)."""
        with contextlib.suppress(Exception):
            self.socket.close()
        _stop(self.process)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
