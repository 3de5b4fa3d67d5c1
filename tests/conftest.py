"""Shared fixtures: the catalog, its names, the location of ../shared reference data, and a
configuration-free environment (no ``DSO_SAREF_*`` setting nor user configuration file leaks in)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from rdflib import Graph, URIRef

import dso_saref
from dso_saref.config import CONFIG_ENV, KEYS
from dso_saref.validation.engines.pyshacl import literal_rules_kept
from tests.support.slow_list import read as read_slow_list

if TYPE_CHECKING:  # imported by the tests that ask for a merge only (it loads pyshacl and owlrl)
    from tests.support.merges import Merging

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

NAMES = sorted(dso_saref.catalog)

#: Tests left out of the fast subset (``pytest -m "not slow"``, under a minute on 2 cores): the test
#: functions and modules named in tests/slow-tests.txt (measured: ``python -m tests.support.slow_list``), every test
#: under tests/scenarios/ (end to end over HTTP), and all but :data:`FAST_ROWS` rows of a parametrised
#: test (evenly spread, first and last included). The full suite runs everything.
SLOW_TESTS = read_slow_list()[1]
FAST_ROWS = 2


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with a clear reason when the clone has none."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (only CI and developers have ../shared)")
    return path


#: Where the workers of a pytest-xdist run share what one of them computed: the run's temporary
#: directory (pytest keeps the last three runs'), added once the session starts; empty without xdist.
SHARED_BY_WORKERS: list[Path] = []


def shared_by_workers(name: str, compute: Callable[[], bytes]) -> bytes:
    """``compute()``'s bytes, made by one worker of a pytest-xdist run and read by the others (a file of
    the run's temporary directory); without xdist, computed here."""
    if not SHARED_BY_WORKERS:
        return compute()
    folder = SHARED_BY_WORKERS[0]
    result = folder / name
    with (folder / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when a worker dies
        if not result.exists():
            partial = folder / f"{name}.partial"
            partial.write_bytes(compute())
            partial.replace(result)
    return result.read_bytes()


#: The official files whose terms the project may use (../shared/ontologies).
OFFICIAL_FILES = (
    "saref-core-v3.1.1.ttl", "saref4ener-v1.1.2.ttl", "saref4grid-v1.0.0-dev.ttl", "owl-time.ttl",
    "dpv-2.3.ttl", "dpv-2.3-consent.ttl", "dpv-2.3-consent_status.ttl", "qudt-2.1-unit.ttl", "om-2.0.rdf",
    "schemaorg.ttl",
)


@cache
def official_subjects() -> frozenset[str]:
    """Every IRI that an official file (:data:`OFFICIAL_FILES`) says something of; read once per process
    (skips without ../shared)."""
    folder = shared_path("ontologies")

    def read() -> bytes:
        graph = Graph()
        for name in OFFICIAL_FILES:
            graph.parse(folder / name, format="xml" if name.endswith(".rdf") else "turtle")
        return "\n".join(sorted({str(s) for s in graph.subjects() if isinstance(s, URIRef)})).encode()

    return frozenset(shared_by_workers("official-subjects.txt", read).decode().split("\n"))


#: The Knowledge Engine REST URL the ``real_ke`` tests run against, read before the session hides the
#: developer's ``DSO_SAREF_*`` variables (docs/ke.md, "Running against the real Knowledge Engine").
REAL_KE_URL = os.environ.get("DSO_SAREF_KE_URL") or None


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` starts one worker more than this process may use cores: about a quarter of the suite's
    worker time is spent waiting (on servers, subprocesses and the timeouts the tests prove), which the
    extra worker fills (docs/performance.md, "The test suite")."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores + 1


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The fast subset does not even import a module all of whose tests are slow (tests/scenarios/, the
    modules named in tests/slow-tests.txt): schemathesis builds its tests while collecting."""
    if config.getoption("markexpr", "").replace(" ", "") != "notslow":
        return None
    name = collection_path.relative_to(ROOT).as_posix() if collection_path.is_relative_to(ROOT) else ""
    return True if name in SLOW_TESTS or name.startswith("tests/scenarios/") else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` what the fast subset leaves out (:data:`SLOW_TESTS`, the end-to-end scenarios, the
    rows of a parametrised test beyond a spread sample of :data:`FAST_ROWS`); skip ``real_ke`` tests
    without ``DSO_SAREF_KE_URL``."""
    no_engine = pytest.mark.skip(reason="real_ke: set DSO_SAREF_KE_URL to a Knowledge Engine REST URL (docs/ke.md)")
    rows: dict[str, list[pytest.Item]] = {}
    for item in items:
        if REAL_KE_URL is None and item.get_closest_marker("real_ke") is not None:
            item.add_marker(no_engine)
        name = item.nodeid.split("[", 1)[0]
        module = name.split("::", 1)[0]
        if name in SLOW_TESTS or module in SLOW_TESTS or module.startswith("tests/scenarios/"):
            item.add_marker(pytest.mark.slow)
        elif name != item.nodeid:
            rows.setdefault(name, []).append(item)
    for parametrised in rows.values():
        last = len(parametrised) - 1
        kept = {round(i * last / (FAST_ROWS - 1)) for i in range(FAST_ROWS)}
        for index, item in enumerate(parametrised):
            if index not in kept:
                item.add_marker(pytest.mark.slow)


@dataclass
class Closing:
    """Servers closed in the background: uvicorn's graceful stop waits a tenth of a second that no test
    needs to wait for."""

    pool: ThreadPoolExecutor
    closes: list[Future[None]] = field(default_factory=list)

    def later(self, *steps: Callable[[], object]) -> None:
        """Run ``steps`` one after the other in the background."""

        def close() -> None:
            for step in steps:
                step()

        self.closes.append(self.pool.submit(close))


@pytest.fixture(scope="session")
def closing() -> Iterator[Closing]:
    """The session's :class:`Closing`; every close has ended (and raised if it failed) by its end."""
    with ThreadPoolExecutor(2, thread_name_prefix="close") as pool:
        closing = Closing(pool)
        yield closing
    for close in closing.closes:
        close.result()


@pytest.fixture(autouse=True, scope="session")
def _no_user_configuration(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test (and every process it starts) sees the defaults: the developer's ``DSO_SAREF_*``
    variables and ``~/.config/dso-saref/config.toml`` are hidden (``DSO_SAREF_TEST_PG`` is kept)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in (CONFIG_ENV, *(key.env for key in KEYS)):
            if name in os.environ:
                patch.delenv(name)
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker's base is popen-gwN in the run's directory
            SHARED_BY_WORKERS.append(tmp_path_factory.getbasetemp().parent)
        yield


@pytest.fixture(autouse=True)
def _rdflib_literal_rules() -> Iterator[None]:
    """Every test starts with rdflib's own literal conversions: the OWL-RL closures of tests/support
    rebind them (``xsd:dateTimeStamp`` among them), and a later test of the same worker would compare
    literals differently."""
    with literal_rules_kept():
        yield


@pytest.fixture(scope="session")
def merging() -> Merging:
    """The class shapes and the official ontologies a merged graph is checked against (skips without
    ../shared); loaded once per session."""
    from tests.support.merges import Merging

    return Merging.load()
