"""The backend database on both implementations: migrations, transactions, errors, the fault hook, URLs."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dso_saref.backend import Storage, StorageError
from dso_saref.backend.errors import ConstraintError
from dso_saref.backend.storage import MIGRATIONS, Migration, from_db_time, to_db_time
from dso_saref.backend.storage.postgres import PostgresStorage
from dso_saref.backend.storage.sqlite import SqliteStorage, sqlite_path

SPEC_4_2_TABLES = {"lv_client_readings", "mv_client_readings", "secondary_substation_readings",
                   "primary_substation_readings", "grid_topology", "clients", "secondary_substations",
                   "primary_substations"}
RUNNING_MODULE_TABLES = {"end_users", "service_providers", "consents", "operations", "flexibility_needs",
                         "flexibility_offers", "activation_plans", "activation_plan_entries", "allocations",
                         "fault_location_settings", "fault_notifications", "fault_events", "hems", "hems_status",
                         "hems_voltage", "incentive_offers", "user_preferences", "elasticity_runs",
                         "disaggregated_data", "meter_readings", "idempotency_keys"}


def zones(storage: Storage) -> list[str]:
    return [r["id"] for r in storage.query("SELECT id FROM zones ORDER BY id")]


def test_spec_4_2_data_model_and_running_module_tables_exist(database):
    storage = database.open()
    assert set(storage.tables()) >= SPEC_4_2_TABLES | RUNNING_MODULE_TABLES
    assert "net_active_power" not in storage.tables()  # a view
    assert storage.schema_version == MIGRATIONS[-1].version
    assert type(storage) is {"sqlite": SqliteStorage, "postgresql": PostgresStorage}[database.kind]


def test_migrations_apply_in_order_once(database):
    first = database.open(migrations=MIGRATIONS[:2])
    assert first.schema_version == 2
    assert "flexibility_needs" not in first.tables()
    first.close()
    second = database.open()
    assert second.schema_version == MIGRATIONS[-1].version
    assert "flexibility_needs" in second.tables()
    rows = second.query("SELECT version FROM schema_version ORDER BY version")
    assert [r["version"] for r in rows] == [m.version for m in MIGRATIONS]
    assert database.open().schema_version == MIGRATIONS[-1].version  # opening again changes nothing


def test_a_database_of_a_newer_schema_is_refused(database):
    database.open(migrations=(*MIGRATIONS, Migration(99, "future", ("CREATE TABLE future (x INTEGER)",)))).close()
    with pytest.raises(StorageError, match="newer"):
        database.open()


def test_migration_versions_must_increase(database):
    with pytest.raises(StorageError, match="increasing"):
        database.open(migrations=(MIGRATIONS[1], MIGRATIONS[0]))


def test_a_transaction_that_raises_leaves_nothing(database):
    storage = database.open()
    with pytest.raises(RuntimeError), storage.transaction("t") as db:
        db.execute("INSERT INTO zones (id) VALUES ('Z1')")
        raise RuntimeError("boom")
    assert zones(storage) == []


def test_driver_errors_become_storage_errors_and_roll_back(database):
    storage = database.open()
    with pytest.raises(ConstraintError, match="t: ") as info, storage.transaction("t") as db:
        db.execute("INSERT INTO zones (id) VALUES (?)", ("Z1",))
        db.execute("INSERT INTO zones (id) VALUES (?)", ("Z1",))
    assert isinstance(info.value, StorageError)
    assert zones(storage) == []
    with pytest.raises(StorageError, match=r"no such table|does not exist"):
        storage.query("SELECT * FROM nowhere")


def test_nested_transaction_is_a_savepoint(database):
    storage = database.open()
    with storage.transaction("outer") as db:
        db.execute("INSERT INTO zones (id) VALUES ('Z1')")
        with pytest.raises(ValueError), storage.transaction("inner") as inner:
            inner.execute("INSERT INTO zones (id) VALUES ('Z2')")
            raise ValueError
        with pytest.raises(ConstraintError), storage.transaction("inner") as inner:
            inner.execute("INSERT INTO zones (id) VALUES ('Z1')")
        db.execute("INSERT INTO zones (id) VALUES ('Z3')")
    assert zones(storage) == ["Z1", "Z3"]


def test_queries_inside_a_transaction_see_its_writes_and_others_see_them_after_commit(database):
    storage = database.open()
    other = database.open()
    with storage.transaction("t") as db:
        db.execute("INSERT INTO zones (id) VALUES ('Z1')")
        assert zones(storage) == ["Z1"]
        if database.kind == "postgresql":  # sqlite: the other connection would wait for the write lock
            assert zones(other) == []
    assert zones(other) == ["Z1"]


def test_returning_gives_the_key_the_database_chose(database):
    storage = database.open()
    with storage.transaction("t") as db:
        first = db.execute("INSERT INTO elasticity_runs (requester, user_id, received_at, observations, method, "
                           "output) VALUES ('r', 'u', ?, 1, 'm', '{}') RETURNING id", (to_db_time(datetime.now(UTC)),))
        second = db.execute("INSERT INTO elasticity_runs (requester, user_id, received_at, observations, method, "
                            "output) VALUES ('r', 'u', ?, 1, 'm', '{}') RETURNING id", (to_db_time(datetime.now(UTC)),))
        assert second.fetchone()[0] == first.fetchone()[0] + 1


def test_rows_read_by_name_and_position_and_as_dicts(database):
    storage = database.open()
    with storage.transaction("t") as db:
        db.executemany("INSERT INTO zones (id, description) VALUES (?, ?)", [("Z1", "one %"), ("Z2", "?")])
    row = storage.query_one("SELECT id, description FROM zones WHERE description LIKE '%\\%' ESCAPE '\\' OR "
                            "description = ?", ("?",))
    assert row is not None and row["id"] == row[0] and dict(row) == {"id": row[0], "description": row[1]}
    assert storage.query_one("SELECT id FROM zones WHERE id = ?", ("Z9",)) is None


def test_fault_hook_runs_before_commit_of_the_outermost_transaction_only(database):
    calls = []

    def hook(operation: str) -> None:
        calls.append(operation)
        if operation == "crash":
            raise OSError("simulated crash")

    storage = database.open(fault_hook=hook)
    calls.clear()  # the migrations do not call it, but be sure
    with storage.transaction("fine") as db, storage.transaction("nested"):
        db.execute("INSERT INTO zones (id) VALUES ('Z1')")
    with pytest.raises(OSError), storage.transaction("crash") as db:
        db.execute("INSERT INTO zones (id) VALUES ('Z2')")
    assert calls == ["fine", "crash"]
    assert zones(storage) == ["Z1"]


def test_a_lock_is_held_until_the_end_of_the_transaction(database):
    first, second = database.open(), database.open()
    holding, waited = threading.Event(), []

    def writer() -> None:
        holding.wait(timeout=30)
        with second.transaction("second") as db:
            db.lock("zone", "Z1")  # sqlite: BEGIN IMMEDIATE already waited for the first transaction
            waited.append(zones(second))

    thread = threading.Thread(target=writer)
    thread.start()
    with first.transaction("first") as db:
        db.lock("zone", "Z1")
        holding.set()
        thread.join(timeout=0.3)
        assert thread.is_alive()  # still waiting for the lock
        db.execute("INSERT INTO zones (id) VALUES ('Z1')")
    thread.join(timeout=30)
    assert waited == [["Z1"]]


def test_db_time_is_utc_fixed_width_and_round_trips():
    lisbon_summer = timezone(timedelta(hours=1))
    moment = datetime(2021, 9, 27, 11, 0, tzinfo=lisbon_summer)
    text = to_db_time(moment)
    assert text == "2021-09-27T10:00:00.000000Z"
    assert from_db_time(text) == moment and from_db_time(text).tzinfo is UTC
    assert from_db_time(moment).tzinfo is UTC  # what PostgreSQL returns
    assert to_db_time(datetime(2021, 9, 27, 9, 59, 59, 999999, tzinfo=UTC)) < text
    with pytest.raises(ValueError, match="naive"):
        to_db_time(datetime(2021, 9, 27))


def test_times_come_back_as_stored(database):
    storage = database.open()
    moment = datetime(2021, 9, 27, 10, 0, 0, 123456, tzinfo=UTC)
    with storage.transaction("t") as db:
        db.execute("INSERT INTO operations (at, actor, operation, outcome) VALUES (?, 'a', 'o', 'served')",
                   (to_db_time(moment),))
    assert from_db_time(storage.query_one("SELECT at FROM operations")["at"]) == moment


# -- URLs -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "path"), [(":memory:", ":memory:"), ("sqlite://", ":memory:"),
                                          ("sqlite:///dso.sqlite", "dso.sqlite"),
                                          ("sqlite:////var/dso.sqlite", "/var/dso.sqlite"),
                                          ("dso.sqlite", "dso.sqlite")])
def test_sqlite_urls_name_a_file_or_memory(url, path):
    assert sqlite_path(url) == path


def test_a_url_chooses_the_implementation(tmp_path):
    with Storage(f"sqlite:///{tmp_path}/a.sqlite") as storage:
        assert isinstance(storage, SqliteStorage) and storage.path == f"{tmp_path}/a.sqlite"
    with pytest.raises(StorageError, match="unsupported database URL scheme 'mysql'"):
        Storage("mysql://localhost/dso")


def test_an_unreachable_server_is_a_clear_error_without_the_password():
    with pytest.raises(StorageError, match="cannot open the backend database") as info:
        Storage("postgresql://dso:s3cret@127.0.0.1:1/dso", timeout=2)
    assert "s3cret" not in str(info.value)


# -- sqlite only ----------------------------------------------------------------------------------------

def test_sqlite_file_uses_wal_and_a_group_commit(tmp_path):
    storage = Storage(tmp_path / "dso.sqlite")
    assert storage.query_one("PRAGMA journal_mode")[0] == "wal"
    assert storage.query_one("PRAGMA synchronous")[0] == 1  # NORMAL: the group commit syncs the WAL
    assert storage.group is not None  # tests/storage/test_group_commit.py
    assert storage.query_one("PRAGMA foreign_keys")[0] == 1
    storage.close()


def test_sqlite_errors_keep_the_driver_error_as_cause():
    storage = Storage()
    with pytest.raises(StorageError) as info, storage.transaction("t") as db:
        db.execute("INSERT INTO zones (id) VALUES ('Z1')")
        db.execute("INSERT INTO zones (id) VALUES ('Z1')")
    assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
