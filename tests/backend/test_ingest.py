"""Issue 14 item 2: bulk ingestion of metering readings (JSON metering-data, CSV), resumable, all or
nothing per file, served by the metering aggregation; on both databases."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dso_saref.app.seed import THIRD_PARTY
from dso_saref.backend import ExchangeContext
from dso_saref.backend.ingest import IngestError, IngestProgress, ingest_metering
from dso_saref.messages.data_sharing import MeteringRequest

DAY = datetime(2021, 10, 5, tzinfo=UTC)  # after the seed's day: no readings yet


def count(backend) -> int:
    return backend.storage.query_one("SELECT COUNT(*) FROM meter_readings")[0]


def csv_file(path, rows, header="id,time,measurement,unit"):
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows), encoding="utf-8")
    return path


def day_of(client: str, value: float = 1.0, day: datetime = DAY, unit: str = "kW") -> list[tuple]:
    return [(client, (day + timedelta(minutes=15 * q)).strftime("%Y-%m-%dT%H:%M:%SZ"), value, unit) for q in range(96)]


def test_json_metering_data_is_stored_per_client_in_kw(backend, summary, tmp_path):
    series = [{"id": "LV0001", "readings": [{"time": "2021-10-05T10:00:00Z", "measurement": 890, "unit": "W"},
                                            {"time": "2021/10/05 10:15", "measurement": "0.5", "unit": "kW"}]},
              {"id": "U0002", "readings": [{"time": "2021-10-05T10:00:00+01:00", "measurement": 0.002,
                                            "unit": "MW"}]}]
    path = tmp_path / "metering.json"
    path.write_text(json.dumps(series), encoding="utf-8")
    report = ingest_metering(backend.storage, [path])
    assert (report.readings, report.inserted, report.skipped) == (3, 3, 0)
    assert report.files[0].format == "json" and report.files[0].days == (DAY.date(),)
    rows = backend.storage.query("SELECT client_id, timestamp, active_power FROM meter_readings ORDER BY 1, 2")
    client_2 = backend.parties.end_user("U0002").client_id
    expected = sorted([("LV0001", "10:00", 0.89), ("LV0001", "10:15", 0.5), (client_2, "09:00", 2.0)])
    assert [(r[0], f"{r[1]}"[11:16], pytest.approx(r[2])) for r in rows] == expected


def test_csv_readings_are_served_by_the_zone_aggregation(backend, summary, tmp_path):
    households = summary.households["Z-SS01"]
    path = csv_file(tmp_path / "zone.csv", [r for i, c in enumerate(households) for r in day_of(c, float(i))])
    report = ingest_metering(backend.storage, [path])
    assert report.inserted == 96 * len(households)
    request = MeteringRequest(data_type="Anonymized", id="Z-SS01", granularity=3, start=DAY,
                              end=DAY + timedelta(days=1))
    [series] = backend.handlers()["metering-request"](request, ExchangeContext(THIRD_PARTY, DAY)).root
    assert [r.measurement for r in series.readings] == [pytest.approx(sum(range(len(households))))]


def test_running_a_file_again_inserts_nothing_twice(backend, summary, tmp_path):
    first = csv_file(tmp_path / "a.csv", day_of("LV0001"))
    ingest_metering(backend.storage, [first])
    both = csv_file(tmp_path / "b.csv", day_of("LV0001", value=9.0) + day_of("LV0002"))
    report = ingest_metering(backend.storage, [first, both])
    assert [(f.inserted, f.skipped) for f in report.files] == [(0, 96), (96, 96)]
    assert count(backend) == 192
    kept = backend.storage.query_one("SELECT MAX(active_power) FROM meter_readings WHERE client_id = 'LV0001'")[0]
    assert kept == 1.0  # a reading already stored is kept


def test_an_interrupted_file_leaves_nothing_and_runs_again_whole(backend, summary, tmp_path):
    path = csv_file(tmp_path / "big.csv", [r for c in ("LV0001", "LV0002", "LV0003") for r in day_of(c)] * 200,
                    header="id,time,measurement,unit")
    seen: list[IngestProgress] = []

    def interrupt(progress: IngestProgress) -> None:
        seen.append(progress)
        if progress.stage == "reading":
            raise KeyboardInterrupt  # the operator presses Ctrl-C

    with pytest.raises(KeyboardInterrupt):
        ingest_metering(backend.storage, [path], progress=interrupt)
    assert count(backend) == 0 and seen[-1].readings == 50_000
    stages = []
    report = ingest_metering(backend.storage, [path], progress=lambda p: stages.append((p.stage, p.bytes_read)))
    assert report.inserted == 3 * 96 and report.skipped == 3 * 96 * 199  # the file repeats itself
    assert stages[-1] == ("done", path.stat().st_size) and ("storing", stages[-2][1]) == stages[-2]


def test_a_file_of_several_batches_is_stored_whole(backend, summary, tmp_path):
    """A file is read 50,000 readings at a time, the readings of the days a file in time order is past stored
    while the next are read: end users are resolved in every batch, a reading repeated after its day was stored
    is kept once (the first), and a bad line or an unknown id in a later batch refuses the whole file."""
    client_2 = backend.parties.end_user("U0002").client_id
    households = [h for zone in sorted(summary.households) for h in summary.households[zone]]
    ids = ["U0002" if h == client_2 else h for h in households]
    stamps = [(DAY + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ") for m in range(6 * 1440)]
    first = [(c, t, 1.0, "kW") for t in stamps for c in ids]  # in time order, over 6 days
    repeated = [(c, t, 9.0, u) for c, t, _, u in first[:100]]  # their day is stored by then
    later = [("LV0001", (DAY + timedelta(minutes=15 * q, seconds=30)).isoformat(), 1.0, "kW") for q in range(96)]
    path = csv_file(tmp_path / "big.csv", first + repeated + later)
    stages: list[tuple[str, int]] = []
    report = ingest_metering(backend.storage, [path], progress=lambda p: stages.append((p.stage, p.readings)))
    total = len(first) + 100 + 96
    assert (report.readings, report.inserted, report.skipped) == (total, len(first) + 96, 100)
    assert stages == [("reading", 50_000), ("reading", 100_000), ("storing", total), ("done", total)]
    assert count(backend) == len(first) + 96 and len(report.files[0].days) == 6
    rows = backend.storage.query("SELECT client_id, COUNT(*), MAX(active_power) FROM meter_readings GROUP BY 1")
    assert sorted((r[0], r[1], r[2]) for r in rows) == sorted(
        (h, len(stamps) + (96 if h == "LV0001" else 0), 1.0) for h in households)
    for tail, location in [("NOBODY,2021-10-05T10:00:00Z,1,kW\n", f"line {len(first) + 3}: id"),
                           ("LV0001,2021-10-05T10:00:00Z,x,kW\n", f"{len(first) + 3}: measurement")]:
        bad = csv_file(tmp_path / "bad.csv", [*first, ("LV0003", DAY.isoformat(), 1, "kW")])
        bad.write_text(bad.read_text(encoding="utf-8") + tail, encoding="utf-8")
        with pytest.raises(IngestError) as info:
            ingest_metering(backend.storage, [bad])
        assert info.value.problems[0].location == f"{bad}:{location}"
        assert count(backend) == len(first) + 96  # nothing of the bad file, not even the days stored first


def test_ids_first_met_on_the_day_a_batch_reaches_are_checked_and_resolved(backend, summary, tmp_path):
    """A batch that reaches a later day stores the days before it at once: an id met only on the later day is
    still checked (an unknown one refuses the file) and an end user's still resolved to its client."""
    client_2 = backend.parties.end_user("U0002").client_id
    day_1 = day_of("LV0001") + day_of("LV0003")
    day_1.sort(key=lambda row: row[1])
    for newcomer, expected in [("U0002", client_2), ("NOBODY", None)]:
        path = csv_file(tmp_path / f"{newcomer}.csv", [*day_1, *day_of(newcomer, day=DAY + timedelta(days=1))])
        if expected is None:
            with pytest.raises(IngestError) as info:
                ingest_metering(backend.storage, [path])
            assert info.value.problems[0].location == f"{path}:line {len(day_1) + 2}: id"
            assert count(backend) == 2 * 96 + 96  # nothing of the bad file
        else:
            assert ingest_metering(backend.storage, [path]).inserted == 3 * 96
            rows = backend.storage.query("SELECT client_id, COUNT(*) FROM meter_readings GROUP BY 1 ORDER BY 1")
            assert [(r[0], r[1]) for r in rows] == sorted([("LV0001", 96), ("LV0003", 96), (client_2, 96)])


def test_json_larger_than_a_read_chunk(backend, summary, tmp_path):
    readings = [{"time": (DAY + timedelta(minutes=m)).isoformat(), "measurement": m / 7, "unit": "kW"}
                for m in range(60 * 24 * 12)]  # a reading a minute for 12 days: a series of more than 1 MiB
    series = [{"id": c, "readings": readings} for c in ("LV0001", "LV0002")]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(series, indent=1), encoding="utf-8")
    assert path.stat().st_size > 2 << 20
    report = ingest_metering(backend.storage, [path])
    assert report.inserted == 2 * len(readings) and len(report.files[0].days) == 12
    if backend.storage.dialect.name == "postgresql":
        assert len(backend.storage.partitions("meter_readings")) == 12


@pytest.mark.parametrize(("content", "location", "message"), [
    ("id,time,measurement\nLV0001,2021-10-05T10:00:00Z,1\nLV0001,yesterday,1\n", "b.csv:3: time", "ISO 8601"),
    ("id,time,measurement\nLV0001,2021-10-05T10:00:00Z,nan\n", "b.csv:2: measurement", "NaN"),
    ("id,time,measurement,unit\nLV0001,2021-10-05T10:00:00Z,1,kWh\n", "b.csv:2: unit", "unknown unit"),
    ("id,time,measurement\n,2021-10-05T10:00:00Z,1\n", "b.csv:2: id", "empty"),
    ("id,time,measurement\nLV0001,2021-10-05T10:00:00Z\n", "b.csv:2", "2 fields"),
    ("id,when,measurement\n", "b.csv:1", "unknown: when; missing: time"),
    ("id,time,measurement\nLV0001,2021-10-05T10:00:00Z,1\nNOBODY,2021-10-05T10:15:00Z,1\n", "b.csv:line 3: id",
     "'NOBODY' is neither a client nor an end user"),
])
def test_bad_csv_is_refused_naming_line_and_field_and_stores_nothing(backend, summary, tmp_path, content,
                                                                     location, message):
    good = csv_file(tmp_path / "a.csv", day_of("LV0001"))
    bad = tmp_path / "b.csv"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(IngestError) as info:
        ingest_metering(backend.storage, [good, bad])
    [problem] = info.value.problems
    assert problem.location == f"{tmp_path}/{location}" and message in problem.message
    assert [f.path.name for f in info.value.report.files] == ["a.csv"]
    assert count(backend) == 96  # the good file only


@pytest.mark.parametrize(("content", "location", "message"), [
    ('[{"id": "LV0001", "readings": [{"time": "2021-10-05T10:00:00Z", "measurement": 1, "unit": "kW"}, '
     '{"time": "later", "measurement": 1, "unit": "kW"}]}]', "$[0].readings[1].time", "ISO 8601"),
    ('[{"id": "LV0001", "readings": []}, {"id": "LV0001"}]', "$[1].readings", "Field required"),
    ('{"id": "LV0001"}', "$", "expected ["),
    ('[{"id": "LV0001", "readings": [}]', "$[0]", "invalid JSON"),
    ('[{"id": "LV0001", "readings": []}', "$", "ends inside"),
])
def test_bad_json_is_refused_naming_the_path(backend, summary, tmp_path, content, location, message):
    path = tmp_path / "m.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(IngestError) as info:
        ingest_metering(backend.storage, [path])
    [problem] = info.value.problems
    assert problem.location == f"{path}: {location}" and message in problem.message
    assert count(backend) == 0


def test_formats_and_files_are_checked(backend, summary, tmp_path):
    with pytest.raises(ValueError, match="format must be one of json, csv"):
        ingest_metering(backend.storage, [], format="xml")
    with pytest.raises(IngestError, match="unknown format 'txt'"):
        ingest_metering(backend.storage, [tmp_path / "m.txt"])
    with pytest.raises(IngestError, match="cannot read"):
        ingest_metering(backend.storage, [tmp_path / "absent.csv"])
    path = csv_file(tmp_path / "m.txt", day_of("LV0001"))
    assert ingest_metering(backend.storage, [path], format="csv").inserted == 96


FIELD = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from(["LV0001", "U0002", "LV\x000"]) | FIELD,
                               st.sampled_from(["2021-10-05T10:00:00Z", "2021/10/05 10:15"]) | FIELD,
                               st.floats(allow_nan=True).map(str) | FIELD,
                               st.sampled_from(["kW", "W", "MW"]) | FIELD), min_size=1, max_size=6))
def test_hostile_csv_is_stored_whole_or_refused_with_nothing_stored(backend, summary, tmp_path, rows):
    with backend.storage.transaction("clean") as db:
        db.execute("DELETE FROM meter_readings")
    path = tmp_path / "h.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "time", "measurement", "unit"])
        writer.writerows(rows)
    try:
        report = ingest_metering(backend.storage, [path])
    except IngestError as exc:
        assert exc.problems and str(path) in exc.problems[0].location
        assert count(backend) == 0
    else:
        assert report.readings == len(rows) and 1 <= count(backend) == report.inserted <= len(rows)
