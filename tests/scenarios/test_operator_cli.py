"""``dso-saref consent`` and ``operations`` (the DSO operator's customer channel and registry of
operations, spec 3.5) and ``demo``: exit 0, 1 for bad input naming what is wrong, 2 for usage errors,
never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dso_saref.app import scenarios, seed, serve
from dso_saref.app.seed import seed_world
from dso_saref.backend import DsoBackend, Outcome, Storage
from dso_saref.backend.consent import ConsentState
from dso_saref.cli import main
from dso_saref.cli import operator as operator_commands


def run(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A DSO database with pending consents of U0001, U0002 and U0003 for SP001."""
    path = tmp_path / "dso.sqlite"
    with Storage(path) as storage:
        backend = DsoBackend(storage)
        summary = seed_world(backend)
        for user in ("U0001", "U0002", "U0003"):
            backend.consents.request(end_user=user, service_provider="SP001", start=summary.start, end=summary.end,
                                     now=backend.now())
    return str(path)


def consents(db: str, *options: str) -> list[dict]:
    result = run("consent", "list", "--db", db, "--format", "json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_consent_list_shows_pending_consents(db: str) -> None:
    listed = consents(db)
    assert [(c["end_user"], c["state"], c["token"]) for c in listed] == [
        ("U0001", "pending", None), ("U0002", "pending", None), ("U0003", "pending", None)]
    text = run("consent", "list", "--db", db, "--user", "U0002")
    assert text.exit_code == 0 and listed[1]["id"] in text.stdout and "U0001" not in text.stdout


def test_consent_grant_refuse_revoke_through_the_customer_channel(db: str) -> None:
    u1, u2, u3 = (c["id"] for c in consents(db))
    granted = run("consent", "grant", u1, u2, "--db", db)
    assert granted.exit_code == 0, granted.output
    assert granted.stdout.count("granted consent") == 2
    assert run("consent", "refuse", u3, "--db", db, "--reason", "not now").exit_code == 0
    token = consents(db, "--user", "U0002")[0]["token"]
    revoked = run("consent", "revoke", token, "--db", db)  # by token
    assert revoked.exit_code == 0 and f"revoked consent {u2}" in revoked.stdout
    states = {c["end_user"]: c["state"] for c in consents(db)}
    assert states == {"U0001": "granted", "U0002": "revoked", "U0003": "refused"}
    assert [c["end_user"] for c in consents(db, "--status", "granted")] == ["U0001"]
    with Storage(db) as storage:
        log = DsoBackend(storage).registry.entries(outcome=Outcome.REFUSED, subject="U0003")
    assert "not now" in log[-1].reason


def test_consent_errors_name_what_is_wrong(db: str, tmp_path: Path) -> None:
    u1 = consents(db)[0]["id"]
    unknown = run("consent", "grant", "nope-1", u1, "nope-2", "--db", db)
    assert unknown.exit_code == 1 and "unknown consent id or token: nope-1, nope-2" in unknown.output
    assert consents(db)[0]["state"] == "pending", "nothing is changed when an id is unknown"
    assert run("consent", "grant", u1, "--db", db).exit_code == 0
    again = run("consent", "grant", u1, "--db", db)
    assert again.exit_code == 1 and f"{u1} is granted" in again.output
    assert run("consent", "revoke", consents(db)[1]["id"], "--db", db).exit_code == 1  # pending, not granted
    missing = run("consent", "list", "--db", str(tmp_path / "absent.sqlite"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    broken = run("consent", "list", "--db", str(garbage))
    assert broken.exit_code == 1 and "cannot open the backend database" in broken.output
    assert run("consent", "grant", "--db", db).exit_code == 2  # no id
    assert run("consent", "list", "--db", db, "--user", "U9999").exit_code == 1


def test_operations_lists_the_registry_with_filters(db: str) -> None:
    u1 = consents(db)[0]["id"]
    run("consent", "grant", u1, "--db", db)
    result = run("operations", "--db", db, "--user", "U0001", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["actor"], r["operation"], r["outcome"]) for r in rows] == [
        ("SP001", "authorization-request", "pending"), ("U0001", "grant consent", "granted")]
    assert rows[1]["token"] and rows[1]["at"].endswith("Z")
    by_kb = run("operations", "--db", db, "--provider", "https://sp001.example.org/kb", "--format", "json")
    assert len(json.loads(by_kb.stdout)) == 3  # the three authorization requests of SP001
    text = run("operations", "--db", db, "--outcome", "granted")
    assert text.exit_code == 0 and "grant consent" in text.stdout and "authorization-request" not in text.stdout


def test_operations_unknown_filters_are_named(db: str) -> None:
    result = run("operations", "--db", db, "--user", "U9999", "--provider", "SP404")
    assert result.exit_code == 1 and "unknown end user U9999 and service provider SP404" in result.output
    assert run("operations", "--db", db, "--format", "xml").exit_code == 2


def test_option_spellings_match_the_backend() -> None:
    assert operator_commands.DEFAULT_KE_URL == serve.DEFAULT_KE_URL
    assert operator_commands.DEFAULT_DSO_KB == seed.DSO_KB
    assert tuple(s.value for s in ConsentState) == operator_commands.CONSENT_STATES
    assert tuple(o.value for o in Outcome) == operator_commands.OUTCOMES


def test_demo_runs_the_seven_use_cases_and_exits_0() -> None:
    result = run("demo", "--seed", "7")
    assert result.exit_code == 0, result.output
    table = result.stdout[result.stdout.index("use case "):]
    rows = [line for line in table.splitlines() if line.startswith("HLUC")]
    assert [row.split()[0] + " " + row.split()[1] for row in rows] == [s.puc for s in scenarios.SCENARIOS]
    assert all(row.rstrip().endswith("PASS") for row in rows), table
    assert "7/7 use cases passed" in table
    assert "triples" in result.stdout and "FAILED: metering-request" in result.stdout  # narrated, refusals too


def test_demo_refuses_an_existing_database(tmp_path: Path) -> None:
    existing = tmp_path / "old.sqlite"
    existing.write_bytes(b"")
    result = run("demo", "--db", str(existing))
    assert result.exit_code == 2 and "exists" in result.output


def test_serve_usage_and_unreachable_ke() -> None:
    assert run("serve", "--db", ":memory:", "--kb-id", "not-an-iri").exit_code == 2
    assert run("serve", "--db", ":memory:", "--role", "third-party").exit_code == 2
    down = run("serve", "--db", ":memory:", "--ke-url", "http://127.0.0.1:9/rest", "--attempts", "1")
    assert down.exit_code == 1 and "http://127.0.0.1:9/rest" in down.output
