"""The REST API's commands.

    dso-saref rest openapi > openapi.json                # the DSO's API, OpenAPI 3.1
    dso-saref rest openapi --api partner -o partner.json  # the endpoints a service provider hosts
"""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["rest"]


@click.group("rest")
def rest() -> None:
    """The DSO's REST API (serve it with: dso-saref serve --rest 127.0.0.1:8080)."""


@rest.command("openapi")
@click.option("--api", type=click.Choice(["dso", "partner"]), default="dso", show_default=True,
              help="The DSO's API, or a partner's (the endpoints the DSO calls).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Write to this file (default: standard output).")
def openapi(api: str, output: Path | None) -> None:
    """Export the OpenAPI 3.1 document (as served at /openapi.json)."""
    from dso_saref.rest.app import api_document

    text = json.dumps(api_document(api), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
