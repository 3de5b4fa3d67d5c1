"""What every command shares: reading inputs, the settings options, and errors turned into exit codes.

Exit codes: 0 success, 1 bad input (each problem on its own line: file, location, message), 2 usage
error (unknown message name with close names, unreadable file, bad option). Never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

import dso_saref
from dso_saref.cli.config import configured
from dso_saref.errors import DsoSarefError, PayloadError, Problem, UnknownMessageError
from dso_saref.payloads import DocumentError, Limits, read_document
from dso_saref.terms import Settings, SettingsError

__all__ = ["BadInput", "description", "document_problems", "limits", "make_settings", "payload_errors", "read_input",
           "read_payload", "settings_options", "warn"]


class BadInput(click.ClickException):
    """Input that is not a valid payload, graph or binding set: exit 1."""

    exit_code = 1


def settings_options(command: Any) -> Any:
    """Add ``--base``, ``--timezone``, ``--max-size`` (configured: see :mod:`dso_saref.config`),
    ``--lenient`` and ``--config`` to a command."""
    command = click.option("--lenient", is_flag=True,
                           help="Drop unknown JSON keys and keep the last of duplicated keys, with a warning, "
                                "instead of refusing them.")(command)
    return configured("base", "timezone", "max_size")(command)


def make_settings(base: str, timezone: str, lenient: bool, max_size: int | None = None) -> Settings:
    """The :class:`Settings` of the common options (``--max-size`` the limit on a document's size);
    a bad base or time zone is a usage error."""
    try:
        return Settings.of(base=base, timezone=timezone, strict=not lenient, limits=limits(lenient, max_size))
    except SettingsError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{exc.field}") from exc


def description(name: str) -> dso_saref.Description:
    """The catalog entry of ``name``; an unknown name is a usage error (exit 2) listing close names."""
    try:
        return dso_saref.catalog[name]
    except UnknownMessageError as exc:
        hint = f" Did you mean: {', '.join(exc.suggestions)}?" if exc.suggestions else ""
        raise click.UsageError(f"unknown message {name!r}.{hint} ('dso-saref messages' lists them all)") from exc


def _too_large(where: str, max_size: int) -> BadInput:
    return BadInput(f"{where}: larger than the --max-size of {max_size:,} bytes; raise it with --max-size "
                    "or DSO_SAREF_MAX_SIZE if the machine has the memory")


def read_input(name: str, max_size: int | None = None) -> bytes:
    """The bytes of an input file (``-``: standard input); an unreadable file is a usage error, one
    larger than ``max_size`` bytes bad input (refused before it is read)."""
    where = "<stdin>" if name == "-" else name
    if name == "-":
        data = sys.stdin.buffer.read() if max_size is None else sys.stdin.buffer.read(max_size + 1)
        if max_size is not None and len(data) > max_size:
            raise _too_large(where, max_size)
        return data
    try:
        if max_size is not None and Path(name).stat().st_size > max_size:
            raise _too_large(where, max_size)
        return Path(name).read_bytes()
    except OSError as exc:
        raise click.UsageError(f"cannot read {name}: {exc.strerror or exc}") from exc


def limits(lenient: bool, max_size: int | None = None) -> Limits:
    """The reader's limits of the common options."""
    return Limits(size=max_size if max_size is not None else Limits().size,
                  duplicate_keys="last" if lenient else "refuse")


def document_problems(where: str, exc: DocumentError) -> BadInput:
    """Bad input (exit 1) of a document the reader refused: one line per problem."""
    return BadInput("\n".join(f"{where}: {p.location}: {p.message}" for p in exc.problems))


def warn(where: str, problem: Problem) -> None:
    """A warning of lenient reading, on standard error."""
    click.echo(f"{where}: {problem.location}: warning: {problem.message}", err=True)


def read_payload(name: str, *, lenient: bool = False, max_size: int | None = None, data: bytes | None = None) -> Any:
    """The JSON value of an input file (``-``: standard input; ``data``: its bytes, already read),
    read by the library's one reader (:mod:`dso_saref.payloads`); bad encoding, syntax or duplicate
    keys are bad input (exit 1), a duplicate kept in lenient mode a warning on standard error."""
    where = "<stdin>" if name == "-" else name
    try:
        document = read_document(read_input(name, max_size) if data is None else data,
                                 limits=limits(lenient, max_size))
    except DocumentError as exc:
        raise document_problems(where, exc) from exc
    for warning in document.warnings:
        warn(where, warning)
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
