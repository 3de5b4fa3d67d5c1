"""The recent history of several processes serving one API, shared through files: what the status page of
any of them shows is the whole server's history, whichever process answers.

Each process counts into a file of its own in one directory (``history_<pid>.minutes``, not ``.db``: those
are prometheus-client's, beside them): a ring of one slot per minute, memory-mapped, so a count is a store
to memory and every process sees it at once. Each reads the sum over every file of the directory. A
process that dies leaves its file (its counts stay in the history until they are older than it; its
replacement writes a file of its own pid), like prometheus-client's multiprocess mode, which the metrics
of the same processes use (:mod:`dso_saref.monitoring.metrics`)::

    history = SharedHistory("/tmp/dso-saref-metrics-x")     # in each process
    history.request(0.004, refusal=None)
    [(m.start, m.requests) for m in history.window(hours=1)]  # every process's minutes, summed

A file is a header (8-byte words: magic, minutes, key slots, latency buckets, keys in use), a table of key
names (the outcomes of exchanges and the kinds of refusals seen, ``KEY_BYTES`` of UTF-8 each) and
``minutes`` slots of 8-byte counts: the minute it holds (plus one; zero: never used), requests, one count
per latency bucket of :data:`~dso_saref.monitoring.history.LATENCY_BOUNDS`, one count per key. Keys
beyond the table (or names too long for it) are counted as ``other``.
"""

from __future__ import annotations

import glob
import logging
import mmap
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from dso_saref.monitoring.history import LATENCY_BOUNDS, Minute, bucket_index

__all__ = ["KEY_BYTES", "KEY_SLOTS", "SharedHistory"]

log = logging.getLogger(__name__)

#: How many distinct keys (exchange outcomes and refusal kinds) a file can name, and their longest name.
KEY_SLOTS = 64
KEY_BYTES = 48
_MAGIC = int.from_bytes(b"DSOHIST1", "little")
_HEADER_WORDS = 8
_LATENCIES = len(LATENCY_BOUNDS) + 1
_EXCHANGE, _REFUSAL = "exchange:", "refusal:"
_RESERVED = (_EXCHANGE + "other", _REFUSAL + "other")  # the first two keys of every file


class _Ring:
    """One process's file: the layout, and reading a minute out of it."""

    def __init__(self, buffer: mmap.mmap) -> None:
        if len(buffer) < _HEADER_WORDS * 8 or len(buffer) % 8:
            raise ValueError("not a history file")
        self.buffer = buffer
        self.words = memoryview(buffer).cast("Q")
        magic, self.minutes, self.keys, latencies = (int(w) for w in self.words[:4])
        if magic != _MAGIC or latencies != _LATENCIES or self.keys < len(_RESERVED) or self.minutes < 1:
            raise ValueError("not a history file of this version")
        self.width = 2 + _LATENCIES + self.keys
        self.base = _HEADER_WORDS + self.keys * KEY_BYTES // 8
        if len(self.words) < self.base + self.minutes * self.width:
            raise ValueError("a history file cut short")

    def names(self) -> list[str]:
        used = min(int(self.words[4]), self.keys)
        start = _HEADER_WORDS * 8
        return [bytes(self.buffer[start + i * KEY_BYTES:start + (i + 1) * KEY_BYTES]).rstrip(b"\0").decode()
                for i in range(used)]

    def slot(self, minute: int) -> int:
        return self.base + (minute % self.minutes) * self.width

    def read(self, minute: int) -> list[int] | None:
        """The counts of ``minute`` (requests, latencies, keys), or None when the file does not hold it."""
        at = self.slot(minute)
        if self.words[at] != minute + 1:
            return None
        return self.words[at + 1:at + self.width].tolist()


class SharedHistory:
    """The per-minute history of every process counting into ``directory`` (thread-safe), keeping the
    last ``minutes`` minutes; ``clock`` gives the time in seconds since the epoch. This process counts into
    ``history_<pid>.minutes`` there (``pid``: this process's id unless given), made on the first count:
    one :class:`SharedHistory` per directory and process.

    Raises ValueError when ``minutes`` < 1 or ``directory`` is not a directory."""

    def __init__(self, directory: str | os.PathLike[str], *, minutes: int = 24 * 60,
                 clock: Callable[[], float] = time.time, pid: int | None = None) -> None:
        if minutes < 1:
            raise ValueError("a history keeps at least one minute")
        if not os.path.isdir(directory):
            raise ValueError(f"a shared history needs a directory, got {os.fspath(directory)!r}")
        self.directory = os.fspath(directory)
        self.minutes = minutes
        self._clock = clock
        self._lock = threading.Lock()
        self._own: _Ring | None = None
        self._keys: dict[str, int] = {}
        self._pid = os.getpid() if pid is None else pid

    @property
    def path(self) -> str:
        """This process's file."""
        return os.path.join(self.directory, f"history_{self._pid}.minutes")

    def _ring(self) -> _Ring:
        if self._own is None and os.path.exists(self.path):  # this process's, counted into before
            with open(self.path, "r+b") as file:
                self._own = _Ring(mmap.mmap(file.fileno(), 0))
            self._keys = {name: i for i, name in enumerate(self._own.names())}
        if self._own is None:
            size = (_HEADER_WORDS + KEY_SLOTS * KEY_BYTES // 8 + self.minutes * (2 + _LATENCIES + KEY_SLOTS)) * 8
            making = f"{self.path}.{threading.get_ident()}.new"  # readers never see a file without its header
            with open(making, "w+b") as file:
                file.truncate(size)
                buffer = mmap.mmap(file.fileno(), size)
            words = memoryview(buffer).cast("Q")
            words[:5] = memoryview(bytes(8 * 5)).cast("Q")
            words[0], words[1], words[2], words[3] = _MAGIC, self.minutes, KEY_SLOTS, _LATENCIES
            words.release()
            os.replace(making, self.path)
            self._own = _Ring(buffer)
            for name in _RESERVED:
                self._key(name)
        return self._own

    def _key(self, name: str) -> int:
        """The index of key ``name`` in this process's file (added when new; ``other`` when full)."""
        index = self._keys.get(name)
        if index is not None:
            return index
        ring = self._ring()
        encoded = name.encode()
        used = int(ring.words[4])
        if used >= ring.keys or len(encoded) > KEY_BYTES:
            return self._keys[_RESERVED[0] if name.startswith(_EXCHANGE) else _RESERVED[1]]
        start = _HEADER_WORDS * 8 + used * KEY_BYTES
        ring.buffer[start:start + len(encoded)] = encoded  # the name first, then the count that shows it
        ring.words[4] = used + 1
        self._keys[name] = used
        return used

    def _count(self, at: float | None, *, latency: int | None = None, key: str | None = None,
               second_key: str | None = None) -> None:
        minute = int((self._clock() if at is None else at) // 60)
        with self._lock:
            ring = self._ring()
            slot = ring.slot(minute)
            held = int(ring.words[slot]) - 1
            if held != minute:
                if held > minute:
                    return  # older than the history keeps
                ring.words[slot] = 0  # readers skip the slot while it is emptied
                ring.words[slot + 1:slot + ring.width] = memoryview(bytes(8 * (ring.width - 1))).cast("Q")
                ring.words[slot] = minute + 1
            if latency is not None:
                ring.words[slot + 1] += 1
                ring.words[slot + 2 + latency] += 1
            for name in (key, second_key):
                if name is not None:
                    ring.words[slot + 2 + _LATENCIES + self._key(name)] += 1

    def request(self, seconds: float, *, refusal: str | None = None, at: float | None = None) -> None:
        """Count a request that took ``seconds`` (and was refused for ``refusal``, if given)."""
        self._count(at, latency=bucket_index(seconds), key=None if refusal is None else _REFUSAL + refusal)

    def refusal(self, reason: str, *, at: float | None = None) -> None:
        """Count a refusal that was no request of the REST API (a refused Knowledge Engine exchange)."""
        self._count(at, key=_REFUSAL + reason)

    def exchange(self, outcome: str, *, at: float | None = None) -> None:
        """Count a Knowledge Engine exchange with ``outcome``."""
        self._count(at, key=_EXCHANGE + outcome)

    def _rings(self) -> list[_Ring]:
        rings = []
        for path in sorted(glob.glob(os.path.join(glob.escape(self.directory), "history_*.minutes"))):
            if path == self.path:
                if self._own is not None:
                    rings.append(self._own)
                continue
            try:
                with open(path, "rb") as file:
                    rings.append(_Ring(mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)))
            except (OSError, ValueError) as exc:  # removed meanwhile, empty, or another version's
                log.debug("history file %s skipped: %s", path, exc)
        return rings

    def window(self, *, hours: float = 6.0, now: float | None = None) -> list[Minute]:
        """Every minute of the last ``hours`` (at most the history's length), oldest first, minutes
        without activity included (with zero counts), summed over every process's file."""
        now = self._clock() if now is None else now
        last = int(now // 60)
        count = max(1, min(self.minutes, round(hours * 60)))
        rings = self._rings()
        try:
            named = [(ring, ring.names()) for ring in rings]
            out = []
            quiet = (0,) * _LATENCIES
            for minute in range(last - count + 1, last + 1):
                found = [(counts, names) for ring, names in named if (counts := ring.read(minute)) is not None]
                keyed: Counter[str] = Counter()
                for counts, names in found:
                    for name, value in zip(names, counts[1 + _LATENCIES:], strict=False):
                        if value:
                            keyed[name] += value
                columns = zip(*(c[1:1 + _LATENCIES] for c, _ in found), strict=True)
                latencies = tuple(map(sum, columns)) if found else quiet
                out.append(Minute(datetime.fromtimestamp(minute * 60, UTC), sum(c[0] for c, _ in found), latencies,
                                  _kind(keyed, _EXCHANGE), _kind(keyed, _REFUSAL)))
            return out
        finally:
            for ring in rings:
                if ring is not self._own:
                    ring.words.release()
                    ring.buffer.close()

    def close(self) -> None:
        """Stop counting into this process's file (it stays, for the others to read)."""
        with self._lock:
            if self._own is not None:
                self._own.words.release()
                self._own.buffer.close()
                self._own = None
                self._keys.clear()


def _kind(keyed: Counter[str], prefix: str) -> dict[str, int]:
    return {name[len(prefix):]: value for name, value in sorted(keyed.items()) if name.startswith(prefix)}
