"""Issue 11 item 3: a large metering file through the CLI in chunks, with bounded memory and a
progress bar, gives what the whole file gives: the same N-Triples, the same validation report (the
rules across series, each id once, checked on the skeleton), locations in the whole document."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dso_saref
from dso_saref.cli import chunks, main
from dso_saref.payloads import Limits
from tests.conftest import ROOT

NAME = "metering-data"
SERIES = 60
READINGS = 8


def series(number: int, readings: int = READINGS) -> dict[str, Any]:
    """Meter ``U{number}``'s quarter-hour readings of 2021-09-27."""
    return {"id": f"U{number:04d}", "readings": [{"time": f"2021-09-27T{q // 4:02d}:{q % 4 * 15:02d}:00Z",
                                                 "measurement": number + q / 10, "unit": "kW"}
                                                for q in range(readings)]}


def metering(count: int = SERIES) -> list[dict[str, Any]]:
    return [series(number) for number in range(count)]


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of about 1,500 characters: the test files above have a dozen chunks or more."""
    monkeypatch.setattr(chunks, "CHUNK_CHARS", 1_500)


def invoke(*args: str, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result


def whole_errors(text: str, **options: Any) -> list[dict[str, str]]:
    """The errors of the library's validate on the whole document (no chunks)."""
    report = dso_saref.validate(NAME, text, **options)
    return [e.to_dict() for e in report.errors]


def chunked_report(text: str, tmp_path: Path, *options: str) -> dict[str, Any]:
    file = tmp_path / "zone-day.json"
    file.write_text(text, encoding="utf-8")
    assert chunks.chunkable(NAME, file.read_bytes())
    result = invoke("validate", NAME, str(file), "--format", "json", *options)
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)["files"][0]
    assert report["conforms"] == (result.exit_code == 0)
    return report


def test_chunks_cover_the_array_in_order_with_offsets() -> None:
    data = json.dumps(metering()).encode()
    parts = list(chunks.chunks(data, limits=Limits()))
    assert len(parts) > 10
    assert [p.offset for p in parts] == [sum(len(q.value) for q in parts[:i]) for i in range(len(parts))]
    assert [e for p in parts for e in p.value] == metering()
    assert parts[-1].done > 0.999 and all(a.done < b.done for a, b in itertools.pairwise(parts))
    assert [p.value for p in chunks.chunks(b" [ ] ", limits=Limits())] == [[]]


def test_n_triples_in_chunks_are_the_triples_of_the_whole(tmp_path: Path) -> None:
    payload = metering()
    file = tmp_path / "zone-day.json"
    file.write_text(json.dumps(payload), encoding="utf-8")
    result = invoke("saref", NAME, str(file), "--format", "nt")
    assert result.exit_code == 0, result.output
    whole = dso_saref.serialize(NAME, payload, "nt")
    assert sorted(result.stdout.splitlines()) == sorted(whole.splitlines())
    assert "mapping metering-data" in result.stderr  # the progress bar's label


def mutate(payload: list[Any], kind: str, at: int) -> str:
    """The JSON text of ``payload`` broken in one way at series ``at`` (``far``: a second place, in
    another chunk)."""
    far = (at + SERIES // 2) % SERIES
    if kind == "bad unit":
        payload[at]["readings"][1]["unit"] = "parsecs"
    elif kind == "missing time":
        del payload[at]["readings"][2]["time"]
    elif kind == "same id in two chunks":
        payload[far]["id"] = payload[at]["id"]
    elif kind == "same time twice in a series":
        payload[at]["readings"][3]["time"] = payload[at]["readings"][0]["time"]
    elif kind == "not a series":
        payload[at] = "U0001"
    elif kind == "readings not a list":
        payload[at]["readings"] = {"time": "x"}
    elif kind == "unknown key":
        payload[at]["readings"][0]["note"] = "x"
        payload[far]["extra"] = 1
    elif kind == "empty id":
        payload[at]["id"] = ""
    text = json.dumps(payload)
    if kind == "duplicate key":
        target = json.dumps(payload[at])
        text = text.replace(target, target[:-1] + ', "id": ' + json.dumps(payload[at]["id"]) + "}", 1)
    if kind == "syntax error":
        text = text[:-40] + "}" + text[-40:]
    return text


KINDS = ["valid", "bad unit", "missing time", "same id in two chunks", "same time twice in a series", "not a series",
         "readings not a list", "unknown key", "empty id", "duplicate key", "syntax error"]


@pytest.mark.parametrize("kind", KINDS)
def test_validating_in_chunks_reports_what_validating_the_whole_reports(kind: str, tmp_path: Path) -> None:
    text = mutate(metering(), kind, at=41)
    report = chunked_report(text, tmp_path)
    assert report["errors"] == whole_errors(text)
    assert report["conforms"] == (kind == "valid")
    if kind == "bad unit":
        assert report["errors"][0]["location"] == "$[41].readings[1].unit"


def test_lenient_mode_in_chunks_warns_as_the_whole_does(tmp_path: Path) -> None:
    text = mutate(metering(), "unknown key", at=7)
    report = chunked_report(text, tmp_path, "--lenient")
    whole = dso_saref.validate(NAME, text, settings=dso_saref.Settings(strict=False))
    assert report["conforms"] and whole.conforms
    assert report["warnings"] == [w.to_dict() for w in whole.warnings]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), at=st.integers(0, SERIES - 1))
def test_chunked_and_whole_validation_agree_wherever_the_fault_is(kind: str, at: int, tmp_path: Path) -> None:
    text = mutate(metering(), kind, at)
    assert chunked_report(text, tmp_path)["errors"] == whole_errors(text)


def test_mapping_in_chunks_stops_at_the_first_bad_chunk_naming_the_whole_document_location(tmp_path: Path) -> None:
    file = tmp_path / "zone-day.json"
    file.write_text(mutate(metering(), "bad unit", at=50), encoding="utf-8")
    result = invoke("saref", NAME, str(file), "--format", "nt")
    assert result.exit_code == 1
    assert f"{file}: $[50].readings[1].unit" in result.stderr
    assert result.stdout.count("\n") < len(dso_saref.serialize(NAME, metering(), "nt").splitlines())
    file.write_text(mutate(metering(), "same id in two chunks", at=3), encoding="utf-8")
    twice = invoke("saref", NAME, str(file), "--format", "nt")
    assert twice.exit_code == 1 and "id 'U0003' appears more than once" in twice.stderr


def test_other_formats_and_messages_read_the_document_whole(tmp_path: Path) -> None:
    file = tmp_path / "zone-day.json"
    file.write_text(json.dumps(metering(20)), encoding="utf-8")
    turtle = invoke("saref", NAME, str(file))
    assert turtle.exit_code == 0 and turtle.stdout.startswith("@prefix") and "mapping" not in turtle.stderr
    assert not chunks.chunkable("flexibility-offers", b"[" + b" " * 5000 + b"]")
    assert not chunks.chunkable(NAME, b'{"id": "U1"' + b" " * 5000 + b"}")


PEAK = """
import sys
from dso_saref.cli import main
try:
    main(sys.argv[1:], prog_name="dso-saref")
except SystemExit as exc:
    code = exc.code
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1]
print(code, int(peak) // 1024, file=sys.stderr)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc (Linux)")
@pytest.mark.parametrize("command", [("saref", "--format", "nt"), ("validate",)], ids=["saref-nt", "validate"])
def test_a_zone_of_700k_readings_stays_within_bounded_memory(command: tuple[str, ...], tmp_path: Path,
                                                             big_file: Callable[[], Path]) -> None:
    """The issue's 50 MB file (700,000 readings) ran at 6.2 GB; in chunks it needs about 260 MB
    (bench/cli_large.py prints the figures)."""
    run = subprocess.run([sys.executable, "-c", PEAK, command[0], NAME, str(big_file()), *command[1:]],
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    code, megabytes = run.stderr.split()[-2:]
    assert code in ("None", "0"), run.stderr[-2000:]
    assert int(megabytes) < 1024, f"peak RSS {megabytes} MB"


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Path]:
    path = tmp_path_factory.mktemp("large") / "zone-700k.json"

    def make() -> Path:
        if not path.exists():  # 7,292 meters x 96 quarter-hours: 700,032 readings, 50 MB
            with path.open("w", encoding="utf-8") as out:
                out.write("[" + ",\n".join(json.dumps(series(number, 96)) for number in range(7_292)) + "]")
        return path

    return make
