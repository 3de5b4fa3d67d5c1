"""Hypothesis strategies that generate valid JSON payloads from the catalog's pydantic models.

Field types carry a :class:`~dso_saref.messages.common.FieldKind` marker; this module turns each kind
into a strategy (identifiers and texts from arbitrary unicode, aware timestamps in any offset, finite
numbers, closed vocabularies) and walks the models recursively. Cross-field rules (start < end,
unique ids) are left to the model: callers keep what validates (``payload_strategy`` filters).
"""

from __future__ import annotations

import copy
import types
import typing
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel, RootModel, ValidationError

from dso_saref.messages.common import FieldKind
from dso_saref.terms import UNITS

IDENTIFIER = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != "")
TEXT = st.text(max_size=30)
OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5, minutes=-30))])


def _timestamp() -> st.SearchStrategy[str]:
    moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=OFFSETS)
    return moments.map(lambda d: d.replace(microsecond=0).isoformat())


def _kind(kind: FieldKind) -> st.SearchStrategy[Any]:
    if kind.kind == "identifier":
        return IDENTIFIER
    if kind.kind == "text":
        return TEXT
    if kind.kind == "number":
        return st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
    if kind.kind == "non-negative":
        return st.floats(min_value=0, max_value=1e9, allow_nan=False)
    if kind.kind == "integer":
        return st.integers(min_value=-10**6, max_value=10**6)
    if kind.kind == "count":
        return st.integers(min_value=1, max_value=10**6)
    if kind.kind == "timestamp":
        return _timestamp()
    if kind.kind == "date":
        return st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)).map(date.isoformat)
    if kind.kind == "unit":
        return st.sampled_from(UNITS[kind.vocabulary].accepted())
    raise ValueError(kind)


def for_annotation(annotation: Any, metadata: list[Any] | tuple[Any, ...] = (), *,
                   nullable: bool = True) -> st.SearchStrategy[Any]:
    """A strategy of JSON values for a field annotation (with its pydantic metadata); never ``None``
    unless ``nullable`` (an optional field is given a value or left out, never null)."""
    for item in metadata:
        if isinstance(item, FieldKind):
            return _kind(item)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        return for_annotation(base, extra, nullable=nullable)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner = st.one_of(*(for_annotation(o) for o in options))
        return inner if not nullable or len(options) == len(typing.get_args(annotation)) else st.none() | inner
    if origin is list:
        (item,) = typing.get_args(annotation)
        return st.lists(for_annotation(item), max_size=3)
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return st.sampled_from([m.value for m in annotation])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_strategy(annotation)
    if annotation is bool:
        return st.booleans()
    if annotation is str:
        return TEXT
    if annotation is int:
        return st.integers(min_value=-10**6, max_value=10**6)
    if annotation is float:
        return st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
    raise TypeError(f"no strategy for {annotation!r}")


def model_strategy(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    """A strategy of JSON payloads shaped like ``model`` (not yet checked against cross-field rules).

    A model whose payloads the field walk cannot generate well (wide generated keys, values required
    in groups) provides ``hypothesis_strategy(st, for_annotation)``, used instead."""
    hook = getattr(model, "hypothesis_strategy", None)
    if hook is not None:
        return hook(st, for_annotation)
    if issubclass(model, RootModel):
        field = model.model_fields["root"]
        return for_annotation(field.annotation, field.metadata)
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        # an optional field's strategy has no None to filter out: a filter pushed into one_of(none(), ...)
        # makes Hypothesis give up on some seeds ("unable to satisfy none().filter(...)")
        strategy = for_annotation(field.annotation, field.metadata, nullable=field.is_required())
        (required if field.is_required() else optional)[key] = strategy
    return st.fixed_dictionaries(required, optional=optional)


def payload_strategy(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    """Valid payloads of ``model``: generated from its fields, kept when the model accepts them."""

    def valid(payload: Any) -> bool:
        try:
            model.model_validate(payload)
        except ValidationError:
            return False
        return True

    return model_strategy(model).filter(valid)


@st.composite
def mutated(draw: st.DrawFn, payload: Any) -> Any:
    """One change to a payload: a value replaced (by another of the payload's values, a wrong type,
    an empty string, a negative number), a key deleted, or an unknown key added."""
    payload = copy.deepcopy(payload)
    slots: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            slots.extend((node, key) for key in node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            slots.extend((node, i) for i in range(len(node)))
            for value in node:
                walk(value)

    walk(payload)
    if not slots:
        return payload
    holder, key = draw(st.sampled_from(slots))
    leaves = [h[k] for h, k in slots if not isinstance(h[k], dict | list)]
    action = draw(st.sampled_from(["swap", "type", "blank", "negative", "delete", "unknown"]))
    if action == "swap" and leaves:
        holder[key] = draw(st.sampled_from(leaves))
    elif action == "type":
        holder[key] = draw(st.sampled_from([None, True, 0, 1.5, "x", [], {}]))
    elif action == "blank":
        holder[key] = " "
    elif action == "negative":
        holder[key] = -1
    elif action == "delete" and isinstance(holder, dict):
        del holder[key]
    elif isinstance(holder, dict):
        holder["unexpected"] = 1
    return payload
