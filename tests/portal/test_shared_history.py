"""Issue 12/14: the status page's history shared by several processes through files
(:class:`~dso_saref.monitoring.shared_history.SharedHistory`): it keeps what an in-memory
:class:`~dso_saref.monitoring.history.History` keeps, sums every process's file, drops minutes older than
it keeps, and skips files that are not its own kind. Real worker processes: tests/rest/test_worker_history.py."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dso_saref.monitoring.history import History
from dso_saref.monitoring.shared_history import KEY_SLOTS, SharedHistory
from tests.portal.test_status import T0, Clock

RECORDS = st.lists(st.tuples(st.sampled_from(["request", "refusal", "exchange"]),
                             st.floats(min_value=0, max_value=100, allow_nan=False),
                             st.sampled_from(["no-key", "invalid", "ke-no-consent", "answered", "failed", None]),
                             st.integers(min_value=-7200, max_value=0)), max_size=60)


def record(history: History | SharedHistory, kind: str, seconds: float, name: str | None, at: float) -> None:
    if kind == "request":
        history.request(seconds, refusal=name if name != "answered" else None, at=at)
    elif kind == "refusal":
        history.refusal(name or "other", at=at)
    else:
        history.exchange(name or "answered", at=at)


def as_process(directory: Path | str, pid: int, clock: Clock, minutes: int = 180) -> SharedHistory:
    """The history another process (``pid``) keeps in ``directory``."""
    return SharedHistory(directory, minutes=minutes, clock=clock, pid=pid)


@settings(deadline=None, max_examples=40)  # a shared machine: no per-example time limit
@given(RECORDS)
def test_shared_and_in_memory_histories_keep_the_same_minutes(records: list) -> None:
    clock = Clock(T0)
    memory = History(minutes=180, clock=clock)
    with tempfile.TemporaryDirectory() as directory:
        one, other = as_process(directory, 1, clock), as_process(directory, 2, clock)
        for n, (kind, seconds, name, offset) in enumerate(records):
            record(memory, kind, seconds, name, T0 + offset)
            record(one if n % 2 else other, kind, seconds, name, T0 + offset)
        assert one.window(hours=3) == other.window(hours=3) == memory.window(hours=3)
        one.close()
        other.close()


def test_a_reopened_history_keeps_counting_into_its_file(tmp_path: Path) -> None:
    clock = Clock(T0)
    first = SharedHistory(tmp_path, clock=clock)
    first.request(0.01, refusal="no-key")
    first.close()
    again = SharedHistory(tmp_path, clock=clock)
    again.request(0.02, refusal="no-key")
    [minute] = again.window(hours=1 / 60)
    assert minute.requests == 2 and minute.refusals == {"no-key": 2}
    assert [p.name for p in tmp_path.iterdir()] == [Path(again.path).name]


def test_minutes_older_than_the_ring_are_not_counted(tmp_path: Path) -> None:
    clock = Clock(T0)
    history = SharedHistory(tmp_path, minutes=10, clock=clock)
    history.request(0.01, at=T0)
    history.request(0.01, at=T0 - 10 * 60)  # the same slot, older than the ring keeps
    clock.now = T0 + 10 * 60
    history.request(0.01)  # takes the slot over
    assert sum(m.requests for m in history.window(hours=1)) == 1


def test_kinds_beyond_the_table_count_as_other(tmp_path: Path) -> None:
    history = SharedHistory(tmp_path, clock=Clock(T0))
    for n in range(KEY_SLOTS + 5):
        history.refusal(f"reason-{n}")
    history.refusal("x" * 100)
    [minute] = history.window(hours=1 / 60)
    assert sum(minute.refusals.values()) == KEY_SLOTS + 6
    assert minute.refusals["other"] == 8  # the table holds 62 names besides the two "other"s


def test_files_of_another_kind_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "history_99.minutes").write_bytes(b"not a history")
    (tmp_path / "history_98.minutes").write_bytes(b"")
    history = SharedHistory(tmp_path, clock=Clock(T0))
    history.exchange("answered")
    [minute] = history.window(hours=1 / 60)
    assert minute.exchanges == {"answered": 1}
