"""The command line contract: exit 0 / 1 (bad input) / 2 (usage), never a traceback."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dso_saref.cli import main
from tests.conftest import NAMES, ROOT

EXAMPLE = str(ROOT / "examples" / "hems-voltage.json")


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.output


def test_messages_prints_one_line_per_type_name_first() -> None:
    code, out = run("messages")
    assert code == 0
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == NAMES


def test_saref_turtle_then_unsaref_round_trips() -> None:
    code, turtle = run("saref", "hems-voltage", EXAMPLE)
    assert code == 0 and "saref:Measurement" in turtle
    code, out = run("unsaref", "hems-voltage", "-", stdin=turtle)
    assert code == 0
    assert json.loads(out)["Voltage_Monitoring"][0]["Hems_ID"] == "ID1234"


def test_bindings_format_round_trips() -> None:
    code, out = run("saref", "hems-voltage", EXAMPLE, "--format", "bindings")
    assert code == 0
    code, back = run("unsaref", "hems-voltage", "-", "--format", "bindings", stdin=out)
    assert code == 0 and json.loads(back)["Voltage_Monitoring"][0]["Voltage_from_Hems"] == 240.0


def test_every_rdf_format_round_trips() -> None:
    for fmt in ("nt", "json-ld"):
        code, out = run("saref", "hems-voltage", EXAMPLE, "--format", fmt)
        assert code == 0
        code, back = run("unsaref", "hems-voltage", "-", "--format", fmt, stdin=out)
        assert code == 0, back


def test_unknown_name_is_a_usage_error_listing_close_names() -> None:
    code, out = run("saref", "hems-voltag", EXAMPLE)
    assert code == 2 and "hems-voltage" in out


def test_malformed_json_is_bad_input() -> None:
    code, out = run("saref", "hems-voltage", "-", stdin="{")
    assert code == 1 and "not valid JSON" in out


def test_invalid_payload_names_the_json_path() -> None:
    payload = {"Voltage_Monitoring": [{"Hems_ID": "x", "timestamp": "2021-12-03T15:11:20Z",
                                       "Voltage_from_Hems": 1, "Voltage_from_Hems_unit": "parsecs"}]}
    code, out = run("saref", "hems-voltage", "-", stdin=json.dumps(payload))
    assert code == 1 and "$.Voltage_Monitoring[0].Voltage_from_Hems_unit" in out


def test_lenient_mode_drops_unknown_keys() -> None:
    code, out = run("saref", "hems-voltage-request", "-", "--lenient", "--format", "bindings",
                    stdin='{"Hems_ID": "a", "extra": 1}')
    assert code == 0 and json.loads(out)["hems-voltage-request"][0]["hems_id"] == '"a"'


def test_unreadable_file_is_a_usage_error() -> None:
    code, _ = run("saref", "hems-voltage", "/nonexistent/x.json")
    assert code == 2


def test_bad_rdf_is_bad_input() -> None:
    code, out = run("unsaref", "hems-voltage", "-", stdin="garbage")
    assert code == 1 and "not valid turtle" in out


def test_bad_time_zone_is_a_usage_error() -> None:
    code, _ = run("saref", "hems-voltage", EXAMPLE, "--timezone", "Mars/Olympus")
    assert code == 2
