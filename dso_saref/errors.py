"""The exception tree of dso-saref.

Every error the library raises on purpose derives from :class:`DsoSarefError`; lower-level errors
(pydantic, rdflib, requests, sqlite3) are converted at the boundary with ``raise ... from exc``::

    DsoSarefError
    ├── DescriptionError        a message description (pattern, model, shape) is inconsistent
    ├── UnknownMessageError     a message name that is not in the catalog (carries close names)
    ├── PatternError            a graph pattern text that is not a KE basic graph pattern
    ├── PayloadError            a payload, binding set or graph that does not fit the message
    │                           (carries a list of Problem: JSON path + message)
    └── KnowledgeEngineError    see dso_saref.ke.errors (status code and body of the KE reply)

Usage::

    try:
        saref("hems-voltage", payload)
    except PayloadError as exc:
        for problem in exc.problems:
            print(problem.location, problem.message)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DescriptionError",
    "DsoSarefError",
    "PatternError",
    "PayloadError",
    "Problem",
    "UnknownMessageError",
]


class DsoSarefError(Exception):
    """Root of every error raised by dso-saref."""


class DescriptionError(DsoSarefError):
    """A message description (graph pattern, model, shape, example) is broken or inconsistent."""


class PatternError(DsoSarefError):
    """A graph pattern is not a basic graph pattern the Knowledge Engine accepts."""


class UnknownMessageError(DsoSarefError, KeyError):
    """A message name that the catalog does not know; ``suggestions`` lists close names."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown message {name!r}{hint}")

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a payload: where (a JSONPath such as ``$[1].price``), what rule, and why."""

    location: str
    message: str
    rule: str = "model"

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class PayloadError(DsoSarefError, ValueError):
    """A payload, binding set or graph that is not a valid instance of a message."""

    def __init__(self, message_name: str, problems: list[Problem]) -> None:
        self.message_name = message_name
        self.problems = list(problems)
        lines = "; ".join(str(p) for p in self.problems[:5])
        more = f" (+{len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"invalid {message_name}: {lines}{more}")
