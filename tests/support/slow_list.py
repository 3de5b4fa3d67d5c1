"""Rewrite tests/slow-tests.txt from a measured run of the fast subset.

    pytest -m "not slow" --junitxml=/tmp/fast.xml
    python -m tests.support.slow_list /tmp/fast.xml          # adds every function whose rows take >= 0.3 s

Names already in the list stay (a test measured fast on a quiet machine may be slow on a busy one);
names of tests that no longer exist are caught by tests/test_docs.py.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

#: A function whose rows take this long each (seconds, mean of the rows run) leaves the fast subset.
THRESHOLD = 0.3
LIST = Path(__file__).resolve().parents[1] / "slow-tests.txt"


def read(path: Path = LIST) -> tuple[list[str], frozenset[str]]:
    """The list file's comment lines and its test names."""
    lines = path.read_text(encoding="utf-8").splitlines()
    comments = [line for line in lines if line.startswith("#")]
    return comments, frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def measured(junit: Path) -> set[str]:
    """The test functions of a JUnit XML report whose run rows took :data:`THRESHOLD` or more each."""
    times: dict[str, list[float]] = defaultdict(list)
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        if case.find("skipped") is not None:
            continue
        path = case.get("classname", "").replace(".", "/") + ".py"
        times[f"{path}::{case.get('name', '').split('[', 1)[0]}"].append(float(case.get("time", 0)))
    return {name for name, spent in times.items() if sum(spent) / len(spent) >= THRESHOLD}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    comments, names = read()
    added = measured(Path(argv[0])) - names
    LIST.write_text("\n".join([*comments, *sorted(names | added)]) + "\n", encoding="utf-8")
    print(f"{len(added)} test functions added to {LIST.name}: {len(names | added)} in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
