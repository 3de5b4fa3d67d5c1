"""The Knowledge Engine commands: ``dso-saref ke emulate|kis|register|send``.

    dso-saref ke emulate --port 8280 &
    dso-saref ke send flexibility-needs-request request.json --ke-url http://127.0.0.1:8280/rest --role service-provider
"""

from __future__ import annotations

import json
import signal
import threading
from types import FrameType

import click

from dso_saref.cli.io import description, payload_errors, read_payload
from dso_saref.ke.client import KnowledgeEngineClient, Timeouts
from dso_saref.ke.emulator import EmulatorConfig, KnowledgeEngineEmulator
from dso_saref.ke.emulator_http import DEFAULT_HOST, DEFAULT_PORT, EmulatorServer
from dso_saref.ke.errors import KnowledgeEngineError

__all__ = ["emulate", "ke", "kis", "register", "send"]

_SECONDS = click.FloatRange(min=0, min_open=True)


@click.group("ke")
def ke() -> None:
    """Talk to, or stand in for, the Knowledge Engine."""


@ke.command("emulate")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to bind.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="Port to bind (0: any free port).")
@click.option("--handle-timeout", default=29.0, show_default=True, type=_SECONDS,
              help="Seconds a long poll waits before answering 202.")
@click.option("--exchange-timeout", default=10.0, show_default=True, type=_SECONDS,
              help="Seconds an ASK/POST waits for a peer before reporting it FAILED.")
def emulate(host: str, port: int, handle_timeout: float, exchange_timeout: float) -> None:
    """Run a Knowledge Engine stand-in (REST API 1.5.0) until SIGINT or SIGTERM."""
    config = EmulatorConfig(handle_timeout=handle_timeout, exchange_timeout=exchange_timeout)
    try:
        server = EmulatorServer(KnowledgeEngineEmulator(config), host=host, port=port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with server:
            click.echo(f"Knowledge Engine emulator at {server.base_url} "
                       f"(generic adapter paths at {server.root_url}/smartconnector)")
            stop.wait()
            click.echo("stopping")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("stopped")


_ROLE = click.Choice(["dso", "service-provider", "third-party", "data-service-provider"])


def _default_kb_id(role: str) -> str:
    return f"https://dso-saref.example.org/kb/{role}"


@ke.command("kis")
@click.option("--role", type=_ROLE, required=True, help="The party whose interactions to print.")
def kis(role: str) -> None:
    """Print the KI registration bodies of ROLE (generated from the catalog) without sending them."""
    from dso_saref.ke.roles import interactions_for

    click.echo(json.dumps([spec.body() for spec in interactions_for(role)], indent=2, ensure_ascii=False))


def _client(ke_url: str) -> KnowledgeEngineClient:
    return KnowledgeEngineClient(ke_url, timeout=Timeouts(exchange=30.0))


@ke.command("register")
@click.option("--ke-url", required=True, help="KE REST base URL, e.g. http://127.0.0.1:8280/rest")
@click.option("--role", type=_ROLE, required=True)
@click.option("--kb-id", default=None, help="Knowledge base id (an http(s) IRI); default per role.")
def register(ke_url: str, role: str, kb_id: str | None) -> None:
    """Register a knowledge base for ROLE and its KIs; print the KI ids (the KB stays registered)."""
    from dso_saref.ke.adapter import Adapter, Backoff

    adapter = Adapter(_client(ke_url), role, kb_id=kb_id or _default_kb_id(role), backoff=Backoff(attempts=3))
    try:
        for ki_id in adapter.register():
            click.echo(ki_id)
    except KnowledgeEngineError as exc:
        raise click.ClickException(f"{ke_url}: {exc}") from exc


@ke.command("send")
@click.argument("name")
@click.argument("source", default="-")
@click.option("--ke-url", required=True, help="KE REST base URL, e.g. http://127.0.0.1:8280/rest")
@click.option("--role", type=_ROLE, required=True)
@click.option("--kb-id", default=None, help="Knowledge base id (an http(s) IRI); default per role + '/send'.")
def send(name: str, source: str, ke_url: str, role: str, kb_id: str | None) -> None:
    """Send message NAME (FILE or -) through the KE as ROLE; print every answer as JSON.

    Exit 1 when the exchange failed or nobody answered.
    """
    from dso_saref.ke.adapter import Adapter, Backoff

    item = description(name)
    payload = read_payload(source)
    adapter = Adapter(_client(ke_url), role, kb_id=kb_id or _default_kb_id(role) + "/send",
                      backoff=Backoff(attempts=3))
    try:
        with payload_errors(source):
            adapter.register()
            try:
                exchange = adapter.send(item.name, payload)
            except ValueError as exc:
                raise click.UsageError(str(exc)) from exc
    except KnowledgeEngineError as exc:
        raise click.ClickException(f"{ke_url}: {exc}") from exc
    finally:
        adapter.close()
    click.echo(json.dumps({"answers": exchange.answers, "failed": exchange.failed}, indent=2, ensure_ascii=False))
    if exchange.failed and not exchange.answers:
        raise click.ClickException("; ".join(f"{kb}: {why}" for kb, why in exchange.failed.items()))
    if not exchange.answered:
        raise click.ClickException(f"nobody answered {item.name}")
