"""The backend database: migrations, transactions, the fault hook, WAL files."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dso_saref.backend import Storage, StorageError
from dso_saref.backend.storage import MIGRATIONS, Migration, from_db_time, to_db_time

SPEC_4_2_TABLES = {"lv_client_readings", "mv_client_readings", "secondary_substation_readings",
                   "primary_substation_readings", "grid_topology", "clients", "secondary_substations",
                   "primary_substations"}
RUNNING_MODULE_TABLES = {"end_users", "service_providers", "consents", "operations", "flexibility_needs",
                         "flexibility_offers", "activation_plans", "activation_plan_entries", "allocations",
                         "fault_location_settings", "fault_notifications", "fault_events", "hems", "hems_status",
                         "hems_voltage", "incentive_offers", "user_preferences", "elasticity_runs",
                         "disaggregated_data"}


def test_spec_4_2_data_model_and_running_module_tables_exist():
    storage = Storage()
    assert set(storage.tables()) >= SPEC_4_2_TABLES | RUNNING_MODULE_TABLES
    assert storage.schema_version == MIGRATIONS[-1].version


def test_migrations_apply_in_order_once(tmp_path):
    path = tmp_path / "dso.sqlite"
    first = Storage(path, migrations=MIGRATIONS[:2])
    assert first.schema_version == 2
    assert "flexibility_needs" not in first.tables()
    first.close()
    second = Storage(path)
    assert second.schema_version == MIGRATIONS[-1].version
    assert "flexibility_needs" in second.tables()
    rows = second.query("SELECT version FROM schema_version ORDER BY version")
    assert [r["version"] for r in rows] == [m.version for m in MIGRATIONS]
    second.close()


def test_a_database_of_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "dso.sqlite"
    Storage(path, migrations=(*MIGRATIONS, Migration(99, "future", ("CREATE TABLE future (x)",)))).close()
    with pytest.raises(StorageError, match="newer"):
        Storage(path)


def test_file_database_uses_wal_and_full_sync(tmp_path):
    storage = Storage(tmp_path / "dso.sqlite")
    assert storage.query_one("PRAGMA journal_mode")[0] == "wal"
    assert storage.query_one("PRAGMA synchronous")[0] == 2  # FULL
    assert storage.query_one("PRAGMA foreign_keys")[0] == 1


def test_a_transaction_that_raises_leaves_nothing():
    storage = Storage()
    with pytest.raises(RuntimeError), storage.transaction("t") as db:
        db.execute("INSERT INTO zones (id) VALUES ('Z1')")
        raise RuntimeError("boom")
    assert storage.query("SELECT * FROM zones") == []


def test_sqlite_errors_become_storage_errors_and_roll_back():
    storage = Storage()
    with pytest.raises(StorageError) as info, storage.transaction("t") as db:
        db.execute("INSERT INTO zones (id) VALUES ('Z1')")
        db.execute("INSERT INTO zones (id) VALUES ('Z1')")
    assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
    assert storage.query("SELECT * FROM zones") == []


def test_nested_transaction_is_a_savepoint():
    storage = Storage()
    with storage.transaction("outer") as db:
        db.execute("INSERT INTO zones (id) VALUES ('Z1')")
        with pytest.raises(ValueError), storage.transaction("inner") as inner:
            inner.execute("INSERT INTO zones (id) VALUES ('Z2')")
            raise ValueError
    assert [r["id"] for r in storage.query("SELECT id FROM zones")] == ["Z1"]


def test_fault_hook_runs_before_commit_of_the_outermost_transaction_only():
    calls = []

    def hook(operation: str) -> None:
        calls.append(operation)
        if operation == "crash":
            raise OSError("simulated crash")

    storage = Storage(fault_hook=hook)
    with storage.transaction("fine") as db, storage.transaction("nested"):
        db.execute("INSERT INTO zones (id) VALUES ('Z1')")
    with pytest.raises(OSError), storage.transaction("crash") as db:
        db.execute("INSERT INTO zones (id) VALUES ('Z2')")
    assert calls[-2:] == ["fine", "crash"]
    assert "nested" not in calls
    assert [r["id"] for r in storage.query("SELECT id FROM zones")] == ["Z1"]


def test_db_time_is_utc_fixed_width_and_round_trips():
    lisbon_summer = timezone(timedelta(hours=1))
    moment = datetime(2021, 9, 27, 11, 0, tzinfo=lisbon_summer)
    text = to_db_time(moment)
    assert text == "2021-09-27T10:00:00.000000Z"
    assert from_db_time(text) == moment
    assert to_db_time(datetime(2021, 9, 27, 9, 59, 59, 999999, tzinfo=UTC)) < text
    with pytest.raises(ValueError, match="naive"):
        to_db_time(datetime(2021, 9, 27))
