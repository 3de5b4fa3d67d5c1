"""``dso-saref ke match PATTERN...``: does a peer's knowledge interaction reach one of ours, and if not, why.

    dso-saref ke match pilot.ask.gp                       # kind from the name: .ask/.answer/.post/.react.gp
    dso-saref ke match registration.json --format json    # a KE registration body with its prefixes
    echo '?m a saref:Measurement .' | dso-saref ke match - --kind ask

Exit codes: 0 every PATTERN matches one of our interactions exactly (reasoner level 1), 1 at least one
does not, 2 at least one cannot be read (the message names the file and what is wrong). Never a traceback.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["match_command"]

_KIND_IN_NAME = re.compile(r"\.(ask|answer|post|react)\.(?:gp|json|txt)\Z", re.I)
#: The largest pattern file read.
MAX_BYTES = 1 << 20


def _prefix(_: object, __: object, values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, iri = value.partition("=")
        if not sep or not iri:
            raise click.BadParameter(f"{value!r} is not NAME=IRI", param_hint="--prefix")
        out[name] = iri
    return out


def _read(source: str) -> tuple[str, str | None]:
    """The text of ``source`` (a file, ``-`` for stdin) and the kind its file name gives."""
    if source == "-":
        return sys.stdin.read(MAX_BYTES + 1), None
    path = Path(source)
    found = _KIND_IN_NAME.search(path.name)
    with path.open("rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES} bytes")
    return data.decode("utf-8"), found.group(1).lower() if found else None


@click.command("match")
@click.argument("patterns", nargs=-1, required=True, metavar="PATTERN...")
@click.option("--kind", type=click.Choice(["ask", "answer", "post", "react"]), default=None,
              help="The KE type of their interaction (default: from the registration body or the file name "
                   "NAME.ask.gp, else all four).")
@click.option("--prefix", "prefixes", multiple=True, callback=_prefix, metavar="NAME=IRI",
              help="A prefix their pattern uses (well-known ones, ic-* included, need none).")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def match_command(patterns: tuple[str, ...], kind: str | None, prefixes: dict[str, str], output: str) -> None:
    """Compare each PATTERN (a .gp file, a KE registration JSON body, or - for stdin) with every
    knowledge interaction of ours, as the Knowledge Engine matches at reasoner level 1."""
    from dso_saref.errors import PatternError
    from dso_saref.ke.match import match
    from dso_saref.ke.vocabulary import Vocabulary

    vocabulary = Vocabulary.load()
    reports: list[dict[str, Any]] = []
    worst = 0
    for source in patterns:
        try:
            text, named = _read(source)
            report = match(text, kind=kind or named, prefixes=prefixes, vocabulary=vocabulary)
        except (OSError, ValueError, PatternError) as exc:  # UnicodeDecodeError is a ValueError
            worst = 2
            reports.append({"source": source, "error": str(exc)})
            if output == "text":
                click.echo(f"{source}: cannot read it: {exc}", err=True)
            continue
        worst = max(worst, 0 if report.matched else 1)
        reports.append({"source": source, **report.to_json()})
        if output == "text":
            click.echo(f"== {source}\n{report.to_text()}\n")
    if output == "json":
        click.echo(json.dumps(reports, indent=2, ensure_ascii=False))
    click.get_current_context().exit(worst)
