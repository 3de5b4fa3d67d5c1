"""The DSO operator's commands: ``serve``, ``demo``, ``consent`` and ``operations``.

    dso-saref serve --ke-url http://127.0.0.1:8280/rest --db dso.sqlite --seed
    dso-saref demo --seed 7 [--http]
    dso-saref consent list --db dso.sqlite
    dso-saref consent grant 102ea79e-c8cf-44a5-a6c4-b9256f32da1a --db dso.sqlite
    dso-saref operations --db dso.sqlite --user U0001 --format json

Exit codes: 0 success, 1 bad input or a failure the message explains (unknown ids are named), 2 usage
error (missing database file, bad option). Never a traceback. The main CLI attaches :data:`COMMANDS`.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from dso_saref.cli.config import configured, current_config
from dso_saref.config import DEFAULT_KE_URL, DEFAULT_REST_THREADS

if TYPE_CHECKING:  # the backend is imported when a command runs, keeping the CLI quick to start
    from dso_saref.backend import DsoBackend
    from dso_saref.backend.consent import Consent
    from dso_saref.backend.registry import Operation

__all__ = ["COMMANDS", "CONSENT_STATES", "DEFAULT_DSO_KB", "DEFAULT_KE_URL", "OUTCOMES", "consent", "demo",
           "operations", "serve"]

#: Defaults and choices, spelt here so that ``dso-saref --help`` does not load the backend; a test
#: checks them against ``dso_saref.app.serve``, ``dso_saref.app.scenarios`` and the backend's enums.
DEFAULT_DSO_KB = "https://dso.example.org/kb"
CONSENT_STATES = ("pending", "granted", "refused", "revoked", "expired")
OUTCOMES = ("served", "refused", "accepted", "rejected", "pending", "granted", "revoked", "sent", "recorded")

class ExistingDatabase(click.ParamType):
    """A database the command opens but never creates: a sqlite file that exists, or a PostgreSQL URL."""

    name = "DATABASE"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if value.startswith(("postgresql://", "postgres://")):
            return value
        path = value.removeprefix("sqlite:///")
        if not Path(path).is_file():
            self.fail(f"{value!r} does not exist (a sqlite file, or postgresql://...)", param, ctx)
        return value


_EXISTING_DB = ExistingDatabase()
_FORMAT = click.Choice(["text", "json"])


def _time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


@contextmanager
def _backend(db: str) -> Iterator[DsoBackend]:
    """The DSO backend over database ``db``; backend errors become bad-input errors (exit 1)."""
    from dso_saref.backend import BackendError, DsoBackend, Storage

    _EXISTING_DB.convert(db, None, None)
    try:
        storage = Storage(db)
    except BackendError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield DsoBackend(storage)
    except BackendError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        storage.close()


# -- serve ----------------------------------------------------------------------------------------------


@click.command("serve")
@click.option("--role", type=click.Choice(["dso", "service-provider"]), default="dso", show_default=True,
              help="The party to play: the reference DSO, or the reference service provider's REST API (--rest).")
@click.option("--rest", "rest", default=None, metavar="HOST:PORT",
              help="Serve the REST API here too (e.g. 127.0.0.1:8080; loopback unless you say otherwise); "
                   "with --rest alone and no configured KE URL, no KE.")
@click.option("--rest-workers", default=1, show_default=True, type=click.IntRange(min=1), metavar="N",
              help="Serve the REST API from N processes on one port (the database a file or postgresql://; the KE "
                   "adapter stays in the first process).")
@click.option("--rest-threads", default=DEFAULT_REST_THREADS, show_default=True, type=click.IntRange(min=1),
              metavar="N",
              help="Requests each REST process works on at once; the others wait their turn. "
                   "More threads help when the database is remote (each request waits on it longer).")
@click.option("--ke-workers", default=8, show_default=True, type=click.IntRange(min=1, max=99), metavar="N",
              help="KE exchanges handled at once (a bounded pool of handler threads).")
@click.option("--ke-backlog", default=64, show_default=True, type=click.IntRange(min=0, max=98), metavar="N",
              help="KE exchanges taken to wait for a handler; --ke-workers + --ke-backlog must stay under the KE's "
                   "limit of 100.")
@click.option("--provider", default="SP001", show_default=True, type=click.Choice(["SP001", "SP002", "DSP001"]),
              help="With --role service-provider: which reference provider of the demo's seed.")
@click.option("--partner-key-env", default="DSO_SAREF_PARTNER_KEY", show_default=True, metavar="VARIABLE",
              help="With --role service-provider: the environment variable holding the key the DSO must send "
                   "(unset: a key is made and printed once).")
@click.option("--seed", "load_seed", is_flag=True, help="Load the reproducible seed data (safe to repeat).")
@click.option("--seed-value", default=7, show_default=True, type=int, help="Random seed of the seed data.")
@click.option("--attempts", default=8, show_default=True, type=click.IntRange(min=1),
              help="Registration attempts while the KE is unreachable (backing off up to 30 s).")
@configured("ke_url", "db", "kb_id", "profile", "patterns", "log_level", "log_file")
def serve(role: str, rest: str | None, rest_workers: int, rest_threads: int, ke_workers: int, ke_backlog: int,
          provider: str, partner_key_env: str, load_seed: bool, seed_value: int, attempts: int, ke_url: str,
          db: str | None, kb_id: str | None, profile: tuple[str, ...], patterns: str | None, log_level: str,
          log_file: str | None) -> None:
    """Serve the reference DSO on a Knowledge Engine and/or its REST API until SIGINT or SIGTERM.

    Every exchange is logged (standard error, or --log-file); on stopping, the knowledge base is
    unregistered and the database closed. --db is a sqlite file (created if absent), :memory:, or
    postgresql://USER@HOST/DB; --kb-id defaults to https://dso.example.org/kb. Exit 1 when the KE
    cannot be reached or ends the session. With ``--role service-provider --rest HOST:PORT``, serve a
    reference service provider's REST API instead.
    """
    from dso_saref.app.serve import ServeConfig
    from dso_saref.app.serve import serve as serve_dso
    from dso_saref.backend import BackendError

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if role == "service-provider":
        _serve_provider(provider, rest, partner_key_env, seed_value, stop, request_stop)
        return
    settings = current_config()
    if db is None:
        raise click.UsageError("missing --db (or DSO_SAREF_DB, or db in the configuration file): the DSO needs "
                               "a database")
    if rest is not None and settings.source("ke_url") == "default":
        ke_url = None  # --rest alone: the REST API without a KE
    config = ServeConfig(ke_url=ke_url, db=db, kb_id=kb_id or DEFAULT_DSO_KB, seed=load_seed, seed_value=seed_value,
                         attempts=attempts, rest=rest, credentials=settings.credentials(), rest_workers=rest_workers,
                         rest_threads=rest_threads, workers=ke_workers, backlog=ke_backlog, profiles=profile,
                         patterns=patterns)
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        outcome = serve_dso(config, stop, ready=click.echo)
    except (BackendError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if outcome.error:
        raise click.ClickException(outcome.error)
    click.echo(f"stopped after {outcome.exchanges} exchanges")


def _serve_provider(provider: str, rest: str | None, key_env: str, seed_value: int, stop: threading.Event,
                    request_stop: Any) -> None:
    import os
    import secrets

    from dso_saref.app.rest_demo import serve_provider

    if rest is None:
        raise click.UsageError("--role service-provider serves a REST API: give --rest HOST:PORT")
    token = os.environ.get(key_env)
    if not token:
        token = secrets.token_urlsafe(32)
        click.echo(f"the DSO calls with: Authorization: Bearer {token}  (set {key_env} to choose it)")
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        serve_provider(provider, rest, token, stop, ready=click.echo, seed_value=seed_value)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("stopped")


# -- demo -----------------------------------------------------------------------------------------------


@click.command("demo")
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed of the demo data.")
@click.option("--http", is_flag=True, help="Run the KE emulator over loopback HTTP instead of in process.")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="Keep the DSO database in this new file (default: in memory).")
@click.option("--quiet", is_flag=True, help="Print the table of results only.")
@click.option("--channel", type=click.Choice(["ke", "rest"]), default="ke", show_default=True,
              help="Carry the exchanges through the Knowledge Engine emulator or the REST APIs (loopback).")
@click.option("--format", "fmt", type=_FORMAT, default="text", show_default=True,
              help="json: the results as one JSON document (the narration goes to standard error).")
@click.option("--ke-url", default=None, metavar="URL",
              help="A real Knowledge Engine's REST URL instead of the emulator (docs/ke.md).")
@click.option("--only", "only", multiple=True, metavar="PUC",
              help="Run this use case (e.g. 'HLUC11 PUC1') and what it builds on; repeatable. With "
                   "--ke-url the parties register only the exchanges these use cases start.")
@configured("log_level", "log_file", log_default="WARNING")
def demo(seed: int, http: bool, db: str | None, quiet: bool, channel: str, fmt: str, ke_url: str | None,
         only: tuple[str, ...], log_level: str, log_file: str | None) -> None:
    """Run every use case of D4.2 section 2.1 end to end on a Knowledge Engine emulator (or over REST).

    The DSO, two service providers, a data service provider and a third party each speak through their
    own adapter and knowledge base (or, over REST, their API keys and APIs). Exit 0 only when all seven
    use cases pass (else 1).
    """
    from dso_saref.app.demo import DemoConfig, result_table, run_demo
    from dso_saref.backend import BackendError
    from dso_saref.ke.errors import KnowledgeEngineError

    if db is not None and Path(db).exists():
        raise click.UsageError(f"{db} exists: the demo writes a new database")
    from dso_saref.app.scenarios import prerequisites

    for puc in only:
        try:
            prerequisites(puc)
        except KeyError as exc:
            raise click.BadParameter(str(exc.args[0]), param_hint="--only") from exc

    def narrate(line: str) -> None:
        click.echo(line, err=fmt == "json")

    try:
        config = DemoConfig(seed=seed, http=http, db=db or ":memory:", channel=channel, ke_url=ke_url,
                            exchange_timeout=60.0 if ke_url else 10.0, scope=only if ke_url else ())
        results = run_demo(config, echo=(lambda _line: None) if quiet else narrate, only=only or None)
    except (BackendError, KnowledgeEngineError, OSError) as exc:
        raise click.ClickException(f"the demo could not run: {exc}") from exc
    if fmt == "json":
        click.echo(json.dumps({"passed": all(r.passed for r in results), "seed": seed,
                               "use_cases": [{"puc": r.puc, "title": r.title, "passed": r.passed, "detail": r.detail}
                                             for r in results]}, indent=2, ensure_ascii=False))
    else:
        click.echo("\n" + result_table(results))
    if not all(r.passed for r in results):
        sys.exit(1)


# -- consent: the DSO's customer channel --------------------------------------------------------------


@click.group("consent")
def consent() -> None:
    """The DSO's customer channel: end users' answers to authorization requests."""


def _consents(backend: DsoBackend, keys: Sequence[str], wanted: str) -> list[Consent]:
    from dso_saref.backend import NotFound

    found, unknown = [], []
    for key in keys:
        try:
            found.append(backend.consents.get(key))
        except NotFound:
            match = backend.consents.by_token(key)
            if match is None:
                unknown.append(key)
            else:
                found.append(match)
    if unknown:
        raise click.ClickException(f"unknown consent id or token: {', '.join(unknown)}")
    wrong = [f"{c.id} is {c.state(backend.now()).value}" for c in found if c.status.value != wanted]
    if wrong:
        raise click.ClickException(f"only a {wanted} consent can be changed so: {'; '.join(wrong)}")
    return found


def _decide(action: str, keys: Sequence[str], db: str, reason: str | None) -> None:
    wanted = "granted" if action == "revoke" else "pending"
    with _backend(db) as backend:
        for item in _consents(backend, keys, wanted):
            if action == "grant":
                done = backend.grant_consent(item.id)
                tail = f"token valid until {_time(done.expires_at)}"
            elif action == "refuse":
                done = backend.refuse_consent(item.id, reason or "refused by the end user")
                tail = done.reason or ""
            else:
                done = backend.revoke_consent(item.id, reason or "revoked by the end user")
                tail = "its token is refused from now on"
            click.echo(f"{done.status.value} consent {done.id}: {done.end_user} for {done.service_provider}, "
                       f"{_time(done.start)} - {_time(done.end)}; {tail}")


_IDS = click.argument("keys", metavar="CONSENT_ID_OR_TOKEN...", nargs=-1, required=True)
_DB = configured("db", required=("db",))
_REASON = click.option("--reason", default=None, help="Why (kept in the registry of operations).")


@consent.command("grant")
@_IDS
@_DB
def grant(keys: tuple[str, ...], db: str) -> None:
    """The end user grants pending consents: each gets a token for its service provider."""
    _decide("grant", keys, db, None)


@consent.command("refuse")
@_IDS
@_DB
@_REASON
def refuse(keys: tuple[str, ...], db: str, reason: str | None) -> None:
    """The end user refuses pending consents."""
    _decide("refuse", keys, db, reason)


@consent.command("revoke")
@_IDS
@_DB
@_REASON
def revoke(keys: tuple[str, ...], db: str, reason: str | None) -> None:
    """The end user revokes granted consents (by id or token): their tokens are refused from now on."""
    _decide("revoke", keys, db, reason)


@consent.command("list")
@_DB
@click.option("--user", default=None, help="Only this end user's consents.")
@click.option("--status", type=click.Choice(CONSENT_STATES), default=None,
              help="Only consents in this state (expired: granted and run out).")
@click.option("--format", "fmt", type=_FORMAT, default="text", show_default=True)
def list_consents(db: str, user: str | None, status: str | None, fmt: str) -> None:
    """List consents, oldest first."""
    with _backend(db) as backend:
        if user is not None and backend.parties.end_user(user) is None:
            raise click.ClickException(f"unknown end user: {user}")
        now = backend.now()
        rows = [c for c in backend.consents.consents(end_user=user) if status is None or c.state(now).value == status]
    if fmt == "json":
        click.echo(json.dumps([_consent_json(c, now) for c in rows], indent=2))
        return
    for c in rows:
        token = f"token {c.token[:8]}..." if c.token else "no token"
        click.echo(f"{c.id}  {c.state(now).value:8} {c.end_user:7} {c.service_provider:7} "
                   f"{_time(c.start)} - {_time(c.end)}  {token}")
    click.echo(f"{len(rows)} consent(s)", err=True)


def _consent_json(c: Consent, now: datetime) -> dict[str, Any]:
    return {"id": c.id, "state": c.state(now).value, "end_user": c.end_user, "service_provider": c.service_provider,
            "start": _time(c.start), "end": _time(c.end), "requested_at": _time(c.requested_at),
            "decided_at": _time(c.decided_at), "revoked_at": _time(c.revoked_at), "token": c.token,
            "expires_at": _time(c.expires_at), "reason": c.reason}


# -- operations: the registry (spec 3.5) --------------------------------------------------------------


@click.command("operations")
@_DB
@click.option("--user", default=None, help="Only operations on this end user's data (or zone, need, ...).")
@click.option("--provider", default=None, help="Only operations by this service provider (id or knowledge base).")
@click.option("--outcome", type=click.Choice(OUTCOMES), default=None, help="Only this outcome.")
@click.option("--format", "fmt", type=_FORMAT, default="text", show_default=True)
def operations(db: str, user: str | None, provider: str | None, outcome: str | None, fmt: str) -> None:
    """The registry of operations (spec 3.5 usage log): who did what with whose data, when, under which
    token, with which outcome and why; oldest first."""
    from dso_saref.backend import NotFound, Outcome

    with _backend(db) as backend:
        unknown = []
        if user is not None and backend.parties.end_user(user) is None and not backend.registry.entries(subject=user):
            unknown.append(f"end user {user}")
        if provider is not None:
            known = backend.parties.provider_for(provider)
            provider = known.id if known is not None else provider
            if known is None and not backend.registry.entries(actor=provider):
                try:
                    backend.parties.provider(provider)
                except NotFound:
                    unknown.append(f"service provider {provider}")
        if unknown:
            raise click.ClickException(f"unknown {' and '.join(unknown)}")
        rows = backend.registry.entries(subject=user, actor=provider,
                                        outcome=Outcome(outcome) if outcome else None)
    if fmt == "json":
        click.echo(json.dumps([_operation_json(op) for op in rows], indent=2))
        return
    for op in rows:
        token = f"  token {op.token[:8]}..." if op.token else ""
        click.echo(f"{_time(op.at)}  {op.actor:7} {op.operation:26} {op.subject:10} {op.outcome.value:9}"
                   f"{token}  {op.reason}".rstrip())
    click.echo(f"{len(rows)} operation(s)", err=True)


def _operation_json(op: Operation) -> dict[str, Any]:
    return {"id": op.id, "at": _time(op.at), "actor": op.actor, "operation": op.operation, "subject": op.subject,
            "token": op.token, "outcome": op.outcome.value, "reason": op.reason}


#: The commands the main CLI attaches.
COMMANDS = (serve, demo, consent, operations)
