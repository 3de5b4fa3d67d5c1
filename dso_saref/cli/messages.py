"""The message commands: ``messages``, ``saref``, ``unsaref``, ``validate``, ``shapes``.

    dso-saref messages
    dso-saref saref hems-voltage examples/hems-voltage.json --format turtle
    dso-saref saref hems-voltage - --format bindings < payload.json
    dso-saref unsaref hems-voltage graph.ttl --format turtle
    dso-saref validate metering-data zone-day.json
"""

from __future__ import annotations

import glob
import json
import os
from datetime import tzinfo
from pathlib import Path

import click

import dso_saref
from dso_saref.cli.io import (
    BadInput,
    description,
    make_settings,
    payload_errors,
    read_input,
    read_payload,
    settings_options,
)
from dso_saref.errors import DsoSarefError
from dso_saref.graphs import RDF_FORMATS, RdfSyntaxError, parse_rdf

__all__ = ["COMMANDS"]

FORMATS = [*RDF_FORMATS, "bindings"]


@click.command("messages")
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


@click.command("saref")
@click.argument("name")
@click.argument("source", default="-")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="turtle", show_default=True)
@settings_options
def saref_command(name: str, source: str, fmt: str, base: str, tz: tzinfo, lenient: bool) -> None:
    """Map a JSON payload (FILE, or - for standard input) to SAREF RDF or KE bindings."""
    item = description(name)
    settings = make_settings(base, tz, lenient)
    payload = read_payload(source, lenient=lenient)
    with payload_errors(source):
        table = item.table(payload, settings)
    if fmt == "nt":
        for chunk in table.nt_chunks():
            click.echo(chunk, nl=False)
        return
    click.echo(table.serialize(fmt).rstrip("\n"))


@click.command("unsaref")
@click.argument("name")
@click.argument("source", default="-")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="turtle", show_default=True,
              help="Format of the input.")
@settings_options
def unsaref_command(name: str, source: str, fmt: str, base: str, tz: tzinfo, lenient: bool) -> None:
    """Read SAREF RDF or KE bindings (FILE, or - for standard input) back into the JSON payload."""
    item = description(name)
    settings = make_settings(base, tz, lenient)
    if fmt == "bindings":
        bindings = read_payload(source, lenient=lenient)
        with payload_errors(source):
            result = dso_saref.from_bindings(item.name, bindings, settings=settings)
    else:
        try:
            graph = parse_rdf(read_input(source), fmt)
        except RdfSyntaxError as exc:
            raise BadInput(f"{'<stdin>' if source == '-' else source}: {exc}") from exc
        with payload_errors(source):
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


@click.command("validate")
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


@click.command("shapes")
@click.argument("name")
def shapes_command(name: str) -> None:
    """Print the SHACL shape (Turtle) of message NAME; docs/shapes.md says what each shape checks."""
    item = description(name)
    try:
        text = item.shape_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NothingValidated(f"{item.name} has no shape yet (shapes/{item.shape_path.name})") from exc
    click.echo(text.rstrip("\n"))


#: The commands of this module, in the order ``--help`` lists them.
COMMANDS = (messages_command, saref_command, unsaref_command, validate_command, shapes_command)
