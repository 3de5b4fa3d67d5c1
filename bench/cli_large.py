"""The CLI on one large metering file: wall time and peak memory (VmHWM) of ``saref --format nt`` and
``validate``, each in a fresh process, read in chunks (the default) and whole (for comparison).

The issue's file: 700,000 quarter-hour readings of 7,292 meters, 50 MB of JSON::

    python bench/cli_large.py                       # 700k readings
    python bench/cli_large.py --readings 100000     # quicker

Linux only (reads /proc/self/status). Writes the generated file to a temporary directory, prints a
table on standard output.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Runs one command of the CLI; ``whole`` makes the chunk larger than any file (no chunks).
RUN = """
import sys
whole = sys.argv.pop(1) == "whole"
if whole:
    import dso_saref.cli.chunks as chunks
    chunks.CHUNK_CHARS = 1 << 62
from dso_saref.cli import main
try:
    main(sys.argv[1:], prog_name="dso-saref")
except SystemExit as exc:
    code = exc.code
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1]
print("RESULT", code or 0, int(peak) // 1024, file=sys.stderr)
"""


def write_file(path: Path, readings: int) -> None:
    """``readings`` quarter-hour readings, 96 per meter."""
    meters = -(-readings // 96)
    with path.open("w", encoding="utf-8") as out:
        out.write("[")
        for m in range(meters):
            count = min(96, readings - 96 * m)
            series = {"id": f"U{m:06d}", "readings": [
                {"time": f"2021-09-27T{q // 4:02d}:{q % 4 * 15:02d}:00Z",
                 "measurement": round((m * 7 + q) % 500 / 10, 1), "unit": "kW"} for q in range(count)]}
            out.write(("," if m else "") + json.dumps(series))
        out.write("]")


def measure(mode: str, command: list[str]) -> tuple[float, int, int]:
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", RUN, mode, *command], cwd=ROOT, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - started
    line = next((line for line in run.stderr.splitlines() if line.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(f"{command} failed: {run.stderr[-2000:]}")
    _, code, megabytes = line.split()
    return seconds, int(code), int(megabytes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=700_000)
    parser.add_argument("--no-whole", action="store_true", help="Skip the whole-file runs (they need ~1.2 GB).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "metering.json"
        write_file(file, args.readings)
        print(f"metering-data, {args.readings:,} readings, {file.stat().st_size / 1e6:.1f} MB of JSON")
        print(f"{'command':34} {'mode':7} {'wall s':>8} {'peak RSS MB':>12} {'exit':>5}")
        commands = (["saref", "metering-data", str(file), "--format", "nt"], ["validate", "metering-data", str(file)])
        for command in commands:
            for mode in ("chunks", *(() if args.no_whole else ("whole",))):
                seconds, code, megabytes = measure(mode, command)
                label = " ".join(command[:1] + command[3:])
                print(f"{label:34} {mode:7} {seconds:8.1f} {megabytes:12,} {code:5}")


if __name__ == "__main__":
    main()
