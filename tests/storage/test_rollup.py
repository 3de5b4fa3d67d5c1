"""Issue 14: the quarter-hour rollup ``meter_quarters`` (PostgreSQL, migration 7) always equals the clients'
readings grouped per client and UTC quarter-hour, whoever writes them: a file ingested again, overlapping
files, two connections ingesting at once, the data layer's readings and their corrections, deletes, updates
and truncation, and the migration that creates it on a database that already holds readings."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dso_saref.backend.grid import GridData
from dso_saref.backend.ingest import ingest_metering
from dso_saref.backend.storage import MIGRATIONS, Storage, to_db_time
from dso_saref.messages.grid_data import LvClientReading, MvClientReading
from tests.storage import database as databases
from tests.storage.database import Database

DAY = datetime(2021, 9, 27, tzinfo=UTC)
HOUSEHOLDS = ("LV1", "LV2", "LV3")

#: The readings of every client grouped per UTC quarter-hour: what the rollup must hold.
GROUPED = ("SELECT client_id, unixepoch(timestamp) / 900 * 900 AS quarter, SUM(active_power) AS total, "
           "COUNT(*) AS readings FROM net_active_power GROUP BY 1, 2 ORDER BY 1, 2")
ROLLED = "SELECT client_id, quarter, total, readings FROM meter_quarters ORDER BY 1, 2"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """A new PostgreSQL schema (the rollup is PostgreSQL's; skips without a server)."""
    with databases.test_database("postgresql", tmp_path) as db:
        yield db


def add_clients(storage: Storage) -> GridData:
    grid = GridData(storage)
    grid.add_zone("Z")
    for i, client in enumerate(HOUSEHOLDS):
        grid.add_client(client, voltage_level="LV", meter_id=f"M{i}", zone_id="Z")
    grid.add_client("MV1", voltage_level="MV", meter_id="M-MV1")
    return grid


@pytest.fixture
def storage(database: Database) -> Storage:
    storage = database.open()
    add_clients(storage)
    return storage


def assert_in_step(storage: Storage) -> list[tuple]:
    """The rollup equals the readings grouped (totals up to rounding: sums in another order); returns it."""
    expected = storage.query(GROUPED)
    actual = storage.query(ROLLED)
    assert [(r[0], r[1], r[3]) for r in actual] == [(r[0], r[1], r[3]) for r in expected]
    for a, e in zip(actual, expected, strict=True):
        assert a[2] == pytest.approx(e[2], rel=1e-9, abs=1e-9), (a, e)
    return [tuple(r) for r in actual]


def csv_file(folder: Path, name: str, readings: list[tuple[str, datetime, float]]) -> Path:
    path = folder / name
    path.write_text("id,time,measurement\n" + "".join(f"{c},{t.isoformat()},{v!r}\n" for c, t, v in readings),
                    encoding="utf-8")
    return path


def quarters(client: str, first: int, count: int, *, minute: int = 0, value: float = 1.0):
    return [(client, DAY + timedelta(minutes=15 * q + minute), value + q) for q in range(first, first + count)]


def test_a_file_ingested_again_adds_nothing(storage, tmp_path):
    path = csv_file(tmp_path, "a.csv", quarters("LV1", 0, 8) + quarters("LV2", 90, 12))  # over two UTC days
    assert ingest_metering(storage, [path]).inserted == 20
    before = assert_in_step(storage)
    assert len(before) == 20
    assert ingest_metering(storage, [path]).inserted == 0
    assert storage.query(ROLLED) == before


def test_an_ingestion_that_fails_before_its_commit_leaves_both_as_they_were(database, storage, tmp_path):
    ingest_metering(storage, [csv_file(tmp_path, "a.csv", quarters("LV1", 0, 4))])
    before = assert_in_step(storage)

    def crash(operation: str) -> None:
        if operation.startswith("ingest "):
            raise RuntimeError("the process dies before COMMIT")

    failing = database.open(fault_hook=crash)
    with pytest.raises(RuntimeError, match="dies"):
        ingest_metering(failing, [csv_file(tmp_path, "b.csv", quarters("LV1", 0, 8, minute=5) + quarters("LV2", 0, 8))])
    assert storage.query(ROLLED) == before
    assert storage.query_one("SELECT COUNT(*) FROM meter_readings")[0] == 4


def test_overlapping_files_and_readings_sharing_a_quarter(storage, tmp_path):
    first = csv_file(tmp_path, "a.csv", quarters("LV1", 0, 8))
    second = csv_file(tmp_path, "b.csv", quarters("LV1", 4, 8) + quarters("LV1", 0, 8, minute=5, value=10.0))
    assert ingest_metering(storage, [first, second]).inserted == 8 + 4 + 8
    rows = assert_in_step(storage)
    assert [r[3] for r in rows] == [2] * 8 + [1] * 4  # :00 and :05 of the first 8 quarter-hours
    assert rows[0][2] == pytest.approx(1.0 + 10.0)


def test_bulk_loads_of_new_and_of_known_quarter_hours(storage, tmp_path):
    """A statement of 1,000 readings or more first inserts its quarter-hours as new ones."""
    first = csv_file(tmp_path, "a.csv", quarters("LV1", 0, 600) + quarters("LV2", 0, 600))
    second = csv_file(tmp_path, "b.csv", quarters("LV2", 500, 600, minute=5) + quarters("LV3", 0, 600))
    assert ingest_metering(storage, [first, second]).inserted == 2400
    rows = assert_in_step(storage)
    assert (len(rows), sum(r[3] for r in rows)) == (600 * 3 + 500, 2400)


@pytest.mark.parametrize("order", ["by client", "by time"])
def test_a_file_of_several_batches_repeating_itself(storage, tmp_path, order):
    """A file read 50,000 readings at a time (in time order: the days it is past stored while the next are read):
    later readings repeat earlier ones (skipped) and add readings to their quarter-hours (counted in)."""
    first = [(c, DAY + timedelta(minutes=15 * q, seconds=30 * k), 1.0 + q)
             for c in (*HOUSEHOLDS, "MV1") for k in range(28) for q in range(960)]  # 10 days
    if order == "by time":
        first.sort(key=lambda r: r[1])
    later = [("LV1", DAY + timedelta(minutes=15 * q, seconds=840), 2.0) for q in range(500)]
    path = csv_file(tmp_path, "big.csv", first + first[:500] + later)
    assert len(first) == 107_520 and ingest_metering(storage, [path]).inserted == 108_020
    rows = assert_in_step(storage)
    assert (len(rows), sum(r[3] for r in rows)) == (4 * 960, 108_020)


@pytest.mark.parametrize("count", [8, 600], ids=["small", "bulk"])
@pytest.mark.parametrize("minute", [0, 5], ids=["same readings", "same quarter-hours"])
def test_two_connections_ingesting_at_once_count_each_reading_once(database, storage, tmp_path, minute, count):
    """The first ingestion holds its transaction open, written but not committed, while the second writes
    the same readings (or other readings of the same quarter-hours) and waits for it."""
    written, release = threading.Event(), threading.Event()
    pids: list[int] = []

    def hold(operation: str) -> None:
        if operation.startswith("ingest "):
            pids.append(first_storage.query_one("SELECT pg_backend_pid()")[0])
            written.set()
            assert release.wait(30)

    first_storage = database.open(fault_hook=hold)
    second_storage = database.open()
    first = csv_file(tmp_path, "a.csv", quarters("LV1", 0, count) + quarters("LV2", 0, count))
    second = csv_file(tmp_path, "b.csv", quarters("LV2", 0, count, minute=minute) + quarters("LV3", 0, count))
    results: dict[str, int] = {}

    def ingest(name: str, target: Storage, path: Path) -> None:
        results[name] = ingest_metering(target, [path]).inserted

    threads = [threading.Thread(target=ingest, args=("first", first_storage, first))]
    threads[0].start()
    assert written.wait(30)
    threads.append(threading.Thread(target=ingest, args=("second", second_storage, second)))
    threads[1].start()
    deadline = time.monotonic() + 30  # the second waits for a lock of the first (another process: the server)
    while not storage.query_one("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid)))",
                                (pids[0],))[0]:
        assert time.monotonic() < deadline, "the second ingestion never waited for the first"
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(30)
    assert results == {"first": 2 * count, "second": count if minute == 0 else 2 * count}
    rows = assert_in_step(storage)
    assert sum(r[3] for r in rows) == (3 if minute == 0 else 4) * count


def test_the_data_layer_readings_and_their_corrections(storage):
    grid = GridData(storage)

    def lv(client: str, q: int, withdrawn: float, voltage: float = 230.0) -> LvClientReading:
        return LvClientReading(id=client, timestamp=DAY + timedelta(minutes=15 * q), active_power_injected=0.5,
                               active_power_withdrawn=withdrawn, reactive_power_injected=0.0,
                               reactive_power_withdrawn=0.0, voltage=voltage)

    grid.record_readings([lv("LV1", q, 2.0) for q in range(4)] + [
        MvClientReading(id="MV1", timestamp=DAY, active_power_withdrawn=50.0, reactive_power_injected=0.0,
                        reactive_power_withdrawn=0.0)])
    assert [r[2] for r in assert_in_step(storage)] == [1.5] * 4 + [50.0]
    grid.record_readings([lv("LV1", 1, 7.0)])  # a correction: the stored reading replaced
    grid.record_readings([lv("LV1", 2, 2.0, voltage=231.0)])  # a correction of another measure only
    assert [r[2] for r in assert_in_step(storage)] == [1.5, 6.5, 1.5, 1.5, 50.0]
    storage.prepare_days("meter_readings", {DAY.date()})
    with storage.transaction("bulk reading of the same client and quarter-hour") as db:
        db.execute("INSERT INTO meter_readings VALUES ('LV1', ?, 3.0)", (to_db_time(DAY + timedelta(minutes=7)),))
    assert assert_in_step(storage)[0][2:] == (4.5, 2)


def test_deletes_updates_and_truncation(storage, tmp_path):
    ingest_metering(storage, [csv_file(tmp_path, "a.csv", quarters("LV1", 0, 8) + quarters("LV1", 0, 8, minute=5)
                                       + quarters("LV2", 0, 8))])
    with storage.transaction("delete") as db:
        db.execute("DELETE FROM meter_readings WHERE client_id = 'LV1' AND timestamp = ?", (to_db_time(DAY),))
        db.execute("DELETE FROM meter_readings WHERE client_id = 'LV2' AND timestamp < ?",
                   (to_db_time(DAY + timedelta(hours=1)),))
    rows = assert_in_step(storage)
    assert (rows[0][3], len(rows)) == (1, 8 + 4)
    with storage.transaction("update") as db:
        db.execute("UPDATE meter_readings SET active_power = active_power * 2 WHERE client_id = 'LV1'")
        db.execute("UPDATE meter_readings SET timestamp = timestamp + INTERVAL '2 hours' WHERE client_id = 'LV2'")
        db.execute("UPDATE meter_readings SET active_power = active_power WHERE client_id = 'LV2'")  # no change
    assert_in_step(storage)
    grid = GridData(storage)
    grid.record_readings([MvClientReading(id="MV1", timestamp=DAY, active_power_withdrawn=50.0,
                                          reactive_power_injected=0.0, reactive_power_withdrawn=0.0)])
    with storage.transaction("truncate") as db:
        db.execute("TRUNCATE meter_readings")
    assert assert_in_step(storage) == [("MV1", int(DAY.timestamp()), 50.0, 1)]
    with storage.transaction("delete") as db:
        db.execute("DELETE FROM mv_client_readings")
    assert storage.query(ROLLED) == []


def test_the_migration_fills_it_from_the_readings_already_stored(database, tmp_path, caplog):
    old = database.open(migrations=MIGRATIONS[:6])
    add_clients(old)
    ingest_metering(old, [csv_file(tmp_path, "a.csv", quarters("LV1", 90, 12) + quarters("LV1", 90, 4, minute=3))])
    GridData(old).record_readings([MvClientReading(id="MV1", timestamp=DAY, active_power_withdrawn=50.0,
                                                   reactive_power_injected=0.0, reactive_power_withdrawn=0.0)])
    old.close()
    caplog.set_level(logging.INFO, logger="dso_saref.backend.storage")
    storage = database.open()
    assert storage.schema_version == MIGRATIONS[-1].version
    rows = assert_in_step(storage)
    assert len(rows) == 13 and sum(r[3] for r in rows) == 17
    progress = [r.getMessage() for r in caplog.records if "migration 7" in r.getMessage()]
    assert progress == ["migration 7: meter_quarters of 2021-09-27 (day 1 of 2): 7 quarter-hours",
                        "migration 7: meter_quarters of 2021-09-28 (day 2 of 2): 6 quarter-hours"]
    ingest_metering(storage, [csv_file(tmp_path, "b.csv", quarters("LV2", 95, 4))])  # a day without partition
    assert_in_step(storage)
    caplog.clear()
    again = database.open()  # applied once: opening again changes nothing
    assert again.query(ROLLED) == storage.query(ROLLED)
    assert not [r for r in caplog.records if "migration 7" in r.getMessage()]


# -- any batches of any writers --------------------------------------------------------------------------

READING = st.tuples(st.sampled_from(HOUSEHOLDS), st.integers(0, 11), st.integers(0, 14),
                    st.floats(-50, 50, allow_nan=False))
BATCH = st.tuples(st.sampled_from(["ingest", "insert", "data layer", "delete"]), st.lists(READING, max_size=12))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(BATCH, min_size=1, max_size=6))
def test_any_batches_with_duplicates_keep_it_in_step(storage, tmp_path, batches):
    """Batches of readings (repeating each other and themselves) ingested from files, inserted by one statement,
    recorded (and corrected) through the data layer, or deleted: the rollup stays the readings grouped."""
    with storage.transaction("reset") as db:
        db.execute("DELETE FROM meter_readings")
        db.execute("DELETE FROM lv_client_readings")
    assert storage.query(ROLLED) == []
    storage.prepare_days("meter_readings", {DAY.date()})
    grid = GridData(storage)
    for number, (writer, batch) in enumerate(batches):
        readings = [(c, DAY + timedelta(minutes=15 * q + m), v) for c, q, m, v in batch]
        if writer == "ingest" and readings:
            ingest_metering(storage, [csv_file(tmp_path, f"batch-{number}.csv", readings)])
        elif writer == "insert" and readings:
            with storage.transaction("insert") as db:
                marks = ", ".join("(?, ?, ?)" for _ in readings)
                db.execute(f"INSERT INTO meter_readings VALUES {marks} ON CONFLICT DO NOTHING",
                           [x for c, t, v in readings for x in (c, to_db_time(t), v)])
        elif writer == "data layer":  # recorded, or corrected when stored already
            latest = {(c, t): v for c, t, v in readings}
            grid.record_readings([LvClientReading(id=c, timestamp=t, active_power_injected=max(-v, 0.0),
                                                  active_power_withdrawn=max(v, 0.0), reactive_power_injected=0.0,
                                                  reactive_power_withdrawn=0.0, voltage=230.0)
                                  for (c, t), v in latest.items()])
        elif writer == "delete":
            with storage.transaction("delete") as db:
                for c, t, _ in readings:
                    db.execute("DELETE FROM meter_readings WHERE client_id = ? AND timestamp = ?", (c, to_db_time(t)))
                    db.execute("DELETE FROM lv_client_readings WHERE id = ? AND timestamp = ?", (c, to_db_time(t)))
        assert_in_step(storage)
