"""The operator's reports (D4.2 3.3, "errors, error reports").

    dso-saref report errors --db dso.sqlite --since 2h
    dso-saref report errors --db dso.sqlite --since 2021-09-28T06:00:00Z --log serve.log --format json

Exit codes: 0 the report was made (whatever it found), 1 the database or a log cannot be read, 2 usage
error (a missing database file, a ``--since`` that is neither a duration nor a time).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click

from dso_saref.cli.operator import ExistingDatabase

__all__ = ["report"]


@click.group("report")
def report() -> None:
    """Reports for the DSO's operator."""


def _lines(paths: tuple[Path, ...]) -> Iterator[str]:
    for path in paths:
        try:
            with path.open(encoding="utf-8", errors="replace") as handle:
                yield from handle
        except OSError as exc:
            raise click.ClickException(f"{path}: {exc.strerror or exc}") from exc


@report.command("errors")
@click.option("--db", required=True, type=ExistingDatabase(),
              help="The DSO database (a sqlite file, or postgresql://USER@HOST/DB).")
@click.option("--since", "since_text", default="24h", show_default=True,
              help="From when: a duration back from now (30m, 2h, 1d) or an ISO 8601 time.")
@click.option("--log", "logs", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A JSON-lines log of serve to read too (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def errors(db: str, since_text: str, logs: tuple[Path, ...], fmt: str) -> None:
    """What went wrong since a time: refused and rejected operations of the registry, and the warnings and
    errors of the logs, grouped by operation and reason, the largest group first."""
    from dso_saref.backend import BackendError, Storage
    from dso_saref.backend.registry import OperationsRegistry
    from dso_saref.monitoring.errors import error_report, parse_since

    now = datetime.now(UTC)
    try:
        since = parse_since(since_text, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    try:
        storage = Storage(db)
    except BackendError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        made = error_report(OperationsRegistry(storage), since=since, now=now, log_lines=_lines(logs))
    except BackendError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        storage.close()
    if fmt == "json":
        click.echo(json.dumps(made.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(made.text(), nl=False)
