"""``dso-saref parties add|key|list|revoke`` (keys shown once, stored hashed) and ``dso-saref rest openapi``
(the document the API serves)."""

from __future__ import annotations

import json
import sqlite3

from click.testing import CliRunner

from dso_saref.app.seed import seed_world
from dso_saref.backend import DsoBackend, Storage
from dso_saref.backend.credentials import PARTY_ROLES, Credentials
from dso_saref.cli import main
from dso_saref.cli.parties import ROLES
from dso_saref.rest.app import create_app


def _db(tmp_path) -> str:
    path = str(tmp_path / "dso.sqlite")
    with Storage(path) as storage:
        seed_world(DsoBackend(storage))
    return path


def test_the_cli_roles_are_the_backends() -> None:
    assert ROLES == PARTY_ROLES


def test_add_shows_the_key_once_and_stores_only_its_hash(tmp_path) -> None:
    db = _db(tmp_path)
    result = CliRunner().invoke(main, ["parties", "add", "SP001", "--role", "service-provider", "--db", db])
    assert result.exit_code == 0, result.output
    token = next(line for line in result.output.splitlines() if line.startswith("dso_"))
    secret = token.split("_", 2)[2]
    raw = sqlite3.connect(db)
    dump = "\n".join(raw.iterdump())
    raw.close()
    assert token not in dump and secret not in dump
    with Storage(db) as storage:
        caller = Credentials(storage).authenticate(token, now=DsoBackend(storage).now())
    assert caller.party.provider_id == "SP001" and caller.party.knowledge_base_id == "https://sp001.example.org/kb"
    listed = CliRunner().invoke(main, ["parties", "list", "--db", db, "--format", "json"])
    assert secret not in listed.output
    [party] = json.loads(listed.output)
    assert party["name"] == "SP001" and [k["state"] for k in party["keys"]] == ["active"]


def test_revoke_takes_effect_and_names_what_it_revoked(tmp_path) -> None:
    db = _db(tmp_path)
    runner = CliRunner()
    runner.invoke(main, ["parties", "add", "TP", "--role", "third-party", "--kb-id", "https://tp.example.org/kb",
                         "--db", db])
    second = runner.invoke(main, ["parties", "key", "TP", "--db", db, "--expires-in", "1"])
    assert second.exit_code == 0 and "expires 20" in second.output
    result = runner.invoke(main, ["parties", "revoke", "TP", "--db", db])
    assert result.exit_code == 0 and "revoked 2 key(s) of TP" in result.output
    listed = runner.invoke(main, ["parties", "list", "--db", db])
    assert listed.output.count("revoked") == 2


def test_bad_input_is_named(tmp_path) -> None:
    db = _db(tmp_path)
    runner = CliRunner()
    unknown = runner.invoke(main, ["parties", "add", "SP999", "--role", "service-provider", "--db", db])
    assert unknown.exit_code == 1 and "SP999" in unknown.output
    bad = runner.invoke(main, ["parties", "add", "a b", "--role", "third-party", "--db", db])
    assert bad.exit_code == 1 and "party name" in bad.output
    missing = runner.invoke(main, ["parties", "revoke", "NOBODY", "--db", db])
    assert missing.exit_code == 1 and "NOBODY" in missing.output
    assert runner.invoke(main, ["parties", "list", "--db", str(tmp_path / "none.sqlite")]).exit_code == 2


def test_openapi_export_is_the_served_document(tmp_path) -> None:
    out = tmp_path / "openapi.json"
    result = CliRunner().invoke(main, ["rest", "openapi", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with Storage(":memory:") as storage:
        served = create_app(DsoBackend(storage)).openapi()
    assert json.loads(out.read_text()) == json.loads(json.dumps(served))
    partner = CliRunner().invoke(main, ["rest", "openapi", "--api", "partner"])
    assert "/v1/flexibility/activation-plans" in json.loads(partner.output)["paths"]
