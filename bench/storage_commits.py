"""Commits per second of the sqlite file database with its group commit and with ``synchronous=FULL``
(one sync per commit), by threads each committing one small row at a time (issue 12: the REST API's
requests each commit once), on demand::

    python bench/storage_commits.py                       # 1 and 40 threads, 2,000 commits each run
    python bench/storage_commits.py --threads 1,10,40 --commits 5000 --dir /var/tmp

Prints commits/s, the process's CPU per commit and, for the group commit, how many syncs it took.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from dso_saref.backend.storage.sqlite import SqliteStorage


def run(directory: str, threads: int, commits: int, group_commit: bool) -> tuple[float, float, int | None]:
    """Commits/s, CPU ms a commit, and syncs (None without the group commit)."""
    storage = SqliteStorage(str(Path(tempfile.mkdtemp(dir=directory)) / "bench.sqlite"), group_commit=group_commit)
    with storage.transaction("setup") as db:
        db.execute("CREATE TABLE marks (n INTEGER)")
    numbers = iter(range(commits))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            with storage.transaction("mark") as db:
                db.execute("INSERT INTO marks VALUES (?)", (n,))

    syncs_before = storage.group.syncs if storage.group else 0
    cpu, wall = time.process_time(), time.perf_counter()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    syncs = storage.group.syncs - syncs_before if storage.group else None
    storage.close()
    return commits / wall, cpu / commits * 1000, syncs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,40")
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--dir", default=None, help="where the database goes (default: the temporary directory)")
    args = parser.parse_args()
    print(f"{'threads':>7} {'mode':>12} {'commits/s':>10} {'CPU ms/commit':>14} {'syncs':>7}")
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        for threads in (int(t) for t in args.threads.split(",")):
            for group_commit in (True, False):
                rate, cpu, syncs = run(directory, threads, args.commits, group_commit)
                print(f"{threads:7d} {'group commit' if group_commit else 'FULL':>12} {rate:10.0f} {cpu:14.3f} "
                      f"{syncs if syncs is not None else '-':>7}", flush=True)


if __name__ == "__main__":
    main()
