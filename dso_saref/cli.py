"""The ``dso-saref`` command line: thin click commands over the public API.

    dso-saref messages
    dso-saref saref hems-voltage examples/hems-voltage.json --format turtle
    dso-saref saref hems-voltage - --format bindings < payload.json
    dso-saref unsaref hems-voltage graph.ttl --format turtle

Exit codes: 0 success, 1 bad input (the message says what and where), 2 usage error (unknown
message name, unreadable file, bad option). Never a traceback for bad input.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, tzinfo
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from rdflib import Graph

import dso_saref
from dso_saref.errors import DsoSarefError, PayloadError, UnknownMessageError
from dso_saref.terms import DEFAULT_BASE, Settings, TermError

__all__ = ["main"]

RDF_FORMATS = {"turtle": "turtle", "nt": "nt", "json-ld": "json-ld"}
FORMATS = [*RDF_FORMATS, "bindings"]


def _timezone(_ctx: click.Context, _param: click.Parameter, value: str) -> tzinfo:
    if value.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.BadParameter(f"unknown time zone {value!r} (use an IANA name such as Europe/Lisbon)") from exc


def settings_options(command: Any) -> Any:
    """Add ``--base``, ``--timezone`` and ``--lenient`` to a command."""
    command = click.option("--lenient", is_flag=True, help="Drop unknown JSON keys instead of refusing them.")(command)
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


def read_json(stream: IO[str]) -> Any:
    """The JSON document of an input stream; malformed JSON is a bad-input error (exit 1)."""
    text = stream.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = getattr(stream, "name", "<stdin>")
        raise click.ClickException(f"{where}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") \
            from exc


@contextmanager
def payload_errors(source: str) -> Iterator[None]:
    """Turn library errors into click errors: one line per problem, exit 1."""
    try:
        yield
    except PayloadError as exc:
        lines = [f"{source}: {p.location}: {p.message}" for p in exc.problems]
        raise click.ClickException(f"invalid {exc.message_name}:\n" + "\n".join(lines)) from exc
    except DsoSarefError as exc:
        raise click.ClickException(f"{source}: {exc}") from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(dso_saref.__version__, prog_name="dso-saref")
def main() -> None:
    """SAREF semantic interoperability for the InterConnect DSO Interface."""


@main.command("messages")
def messages_command() -> None:
    """List every message type: name, Knowledge Engine interaction, description."""
    for item in dso_saref.messages():
        if item.interaction is not None:
            role = f"{item.interaction.type} -> {item.interaction.counterpart}"
        elif item.answers:
            role = f"answers {', '.join(sorted(item.answers))}"
        else:
            role = "-"
        click.echo(f"{item.name:30} {role:48} {item.description}")


@main.command("saref")
@click.argument("name")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="turtle", show_default=True)
@settings_options
def saref_command(name: str, source: IO[str], fmt: str, base: str, tz: tzinfo, lenient: bool) -> None:
    """Map a JSON payload (FILE, or - for standard input) to SAREF RDF or KE bindings."""
    item = description(name)
    settings = make_settings(base, tz, lenient)
    payload = read_json(source)
    with payload_errors(source.name):
        if fmt == "bindings":
            click.echo(json.dumps(dso_saref.to_bindings(item.name, payload, settings=settings), indent=2,
                                  ensure_ascii=False))
            return
        graph = dso_saref.saref(item.name, payload, settings=settings)
    click.echo(graph.serialize(format=RDF_FORMATS[fmt]).rstrip("\n"))


@main.command("unsaref")
@click.argument("name")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="turtle", show_default=True,
              help="Format of the input.")
@settings_options
def unsaref_command(name: str, source: IO[str], fmt: str, base: str, tz: tzinfo, lenient: bool) -> None:
    """Read SAREF RDF or KE bindings (FILE, or - for standard input) back into the JSON payload."""
    item = description(name)
    settings = make_settings(base, tz, lenient)
    with payload_errors(source.name):
        if fmt == "bindings":
            result = dso_saref.from_bindings(item.name, read_json(source), settings=settings)
        else:
            graph = Graph()
            try:
                graph.parse(data=source.read(), format=RDF_FORMATS[fmt])
            except Exception as exc:  # rdflib parsers raise many unrelated exception types
                raise click.ClickException(f"{source.name}: not valid {fmt}: {exc}") from exc
            result = dso_saref.unsaref(item.name, graph, settings=settings)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))


# -- validation -------------------------------------------------------------------------------------

#: Input formats of ``validate`` by file suffix (anything else is read as JSON).
INPUT_SUFFIXES = {".json": "json", ".ttl": "turtle", ".turtle": "turtle", ".nt": "nt", ".jsonld": "json-ld",
                  ".json-ld": "json-ld"}
#: ``validate`` shows a progress bar (on standard error) from this many files on.
PROGRESS_FROM = 5


class NothingValidated(click.ClickException):
    """The message cannot be validated at all (its shape is missing or broken): exit 2."""

    exit_code = 2


def validation_inputs(sources: tuple[str, ...]) -> list[str]:
    """The files that FILE arguments name: ``-`` (standard input), files, directories (every file with
    a known suffix under them) and globs (``'examples/*.json'``, ``'data/**/*.ttl'``); a source that
    names no readable file is a usage error."""
    files: list[str] = []
    for source in sources:
        path = Path(source)
        if source == "-" or path.is_file():
            found = [source]
        elif path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES)
            if not found:
                raise click.UsageError(f"{source}: directory holds no {', '.join(sorted(INPUT_SUFFIXES))} file")
        elif any(char in source for char in "*?["):
            found = sorted(p for p in glob.glob(source, recursive=True) if Path(p).is_file())
            if not found:
                raise click.UsageError(f"{source}: matches no file")
        else:
            raise click.UsageError(f"cannot read {source}: no such file or directory")
        for name in found:
            if name != "-" and not os.access(name, os.R_OK):
                raise click.UsageError(f"cannot read {name}: permission denied")
        files.extend(found)
    return files


def read_input(name: str) -> str | bytes:
    """The text of an input file (``-``: standard input); an unreadable file is a usage error."""
    if name == "-":
        return click.get_text_stream("stdin").read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise click.UsageError(f"cannot read {name}: {exc.strerror or exc}") from exc


@main.command("validate")
@click.argument("name")
@click.argument("sources", metavar="FILE...", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Report format.")
@click.option("--input-format", type=click.Choice(["auto", "json", *RDF_FORMATS]), default="auto",
              show_default=True, help="Format of the files (auto: by suffix, .ttl .nt .jsonld are RDF).")
@settings_options
def validate_command(name: str, sources: tuple[str, ...], fmt: str, input_format: str, base: str, tz: tzinfo,
                     lenient: bool) -> None:
    """Validate payloads (JSON) or graphs (Turtle, N-Triples, JSON-LD) against message NAME: the model
    and the SHACL shape. FILE may be a file, - (standard input), a directory or a glob.

    Exit 0 when every file is valid, 1 when any is not (one line per error: file, location, message),
    2 on usage errors (unknown NAME, unreadable file).
    """
    item = description(name)
    settings = make_settings(base, tz, lenient)
    files = validation_inputs(sources)
    reports: list[tuple[str, dso_saref.Report]] = []

    def check(file: str) -> None:
        kind = input_format if input_format != "auto" else INPUT_SUFFIXES.get(Path(file).suffix.lower(), "json")
        try:
            reports.append((file, dso_saref.validate(item.name, read_input(file), format=kind, settings=settings)))
        except DsoSarefError as exc:
            raise NothingValidated(f"cannot validate {item.name}: {exc}") from exc

    if len(files) >= PROGRESS_FROM:
        with click.progressbar(files, label=f"validating {item.name}", file=click.get_text_stream("stderr")) as bar:
            for file in bar:
                check(file)
    else:
        for file in files:
            check(file)
    invalid = sum(not report.conforms for _, report in reports)
    if fmt == "json":
        click.echo(json.dumps({"message": item.name, "conforms": not invalid,
                               "files": [{"file": file, **report.to_dict()} for file, report in reports]},
                              indent=2, ensure_ascii=False))
    else:
        for file, report in reports:
            for error in report.errors:
                click.echo(f"{file}: {error.location}: {error.message} [{error.rule}]")
            for warning in report.warnings:
                click.echo(f"{file}: {warning.location}: warning: {warning.message} [{warning.rule}]")
        click.echo(f"{len(reports)} file(s) checked against {item.name}: {len(reports) - invalid} valid, "
                   f"{invalid} invalid", err=True)
    if invalid:
        raise SystemExit(1)


@main.command("shapes")
@click.argument("name")
def shapes_command(name: str) -> None:
    """Print the SHACL shape (Turtle) of message NAME; docs/shapes.md says what each shape checks."""
    item = description(name)
    try:
        text = item.shape_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NothingValidated(f"{item.name} has no shape yet (shapes/{item.shape_path.name})") from exc
    click.echo(text.rstrip("\n"))


def _attach_knowledge_engine_commands() -> None:
    from dso_saref.ke.commands import ke

    main.add_command(ke)


_attach_knowledge_engine_commands()


def _attach_operator_commands() -> None:
    from dso_saref.operator_commands import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_attach_operator_commands()
