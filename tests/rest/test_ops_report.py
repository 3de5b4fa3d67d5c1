"""Issue 12 item 8: the error report (``dso-saref report errors --since ...``): refusals of the registry of
operations and warnings of JSON-lines logs since a time, grouped by operation and reason, largest group
first, with the request ids to look up; what the registry holds already is not counted twice from the
logs; bad input is a clear usage error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dso_saref.backend.registry import OperationsRegistry, Outcome
from dso_saref.cli import main
from dso_saref.monitoring.errors import error_report, log_problems, parse_since
from tests.portal.support import serving
from tests.rest.conftest import NOW

NEEDS = "/v1/flexibility/needs?start=2021-09-28T00:00:00Z&end=2021-09-29T00:00:00Z"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DSO database in which three anonymous calls, a forbidden one and a bad key were refused over REST."""
    path = tmp_path_factory.mktemp("report") / "dso.sqlite"
    with serving(str(path)) as dso:
        for n in range(3):
            assert dso.get(NEEDS, headers={"X-Request-Id": f"anon-{n}"}).status == 401
        assert dso.get(NEEDS, key="TP", headers={"X-Request-Id": "tp-1"}).status == 403
        assert dso.get(NEEDS, key="nobody-has-this-key").status == 401
    return path


LOG = "\n".join([
    json.dumps({"time": "2021-09-28T08:00:01Z", "level": "WARNING", "logger": "dso_saref.exchanges",
                "message": "served metering-request: failed", "interaction": "metering-request",
                "outcome": "failed", "detail": "OperationalError: disk I/O error", "request_id": "17",
                "peer": "https://sp001.example.org/kb"}),
    json.dumps({"time": "2021-09-28T08:00:02Z", "level": "WARNING", "logger": "dso_saref.exchanges",
                "message": "served metering-request: refused", "interaction": "metering-request",
                "outcome": "refused", "detail": "unknown authorization token", "request_id": "18"}),
    json.dumps({"time": "2021-09-28T08:00:03Z", "level": "WARNING", "logger": "dso_saref.access",
                "message": "GET /v1/flexibility/needs -> 401", "status": 401, "request_id": "anon-0"}),
    json.dumps({"time": "2021-09-28T08:00:04Z", "level": "INFO", "logger": "dso_saref.access",
                "message": "GET /v1/flexibility/needs -> 200"}),
    "not a JSON line",
    json.dumps(["a", "list"]),
    json.dumps({"time": "2020-01-01T00:00:00Z", "level": "ERROR", "logger": "dso_saref.app.serve",
                "message": "long ago"}),
])


def test_refusals_are_grouped_with_counts_and_request_ids(database: Path) -> None:
    from dso_saref.backend import Storage

    storage = Storage(str(database))
    try:
        report = error_report(OperationsRegistry(storage), since=NOW - timedelta(hours=1),
                              now=NOW + timedelta(hours=1), log_lines=LOG.splitlines())
    finally:
        storage.close()
    first, *rest = report.groups
    assert (first.source, first.operation, first.count) == ("registry", "flexibility-needs-request", 3)
    assert first.reason == "401 no API key" and first.request_ids == ["anon-0", "anon-1", "anon-2"]
    assert first.parties == ["anonymous"]
    reasons = {(g.source, g.operation, g.reason): g.count for g in rest}
    assert reasons[("log", "metering-request", "OperationalError: disk I/O error")] == 1
    assert any(reason.startswith("403 a third-party does not start") for _, _, reason in reasons)
    assert ("registry", "flexibility-needs-request", "401 malformed API key") in reasons
    assert report.total == 6  # 5 refusals in the registry + the failed exchange (refused/access lines: registry)
    assert report.unreadable_lines == 2
    text = report.text()
    assert text.startswith("6 problem(s) from ") and "3 x flexibility-needs-request [registry]: 401 no API key" in text


def test_since_leaves_older_problems_out(database: Path) -> None:
    from dso_saref.backend import Storage

    storage = Storage(str(database))
    try:
        later = error_report(OperationsRegistry(storage), since=NOW + timedelta(minutes=5),
                             now=NOW + timedelta(hours=1))
        rows = OperationsRegistry(storage).entries(outcome=Outcome.REFUSED)
    finally:
        storage.close()
    assert rows and all(row.at < NOW + timedelta(minutes=5) for row in rows)
    assert later.groups == [] and later.total == 0


def test_the_command_reports_as_json_and_text(database: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    log.write_text(LOG + "\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["report", "errors", "--db", str(database), "--since", "2021-09-28T07:00:00Z",
                                  "--log", str(log), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["total"] == 6 and report["groups"][0]["count"] == 3 and report["unreadable_log_lines"] == 2
    text = runner.invoke(main, ["report", "errors", "--db", str(database), "--since", "2021-09-28T07:00:00Z"])
    assert text.exit_code == 0 and "5 problem(s)" in text.output
    recent = runner.invoke(main, ["report", "errors", "--db", str(database), "--since", "2h"])
    assert recent.exit_code == 0 and recent.output.startswith("0 problem(s)")  # the rows are from 2021


def test_bad_input_is_a_usage_error(database: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    bad_since = runner.invoke(main, ["report", "errors", "--db", str(database), "--since", "yesterday"])
    assert bad_since.exit_code == 2 and "--since" in bad_since.output and "2h" in bad_since.output
    no_db = runner.invoke(main, ["report", "errors", "--db", str(tmp_path / "none.sqlite")])
    assert no_db.exit_code == 2 and "none.sqlite" in no_db.output and "does not exist" in no_db.output
    no_log = runner.invoke(main, ["report", "errors", "--db", str(database), "--log", str(tmp_path / "none.log")])
    assert no_log.exit_code == 1 and "none.log" in no_log.output


def test_parse_since_reads_durations_and_times() -> None:
    now = datetime(2021, 9, 28, 8, 0, tzinfo=UTC)
    assert parse_since("90s", now) == now - timedelta(seconds=90)
    assert parse_since("30m", now) == now - timedelta(minutes=30)
    assert parse_since("2h", now) == now - timedelta(hours=2)
    assert parse_since("1.5d", now) == now - timedelta(hours=36)
    assert parse_since("1w", now) == now - timedelta(days=7)
    assert parse_since("2021-09-27T10:00:00Z", now) == datetime(2021, 9, 27, 10, tzinfo=UTC)
    assert parse_since("2021-09-27T10:00:00", now) == datetime(2021, 9, 27, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="duration"):
        parse_since("soon", now)


@settings(deadline=None)  # a shared machine: no per-example time limit
@given(st.lists(st.one_of(st.text(), st.builds(json.dumps, st.dictionaries(st.text(), st.text() | st.integers())))))
def test_any_log_text_is_read_or_counted_unreadable(lines: list[str]) -> None:
    problems, unreadable = log_problems(lines)
    assert len(problems) + unreadable <= len([line for line in lines if line.strip()])
