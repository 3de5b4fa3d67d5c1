"""The message commands: ``messages``, ``schema``, ``saref``, ``unsaref``, ``validate``, ``shapes``.

    dso-saref messages [--format json]
    dso-saref schema hems-voltage                       # the JSON Schema of the payload
    dso-saref saref hems-voltage examples/hems-voltage.json --format turtle
    dso-saref saref hems-voltage - --format bindings < payload.json
    dso-saref unsaref hems-voltage graph.ttl
    dso-saref validate metering-data zone-day.json [--shapes mine.ttl] [--format text|json|turtle]

A large metering file (more than a few MB) is read and mapped in chunks, with a progress bar on
standard error (:mod:`dso_saref.cli.chunks`); a file larger than ``--max-size`` is refused unread.
"""

from __future__ import annotations

import glob
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

import dso_saref
from dso_saref.cli.chunks import chunkable, serialize_in_chunks, validate_in_chunks
from dso_saref.cli.io import (
    BadInput,
    description,
    document_problems,
    limits,
    make_settings,
    payload_errors,
    read_input,
    read_payload,
    settings_options,
    warn,
)
from dso_saref.errors import DsoSarefError
from dso_saref.graphs import RDF_FORMATS, RdfSyntaxError, parse_rdf
from dso_saref.payloads import DocumentError
from dso_saref.validation import Validator

__all__ = ["COMMANDS"]

FORMATS = [*RDF_FORMATS, "bindings"]
_OUTPUT = click.Choice(["text", "json"])


@contextmanager
def progress(label: str, *, shown: bool = True) -> Iterator[Callable[[float], None]]:
    """A progress bar on standard error, moved by the part done (0 to 1); nothing when not ``shown``."""
    if not shown:
        yield lambda _done: None
        return
    with click.progressbar(length=1000, label=label, file=sys.stderr) as bar:
        yield lambda done: bar.update(int(done * 1000) - bar.pos)


def _message_json(item: dso_saref.Description) -> dict[str, Any]:
    interaction = None
    if item.interaction is not None:
        interaction = {"type": item.interaction.type, "counterpart": item.interaction.counterpart,
                       "initiators": list(item.interaction.initiators),
                       "responders": list(item.interaction.responders)}
    return {"name": item.name, "description": item.description, "spec": item.spec, "direction": item.direction,
            "interaction": interaction, "answers": sorted(item.answers)}


def _exchange(item: dso_saref.Description) -> str:
    if item.interaction is not None:
        kind = "ASK/ANSWER" if item.interaction.type == dso_saref.ASK_ANSWER else "POST/REACT"
        return (f"{kind}, answered with `{item.interaction.counterpart}`; started by "
                f"{', '.join(item.interaction.initiators)}, served by {', '.join(item.interaction.responders)}")
    if item.answers:
        return "the answer to " + ", ".join(f"`{name}`" for name in sorted(item.answers))
    return "-"


def markdown_catalog() -> str:
    """The wire contract of every message as markdown (docs/messages.md's generated part): a table of
    names, directions, spec sections and Knowledge Engine exchanges, then each message's description
    and shipped example."""
    items = dso_saref.messages()
    lines = ["| name | direction | spec | Knowledge Engine |", "|---|---|---|---|"]
    for item in items:
        interaction = item.interaction
        exchange = (f"{'ASK' if interaction.type == dso_saref.ASK_ANSWER else 'POST'} -> `{interaction.counterpart}`"
                    if interaction is not None else "answer" if item.answers else "-")
        lines.append(f"| [`{item.name}`](#{item.name}) | {item.direction} | {item.spec} | {exchange} |")
    for item in items:
        example = item.example()
        text = json.dumps(example, ensure_ascii=False)
        if len(text) > 110:
            text = json.dumps(example, ensure_ascii=False, indent=2)
        lines += ["", f"### {item.name}", "", item.description, "",
                  f"Direction: {item.direction}. Specification: {item.spec}. Knowledge Engine: {_exchange(item)}.",
                  f"Files: `graph_patterns/{item.name}.toml`, `shapes/{item.name}.ttl`, `examples/{item.name}.json`"
                  f" (`dso-saref schema {item.name}` prints its JSON Schema).", "", "```json", text, "```"]
    return "\n".join(lines) + "\n"


@click.command("messages")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True,
              help="markdown: the wire contract as docs/messages.md shows it.")
def messages_command(fmt: str) -> None:
    """List every message type: name, Knowledge Engine interaction, description."""
    if fmt == "markdown":
        click.echo(markdown_catalog(), nl=False)
        return
    if fmt == "json":
        click.echo(json.dumps([_message_json(item) for item in dso_saref.messages()], indent=2, ensure_ascii=False))
        return
    for item in dso_saref.messages():
        if item.interaction is not None:
            role = f"{item.interaction.type} -> {item.interaction.counterpart}"
        elif item.answers:
            role = f"answers {', '.join(sorted(item.answers))}"
        else:
            role = "-"
        click.echo(f"{item.name:30} {role:48} {item.description}")


@click.command("schema")
@click.argument("name")
def schema_command(name: str) -> None:
    """Print the JSON Schema (2020-12) of message NAME's payload, from its model: what validate checks
    before the SHAPE (some rules, such as cross-field ones, only the model and shape know)."""
    item = description(name)
    click.echo(json.dumps(dso_saref.json_schema(item.name), indent=2, ensure_ascii=False))


@click.command("saref")
@click.argument("name")
@click.argument("source", default="-")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="turtle", show_default=True)
@settings_options
def saref_command(name: str, source: str, fmt: str, base: str, timezone: str, max_size: int, lenient: bool) -> None:
    """Map a JSON payload (FILE, or - for standard input) to SAREF RDF or KE bindings.

    A large metering file is mapped in chunks with --format nt (bounded memory, a progress bar on
    standard error); if a later chunk is invalid, what was written before it is incomplete (exit 1).
    """
    item = description(name)
    settings = make_settings(base, timezone, lenient, max_size)
    where = "<stdin>" if source == "-" else source
    data = read_input(source, max_size)
    if fmt == "nt" and chunkable(item.name, data):
        with payload_errors(source), progress(f"mapping {item.name}") as moved:
            try:
                serialize_in_chunks(item.name, data, settings=settings, limits=limits(lenient, max_size),
                                    source=where, write=lambda text: click.echo(text, nl=False),
                                    warn=lambda problem: warn(where, problem), progress=moved)
            except DocumentError as exc:
                raise document_problems(where, exc) from exc
        return
    payload = read_payload(source, lenient=lenient, max_size=max_size, data=data)
    del data
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
def unsaref_command(name: str, source: str, fmt: str, base: str, timezone: str, max_size: int,
                    lenient: bool) -> None:
    """Read SAREF RDF (Turtle, N-Triples, JSON-LD) or KE bindings (FILE, or - for standard input) back
    into the JSON payload. Exit 1 when the input holds no NAME message (nothing matches its pattern)."""
    item = description(name)
    settings = make_settings(base, timezone, lenient, max_size)
    where = "<stdin>" if source == "-" else source
    if fmt == "bindings":
        bindings = read_payload(source, lenient=lenient, max_size=max_size)
        with payload_errors(source):
            result = dso_saref.from_bindings(item.name, bindings, settings=settings)
    else:
        try:
            graph = parse_rdf(read_input(source, max_size), fmt)
        except RdfSyntaxError as exc:
            raise BadInput(f"{where}: {exc}") from exc
        with payload_errors(source):  # a graph holding no such message is a PayloadError too
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


def _extra_shapes(files: tuple[Path, ...]) -> Any:
    """One graph of the user's shapes files; a file that is not Turtle is a usage error."""
    if not files:
        return None
    from rdflib import Graph

    graph = Graph()
    for file in files:
        try:
            graph += parse_rdf(file.read_bytes(), "turtle")
        except RdfSyntaxError as exc:
            raise click.BadParameter(f"{file}: {exc}", param_hint="--shapes") from exc
        except OSError as exc:
            raise click.BadParameter(f"cannot read {file}: {exc.strerror or exc}", param_hint="--shapes") from exc
    return graph


@click.command("validate")
@click.argument("name")
@click.argument("sources", metavar="FILE...", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "turtle"]), default="text", show_default=True,
              help="Report format (turtle: the SHACL validation report of the shape layer).")
@click.option("--input-format", type=click.Choice(["auto", "json", *RDF_FORMATS]), default="auto",
              show_default=True, help="Format of the files (auto: by suffix, .ttl .nt .jsonld are RDF).")
@click.option("--shapes", "shapes_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Your own SHACL shapes (Turtle), checked on the same triples with pySHACL; repeatable.")
@settings_options
def validate_command(name: str, sources: tuple[str, ...], fmt: str, input_format: str,
                     shapes_files: tuple[Path, ...], base: str, timezone: str, max_size: int, lenient: bool) -> None:
    """Validate payloads (JSON) or graphs (Turtle, N-Triples, JSON-LD) against message NAME: the model
    and the SHACL shape (and --shapes). FILE may be a file, - (standard input), a directory or a glob.

    Exit 0 when every file is valid, 1 when any is not (one line per error: file, location, message),
    2 on usage errors (unknown NAME, unreadable file). A large metering file is validated in chunks
    (bounded memory, a progress bar on standard error): see docs/shapes.md.
    """
    item = description(name)
    settings = make_settings(base, timezone, lenient, max_size)
    files = validation_inputs(sources)
    try:
        validator = Validator(shapes=_extra_shapes(shapes_files))
    except DsoSarefError as exc:
        raise click.BadParameter(str(exc), param_hint="--shapes") from exc
    reports: list[tuple[str, dso_saref.Report]] = []

    def check(file: str) -> None:
        kind = input_format if input_format != "auto" else INPUT_SUFFIXES.get(Path(file).suffix.lower(), "json")
        data = read_input(file, max_size)
        try:
            if kind == "json" and chunkable(item.name, data):
                with progress(f"validating {item.name}", shown=len(files) == 1) as moved:
                    report = validate_in_chunks(validator, item.name, data, settings=settings,
                                                limits=limits(lenient, max_size), progress=moved)
            else:
                report = validator.validate(item.name, data, format=kind, settings=settings)
        except DsoSarefError as exc:
            raise NothingValidated(f"cannot validate {item.name}: {exc}") from exc
        reports.append(("<stdin>" if file == "-" else file, report))

    if len(files) >= PROGRESS_FROM:
        with click.progressbar(files, label=f"validating {item.name}", file=sys.stderr) as bar:
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
    elif fmt == "turtle":
        from dso_saref.cli.shacl import shacl_report

        graph = None
        for file, report in reports:
            graph = shacl_report(report, graph, source=file)
            _text_report(file, [e for e in report.errors if e.layer != "shape"], [], err=True)
        click.echo(graph.serialize(format="turtle").rstrip("\n") if graph is not None else "")
    else:
        for file, report in reports:
            _text_report(file, report.errors, report.warnings)
    if fmt != "json":
        click.echo(f"{len(reports)} file(s) checked against {item.name}: {len(reports) - invalid} valid, "
                   f"{invalid} invalid", err=True)
    if invalid:
        raise SystemExit(1)


def _text_report(file: str, errors: Any, warnings: Any, *, err: bool = False) -> None:
    for error in errors:
        click.echo(f"{file}: {error.location}: {error.message} [{error.rule}]", err=err)
    for warning in warnings:
        click.echo(f"{file}: {warning.location}: warning: {warning.message} [{warning.rule}]", err=err)


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
COMMANDS = (messages_command, schema_command, saref_command, unsaref_command, validate_command, shapes_command)
