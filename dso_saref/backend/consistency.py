"""The database's own consistency checks: what must hold after any crash, on either database.

:func:`check_consistency` lists every problem it finds (an empty list: consistent). It checks the file
itself on sqlite (``PRAGMA integrity_check`` and ``foreign_key_check``; PostgreSQL enforces its foreign
keys itself and recovers its files from its write-ahead log), the schema version, and the invariants of
the use cases that the schema's constraints cannot express::

    problems = check_consistency(storage)
    assert not problems, "\\n".join(problems)
"""

from __future__ import annotations

from dso_saref.backend.storage import MIGRATIONS, Storage

__all__ = ["check_consistency"]

#: (what must not exist, the query that finds it): each row found is one problem.
_INVARIANTS: tuple[tuple[str, str], ...] = (
    ("an offer of a cleared need that the clearing did not consider",
     "SELECT o.request_id, o.provider_id, o.offer_id FROM flexibility_offers o JOIN flexibility_needs n "
     "ON n.request_id = o.request_id WHERE n.status = 'cleared' AND o.status = 'received'"),
    ("an offer without meters",
     "SELECT o.request_id, o.provider_id, o.offer_id FROM flexibility_offers o WHERE NOT EXISTS (SELECT 1 FROM "
     "offer_meters m WHERE m.request_id = o.request_id AND m.provider_id = o.provider_id AND m.offer_id = o.offer_id)"),
    ("an allocation of an offer the clearing did not accept",
     "SELECT a.request_id, a.provider_id, a.offer_id FROM allocations a JOIN flexibility_offers o ON o.request_id = "
     "a.request_id AND o.provider_id = a.provider_id AND o.offer_id = a.offer_id WHERE o.status NOT IN "
     "('accepted', 'activated') AND EXISTS (SELECT 1 FROM flexibility_needs n WHERE n.request_id = a.request_id "
     "AND n.status = 'cleared')"),
    ("an activated offer without an acknowledged plan",
     "SELECT o.request_id, o.provider_id, o.offer_id FROM flexibility_offers o WHERE o.status = 'activated' AND NOT "
     "EXISTS (SELECT 1 FROM activation_plan_entries e JOIN activation_plans p ON p.id = e.plan_id WHERE "
     "e.request_id = o.request_id AND e.offer_id = o.offer_id AND p.provider_id = o.provider_id AND "
     "p.status = 'acknowledged')"),
    ("a plan without entries",
     "SELECT p.id FROM activation_plans p WHERE NOT EXISTS (SELECT 1 FROM activation_plan_entries e "
     "WHERE e.plan_id = p.id)"),
    ("a revoked consent without its revocation time",
     "SELECT id FROM consents WHERE status = 'revoked' AND revoked_at IS NULL"),
    ("two open fault events for one postal code",
     "SELECT postal_code FROM fault_events WHERE status = 'open' GROUP BY postal_code HAVING COUNT(*) > 1"),
)


def check_consistency(storage: Storage) -> list[str]:
    """Every inconsistency found in ``storage`` (see the module doc), one line each."""
    problems = []
    if storage.dialect.name == "sqlite":
        integrity = [r[0] for r in storage.query("PRAGMA integrity_check")]
        if integrity != ["ok"]:
            problems += [f"sqlite integrity: {line}" for line in integrity]
        problems += [f"foreign key: row {r[1]} of {r[0]} names a missing {r[2]}"
                     for r in storage.query("PRAGMA foreign_key_check")]
    if storage.schema_version != MIGRATIONS[-1].version:
        problems.append(f"schema version {storage.schema_version}, expected {MIGRATIONS[-1].version}")
    for what, query in _INVARIANTS:
        problems += [f"{what}: {', '.join(str(v) for v in row)}" for row in storage.query(query)]
    problems += _over_allocated(storage)
    problems += _acknowledged_but_missing(storage)
    return problems


def _over_allocated(storage: Storage) -> list[str]:
    """Needs whose accepted allocations exceed the need at some instant (an allocation starts there)."""
    rows = storage.query(
        "SELECT n.request_id, a.start, n.quantity, (SELECT SUM(b.quantity) FROM allocations b WHERE b.request_id = "
        'n.request_id AND b.start <= a.start AND b."end" > a.start) AS total FROM flexibility_needs n JOIN '
        "allocations a ON a.request_id = n.request_id")
    return [f"need {r['request_id']} allocates {r['total']:g} of {r['quantity']:g} at {r['start']}"
            for r in rows if r["total"] > r["quantity"] * (1 + 1e-9) + 1e-9]


def _acknowledged_but_missing(storage: Storage) -> list[str]:
    """Offers acknowledged as accepted (in the registry of operations) that are not stored."""
    stored = {(r[0], r[1]) for r in storage.query("SELECT provider_id, offer_id FROM flexibility_offers")}
    problems = []
    for row in storage.query("SELECT actor, subject FROM operations WHERE operation = 'flexibility-offers' AND "
                             "outcome = 'accepted' AND subject <> ''"):
        missing = [i for i in row["subject"].split(",") if (row["actor"], i) not in stored]
        if missing:
            problems.append(f"offers {', '.join(missing)} of {row['actor']} acknowledged but not stored")
    return problems
