"""The developer portal's command.

    dso-saref portal build site/                          # then open site/index.html
    dso-saref portal build site/ --changelog CHANGELOG.md

A running DSO serves the same portal at ``/portal/`` (with a live status page). Exit codes: 0 built, 1
the directory or the changelog cannot be written or read, 2 usage error.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["portal"]


@click.group("portal")
def portal() -> None:
    """The developer portal (served live at /portal/ by dso-saref serve --rest)."""


@portal.command("build")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--changelog", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The CHANGELOG.md to show (default: the source tree's, when there is one).")
def build(directory: Path, changelog: Path | None) -> None:
    """Write the portal, a static site, into DIRECTORY (created if needed)."""
    from dso_saref.portal.site import Site

    site = Site(changelog=changelog)
    try:
        written = site.build(directory)
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or directory}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {len(written)} files to {directory} (open {directory / 'index.html'})")
    if site.changelog is None:
        click.echo("no CHANGELOG.md found: the changelog page says so (--changelog FILE to include one)", err=True)
