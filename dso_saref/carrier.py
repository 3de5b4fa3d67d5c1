"""What every carrier of an exchange does the same way, whichever wire it uses (the Knowledge Engine
adapter, the REST API): read a lookup's filter, check a server's answer against the catalog, and keep
the answers that agree with what the asker bound.

A lookup (an ASK whose request is its own answer: readings, topology) is narrowed by JSON fields the
asker gives (``{"id": "LV0001"}``); :func:`filter_bindings` turns them into the binding the KE would
carry (refusing an unknown field or a bad value at its JSON path), :func:`bound_fields` reads such a
binding back into typed JSON values for the handler's :class:`~dso_saref.exchange.Query`, and
:func:`compatible` says whether an answer row agrees with it. :func:`answer_instances` checks that a
handler answered the counterpart's model (or JSON the model reads)::

    row = filter_bindings(catalog["lv-client-reading"], {"id": "LV0001"}, settings)
    query = Query(None, bound_fields(catalog["lv-client-reading"], [row], settings), (row,))
    answer = handler(query, context)
    items = answer_instances(answer, catalog["lv-client-reading"], True, settings)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, RootModel

from dso_saref.errors import PayloadError, Problem
from dso_saref.paths import Key
from dso_saref.terms import Settings, TermError, format_term, parse_term
from dso_saref.variables import VariableKind

if TYPE_CHECKING:
    from dso_saref.catalog import Description

__all__ = ["answer_instances", "bound_fields", "compatible", "filter_bindings", "filter_keys"]


def answer_instances(answer: Any, counterpart: Description, lookup: bool, settings: Settings) -> list[BaseModel]:
    """The typed messages of a handler's answer: one, or (a lookup of single-object messages) a list
    of them, possibly wrapped in a list model; JSON answers are read by the catalog's model. Raises
    TypeError for a model of another message, PayloadError for JSON that is not the message."""
    items = answer.root if lookup and isinstance(answer, RootModel) and not counterpart.top_list else answer
    items = items if lookup and isinstance(items, list) and not counterpart.top_list else [items]
    typed = []
    for item in items:
        if isinstance(item, BaseModel) and not isinstance(item, counterpart.model):
            raise TypeError(f"the handler answered {type(item).__name__}, not {counterpart.model.__name__} "
                            f"({counterpart.name})")
        typed.append(item if isinstance(item, counterpart.model) else counterpart.parse(item, settings))
    return typed


def compatible(row: Mapping[str, str], bound: Mapping[str, str], description: Description) -> bool:
    """Whether an answer row agrees with every value the asker bound, compared by the literals and
    vocabulary terms that identify things, never by minted IRIs (the asker may mint under another
    base)."""
    return all(row.get(var) == value for var, value in bound.items()
               if var in description.variables and description.variables[var].kind != VariableKind.IRI)


def bound_fields(description: Description, incoming: Sequence[Mapping[str, str]],
                 settings: Settings) -> dict[str, Any]:
    """The JSON values an asker bound in its first binding row, keyed by their JSON key; values that
    do not read back are left out (the handler then sees fewer filters, the carrier still filters)."""
    if not incoming:
        return {}
    fields: dict[str, Any] = {}
    for var in description.variables.values():
        text = incoming[0].get(var.name)
        if var.path is None or text is None or not isinstance(var.path.steps[-1], Key):
            continue
        try:
            fields[var.path.steps[-1].name] = var.value(parse_term(text), settings.base)
        except (TermError, ValueError):
            continue
    return fields


def filter_keys(description: Description) -> dict[str, Any]:
    """The JSON keys a lookup of ``description`` can be narrowed by (the last key of each variable
    that is not a minted IRI), each with its variable."""
    return {var.path.steps[-1].name: var for var in description.variables.values()
            if var.path is not None and isinstance(var.path.steps[-1], Key) and var.kind != VariableKind.IRI}


def filter_bindings(description: Description, fields: Mapping[str, Any], settings: Settings) -> dict[str, str]:
    """The binding of an ASK filter: each JSON field given (by its last key, e.g. ``id``) bound to its
    term. IRIs are never bound (a peer mints its own); raises PayloadError for an unknown field or a
    value that cannot be its term."""
    by_key = filter_keys(description)
    row: dict[str, str] = {}
    for key, value in fields.items():
        var = by_key.get(key)
        if var is None:
            raise PayloadError(description.name, [Problem(f"$.{key}", "not a field this ASK can filter on")])
        try:
            row[var.name] = format_term(var.term(value, settings.base))
        except ValueError as exc:
            raise PayloadError(description.name, [Problem(f"$.{key}", str(exc))]) from exc
    return row
