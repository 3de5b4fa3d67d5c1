"""Benchmarks of the hot path at pilot scale (issue 6), run on demand (not part of the test run).

A zone-day of metering is ~100k readings (1,000 meters x 96 quarter-hours). For metering payloads of
1, 100, 10k and 100k readings (generated, seeded), prints the median time of each step, side by side
with the floors (parsing the JSON with the fastest parser, writing the same N-Triples with plain
f-strings) and with pySHACL on the same triples and shape, the ratios, and the peak memory (RSS of a
fresh process that reads the JSON text and runs the step)::

    python bench/run.py                                  # the full table (pySHACL at 100k takes long)
    python bench/run.py --sizes 1 100 10000 --runs 5     # quicker
    python bench/run.py --pyshacl-limit 10000            # skip pySHACL above 10k readings

Writes nothing: everything goes to standard output. ``orjson`` and the Rust ``shacl`` engine are
measured when importable.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NAME = "metering-data"
SIZES = (1, 100, 10_000, 100_000)
BASE = "https://dso.example.org/id/metering-subject/"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
SAREF = "https://saref.etsi.org/core/"
KILOWATT = "<http://www.ontology-of-units-of-measure.org/resource/om-2/kilowatt>"


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
        add(f'{subject} <https://w3id.org/dso-saref/ontology/hasIdentifier> "{sid}"^^<{XSD}string> .\n')
        add(f"{subject} {RDF_TYPE} <{SAREF}FeatureOfInterest> .\n")
        add(f"{subject} <{SAREF}hasProperty> {prop} .\n")
        add(f"{prop} {RDF_TYPE} <{SAREF}Power> .\n")
        add(f"{prop} {RDF_TYPE} <https://saref.etsi.org/saref4grid/ActivePower> .\n")
        for r in series["readings"]:
            t = r["time"]
            reading = f"<{BASE}{sid}/active-power/{t.replace(':', '%3A')}>"
            add(f"{reading} {RDF_TYPE} <{SAREF}Measurement> .\n")
            add(f"{reading} <{SAREF}isMeasurementOf> {subject} .\n")
            add(f"{reading} <{SAREF}relatesToProperty> {prop} .\n")
            add(f'{reading} <{SAREF}hasValue> "{r["measurement"]}"^^<{XSD}decimal> .\n')
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


def child(step: str, readings: int, seed: int) -> None:
    """Run one step in this (fresh) process and print its peak RSS in MB."""
    text = json.dumps(payload(readings, seed))
    import dso_saref
    from dso_saref.fastshacl import validate_fast
    from dso_saref.serialize import serialize

    dso_saref.catalog[NAME].rows  # noqa: B018 - load the catalog before the measurement
    data = json.loads(text)
    del text
    if step == "validate":
        report = validate_fast(NAME, data)
        assert report is not None and report.conforms
    elif step == "serialize":
        serialize(NAME, data)
    print(_high_water_mb())


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


def peak_mb(step: str, readings: int, seed: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--child", step, "--sizes", str(readings), "--seed", str(seed)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


# -- the table ---------------------------------------------------------------------------------------


def measure(readings: int, args: argparse.Namespace) -> dict[str, Any]:
    import dso_saref
    from dso_saref.fastshacl import validate_fast
    from dso_saref.serialize import fast_bindings, serialize
    from dso_saref.validation import Validator

    clock = Clock(args.clock == "cpu")
    runs = args.runs
    slow = args.runs if readings <= 1000 else args.slow_runs
    description = dso_saref.catalog[NAME]
    data = payload(readings, args.seed)
    text = json.dumps(data)
    row: dict[str, Any] = {"readings": readings}
    row["json.loads"], _ = clock.median(lambda: json.loads(text), runs)
    try:
        import orjson

        row["orjson.loads"], _ = clock.median(lambda: orjson.loads(text), runs)
    except ImportError:
        row["orjson.loads"] = None
    row["f-string NT floor"], floor = clock.median(lambda: floor_nt(data), runs)
    serialize(NAME, data)  # compile the reader and the table builder once
    row["serialize(nt)"], nt = clock.median(lambda: serialize(NAME, data), runs)
    row["triples"] = nt.count("\n")
    row["serialize == floor (triples)"] = set(nt.splitlines()) == set(floor.splitlines())
    row["bindings (fast)"], _ = clock.median(lambda: fast_bindings(description, data), runs)
    validate_fast(NAME, data)  # compile the shape once
    row["validate (fast)"], report = clock.median(lambda: validate_fast(NAME, data), runs)
    row["verdict (fast)"] = report.conforms if report is not None else "declined"
    if readings <= args.pyshacl_limit or readings <= args.raw_pyshacl_limit:
        from rdflib import Graph

        graph = Graph()
        graph.parse(data=nt, format="nt")
    if readings <= args.pyshacl_limit:
        reference = _reference_validator()
        row["pySHACL (Validator, tuned)"], verdict = clock.median(lambda: reference.validate_graph(NAME, graph), slow)
        row["verdict (pySHACL)"] = verdict.conforms
    else:
        row["pySHACL (Validator, tuned)"], row["verdict (pySHACL)"] = None, "skipped"
    if readings <= args.raw_pyshacl_limit:
        import pyshacl

        shapes = Validator().shapes_graph(NAME)

        def plain() -> bool:
            conforms, _, _ = pyshacl.validate(graph, shacl_graph=shapes, inference="none", advanced=True,
                                              inplace=True, allow_warnings=True, allow_infos=True)
            return conforms

        row["pySHACL (plain pyshacl.validate)"], _ = clock.median(plain, slow)
    else:
        row["pySHACL (plain pyshacl.validate)"] = None
    try:
        import shacl  # the Rust engine, when installed

        compiled = shacl.Shapes.from_file(str(description.shape_path))
        row["shacl 0.3.4 (Rust)"], _ = clock.median(lambda: compiled.validate_text(nt, format="ntriples"), slow)
    except ImportError:
        row["shacl 0.3.4 (Rust)"] = None
    if readings <= args.parse_limit:
        from rdflib import Graph

        row["rdflib parse of the NT"], _ = clock.median(lambda: Graph().parse(data=nt, format="nt"), slow)
    else:
        row["rdflib parse of the NT"] = None
    if args.memory:
        row["peak RSS validate (MB)"] = peak_mb("validate", readings, args.seed)
        row["peak RSS serialize (MB)"] = peak_mb("serialize", readings, args.seed)
    return row


def _reference_validator() -> Any:
    """The project's pySHACL path (``engine="pyshacl"`` once validation.py has engines)."""
    import inspect

    from dso_saref.validation import Validator

    if "engine" in inspect.signature(Validator).parameters:
        return Validator(engine="pyshacl")  # type: ignore[call-arg]
    return Validator()


def single_message(args: argparse.Namespace) -> dict[str, float]:
    """One HEMS voltage reading: JSON text -> validated KE bindings."""
    import dso_saref
    from dso_saref.fastshacl import FastValidator

    name = "hems-voltage"
    text = json.dumps({"Voltage_Monitoring": [{"Hems_ID": "ID1234", "timestamp": "2021/12/03 15:11",
                                               "Voltage_from_Hems": "240", "Voltage_from_Hems_unit": "volts"}]})
    validator = FastValidator()
    pyshacl_path = _reference_validator()

    def fast() -> Any:
        checked = validator.check(name, json.loads(text))
        assert checked is not None and checked.report.conforms
        return checked.table.bindings()

    def reference() -> Any:
        payload = json.loads(text)
        assert pyshacl_path.validate(name, payload).conforms
        return dso_saref.to_bindings(name, payload)

    fast()
    reference()
    clock = Clock(args.clock == "cpu")
    return {"fast": clock.median(fast, 200)[0], "reference (pydantic + pySHACL)": clock.median(reference, 20)[0]}


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
    parser.add_argument("--slow-runs", type=int, default=1, help="runs of pySHACL and rdflib above 1,000 readings")
    parser.add_argument("--pyshacl-limit", type=int, default=100_000,
                        help="largest payload given to the project's pySHACL path")
    parser.add_argument("--raw-pyshacl-limit", type=int, default=10_000,
                        help="largest payload given to plain pyshacl.validate (no prepared queries: slow)")
    parser.add_argument("--parse-limit", type=int, default=100_000, help="largest output parsed by rdflib")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="wall clock or process CPU time")
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the peak RSS processes")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.sizes[0], args.seed)
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
        cells = [f"{r[key]:.0f}" if "MB" in key and r[key] is not None else fmt(r[key]) for r in rows]
        print(f"| {key} | " + " | ".join(cells) + " |")
    for label, top, bottom in (("serialize(nt) / f-string floor", "serialize(nt)", "f-string NT floor"),
                               ("validate (fast) / json.loads", "validate (fast)", "json.loads"),
                               ("pySHACL (tuned) / validate (fast)", "pySHACL (Validator, tuned)", "validate (fast)"),
                               ("pySHACL (plain) / validate (fast)", "pySHACL (plain pyshacl.validate)",
                                "validate (fast)"),
                               ("shacl (Rust) / validate (fast)", "shacl 0.3.4 (Rust)", "validate (fast)")):
        print(f"| **{label}** | " + " | ".join(ratio(r[top], r[bottom]) for r in rows) + " |")
    single = single_message(args)
    print()
    print("One HEMS voltage reading, JSON text -> validated KE bindings (median of 200 / 20 runs): "
          + ", ".join(f"{k} {fmt(v)}" for k, v in single.items()))


if __name__ == "__main__":
    main()
