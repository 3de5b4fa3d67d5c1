"""``dso-saref ingest metering FILE...``: bulk-load metering readings into the DSO database.

    dso-saref ingest metering zone-day.csv --db postgresql://dso@127.0.0.1/dso
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from dso_saref.cli.config import configured

__all__ = ["ingest"]


@click.group("ingest")
def ingest() -> None:
    """Bulk-load data into the DSO database."""


@ingest.command("metering")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "format_", type=click.Choice(["json", "csv"]), default=None,
              help="Force the format (default: from the file name).")
@configured("db", "log_level", "log_file", required=("db",))
def ingest_metering_command(files: tuple[Path, ...], format_: str | None, db: str, log_level: str,
                            log_file: str | None) -> None:
    """Bulk-load metering readings (metering-data JSON, or CSV with id,time,measurement[,unit]);
    running a file again inserts nothing twice. Exit 1 on bad input (each problem on its own line)."""
    from dso_saref.backend import Storage, StorageError
    from dso_saref.backend.ingest import IngestError, ingest_metering

    sizes = {f: f.stat().st_size for f in files}
    before = {f: sum(sizes[g] for g in files[:i]) for i, f in enumerate(files)}
    try:
        with Storage(db) as storage, click.progressbar(length=sum(sizes.values()), label="ingesting",
                                                       file=sys.stderr) as bar:
            def progress(p: Any) -> None:
                bar.update(before[p.path] + p.bytes_read - bar.pos)

            report = ingest_metering(storage, files, format=format_, progress=progress)
    except IngestError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise SystemExit(1) from None
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{report.readings:,} readings: {report.inserted:,} inserted, {report.skipped:,} already stored "
               f"({report.seconds:.1f} s)")
