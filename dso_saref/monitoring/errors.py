"""The error report (D4.2 3.3, "errors, error reports"): what went wrong since a time, grouped so an operator
sees the few problems behind many lines.

It reads the registry of operations (every refused request of either channel, every rejected POST: who,
which operation, why, under which request id) and, when given, JSON-lines logs
(:mod:`dso_saref.monitoring.logs`: failed exchanges, server errors, warnings). Problems are grouped by
operation and reason (source and logger for log lines), the largest group first, each with its count,
first and last time, the parties involved and a few request ids to look up::

    report = error_report(OperationsRegistry(storage), since=now - timedelta(hours=2), now=now)
    print(report.text())
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dso_saref.backend.registry import Operation, OperationsRegistry, Outcome
from dso_saref.monitoring.exchanges import REFUSED
from dso_saref.monitoring.logs import ACCESS_LOGGER

__all__ = ["ErrorGroup", "ErrorReport", "error_report", "log_problems", "parse_since"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
#: How many request ids and parties a group shows.
SAMPLES = 5


def parse_since(text: str, now: datetime) -> datetime:
    """The time ``text`` names: a duration back from ``now`` (``90s``, ``30m``, ``2h``, ``1d``, ``1w``) or an
    ISO 8601 time (UTC when it has no offset); raises ValueError saying what is accepted."""
    found = _DURATION.fullmatch(text.strip())
    if found:
        return now - timedelta(seconds=float(found.group(1)) * _UNITS[found.group(2).lower()])
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r}: give a duration (30m, 2h, 1d) or an ISO 8601 time "
                         "(2021-09-28T08:00:00Z)") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass
class ErrorGroup:
    """Problems of one kind: where they come from (``registry`` or ``log``), the operation (or logger),
    the reason, how many, first and last time, and samples of the parties and request ids."""

    source: str
    operation: str
    reason: str
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    parties: list[str] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)

    def add(self, at: datetime, party: str | None, request_id: str | None) -> None:
        """Count one more problem of the group."""
        self.count += 1
        self.first = at if self.first is None or at < self.first else self.first
        self.last = at if self.last is None or at > self.last else self.last
        if party and party not in self.parties and len(self.parties) < SAMPLES:
            self.parties.append(party)
        if request_id and request_id not in self.request_ids and len(self.request_ids) < SAMPLES:
            self.request_ids.append(request_id)

    def to_dict(self) -> dict[str, Any]:
        """The group as JSON."""
        return {"source": self.source, "operation": self.operation, "reason": self.reason, "count": self.count,
                "first": _time(self.first), "last": _time(self.last), "parties": self.parties,
                "request_ids": self.request_ids}


@dataclass(frozen=True)
class ErrorReport:
    """Every problem between ``since`` and ``until``, grouped (largest group first)."""

    since: datetime
    until: datetime
    groups: list[ErrorGroup]
    unreadable_lines: int = 0

    @property
    def total(self) -> int:
        """How many problems in all."""
        return sum(g.count for g in self.groups)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON."""
        return {"since": _time(self.since), "until": _time(self.until), "total": self.total,
                "groups": [g.to_dict() for g in self.groups], "unreadable_log_lines": self.unreadable_lines}

    def text(self) -> str:
        """The report for people: a heading, then one block per group."""
        lines = [f"{self.total} problem(s) from {_time(self.since)} to {_time(self.until)} "
                 f"in {len(self.groups)} group(s)"]
        for g in self.groups:
            lines.append("")
            lines.append(f"{g.count:>6} x {g.operation} [{g.source}]: {g.reason}")
            lines.append(f"         first {_time(g.first)}, last {_time(g.last)}")
            if g.parties:
                lines.append(f"         by {', '.join(g.parties)}")
            if g.request_ids:
                lines.append(f"         requests {', '.join(g.request_ids)}")
        if self.unreadable_lines:
            lines.append("")
            lines.append(f"{self.unreadable_lines} log line(s) were not JSON lines and were skipped")
        return "\n".join(lines) + "\n"


def _time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


@dataclass(frozen=True)
class LogProblem:
    """A log line at WARNING or above: when, which logger, its message, request id and party."""

    at: datetime
    logger: str
    message: str
    request_id: str | None
    party: str | None


def log_problems(lines: Iterable[str]) -> tuple[list[LogProblem], int]:
    """The problems of JSON-lines logs (level WARNING and above), and how many lines were not JSON
    lines (a line that is not a JSON object with a ``time`` is skipped and counted). Lines of what the
    registry of operations holds already are left out: the access log (every refused request is in the
    registry) and refused exchanges."""
    problems, unreadable = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            at = datetime.fromisoformat(str(data["time"]).replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError, IndexError):
            unreadable += 1
            continue
        if not isinstance(data, dict) or data.get("level") not in ("WARNING", "ERROR", "CRITICAL"):
            continue
        if data.get("logger") == ACCESS_LOGGER or data.get("outcome") == REFUSED:
            continue
        message = str(data.get("refusal") or data.get("detail") or data.get("message") or "")
        where = str(data.get("operation") or data.get("interaction") or data.get("logger") or "log")
        party = data.get("party") or data.get("peer")
        problems.append(LogProblem(at if at.tzinfo else at.replace(tzinfo=UTC), where, message[:300],
                                   data.get("request_id"), str(party) if party else None))
    return problems, unreadable


def error_report(registry: OperationsRegistry, *, since: datetime, now: datetime,
                 log_lines: Iterable[str] = ()) -> ErrorReport:
    """The problems from ``since`` to ``now``: refused and rejected operations of the registry, and the
    WARNING-or-worse lines of ``log_lines`` (JSON lines)."""
    groups: dict[tuple[str, str, str], ErrorGroup] = {}

    def add(source: str, operation: str, reason: str, at: datetime, party: str | None,
            request_id: str | None) -> None:
        key = (source, operation, reason)
        group = groups.get(key)
        if group is None:
            group = groups[key] = ErrorGroup(source, operation, reason)
        group.add(at, party, request_id)

    rows: list[Operation] = [*registry.entries(outcome=Outcome.REFUSED), *registry.entries(outcome=Outcome.REJECTED)]
    for row in rows:
        if since <= row.at <= now:
            add("registry", row.operation, f"{row.outcome.value}: {row.reason}" if row.outcome is Outcome.REJECTED
                else row.reason, row.at, row.actor, row.request_id)
    problems, unreadable = log_problems(log_lines)
    for problem in problems:
        if since <= problem.at <= now:
            add("log", problem.logger, problem.message, problem.at, problem.party, problem.request_id)
    ordered = sorted(groups.values(), key=lambda g: (-g.count, g.operation, g.reason))
    return ErrorReport(since, now, ordered, unreadable)
