"""Issue 11 items 1-3 at the command line: one reader for every command (a UTF-8 byte-order mark
accepted, any other encoding a clear error naming the file and byte offset, duplicate keys refused at
their JSON path or kept-last with a warning), and the size limit; exit 1, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dso_saref.app.seed import SP001
from dso_saref.cli import main
from tests.support.reference_dso import reference_dso_on_standin

REQUEST = {"start": "2021-09-27T00:00:00Z", "end": "2021-09-28T00:00:00Z"}
VOLTAGE = {"Voltage_Monitoring": [{"Hems_ID": "José", "timestamp": "2021-12-03T15:11:20Z",
                                   "Voltage_from_Hems": 240, "Voltage_from_Hems_unit": "volts"}]}
BOM = b"\xef\xbb\xbf"


def invoke(*args: str, stdin: bytes | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    return result

@pytest.fixture(scope="module")
def ke_url() -> Iterator[str]:
    """A KE stand-in on a free loopback port with the seeded reference DSO serving it."""
    with reference_dso_on_standin() as server:
        yield server.base_url


#: Each command that reads a JSON document: (arguments before the file, the payload it reads).
Command = Callable[[str, str], tuple[str, ...]]


def _ke_send(url: str, file: str) -> tuple[str, ...]:
    return ("ke", "send", "flexibility-needs-request", file, "--ke-url", url, "--role", "service-provider", "--kb-id",
            SP001)  # the seed's provider with an agreement


COMMANDS: dict[str, tuple[Command, object]] = {
    "saref": (lambda _url, file: ("saref", "hems-voltage", file), VOLTAGE),
    "unsaref --format bindings": (lambda _url, file: ("unsaref", "hems-voltage", file, "--format", "bindings"),
                                  None),  # the bindings of VOLTAGE, made below
    "validate": (lambda _url, file: ("validate", "hems-voltage", file), VOLTAGE),
    "ke send": (_ke_send, REQUEST),
}


def payload_of(command: str) -> object:
    payload = COMMANDS[command][1]
    if payload is None:
        saref = invoke("saref", "hems-voltage", "-", "--format", "bindings", stdin=json.dumps(VOLTAGE).encode())
        assert saref.exit_code == 0, saref.output
        return json.loads(saref.stdout)
    return payload


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "cp1252"])
def test_a_file_not_in_utf8_is_bad_input_naming_file_and_byte(command: str, encoding: str, tmp_path: Path,
                                                               ke_url: str) -> None:
    text = json.dumps(payload_of(command), ensure_ascii=False)
    if text.isascii():  # a character that Latin-1 and UTF-8 write differently
        text = text[:-1] + ', "note": "é"}'
    file = tmp_path / "payload.json"
    file.write_bytes(text.encode(encoding))
    result = invoke(*COMMANDS[command][0](ke_url, str(file)))
    assert result.exit_code == 1, result.output
    offset = 0 if encoding == "utf-16" else text.encode(encoding).index(b"\xe9")
    assert f"{file}: byte {offset}: not UTF-8" in result.output
    assert ("looks like UTF-16" in result.output) == (encoding == "utf-16")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_utf8_byte_order_mark_is_accepted_by_every_command(command: str, tmp_path: Path, ke_url: str) -> None:
    file = tmp_path / "payload.json"
    file.write_bytes(BOM + json.dumps(payload_of(command), ensure_ascii=False).encode())
    result = invoke(*COMMANDS[command][0](ke_url, str(file)))
    assert result.exit_code == 0, result.output
    if command == "ke send":
        assert json.loads(result.stdout)["answers"] == {"https://dso.example.org/kb": []}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_duplicate_key_is_refused_at_its_json_path(command: str, tmp_path: Path, ke_url: str) -> None:
    text = json.dumps(payload_of(command), ensure_ascii=False)
    key = {"saref": "Hems_ID", "validate": "Hems_ID", "ke send": "start", "unsaref --format bindings": "hems"}[command]
    first = text.index(f'"{key}"')
    end = text.index(",", first)
    doubled = text[:end] + ", " + text[first:end] + text[end:]  # the same key and value once more
    file = tmp_path / "payload.json"
    file.write_text(doubled, encoding="utf-8")
    result = invoke(*COMMANDS[command][0](ke_url, str(file)))
    assert result.exit_code == 1, result.output
    where = {"saref": "$.Voltage_Monitoring[0].Hems_ID", "validate": "$.Voltage_Monitoring[0].Hems_ID",
             "ke send": "$.start", "unsaref --format bindings": "$['hems-voltage'][0].hems"}[command]
    assert f"{where}: the key appears twice in one object" in result.output


@pytest.mark.parametrize("command", ["saref", "validate", "unsaref"])
def test_lenient_mode_keeps_the_last_duplicate_with_a_warning(command: str) -> None:
    doubled = ('{"Voltage_Monitoring": [{"Hems_ID": "first", "Hems_ID": "ID1", "timestamp": "2021-12-03T15:11:20Z",'
               ' "Voltage_from_Hems": 240, "Voltage_from_Hems_unit": "volts"}]}')
    if command == "unsaref":
        bindings = invoke("saref", "hems-voltage", "-", "--format", "bindings", "--lenient", stdin=doubled.encode())
        result = invoke("unsaref", "hems-voltage", "-", "--format", "bindings", stdin=bindings.stdout.encode())
        assert result.exit_code == 0 and json.loads(result.stdout)["Voltage_Monitoring"][0]["Hems_ID"] == "ID1"
        assert "warning" in bindings.stderr and "$.Voltage_Monitoring[0].Hems_ID" in bindings.stderr
        return
    result = invoke(command, "hems-voltage", "-", "--lenient", "--format", "json" if command == "validate" else "nt",
                    stdin=doubled.encode())
    assert result.exit_code == 0, result.output
    if command == "saref":
        assert "hems/ID1>" in result.stdout and "first" not in result.stdout
        assert "$.Voltage_Monitoring[0].Hems_ID: warning: the key appears twice" in result.stderr
    else:
        report = json.loads(result.stdout)["files"][0]
        assert report["conforms"] and report["warnings"][0]["location"] == "$.Voltage_Monitoring[0].Hems_ID"


def test_standard_input_is_named_in_errors() -> None:
    for command in ("saref", "validate"):
        result = invoke(command, "hems-voltage", "-", stdin=b'{"a": "\xff"}')
        assert result.exit_code == 1 and "<stdin>: byte 7: not UTF-8" in result.output


def test_rdf_input_not_in_utf8_is_bad_input(tmp_path: Path) -> None:
    turtle = invoke("saref", "hems-voltage", "-", stdin=json.dumps(VOLTAGE, ensure_ascii=False).encode()).stdout
    file = tmp_path / "graph.ttl"
    file.write_bytes(turtle.replace("José", "Jos\udce9").encode("utf-8", "surrogateescape"))
    unsaref = invoke("unsaref", "hems-voltage", str(file))
    assert unsaref.exit_code == 1 and f"{file}: not UTF-8: byte" in unsaref.output
    validate = invoke("validate", "hems-voltage", str(file))
    assert validate.exit_code == 1 and "not UTF-8" in validate.output


@pytest.mark.parametrize("command", [("saref", "hems-voltage"), ("validate", "hems-voltage"),
                                     ("unsaref", "hems-voltage"), ("ke", "send", "hems-voltage")])
def test_a_file_above_the_size_limit_is_refused_unread(command: tuple[str, ...], tmp_path: Path) -> None:
    file = tmp_path / "big.json"
    file.write_text(json.dumps(VOLTAGE), encoding="utf-8")
    extra = ("--role", "service-provider") if command[0] == "ke" else ()
    result = invoke(*command, str(file), "--max-size", "100", *extra)
    assert result.exit_code == 1, result.output
    assert f"{file}: larger than the --max-size of 100 bytes" in result.output
    piped = invoke(*command, "-", "--max-size", "1KiB", *extra, stdin=b" " * 2000)
    assert piped.exit_code == 1 and "<stdin>: larger than the --max-size of 1,024 bytes" in piped.output


def test_the_size_limit_comes_from_the_environment_and_is_checked(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "payload.json"
    file.write_text(json.dumps(VOLTAGE), encoding="utf-8")
    monkeypatch.setenv("DSO_SAREF_MAX_SIZE", "64B")
    assert "larger than the --max-size of 64 bytes" in invoke("saref", "hems-voltage", str(file)).output
    assert invoke("saref", "hems-voltage", str(file), "--max-size", "1MB").exit_code == 0
    bad = invoke("saref", "hems-voltage", str(file), "--max-size", "lots")
    assert bad.exit_code == 2 and "--max-size" in bad.output and "256MiB" in bad.output
    monkeypatch.setenv("DSO_SAREF_MAX_SIZE", "-3")
    env = invoke("saref", "hems-voltage", str(file))
    assert env.exit_code == 2 and "env DSO_SAREF_MAX_SIZE" in env.output


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=64) | st.text(max_size=40).map(lambda t: t.encode("utf-16")))
def test_any_bytes_give_exit_0_or_1_never_a_traceback(data: bytes) -> None:
    for command in ("saref", "validate"):
        result = invoke(command, "hems-voltage-request", "-", stdin=data)
        assert result.exit_code in (0, 1), result.output
