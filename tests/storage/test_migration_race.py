"""Issue 15 item 10: two processes opening a new database at the same moment both succeed, and every
migration is applied exactly once (no "table already exists"), on a sqlite file and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator

import pytest

from dso_saref.backend.storage import MIGRATIONS, Storage
from tests.storage.database import KINDS, _admin, require_postgres, with_schema

ROUNDS = 25

#: Opens each URL it reads on stdin, and says how it went.
WORKER = textwrap.dedent("""
    import sys
    from dso_saref.backend.storage import Storage

    print("ready", flush=True)
    for line in sys.stdin:
        try:
            Storage(line.strip(), timeout=30).close()
            print("ok", flush=True)
        except Exception as exc:
            print("error", type(exc).__name__, str(exc).replace(chr(10), " "), flush=True)
""")


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen]]:
    """Two processes with the library imported, waiting for URLs."""
    procs = [subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        yield procs
    finally:
        for proc in procs:
            proc.stdin.close()
            proc.wait(timeout=30)


@pytest.mark.parametrize("kind", KINDS)
def test_two_processes_migrating_a_new_database_at_once_both_succeed(kind, workers, tmp_path):
    server = require_postgres() if kind == "postgresql" else None
    for _ in range(ROUNDS):
        schema = f"race_{uuid.uuid4().hex[:12]}"
        if server is None:
            url = str(tmp_path / f"{schema}.sqlite")
        else:
            _admin(server, f"CREATE SCHEMA {schema}")
            url = with_schema(server, schema)
        try:
            for proc in workers:  # both get the URL before either has answered
                proc.stdin.write(url + "\n")
                proc.stdin.flush()
            answers = [proc.stdout.readline().strip() for proc in workers]
            assert answers == ["ok", "ok"]
            with Storage(url) as storage:
                versions = [r["version"] for r in storage.query("SELECT version FROM schema_version ORDER BY 1")]
            assert versions == [m.version for m in MIGRATIONS]
        finally:
            if server is not None:
                _admin(server, f"DROP SCHEMA {schema} CASCADE")
