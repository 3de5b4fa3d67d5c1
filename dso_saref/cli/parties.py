"""The operator's commands for the parties of the REST API and their API keys.

    dso-saref parties add SP001 --role service-provider --db dso.sqlite
    dso-saref parties add TP --role third-party --kb-id https://third-party.example.org/kb --db dso.sqlite
    dso-saref parties key SP001 --db dso.sqlite --expires-in 90     # another key (rotation)
    dso-saref parties list --db dso.sqlite
    dso-saref parties revoke SP001 --db dso.sqlite [--key 3b4153932d6e]

A key is printed once, when it is issued: the database keeps only its hash. Exit codes: 0 success, 1 bad
input or an unknown party or key (named), 2 usage error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from dso_saref.cli.operator import ExistingDatabase

if TYPE_CHECKING:
    from dso_saref.backend.credentials import Credentials, IssuedKey

__all__ = ["parties"]

#: The roles of ``parties add`` (spelt here so that ``--help`` does not load the backend; a test checks them).
ROLES = ("service-provider", "data-service-provider", "third-party", "aggregator")

_DB = click.option("--db", required=True, type=ExistingDatabase(),
                   help="The DSO database (a sqlite file, or postgresql://USER@HOST/DB).")
_EXPIRES = click.option("--expires-in", type=click.FloatRange(min=0, min_open=True), default=None, metavar="DAYS",
                        help="The key expires after this many days (default: valid until revoked).")


@contextmanager
def _credentials(db: str) -> Iterator[Credentials]:
    from dso_saref.backend import BackendError, Storage
    from dso_saref.backend.credentials import Credentials

    try:
        storage = Storage(db)
    except BackendError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield Credentials(storage)
    except (BackendError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        storage.close()


def _time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _lifetime(days: float | None) -> timedelta | None:
    return timedelta(days=days) if days is not None else None


def _show(issued: IssuedKey) -> None:
    expires = _time(issued.key.expires_at) or "never (until revoked)"
    click.echo(f"party {issued.key.party}: key {issued.key.id}, expires {expires}")
    click.echo(issued.token)
    click.echo("The key is shown this once; the DSO keeps only its hash. Send it as 'Authorization: Bearer <key>'.",
               err=True)


@click.group("parties")
def parties() -> None:
    """Parties of the REST API and their API keys (issued by the operator, stored hashed)."""


@parties.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the party is.")
@click.option("--kb-id", default=None, help="The knowledge base the party speaks from (registers a new service "
                                            "provider; names a third party in the registry).")
@_DB
@_EXPIRES
def add(name: str, role: str, kb_id: str | None, db: str, expires_in: float | None) -> None:
    """Add a party and issue its first API key (printed once). A service or data service provider is
    the service provider NAME (give --kb-id to register a new one)."""
    with _credentials(db) as credentials:
        _show(credentials.add_party(name, role, now=datetime.now(UTC), knowledge_base_id=kb_id,
                                    lifetime=_lifetime(expires_in)))


@parties.command("key")
@click.argument("name")
@_DB
@_EXPIRES
def key(name: str, db: str, expires_in: float | None) -> None:
    """Issue party NAME another API key (to rotate keys: issue, hand over, revoke the old one)."""
    with _credentials(db) as credentials:
        _show(credentials.issue_key(name, now=datetime.now(UTC), lifetime=_lifetime(expires_in)))


@parties.command("list")
@_DB
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_parties(db: str, fmt: str) -> None:
    """Every party with its keys (ids and states, never the keys themselves)."""
    now = datetime.now(UTC)
    with _credentials(db) as credentials:
        rows = [(p, credentials.keys(p.name)) for p in credentials.parties()]
    if fmt == "json":
        click.echo(json.dumps([{"name": p.name, "role": p.role, "provider": p.provider_id,
                                "knowledge_base_id": p.knowledge_base_id, "created_at": _time(p.created_at),
                                "keys": [{"id": k.id, "state": k.state(now), "created_at": _time(k.created_at),
                                          "expires_at": _time(k.expires_at), "revoked_at": _time(k.revoked_at)}
                                         for k in keys]} for p, keys in rows], indent=2))
        return
    for party, keys in rows:
        listed = ", ".join(f"{k.id} {k.state(now)}" for k in keys) or "no key"
        click.echo(f"{party.name:10} {party.role:22} {party.knowledge_base_id or '-':40} {listed}")
    click.echo(f"{len(rows)} party(ies)", err=True)


@parties.command("revoke")
@click.argument("name")
@_DB
@click.option("--key", "key_id", default=None, help="Only this key (its id, as listed).")
def revoke(name: str, db: str, key_id: str | None) -> None:
    """Revoke party NAME's API keys (or one of them): refused from the next request on."""
    with _credentials(db) as credentials:
        done = credentials.revoke(name, now=datetime.now(UTC), key_id=key_id)
    click.echo(f"revoked {len(done)} key(s) of {name}: {', '.join(k.id for k in done) or 'none left to revoke'}")
