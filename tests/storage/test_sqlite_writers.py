"""Issue 12: processes sharing one sqlite file (the REST workers, the CLI) wait for each other's write lock
by trying again after pauses of 0.2 to 2 ms, not in sqlite's busy handler (sleeps up to 100 ms): every
write of each is stored once, a process killed while writing blocks nobody once the kernel has released
its locks, and a writer that cannot have the lock within its ``timeout`` gets a StorageError naming its
operation and stores nothing. Processes are spawned (``multiprocessing``) and driven through pipes."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from dso_saref.backend.errors import StorageError
from dso_saref.backend.storage.sqlite import SqliteStorage

SPAWN = multiprocessing.get_context("spawn")
THREADS, COMMITS = 4, 40


def write_rows(path: str, tag: str, ready: Connection, go: Connection) -> None:
    """A process of its own: ``THREADS`` threads each commit ``COMMITS`` rows, one a transaction, once told."""
    storage = SqliteStorage(path, timeout=60)
    ready.send("ready")
    go.recv()

    def write(thread: int) -> None:
        for n in range(COMMITS):
            with storage.transaction(f"mark {tag}") as tx:
                tx.execute("INSERT INTO marks (tag, n) VALUES (?, ?)", (f"{tag}-{thread}", n))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    storage.close()
    ready.send("done")


def hold_write_lock(path: str, orders: Connection, answers: Connection) -> None:
    """A process of its own: writes a row in a transaction and keeps it open until told to commit (anything
    else, or the pipe closing, rolls it back)."""
    storage = SqliteStorage(path)
    try:
        with storage.transaction("hold") as tx:
            tx.execute("INSERT INTO marks (tag, n) VALUES ('holder', 0)")
            answers.send("holding")
            if orders.recv() != "commit":
                raise RuntimeError("told to roll back")
        answers.send("committed")
    finally:
        storage.close()


@pytest.fixture
def path(tmp_path: Path) -> str:
    """A new sqlite file with a table of marks."""
    file = str(tmp_path / "dso.sqlite")
    with SqliteStorage(file) as storage, storage.transaction("setup") as tx:
        tx.execute("CREATE TABLE marks (tag TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (tag, n))")
    return file


class Holder:
    """Another process holding the database's write lock in an open transaction (its row not committed)."""

    def __init__(self, path: str) -> None:
        orders, self._orders = SPAWN.Pipe(duplex=False)  # (reading end, writing end)
        self._answers, answers = SPAWN.Pipe(duplex=False)
        self.process = SPAWN.Process(target=hold_write_lock, args=(path, orders, answers), daemon=True)
        self.process.start()
        if not self._answers.poll(60):
            raise RuntimeError("the holder did not start")
        assert self._answers.recv() == "holding"

    def commit(self) -> None:
        self._orders.send("commit")
        assert self._answers.recv() == "committed"

    def kill(self) -> None:
        self.process.kill()
        self.process.join()


@contextmanager
def holding(path: str) -> Iterator[Holder]:
    """Another process holding the write lock of ``path`` (killed at the end if still there). Open the
    test's own storages first: opening one checks the migrations in a write transaction."""
    holder = Holder(path)
    try:
        yield holder
    finally:
        holder.kill()


def rows(path: str) -> list[tuple[str, int]]:
    with SqliteStorage(path) as storage:
        return [(r["tag"], r["n"]) for r in storage.query("SELECT tag, n FROM marks ORDER BY tag, n")]


def test_a_file_in_wal_waits_itself_and_memory_is_unchanged(path: str) -> None:
    with SqliteStorage(path, timeout=3) as storage:
        assert storage.waits_itself and storage.query_one("PRAGMA busy_timeout")[0] == 0
    with SqliteStorage(path, timeout=3, busy_handler=True) as storage:
        assert not storage.waits_itself and storage.query_one("PRAGMA busy_timeout")[0] == 3000
    with SqliteStorage(":memory:", timeout=3) as storage:
        assert not storage.waits_itself and storage.query_one("PRAGMA busy_timeout")[0] == 3000


def test_two_processes_writing_one_file_at_once_store_every_row_once(path: str) -> None:
    pipes = [(SPAWN.Pipe(duplex=False), SPAWN.Pipe(duplex=False)) for _ in range(2)]
    processes = [SPAWN.Process(target=write_rows, args=(path, tag, ready[1], go[0]), daemon=True)
                 for tag, (ready, go) in zip("ab", pipes, strict=True)]
    for process in processes:
        process.start()
    try:
        for ready, _ in pipes:
            assert ready[0].poll(60) and ready[0].recv() == "ready"
        for _, go in pipes:  # both are ready before either starts
            go[1].send("go")
        for ready, _ in pipes:
            assert ready[0].poll(120) and ready[0].recv() == "done"
    finally:
        for process in processes:
            process.join(30)
    assert [p.exitcode for p in processes] == [0, 0]
    expected = sorted((f"{tag}-{thread}", n) for tag in "ab" for thread in range(THREADS) for n in range(COMMITS))
    assert rows(path) == expected


def test_a_writer_that_cannot_have_the_lock_in_time_gets_an_error_naming_its_operation(path: str) -> None:
    with SqliteStorage(path, timeout=0.2) as storage, holding(path) as holder:
        assert storage.query("SELECT COUNT(*) AS c FROM marks")[0]["c"] == 0  # reading is not blocked
        with pytest.raises(StorageError, match=r"^store offer O7: database is locked"), \
                storage.transaction("store offer O7") as tx:
            tx.execute("INSERT INTO marks (tag, n) VALUES ('O7', 1)")
        holder.commit()
    assert rows(path) == [("holder", 0)]


def test_a_waiting_writer_goes_on_once_the_other_process_commits(path: str) -> None:
    done: list[BaseException | None] = []

    def write(storage: SqliteStorage) -> None:
        try:
            with storage.transaction("store offer O8") as tx:
                tx.execute("INSERT INTO marks (tag, n) VALUES ('O8', 1)")
            done.append(None)
        except BaseException as exc:
            done.append(exc)

    with SqliteStorage(path, timeout=60) as storage, holding(path) as holder:
        writer = threading.Thread(target=write, args=(storage,))
        writer.start()  # waits for the holder, or finds the lock free if the holder is quicker
        holder.commit()
        writer.join(60)
    assert done == [None]
    assert rows(path) == [("O8", 1), ("holder", 0)]


def test_a_process_killed_while_writing_blocks_no_one_after_the_kernel_released_its_locks(path: str) -> None:
    with SqliteStorage(path, timeout=0.1) as storage, holding(path) as holder:
        with pytest.raises(StorageError, match="database is locked"), storage.transaction("before") as tx:
            tx.execute("INSERT INTO marks (tag, n) VALUES ('before', 1)")
        holder.kill()  # returns once the process is gone, and with it its locks
        storage.timeout = 30
        with storage.transaction("after") as tx:
            tx.execute("INSERT INTO marks (tag, n) VALUES ('after', 1)")
    assert rows(path) == [("after", 1)]  # the killed process's row was never committed


def test_another_program_on_the_file_is_waited_for_and_excluded(path: str) -> None:
    with SqliteStorage(path, timeout=0.1) as storage:
        other = sqlite3.connect(path, isolation_level=None)  # e.g. the sqlite3 shell: none of our waiting
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO marks (tag, n) VALUES ('shell', 1)")
        with pytest.raises(StorageError, match=r"^mark: database is locked"), storage.transaction("mark") as tx:
            tx.execute("INSERT INTO marks (tag, n) VALUES ('ours', 1)")
        other.execute("COMMIT")
        with storage.transaction("mark") as tx:
            tx.execute("INSERT INTO marks (tag, n) VALUES ('ours', 2)")
    other.close()
    assert rows(path) == [("ours", 2), ("shell", 1)]
