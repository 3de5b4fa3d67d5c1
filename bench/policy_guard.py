"""What the access policy costs per exchange: the median time of the DSO's handlers, in process, on a
seeded database, for exchanges it serves and refuses (run on demand, not part of the test run).

It uses only the public backend (``DsoBackend.handlers()``), so the same script measures a tree
without the policy for comparison::

    python bench/policy_guard.py                      # sqlite in memory, 300 calls per row
    python bench/policy_guard.py --db /tmp/b.sqlite --runs 1000
    PYTHONPATH=/path/to/other/checkout python bench/policy_guard.py   # the same rows on another tree

Writes nothing but the table (and ``--db``'s file).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from dso_saref.app.seed import SP001, SP002, THIRD_PARTY, seed
from dso_saref.backend import BackendError, DsoBackend, ExchangeContext, Storage
from dso_saref.exchange import Query
from dso_saref.messages.data_sharing import AuthorizationRequest, DataType, MeteringRequest

NOW = datetime(2021, 9, 28, 8, tzinfo=UTC)
NOBODY = "https://nobody.example.org/kb"


def world(url: str) -> tuple[DsoBackend, str, datetime]:
    """A seeded DSO where U0001 granted SP001 a token for 10:00-14:00 of the seed day."""
    backend = DsoBackend(Storage(url), clock=lambda: NOW)
    summary = seed(backend)
    start = summary.start + timedelta(hours=10)
    ask = AuthorizationRequest(end_user="U0001", start=start, end=start + timedelta(hours=4))
    authorize = backend.handlers()["authorization-request"]
    authorize(ask, ExchangeContext(SP001, NOW))
    backend.grant_consent(backend.consents.consents(end_user="U0001")[0].id)
    return backend, authorize(ask, ExchangeContext(SP001, NOW)).authorization_token, summary.start


def rows(backend: DsoBackend, token: str, day: datetime) -> list[tuple[str, Callable[[], object]]]:
    handlers = backend.handlers()

    def call(name: str, message: object, requester: str) -> Callable[[], object]:
        def run() -> object:
            try:
                return handlers[name](message, ExchangeContext(requester, NOW))
            except BackendError as exc:  # a refusal is an outcome here
                return exc
        return run

    user = MeteringRequest(data_type=DataType.USER, id="U0001", authorization_token=token, granularity=2,
                           start=day + timedelta(hours=10), end=day + timedelta(hours=14))
    zone = MeteringRequest(data_type=DataType.ANONYMIZED, id="Z-SS01", granularity=2, start=day,
                           end=day + timedelta(days=1))
    return [
        ("metering-request User, token holder (served)", call("metering-request", user, SP001)),
        ("metering-request User, stolen token (refused)", call("metering-request", user, SP002)),
        ("metering-request Anonymized Z-SS01 (served)", call("metering-request", zone, THIRD_PARTY)),
        ("lv-client-reading LV0001, consent (served)", call("lv-client-reading", Query(None, {"id": "LV0001"}), SP001)),
        ("secondary-substation-reading SS01 (served)",
         call("secondary-substation-reading", Query(None, {"id": "SS01"}), SP002)),
        ("secondary-substation-reading SS02, below k", call("secondary-substation-reading",
                                                             Query(None, {"id": "SS02"}), SP002)),
        ("grid-topology, every entry (served)", call("grid-topology", Query(None), SP002)),
        ("grid-topology, no agreement", call("grid-topology", Query(None), NOBODY)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=":memory:", help="database URL or path (default: sqlite in memory)")
    parser.add_argument("--runs", type=int, default=300, help="calls per row (default 300)")
    args = parser.parse_args()
    # refusals are logged as in production (formatted and written), to a stream nobody reads
    logging.basicConfig(stream=open(os.devnull, "w"), level=logging.INFO)  # noqa: SIM115 - for the whole run
    backend, token, day = world(args.db)
    print(f"{'exchange':50} {'outcome':>10} {'median ms':>10} {'p90 ms':>8}")
    for label, run in rows(backend, token, day):
        outcome = "refused" if isinstance(run(), BackendError) else "answered"
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            run()
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        print(f"{label:50} {outcome:>10} {statistics.median(times):10.3f} {times[int(0.9 * len(times))]:8.3f}")


if __name__ == "__main__":
    main()
