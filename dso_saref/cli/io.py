"""What every command shares: reading inputs, the settings options, and errors turned into exit codes.

Exit codes: 0 success, 1 bad input (each problem on its own line: file, location, message), 2 usage
error (unknown message name with close names, unreadable file, bad option). Never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

import dso_saref
from dso_saref.errors import DsoSarefError, PayloadError, UnknownMessageError
from dso_saref.payloads import DocumentError, Limits, read_document
from dso_saref.terms import DEFAULT_BASE, Settings, TermError

__all__ = ["BadInput", "description", "make_settings", "payload_errors", "read_input", "read_payload",
           "settings_options"]


class BadInput(click.ClickException):
    """Input that is not a valid payload, graph or binding set: exit 1."""

    exit_code = 1


def _timezone(_ctx: click.Context, _param: click.Parameter, value: str) -> tzinfo:
    if value.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.BadParameter(f"unknown time zone {value!r} (use an IANA name such as Europe/Lisbon)") from exc


def settings_options(command: Any) -> Any:
    """Add ``--base``, ``--timezone`` and ``--lenient`` to a command."""
    command = click.option("--lenient", is_flag=True,
                           help="Drop unknown JSON keys and keep the last of duplicated keys, with a warning, "
                                "instead of refusing them.")(command)
    command = click.option("--timezone", "tz", default="UTC", callback=_timezone, show_default=True,
                           help="Time zone of timestamps written without an offset.")(command)
    return click.option("--base", default=DEFAULT_BASE, show_default=True,
                        help="Base IRI under which identifiers are minted.")(command)


def make_settings(base: str, tz: tzinfo, lenient: bool) -> Settings:
    """The :class:`Settings` of the common options; a bad base is a usage error."""
    try:
        return Settings(base=base, timezone=tz, strict=not lenient)
    except TermError as exc:
        raise click.BadParameter(str(exc), param_hint="--base") from exc


def description(name: str) -> dso_saref.Description:
    """The catalog entry of ``name``; an unknown name is a usage error (exit 2) listing close names."""
    try:
        return dso_saref.catalog[name]
    except UnknownMessageError as exc:
        hint = f" Did you mean: {', '.join(exc.suggestions)}?" if exc.suggestions else ""
        raise click.UsageError(f"unknown message {name!r}.{hint} ('dso-saref messages' lists them all)") from exc


def read_input(name: str) -> bytes:
    """The bytes of an input file (``-``: standard input); an unreadable file is a usage error."""
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise click.UsageError(f"cannot read {name}: {exc.strerror or exc}") from exc


def read_payload(name: str, *, lenient: bool = False) -> Any:
    """The JSON value of an input file (``-``: standard input), read by the library's one reader
    (:mod:`dso_saref.payloads`); bad encoding, syntax or duplicate keys are bad input (exit 1), a
    duplicate kept in lenient mode a warning on standard error."""
    where = "<stdin>" if name == "-" else name
    try:
        document = read_document(read_input(name), limits=Limits(duplicate_keys="last" if lenient else "refuse"))
    except DocumentError as exc:
        raise BadInput("\n".join(f"{where}: {p.location}: {p.message}" for p in exc.problems)) from exc
    for warning in document.warnings:
        click.echo(f"{where}: {warning.location}: warning: {warning.message}", err=True)
    return document.value


@contextmanager
def payload_errors(source: str) -> Iterator[None]:
    """Turn library errors into bad-input errors: one line per problem, exit 1."""
    where = "<stdin>" if source == "-" else source
    try:
        yield
    except PayloadError as exc:
        lines = [f"{where}: {p.location}: {p.message}" for p in exc.problems]
        raise BadInput(f"invalid {exc.message_name}:\n" + "\n".join(lines)) from exc
    except DsoSarefError as exc:
        raise BadInput(f"{where}: {exc}") from exc
