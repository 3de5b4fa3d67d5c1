"""Run the Knowledge Engine stand-in as a process until SIGINT or SIGTERM::

    python -m dso_saref.ke.standin --port 8280 --exchange-timeout 10

It prints ``Knowledge Engine stand-in at http://127.0.0.1:8280/rest (...)`` once it listens and
``stopped`` when it has stopped (exit code 0); warnings (no tracebacks for clients' errors) go to
stderr. The ``dso-saref ke emulate`` command offers the same through the CLI.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from dso_saref.ke.emulator import EmulatorConfig
from dso_saref.ke.emulator_asgi import GA_PREFIX, ServerLimits
from dso_saref.ke.emulator_http import DEFAULT_HOST, DEFAULT_PORT, serve_emulator

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the stand-in until SIGINT or SIGTERM; the exit code (0, or 1 if the address is taken)."""
    parser = argparse.ArgumentParser(prog="python -m dso_saref.ke.standin",
                                     description="Run a Knowledge Engine stand-in (REST API 1.5.0).")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to bind, 0: any (default %(default)s)")
    parser.add_argument("--handle-timeout", type=float, default=29.0, help="seconds before a long poll gets 202")
    parser.add_argument("--exchange-timeout", type=float, default=10.0, help="seconds an ASK/POST waits for a peer")
    defaults = ServerLimits()
    parser.add_argument("--max-body", type=int, default=defaults.max_body, help="largest request body in bytes")
    parser.add_argument("--read-timeout", type=float, default=defaults.read_timeout,
                        help="seconds for a request's headers, and then its body, to arrive")
    parser.add_argument("--shutdown-timeout", type=float, default=defaults.shutdown_timeout,
                        help="seconds a stop waits for running requests")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = EmulatorConfig(handle_timeout=args.handle_timeout, exchange_timeout=args.exchange_timeout)
        limits = ServerLimits(max_body=args.max_body, read_timeout=args.read_timeout,
                              shutdown_timeout=args.shutdown_timeout)
    except ValueError as exc:
        parser.error(str(exc))

    def ready(base_url: str) -> None:
        root = base_url[: -len("/rest")]
        print(f"Knowledge Engine stand-in at {base_url} (generic adapter paths at {root}{GA_PREFIX})", flush=True)

    try:
        serve_emulator(args.host, args.port, config=config, limits=limits, on_ready=ready)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
