"""The Knowledge Engine commands: ``dso-saref ke emulate|kis|match|register|send``.

    dso-saref ke emulate --port 8280 &
    dso-saref ke send flexibility-needs-request request.json --ke-url http://127.0.0.1:8280/rest --role service-provider

``send`` and ``register`` talk to the configured Knowledge Engine (``--ke-url``, ``DSO_SAREF_KE_URL``,
the configuration file: see :mod:`dso_saref.config`), with its credentials (a bearer token, basic auth
or extra headers for a reverse proxy), which are never printed nor logged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dso_saref.cli.config import configured, current_config
from dso_saref.cli.io import description, payload_errors, read_payload
from dso_saref.cli.ke_match import match_command

if TYPE_CHECKING:  # the KE modules load when a command runs, keeping every other command quick to start
    from dso_saref.catalog import Catalog
    from dso_saref.ke.client import KnowledgeEngineClient

__all__ = ["emulate", "ke", "kis", "register", "send"]

_SECONDS = click.FloatRange(min=0, min_open=True)


@click.group("ke")
def ke() -> None:
    """Talk to, or stand in for, the Knowledge Engine."""


ke.add_command(match_command)


def _limit(name: str) -> Any:
    def default() -> Any:
        from dso_saref.ke.emulator_asgi import ServerLimits

        return getattr(ServerLimits(), name)

    return default


def _match_budget() -> int:
    from dso_saref.ke.emulator import EmulatorConfig

    return EmulatorConfig().match_budget


@ke.command("emulate")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8280, show_default=True, type=click.IntRange(0, 65535),
              help="Port to bind (0: any free port).")
@click.option("--handle-timeout", default=29.0, show_default=True, type=_SECONDS,
              help="Seconds a long poll waits before answering 202.")
@click.option("--exchange-timeout", default=10.0, show_default=True, type=_SECONDS,
              help="Seconds an ASK/POST waits for a peer before reporting it FAILED.")
@click.option("--max-body", default=_limit("max_body"), show_default="32 MiB", type=click.IntRange(min=1),
              help="Largest request body in bytes (larger: 413).")
@click.option("--read-timeout", default=_limit("read_timeout"), show_default="30 s", type=_SECONDS,
              help="Seconds a request's headers, then its body, may take to arrive (else 408).")
@click.option("--shutdown-timeout", default=_limit("shutdown_timeout"), show_default="3 s", type=_SECONDS,
              help="Seconds a stop waits for running requests.")
@click.option("--match-budget", default=_match_budget, show_default="200000", type=click.IntRange(min=1),
              help="Steps one pattern comparison may take (beyond: no match).")
@configured("log_level", "log_file")
def emulate(host: str, port: int, handle_timeout: float, exchange_timeout: float, max_body: int,
            read_timeout: float, shutdown_timeout: float, match_budget: int, log_level: str,
            log_file: str | None) -> None:
    """Run a Knowledge Engine stand-in (REST API 1.5.0) until SIGINT or SIGTERM."""
    from dso_saref.ke.emulator import EmulatorConfig
    from dso_saref.ke.emulator_asgi import ServerLimits
    from dso_saref.ke.emulator_http import serve_emulator

    config = EmulatorConfig(handle_timeout=handle_timeout, exchange_timeout=exchange_timeout,
                            match_budget=match_budget)
    limits = ServerLimits(max_body=max_body, read_timeout=read_timeout, shutdown_timeout=shutdown_timeout)

    def ready(base_url: str) -> None:
        root = base_url.rsplit("/rest", 1)[0]
        click.echo(f"Knowledge Engine emulator at {base_url} (generic adapter paths at {root}/smartconnector)")

    try:
        serve_emulator(host, port, config=config, limits=limits, on_ready=ready)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    click.echo("stopped")


_ROLE = click.Choice(["dso", "service-provider", "third-party", "data-service-provider"])


def _default_kb_id(role: str) -> str:
    return f"https://dso-saref.example.org/kb/{role}"


@ke.command("kis")
@click.option("--role", type=_ROLE, required=True, help="The party whose interactions to print.")
@configured("profile", "patterns")
def kis(role: str, profile: tuple[str, ...], patterns: str | None) -> None:
    """Print the KI registration bodies of ROLE (generated from the catalog) without sending them."""
    from dso_saref.ke.roles import interactions_for

    try:
        specs = interactions_for(role, _catalog(patterns), profile)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(json.dumps([spec.body() for spec in specs], indent=2, ensure_ascii=False))


def _catalog(patterns: str | None) -> Catalog | None:
    """The catalog with the user's pattern profiles in ``patterns`` (``None``: the package's)."""
    from dso_saref.catalog import Catalog
    from dso_saref.errors import DescriptionError

    if patterns is None:
        return None
    catalog = Catalog(patterns=Path(patterns))
    try:
        len(catalog)
    except DescriptionError as exc:
        raise click.ClickException(str(exc)) from exc
    return catalog


def _client(ke_url: str) -> KnowledgeEngineClient:
    """A client of the KE at ``ke_url`` with the configured credentials."""
    from dso_saref.ke.client import KnowledgeEngineClient, Timeouts

    return KnowledgeEngineClient(ke_url, timeout=Timeouts(exchange=30.0), credentials=current_config().credentials())


@ke.command("register")
@click.option("--role", type=_ROLE, required=True)
@configured("ke_url", "kb_id", "profile", "patterns")
def register(ke_url: str, role: str, kb_id: str | None, profile: tuple[str, ...], patterns: str | None) -> None:
    """Register a knowledge base for ROLE and its KIs in the profiles given; print the KI ids (the KB
    stays registered)."""
    from dso_saref.ke.adapter import Adapter, Backoff
    from dso_saref.ke.errors import KnowledgeEngineError

    try:
        adapter = Adapter(_client(ke_url), role, kb_id=kb_id or _default_kb_id(role), backoff=Backoff(attempts=3),
                          catalog=_catalog(patterns), profiles=profile)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        for ki_id in adapter.register():
            click.echo(ki_id)
    except KnowledgeEngineError as exc:
        raise click.ClickException(f"{ke_url}: {exc}") from exc


@ke.command("send")
@click.argument("name")
@click.argument("source", default="-")
@click.option("--role", type=_ROLE, required=True)
@click.option("--kb-id", default=None, help="Knowledge base id of the sender (an http(s) IRI); default per role + "
                                            "'/send' (the configured kb_id is serve's and register's).")
@click.option("--profile", "in_profile", default="saref", show_default=True, metavar="PROFILE",
              help="The pattern profile to send in (docs/interop.md).")
@configured("ke_url", "max_size", "patterns")
def send(name: str, source: str, ke_url: str, max_size: int, role: str, kb_id: str | None, in_profile: str,
         patterns: str | None) -> None:
    """Send message NAME (FILE or -) through the KE as ROLE; print every answer as JSON.

    Exit 1 on a bad payload, when the exchange failed or nobody answered; 2 on usage errors (unknown
    NAME, a ROLE that does not start NAME's exchange).
    """
    from dso_saref.catalog import POST_REACT
    from dso_saref.ke.adapter import Adapter, Backoff
    from dso_saref.ke.errors import KnowledgeEngineError
    from dso_saref.ke.roles import ki_of

    item = description(name)
    payload = read_payload(source, max_size=max_size)
    try:
        adapter = Adapter(_client(ke_url), role, kb_id=kb_id or _default_kb_id(role) + "/send",
                          backoff=Backoff(attempts=3), catalog=_catalog(patterns), profiles=[in_profile])
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    spec = adapter.specs.get(ki_of(item.name, in_profile))
    if spec is None or not spec.initiates or spec.part is not None:  # before the KE is contacted
        adapter.client.close()
        raise click.UsageError(f"role {role!r} does not start the exchange {item.name!r} in profile {in_profile!r}")
    try:
        with payload_errors(source):
            if item.interaction is not None and item.interaction.type == POST_REACT:
                item.table(payload, adapter.settings)  # a bad payload is refused before the KE is contacted
            adapter.register()
            try:
                exchange = adapter.send(item.name, payload, profile=in_profile)
            except ValueError as exc:
                raise click.UsageError(str(exc)) from exc
    except KnowledgeEngineError as exc:
        raise click.ClickException(f"{ke_url}: {exc}") from exc
    finally:
        try:
            adapter.close()
        except KnowledgeEngineError as exc:  # the lease ends the knowledge base anyway
            click.echo(f"warning: could not unregister the sender's knowledge base: {exc}", err=True)
    click.echo(json.dumps({"answers": exchange.answers, "failed": exchange.failed}, indent=2, ensure_ascii=False))
    if exchange.failed and not exchange.answers:
        raise click.ClickException("; ".join(f"{kb}: {why}" for kb, why in exchange.failed.items()))
    if not exchange.answered:
        raise click.ClickException(f"nobody answered {item.name}")
