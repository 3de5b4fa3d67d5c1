"""The reference DSO's database behind one interface: sqlite (embedded, the default) or PostgreSQL.

``Storage(url)`` opens the database a URL names and brings its schema up to date; the backend's use
cases run their statements in :meth:`Storage.transaction` and never know which database they talk to::

    from dso_saref.backend.storage import Storage

    storage = Storage("dso.sqlite")                     # sqlite file (":memory:" for tests)
    storage = Storage("postgresql://dso@127.0.0.1/dso")  # PostgreSQL 15+ (pip install 'dso-saref[postgres]')
    with storage.transaction("add zone") as db:
        db.execute("INSERT INTO zones (id) VALUES (?)", ("Z1",))
    storage.query("SELECT id FROM zones")

Modules: :mod:`.base` (the interface, time conversion), :mod:`.schema` (migrations), :mod:`.dialect`
(what the two databases spell differently), :mod:`.sqlite` and :mod:`.postgres` (the implementations).
"""

from dso_saref.backend.storage.base import (
    Cursor,
    FaultHook,
    Params,
    Row,
    Storage,
    Transaction,
    from_db_time,
    to_db_time,
)
from dso_saref.backend.storage.postgres import PostgresStorage
from dso_saref.backend.storage.schema import MIGRATIONS, Migration, Statement, Variant
from dso_saref.backend.storage.sqlite import SqliteStorage

__all__ = [
    "MIGRATIONS",
    "Cursor",
    "FaultHook",
    "Migration",
    "Params",
    "PostgresStorage",
    "Row",
    "SqliteStorage",
    "Statement",
    "Storage",
    "Transaction",
    "Variant",
    "from_db_time",
    "to_db_time",
]
