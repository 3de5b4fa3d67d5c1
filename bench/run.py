"""Benchmarks of the entry points users call, at pilot scale (run on demand, not part of the test run).

A zone-day of metering is ~100k readings (1,000 meters x 96 quarter-hours). For metering payloads of
1, 10k and 100k readings (generated, seeded) it prints the median time of each public entry point
(``to_bindings``, ``serialize``, ``validate`` on JSON text and on a peer's N-Triples, the CLI's
``validate`` as a whole process, the KE adapter's answer path), side by side with the floors
(``json.loads`` of the same text, the same N-Triples written with plain f-strings), pySHACL on the
same triples, the ratios, and the peak memory (RSS of a fresh process that reads the document from a file
and runs the step)::

    python bench/run.py                                   # the full table (pySHACL up to 10k readings)
    python bench/run.py --sizes 1 10000 --runs 3          # quicker
    python bench/run.py --clock cpu                       # process CPU time instead of the wall clock

Writes nothing: everything goes to standard output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

NAME = "metering-data"
SIZES = (1, 10_000, 100_000)
BASE = "https://dso.example.org/id/metering-subject/"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
SAREF = "https://saref.etsi.org/core/"
DSO = "https://w3id.org/dso-saref/ontology/"
KILOWATT = "<http://www.ontology-of-units-of-measure.org/resource/om-2/kilowatt>"
ROOT = Path(__file__).resolve().parent.parent


def payload(readings: int, seed: int = 42) -> list[dict[str, Any]]:
    """``readings`` quarter-hour readings of ``ceil(readings / 96)`` meters (96 each, the last fewer)."""
    rnd = random.Random(seed)
    start = datetime(2021, 9, 27, tzinfo=UTC)
    times = [(start + timedelta(minutes=15 * q)).strftime("%Y-%m-%dT%H:%M:%SZ") for q in range(96)]
    meters = max(1, math.ceil(readings / 96))
    out = []
    for m in range(meters):
        count = min(96, readings - 96 * m)
        out.append({"id": f"U{m:06d}", "readings": [
            {"time": times[q], "measurement": round(rnd.uniform(0, 50), 3), "unit": "kW"} for q in range(count)]})
    return out


def floor_nt(data: list[dict[str, Any]]) -> str:
    """The same triples as serialize(nt), written with plain f-strings from the parsed records."""
    out: list[str] = []
    add = out.append
    for series in data:
        sid = series["id"]
        subject, prop = f"<{BASE}{sid}>", f"<{BASE}{sid}/active-power>"
        add(f"{subject} {RDF_TYPE} <{DSO}MeteringSubject> .\n")
        add(f'{subject} <{DSO}hasIdentifier> "{sid}"^^<{XSD}string> .\n')
        add(f"{subject} <{SAREF}hasProperty> {prop} .\n")
        add(f"{prop} {RDF_TYPE} <{DSO}ActivePowerProperty> .\n")
        add(f"{prop} <http://www.w3.org/2004/02/skos/core#broader> <https://saref.etsi.org/saref4grid/ActivePower> .\n")
        for r in series["readings"]:
            t, value = r["time"], r["measurement"]
            # the IRI's digest: sha256 of the value's and the unit's texts (dso_saref.terms.digest)
            tag = sha256(f"{value}\x1f{r['unit']}".encode()).hexdigest()[:20]
            reading = f"<{BASE}{sid}/active-power/{t.replace(':', '%3A')}/{tag}>"
            add(f"{reading} {RDF_TYPE} <{SAREF}Measurement> .\n")
            add(f"{reading} <{SAREF}isMeasurementOf> {subject} .\n")
            add(f"{reading} <{SAREF}relatesToProperty> {prop} .\n")
            add(f'{reading} <{SAREF}hasValue> "{value}"^^<{XSD}decimal> .\n')
            add(f"{reading} <{SAREF}isMeasuredIn> {KILOWATT} .\n")
            add(f'{reading} <{SAREF}hasTimestamp> "{t}"^^<{XSD}dateTime> .\n')
    return "".join(out)


class Clock:
    """Median of several runs, on the wall clock or the process's CPU clock."""

    def __init__(self, cpu: bool) -> None:
        self.now = time.process_time if cpu else time.perf_counter

    def median(self, func: Callable[[], Any], runs: int) -> tuple[float, Any]:
        times, result = [], None
        for _ in range(max(1, runs)):
            start = self.now()
            result = func()
            times.append(self.now() - start)
        return statistics.median(times), result


# -- peak memory: a fresh process per step ---------------------------------------------------------

STEPS = ("validate-json", "validate-nt", "to-bindings", "serialize")


def child(step: str, path: str) -> None:
    """Run one step in this (fresh) process on the document in ``path`` (JSON, or N-Triples for
    ``validate-nt``) and print its peak RSS in MB."""
    import dso_saref

    dso_saref.catalog[NAME].builder  # noqa: B018 - load the catalog before the measurement
    text = Path(path).read_text(encoding="utf-8")
    reading = _high_water_mb()  # reading a file holds its bytes and its text at once
    _reset_high_water()
    if step == "validate-json":
        assert dso_saref.validate(NAME, text).conforms
    elif step == "validate-nt":
        assert dso_saref.validate(NAME, text, format="nt").conforms
    elif step == "to-bindings":
        dso_saref.to_bindings(NAME, text)
    else:
        dso_saref.serialize(NAME, text)
    peak = _high_water_mb()
    print(peak, max(peak, reading))


def _reset_high_water() -> None:
    """Start this process's peak RSS afresh from its current RSS (Linux; elsewhere nothing)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _high_water_mb() -> float:
    """This process's peak RSS: VmHWM (Linux; ru_maxrss would include the forking parent's), else
    ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_mb(step: str, text: str) -> str:
    """The peak RSS of a fresh process that reads ``text`` from a file and runs ``step`` on it:
    during the step (the text held), and in brackets over the whole process when reading the file
    (its bytes and its text at once) went higher."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input"
        path.write_text(text, encoding="utf-8")
        out = subprocess.run([sys.executable, __file__, "--child", step, "--input", str(path)],
                             capture_output=True, text=True, check=True)
    step_peak, whole = (float(v) for v in out.stdout.split())
    return f"{step_peak:.0f}" + (f" ({whole:.0f})" if whole > step_peak + 0.5 else "")


# -- the table ---------------------------------------------------------------------------------------


def cli_validate(text: str, runs: int) -> tuple[float, float]:
    """``dso-saref validate metering-data FILE`` as a whole process: wall clock and CPU time (user +
    system), medians."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "zone-day.json"
        path.write_text(text, encoding="utf-8")
        times, cpu = [], []
        for _ in range(max(1, runs)):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "dso_saref.cli", "validate", NAME, str(path)],
                                  capture_output=True, text=True, check=False)
            times.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            if done.returncode != 0:
                raise SystemExit(f"the CLI refused the bench payload: {done.stdout[-500:]} {done.stderr[-500:]}")
        return statistics.median(times), statistics.median(cpu)


def adapter_answer(data: list[dict[str, Any]]) -> Callable[[], Any]:
    """The KE adapter's serving path for a metering-request: the handler's typed answer (built
    beforehand) -> binding set posted back (the adapter's own ``_answer``, no network)."""
    import dso_saref
    from dso_saref.ke.adapter import Adapter
    from dso_saref.ke.client import KnowledgeEngineClient
    from dso_saref.ke.results import HandleRequest

    answer = dso_saref.catalog[NAME].parse(data)
    request = {"data_type": "Anonymized", "id": "Z-SS01", "granularity": 2, "start": "2021-09-27T00:00:00Z",
               "end": "2021-09-28T00:00:00Z"}  # one part: a zone's data needs no token
    adapter = Adapter(KnowledgeEngineClient("http://127.0.0.1:9/rest"), "dso", kb_id="https://bench.example.org/kb",
                      handlers={"metering-request": lambda message, context: answer})
    bindings = dso_saref.to_bindings("metering-request", request)["metering-request"]  # the core part's set
    handle = HandleRequest("https://bench.example.org/kb/interaction/metering-request", 1, bindings,
                           "https://sp.example.org/kb")
    return lambda: adapter._answer("metering-request", handle, "bench")


def measure(readings: int, args: argparse.Namespace) -> dict[str, Any]:
    import dso_saref
    from dso_saref.validation import Validator

    data = payload(readings, args.seed)
    text = json.dumps(data)
    clock = Clock(args.clock == "cpu")
    runs = args.runs
    dso_saref.serialize(NAME, data)  # warm: catalog loaded, builder compiled, shapes compiled
    dso_saref.validate(NAME, data)
    row: dict[str, Any] = {"readings": readings}
    row["json.loads (floor)"], parsed = clock.median(lambda: json.loads(text), runs)
    row["f-string N-Triples (floor)"], floor = clock.median(lambda: floor_nt(parsed), runs)
    row["serialize(nt) (JSON text)"], nt = clock.median(lambda: dso_saref.serialize(NAME, text), runs)
    row["to_bindings() (JSON text)"], _ = clock.median(lambda: dso_saref.to_bindings(NAME, text), runs)
    compiled = Validator()
    row["validate() (JSON text)"], report = clock.median(lambda: compiled.validate(NAME, text), runs)
    assert report.conforms and compiled.engine.last == "compiled", "the bench payload must take the compiled engine"
    row["validate() (N-Triples text)"], report = clock.median(lambda: compiled.validate(NAME, nt, format="nt"), runs)
    assert report.conforms and compiled.engine.last == "compiled"
    row["CLI validate FILE (process, wall)"], row["CLI validate FILE (process, CPU)"] = \
        cli_validate(text, min(runs, 3)) if args.cli else (None, None)
    answer = adapter_answer(data)
    row["KE adapter answer (typed -> bindings)"], _ = clock.median(answer, runs)
    if readings <= args.pyshacl_limit:
        reference = Validator(engine="pyshacl")
        slow = runs if readings <= 1000 else args.slow_runs
        row["pySHACL (JSON text, reference engine)"], verdict = clock.median(
            lambda: reference.validate(NAME, text), slow)
        assert verdict.conforms
    else:
        row["pySHACL (JSON text, reference engine)"] = None
    row["N-Triples lines"] = nt.count("\n")
    assert row["N-Triples lines"] == floor.count("\n")
    if args.memory:
        for step in STEPS:
            row[f"peak RSS {step} (MB)"] = peak_mb(step, nt if step == "validate-nt" else text)
    return row


def single_message(args: argparse.Namespace) -> dict[str, float]:
    """One HEMS voltage reading, JSON text -> validated KE bindings, through the public API."""
    import dso_saref

    name = "hems-voltage"
    text = json.dumps({"Voltage_Monitoring": [{"Hems_ID": "ID1234", "timestamp": "2021/12/03 15:11",
                                               "Voltage_from_Hems": "240", "Voltage_from_Hems_unit": "volts"}]})

    def public() -> Any:
        report = dso_saref.validate(name, text)
        assert report.conforms and report.table is not None
        return report.table.bindings()

    public()
    clock = Clock(args.clock == "cpu")
    return {"validate(text).table.bindings()": clock.median(public, 500)[0]}


def import_time(runs: int) -> float:
    """``import dso_saref`` in a fresh process (median, wall clock), and that no pyshacl comes with it."""
    code = ("import sys, time; t = time.perf_counter(); import dso_saref; "
            "print(time.perf_counter() - t, 'pyshacl' in sys.modules)")
    times = []
    for _ in range(max(3, runs)):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
        seconds, loaded = out.stdout.split()
        assert loaded == "False", "import dso_saref loaded pyshacl"
        times.append(float(seconds))
    return statistics.median(times)


def fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if value >= 1:
        return f"{value:.2f} s"
    return f"{value * 1000:.2f} ms" if value >= 0.001 else f"{value * 1e6:.0f} us"


def ratio(a: Any, b: Any) -> str:
    return f"{a / b:.1f}x" if isinstance(a, float) and isinstance(b, float) and b > 0 else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="readings per payload")
    parser.add_argument("--runs", type=int, default=5, help="runs per step (the median is shown)")
    parser.add_argument("--slow-runs", type=int, default=1, help="runs of pySHACL above 1,000 readings")
    parser.add_argument("--pyshacl-limit", type=int, default=10_000, help="largest payload given to pySHACL")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="wall clock or process CPU time")
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the peak RSS processes")
    parser.add_argument("--no-cli", dest="cli", action="store_false", help="skip the CLI processes")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.input)
        return
    print(f"# dso-saref bench: {NAME}, python {sys.version.split()[0]}, clock={args.clock}, runs={args.runs}, "
          f"slow runs={args.slow_runs}, seed={args.seed}")
    print(f"# command: python {sys.argv[0]} {' '.join(sys.argv[1:])}".rstrip())
    rows = [measure(n, args) for n in args.sizes]
    keys = [k for k in rows[0] if k != "readings"]
    print()
    print("| step | " + " | ".join(f"{r['readings']:,} readings" for r in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for key in keys:
        cells = [fmt(r[key]) for r in rows]
        print(f"| {key} | " + " | ".join(cells) + " |")
    for label, top, bottom in (
            ("serialize(nt) / f-string floor", "serialize(nt) (JSON text)", "f-string N-Triples (floor)"),
            ("validate() / json.loads", "validate() (JSON text)", "json.loads (floor)"),
            ("pySHACL / validate()", "pySHACL (JSON text, reference engine)", "validate() (JSON text)")):
        print(f"| **{label}** | " + " | ".join(ratio(r[top], r[bottom]) for r in rows) + " |")
    print()
    for label, value in single_message(args).items():
        print(f"One HEMS voltage reading, JSON text -> validated KE bindings, {label}: {fmt(value)} (median of 500)")
    print(f"import dso_saref (fresh process, median): {fmt(import_time(args.runs))}, no pyshacl loaded")


if __name__ == "__main__":
    main()
