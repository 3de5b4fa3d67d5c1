"""Issue 12: a sqlite file's commits are made durable by a group commit: a transaction returns only once a
sync of the WAL covers its commit, one sync covers every commit written before it (so threads that commit
at once share it), and a sync that fails fails the commit's acknowledgement, not the next one's."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from dso_saref.backend import Storage
from dso_saref.backend.errors import StorageError
from dso_saref.backend.storage.sqlite import GroupCommit, SqliteStorage


@pytest.fixture
def storage(tmp_path: Path):
    db = Storage(str(tmp_path / "dso.sqlite"))
    assert isinstance(db, SqliteStorage) and db.group is not None  # a file in WAL: group commit
    with db.transaction("setup") as tx:
        tx.execute("CREATE TABLE marks (n INTEGER PRIMARY KEY)")
    yield db
    db.close()


def test_a_transaction_returns_once_a_sync_covers_its_commit(storage: SqliteStorage) -> None:
    group = storage.group
    assert group is not None
    for n in range(5):
        syncs = group.syncs
        with storage.transaction("mark") as tx:
            tx.execute("INSERT INTO marks VALUES (?)", (n,))
        assert group.durable == group.pending and group.syncs == syncs + 1


def test_commits_of_many_threads_are_each_durable_when_acknowledged(storage: SqliteStorage) -> None:
    group = storage.group
    assert group is not None
    late: list[int] = []

    def mark(first: int) -> None:
        for n in range(first, first + 25):
            before = group.pending
            with storage.transaction("mark") as tx:
                tx.execute("INSERT INTO marks VALUES (?)", (n,))
            if group.durable < before + 1:  # this commit's number is above ``before``
                late.append(n)

    threads = [threading.Thread(target=mark, args=(100 * i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not late
    assert storage.query("SELECT COUNT(*) AS c FROM marks")[0]["c"] == 300
    assert group.durable == group.pending and group.syncs <= group.pending


def test_one_sync_covers_every_commit_written_before_it(tmp_path: Path) -> None:
    wal = tmp_path / "db-wal"
    wal.write_bytes(b"frames")
    group = GroupCommit(str(wal))
    first, second, third = group.written(), group.written(), group.written()
    group.wait(first)
    assert (group.syncs, group.durable) == (1, third)
    group.wait(third)  # covered already: no second sync
    group.wait(second)
    assert group.syncs == 1
    group.close()


def test_a_failed_sync_fails_that_wait_and_the_next_one_tries_again(tmp_path: Path) -> None:
    wal = tmp_path / "db-wal"
    group = GroupCommit(str(wal))  # the file is missing: the sync cannot open it
    commit = group.written()
    with pytest.raises(OSError):
        group.wait(commit)
    assert group.durable == 0 and group.syncs == 0
    wal.write_bytes(b"frames")
    group.wait(commit)
    assert group.durable == commit and group.syncs == 1
    group.close()


def test_a_commit_that_cannot_be_made_durable_is_an_error_of_its_transaction(storage: SqliteStorage) -> None:
    group = storage.group
    assert group is not None
    group.close()
    group.wal = str(Path(storage.path).parent / "missing" / "dso.sqlite-wal")
    with pytest.raises(StorageError, match="could not be made durable"), storage.transaction("mark") as tx:
        tx.execute("INSERT INTO marks VALUES (1)")


def test_an_in_memory_database_has_no_group_commit() -> None:
    db = Storage(":memory:")
    assert isinstance(db, SqliteStorage) and db.group is None
    db.close()


def test_without_the_group_commit_sqlite_syncs_every_commit(tmp_path: Path) -> None:
    db = SqliteStorage(str(tmp_path / "full.sqlite"), group_commit=False)
    assert db.group is None and db.query_one("PRAGMA synchronous")[0] == 2  # FULL
    db.close()
