"""Bulk ingestion of metering readings: files of a client's net active power per quarter-hour, into the
``meter_readings`` table that metering requests aggregate (through the ``net_active_power`` view).

Two formats, told apart by the file name (``.json`` / ``.csv``) or ``format=``:

- JSON: the ``metering-data`` message (``examples/metering-data.json``), a list of series ``{"id",
  "readings": [{"time", "measurement", "unit"}, ...]}``, read series by series (a file of any size needs
  the memory of its largest series) and validated by the message's model;
- CSV: a header naming ``id``, ``time``, ``measurement`` and optionally ``unit`` (default kW), one
  reading per line, validated with the same rules (timestamps as in every message, power units kW, MW
  or W, finite numbers).

``id`` names a client of the data layer (``LV0001``) or an end user (``U0001``, stored under its
client). Measurements are stored in kW. Each file is one transaction, so a file is stored whole or not
at all, and running a file again (after an interruption, or by mistake) inserts nothing twice; a
reading already stored for a client and time is kept (of one read twice in a file, the first). A thread
reads and validates the file in batches of 50,000 readings while the calling thread stores them: each
batch is bulk-loaded into a scratch table (binary ``COPY`` on PostgreSQL, ``executemany`` on sqlite);
when a batch of a file in time order reaches a later UTC day, the readings of the days before it are
moved, and what is left at the end: ids checked (once per file) and end users resolved, the
day partitions made, the readings moved into the table sorted by client and time, with a plain
``INSERT`` when they are all new (the usual case, and the fast one), else (a savepoint rolled back) with
``ON CONFLICT DO NOTHING``. On PostgreSQL the database counts the readings actually inserted into its
quarter-hour rollup in the same transaction (``meter_quarters``, migration 7)::

    report = ingest_metering(storage, ["day-1.csv", "day-2.json"], progress=print)
    report.readings, report.inserted, report.skipped

Bad input raises :class:`IngestError` naming the file, the line or JSON path and the field; the files
before it stay ingested (:attr:`IngestError.report`), nothing of the bad file is stored.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from dso_saref.backend.errors import ConstraintError
from dso_saref.backend.storage import Storage, Transaction, to_db_time
from dso_saref.errors import PayloadError, Problem
from dso_saref.messages.data_sharing import MeteringSeries
from dso_saref.terms import UNITS, TermError, parse_datetime

__all__ = ["FORMATS", "FileReport", "IngestError", "IngestProgress", "IngestReport", "ingest_metering"]

#: The formats :func:`ingest_metering` reads.
FORMATS = ("json", "csv")
_TO_KW = {"kW": 1.0, "MW": 1000.0, "W": 0.001}
_COLUMNS = ("line", "id", "timestamp", "active_power")
_CHUNK = 1 << 20
_EVERY = 50_000  # readings between two progress reports


@dataclass(frozen=True)
class IngestProgress:
    """Where an ingestion is: the file, its stage (``reading``, ``storing``, ``done``), readings read so
    far, and bytes read of the file's total (for a progress bar)."""

    path: Path
    stage: str
    readings: int
    bytes_read: int
    bytes_total: int


@dataclass(frozen=True)
class FileReport:
    """One ingested file: its format, readings in it, rows inserted (the rest were already stored),
    the UTC days they fall on, and the seconds it took."""

    path: Path
    format: str
    readings: int
    inserted: int
    days: tuple[date, ...]
    seconds: float

    @property
    def skipped(self) -> int:
        """Readings already stored (a re-run, or the same client and time twice in the file)."""
        return self.readings - self.inserted


@dataclass(frozen=True)
class IngestReport:
    """Every file ingested, in order, and the totals."""

    files: tuple[FileReport, ...] = ()

    @property
    def readings(self) -> int:
        """Readings read in all files."""
        return sum(f.readings for f in self.files)

    @property
    def inserted(self) -> int:
        """Rows inserted in all files."""
        return sum(f.inserted for f in self.files)

    @property
    def skipped(self) -> int:
        """Readings that were already stored."""
        return self.readings - self.inserted

    @property
    def seconds(self) -> float:
        """Time spent, in seconds."""
        return sum(f.seconds for f in self.files)


class IngestError(PayloadError):
    """A file that cannot be ingested (unreadable, malformed, invalid readings, unknown ids); ``report``
    holds the files ingested before it, ``problems`` says where (``file:line: field`` or ``file:
    $[0].readings[3].time``) and what is wrong."""

    def __init__(self, problems: list[Problem], report: IngestReport) -> None:
        super().__init__("metering-data", problems)
        self.report = report


@dataclass
class _Reading:
    """The progress of one file being read (updated by its reader as its rows are produced)."""

    path: Path
    kind: str
    total: int
    readings: int = 0
    position: int = 0
    days: set[date] = field(default_factory=set)


@dataclass(frozen=True)
class _Batch:
    """The next readings of a file to store (their earliest and latest times, their ids), and where its
    reading was after them."""

    rows: list[Sequence[Any]]
    readings: int
    position: int
    days: frozenset[date]
    last: bool
    earliest: str
    latest: str
    ids: frozenset[str]

    @classmethod
    def of(cls, rows: list[Sequence[Any]], state: _Reading, last: bool) -> _Batch:
        times = [row[2] for row in rows]
        return cls(rows, state.readings, state.position, frozenset(state.days), last, min(times, default=""),
                   max(times, default=""), frozenset(row[1] for row in rows))


class _Reader:
    """The rows of a file in batches of :data:`_BATCH`, read and validated by a thread of its own one batch
    ahead of the database storing them (so that the server stores a batch while the next one is read); an
    exception of the reading is raised where the batch would have been. Leaving the ``with`` block stops
    the thread."""

    def __init__(self, rows: Iterator[Sequence[Any]], state: _Reading) -> None:
        self._rows = rows
        self._state = state
        self._handoff: queue.Queue[_Batch | BaseException] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"ingest {state.path.name}", daemon=True)

    def __enter__(self) -> Iterator[_Batch]:
        self._thread.start()
        return self._batches()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Empty):  # a reader waiting to hand a batch over: free its place
            self._handoff.get_nowait()
        self._thread.join()

    def _batches(self) -> Iterator[_Batch]:
        while True:
            item = self._handoff.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if item.last:
                return

    def _read(self) -> None:
        state, rows = self._state, []
        try:
            for row in self._rows:
                rows.append(row)
                if len(rows) == _BATCH:
                    self._handoff.put(_Batch.of(rows, state, False))
                    if self._stop.is_set():
                        return
                    rows = []
            self._handoff.put(_Batch.of(rows, state, True))
        except BaseException as exc:  # raised again in the thread storing the batches
            self._handoff.put(exc)


def ingest_metering(storage: Storage, paths: Iterable[str | Path], *, format: str | None = None,
                    progress: Callable[[IngestProgress], None] | None = None) -> IngestReport:
    """Ingest the metering readings of ``paths`` (JSON or CSV, see the module doc) into ``storage``.

    ``format`` forces one format for every file; ``progress`` is called as each file is read and stored.
    Raises :class:`IngestError` for a file that cannot be ingested (the earlier ones stay ingested) and
    :class:`ValueError` for an unknown ``format``."""
    if format is not None and format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    done: list[FileReport] = []
    for raw in paths:
        path = Path(raw)
        kind = format or path.suffix.lower().lstrip(".")
        try:
            if kind not in FORMATS:
                raise _Bad(f"{path}", f"unknown format {kind!r}: name the file .json or .csv, or give the format")
            done.append(_ingest_file(storage, path, kind, progress))
        except _Bad as exc:
            raise IngestError([Problem(exc.location, exc.message)], IngestReport(tuple(done))) from None
        except PayloadError as exc:
            raise IngestError(exc.problems, IngestReport(tuple(done))) from None
        except OSError as exc:
            raise IngestError([Problem(str(path), f"cannot read: {exc.strerror or exc}")],
                              IngestReport(tuple(done))) from None
    return IngestReport(tuple(done))


class _Bad(Exception):
    def __init__(self, location: str, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message


def _ingest_file(storage: Storage, path: Path, kind: str,
                 progress: Callable[[IngestProgress], None] | None) -> FileReport:
    began = time.perf_counter()
    state = _Reading(path, kind, path.stat().st_size)
    with (path.open(encoding="utf-8", newline="") as text, storage.transaction(f"ingest {path.name}") as db,
          _Reader(_json_rows(text, state) if kind == "json" else _csv_rows(text, state), state) as batches):
        staging = _Staging(storage, db, path, kind)
        for batch in batches:
            stage = "storing" if batch.last else "reading"
            if progress is not None:
                progress(IngestProgress(path, stage, batch.readings, batch.position, state.total))
            staging.add(batch)
        staging.move()
    if progress is not None:
        progress(IngestProgress(path, "done", state.readings, state.total, state.total))
    return FileReport(path, kind, state.readings, staging.inserted, tuple(sorted(state.days)),
                      time.perf_counter() - began)


class _Staging:
    """The scratch table of a file's readings read but not yet stored, in the file's transaction ``db``.

    Each batch is bulk-loaded into it. A batch of a file in time order (it begins no earlier than the day of
    the readings staged, and spans at most two days) that reaches a later day completes the days before: its
    readings of those days are staged, all staged are moved into the readings while the next batch is read,
    sorted by client and time (a client's readings of a day side by side on disk, the day partition's index
    written in key order), and its readings of the later day begin a new scratch table. :meth:`move` moves
    what is left at the end (all of a file not in time order). The ids are checked once per file: a move
    asks the database only about ids not yet found to be clients."""

    def __init__(self, storage: Storage, db: Transaction, path: Path, kind: str) -> None:
        self.storage, self.db, self.path, self.kind = storage, db, path, kind
        self.inserted = 0
        self.table = "ingest_staging"
        self._latest: str | None = None  # the latest time staged (the database's text); None: nothing staged
        self._days: frozenset[date] = frozenset()
        self._clients: set[str] = set()  # ids found to be clients
        self._unchecked: set[str] = set()  # ids staged and not (yet) found to be clients
        db.scratch_table(self.table, _STAGED)

    def add(self, batch: _Batch) -> None:
        """Stage ``batch``; move the readings of the days it completes."""
        if not batch.rows:
            return
        self._days = batch.days
        cut = batch.latest[:10] + _MIDNIGHT  # the start of the batch's last day
        in_order = ((self._latest is None or batch.earliest[:10] >= self._latest[:10])
                    and date.fromisoformat(batch.latest[:10]) - date.fromisoformat(batch.earliest[:10]) <= _DAY)
        # staged readings all before the cut, or some of the batch's: days complete, moved now
        completes = self._latest < cut if self._latest is not None else batch.earliest < cut
        if in_order and completes:
            early = [row for row in batch.rows if row[2] < cut]
            late = [row for row in batch.rows if row[2] >= cut]
            if early:
                self._stage(early, {row[1] for row in early}, max(row[2] for row in early))
            self.move()
            self.db.scratch_table(self.table, _STAGED)
            if late:
                self._stage(late, {row[1] for row in late}, batch.latest)
        else:
            self._stage(batch.rows, batch.ids, batch.latest)

    def _stage(self, rows: list[Sequence[Any]], ids: Iterable[str], latest: str) -> None:
        """Bulk-load ``rows`` (of ``ids``, the latest at ``latest``) into the scratch table."""
        self.db.copy(self.table, _COLUMNS, rows)
        self._unchecked.update(i for i in ids if i not in self._clients)
        self._latest = latest if self._latest is None else max(self._latest, latest)

    def move(self) -> None:
        """Move the staged readings into the readings, after checking their ids: a plain insert when they are
        all new, else (a savepoint rolled back) skipping those stored."""
        if self._latest is None:
            return
        others = self.db.execute(_NOT_CLIENTS.format(staging=self.table)).fetchall() if self._unchecked else []
        unknown = [r for r in others if not r["user"]]
        if unknown:
            where = "series" if self.kind == "json" else "line"
            raise PayloadError("metering-data", [Problem(f"{self.path}:{where} {r['line']}: id",
                                                         f"{r['id']!r} is neither a client nor an end user")
                                                 for r in unknown])
        if not others:  # every id staged is a client's
            self._clients |= self._unchecked
            self._unchecked.clear()
        self.storage.prepare_days("meter_readings", self._days)
        move = (_MOVE_USERS if others else _MOVE).format(staging=self.table)
        try:  # new readings: a plain insert, much faster than checking each for a conflict
            with self.storage.transaction(f"ingest {self.path.name} (new readings)") as new:
                self.inserted += new.execute(move).rowcount
        except ConstraintError:  # some are stored already (or twice in the file)
            self.inserted += self.db.execute(move + " ON CONFLICT (client_id, timestamp) DO NOTHING").rowcount
        self._latest = None


#: Readings handed at a time from the thread reading a file to the one storing it.
_BATCH = _EVERY

_STAGED = "line INTEGER, id TEXT, timestamp {time}, active_power {real}"
_MIDNIGHT = "T00:00:00.000000Z"  # to_db_time of a day's start, after its date
_DAY = timedelta(days=1)

#: The ids of the scratch table that are not clients (at most 5, unknown ones first): ``user`` tells whether one
#: names an end user.
_NOT_CLIENTS = ("SELECT s.id, MIN(s.line) AS line, EXISTS (SELECT 1 FROM end_users u WHERE u.id = s.id) AS \"user\" "
                "FROM {staging} s WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = s.id) GROUP BY s.id "
                "ORDER BY 3, 2 LIMIT 5")

#: From the scratch table to the readings, in index order (a client's readings of a day end up side by side on
#: disk, which the aggregation of a zone reads), of a client and time read twice the first; ``_MOVE_USERS``
#: resolves end users to their clients.
_MOVE = ("INSERT INTO meter_readings (client_id, timestamp, active_power) "
         "SELECT id, timestamp, active_power FROM {staging} s ORDER BY 1, 2, s.line")
_MOVE_USERS = ("INSERT INTO meter_readings (client_id, timestamp, active_power) "
               "SELECT COALESCE(c.id, u.client_id), s.timestamp, s.active_power FROM {staging} s "
               "LEFT JOIN clients c ON c.id = s.id LEFT JOIN end_users u ON u.id = s.id "
               "ORDER BY 1, 2, s.line")


# -- CSV ------------------------------------------------------------------------------------------------

def _csv_rows(text: TextIO, state: _Reading) -> Iterator[Sequence[Any]]:
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        raise _Bad(f"{state.path}:1", "empty file: the first line names the columns id, time, measurement[, unit]")
    names = [h.strip() for h in header]
    unknown = sorted(set(names) - {"id", "time", "measurement", "unit"})
    missing = [n for n in ("id", "time", "measurement") if n not in names]
    if unknown or missing or len(set(names)) != len(names):
        raise _Bad(f"{state.path}:1", f"the header must name id, time, measurement and optionally unit, once each "
                                      f"(unknown: {', '.join(unknown) or '-'}; missing: {', '.join(missing) or '-'})")
    at_id, at_time, at_value = names.index("id"), names.index("time"), names.index("measurement")
    at_unit = names.index("unit") if "unit" in names else None
    width = len(names)
    # a file repeats its ids, times and units on every line: each distinct text is checked once
    ids: set[str] = set()
    times: dict[str, str] = {}
    units: dict[str, float] = {}
    for number, row in enumerate(reader, start=2):
        if len(row) != width:
            if not row:
                continue
            raise _Bad(f"{state.path}:{number}", f"{len(row)} fields, the header has {width}")
        identifier = row[at_id]
        if identifier not in ids:
            ids.add(_identifier(identifier, f"{state.path}:{number}: id"))
        stamp = times.get(row[at_time])
        if stamp is None:
            stamp = _time(row[at_time], f"{state.path}:{number}: time", state, times)
        factor = units.get(row[at_unit]) if at_unit is not None else 1.0
        if factor is None:
            factor = units[row[at_unit]] = _factor(row[at_unit], f"{state.path}:{number}: unit")
        try:
            value = float(row[at_value])
        except ValueError:
            raise _Bad(f"{state.path}:{number}: measurement", f"{row[at_value]!r} is not a number") from None
        if not math.isfinite(value):
            raise _Bad(f"{state.path}:{number}: measurement", "NaN and infinities are not accepted")
        state.readings += 1
        if state.readings % _EVERY == 0:
            state.position = text.buffer.tell() if hasattr(text, "buffer") else state.position
        yield number, identifier, stamp, value * factor


def _time(text: str, location: str, state: _Reading, known: dict[str, str]) -> str:
    """The database time of a timestamp text (remembered in ``known``), noting its UTC day."""
    try:
        moment = parse_datetime(text).astimezone(UTC)
    except TermError as exc:
        raise _Bad(location, str(exc)) from None
    if len(known) >= 100_000:
        known.clear()
    state.days.add(moment.date())
    known[text] = to_db_time(moment)
    return known[text]


def _identifier(text: str, location: str) -> str:
    if not text.strip():
        raise _Bad(location, "an identifier must not be empty")
    if "\x00" in text:
        raise _Bad(location, "an identifier must not contain a NUL character")
    return text


def _factor(unit: str, location: str) -> float:
    """Multiply a measurement in ``unit`` (a power unit) by this to get kW."""
    try:
        return _TO_KW[UNITS["power"].canonical(unit)]
    except TermError as exc:
        raise _Bad(location, str(exc)) from None


def _reading(moment: datetime, kw: float, state: _Reading) -> tuple[str, float]:
    """Count one reading and note its UTC day; the time as the database takes it."""
    moment = moment.astimezone(UTC)
    state.readings += 1
    state.days.add(moment.date())
    return to_db_time(moment), kw


# -- JSON -----------------------------------------------------------------------------------------------

def _json_rows(text: TextIO, state: _Reading) -> Iterator[Sequence[Any]]:
    for index, series in _json_series(text, state):
        try:
            parsed = MeteringSeries.model_validate(series)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            raise _Bad(f"{state.path}: $[{index}]{where}", message) from None
        identifier = _identifier(parsed.id, f"{state.path}: $[{index}].id")
        for reading in parsed.readings:
            yield index, identifier, *_reading(reading.time, reading.measurement * _TO_KW[reading.unit], state)


def _json_series(text: TextIO, state: _Reading) -> Iterator[tuple[int, Any]]:
    """The elements of the top-level JSON array of ``text``, one at a time, with their index."""
    decoder = json.JSONDecoder()
    buffer, at, eof, index = "", 0, False, 0

    def fill() -> bool:
        nonlocal buffer, at, eof
        chunk = text.read(max(_CHUNK, len(buffer)))
        state.position += len(chunk)
        buffer, at, eof = buffer[at:] + chunk, 0, not chunk
        return bool(chunk)

    def skip(expected: str) -> str:
        nonlocal at
        while True:
            while at < len(buffer) and buffer[at] in " \t\r\n":
                at += 1
            if at < len(buffer):
                if buffer[at] not in expected:
                    raise _Bad(f"{state.path}: $", f"expected {' or '.join(expected)} at character "
                                                   f"{state.position - len(buffer) + at}, found {buffer[at]!r}")
                at += 1
                return buffer[at - 1]
            if not fill():
                raise _Bad(f"{state.path}: $", "the file ends inside the top-level JSON array")

    skip("[")
    while True:
        while at < len(buffer) and buffer[at] in " \t\r\n":
            at += 1
        if at == len(buffer) and not fill():
            raise _Bad(f"{state.path}: $", "the file ends inside the top-level JSON array")
        if buffer[at] == "]" and index == 0:
            break
        try:
            element, end = decoder.raw_decode(buffer, at)
        except json.JSONDecodeError as exc:
            if not eof and fill():
                continue
            raise _Bad(f"{state.path}: $[{index}]", f"invalid JSON: {exc.msg}") from None
        if end == len(buffer) and not eof and fill():  # a number may go on in the next chunk
            continue
        at = end
        yield index, element
        index += 1
        if skip(",]") == "]":
            break
