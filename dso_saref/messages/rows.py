"""The row form of a message: its :class:`~dso_saref.messages.common.Row` list items validated by
pydantic as plain dicts, not built as model instances.

A zone-day of metering is 100k readings; pydantic builds a model instance for each (and the garbage
collector then walks them all), which is most of what validating such a payload costs. The row form
of a message model is the same model with every ``list[R]`` of a :class:`Row` ``R`` replaced by a
list of a ``TypedDict`` of ``R``'s fields (same types, the same validators in them, keys as on the
wire, the same configuration), and the models above them by subclasses that hold those lists; pydantic
validates it with the same rules and returns dicts for the rows::

    model = rows_model(MeteringData)                 # None for a message without rows
    message = model.model_validate(payload, context=context)
    message.root[0].readings[0]                      # {'time': datetime(...), 'measurement': 1.5, 'unit': 'kW'}

Only the forward path (payload -> binding table) uses it, never a caller: a payload the row form
refuses is read again by the message's own model, whose problems are the ones reported. Nothing of
pydantic is re-implemented: the row form is built with ``TypedDict``, ``create_model`` and the
models' ``model_fields``.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, NotRequired

from pydantic import BaseModel, ConfigDict, RootModel, create_model
from typing_extensions import TypedDict

from dso_saref.messages.common import Row

__all__ = ["row_dict", "rows_model"]


def row_dict(row: type[Row]) -> Any:
    """The ``TypedDict`` of a :class:`Row` model's fields, keyed as on the wire, with the model's
    configuration (``extra="forbid"``: an unknown key is refused as the model refuses it)."""
    fields: dict[str, Any] = {}
    for name, info in row.model_fields.items():
        annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields[info.alias or name] = annotation if info.is_required() else NotRequired[annotation]
    found = TypedDict(f"{row.__name__}Row", fields)  # type: ignore[operator]
    found.__pydantic_config__ = ConfigDict(**{k: v for k, v in row.model_config.items()  # type: ignore[attr-defined]
                                              if k in _ROW_CONFIG})
    return found


#: The configuration a row's dict keeps from its model (what applies to the validation of values).
_ROW_CONFIG = ("extra", "str_strip_whitespace", "strict", "coerce_numbers_to_str", "str_max_length",
               "str_min_length", "str_to_lower", "str_to_upper", "ser_json_inf_nan", "allow_inf_nan")


def rows_model(model: type[BaseModel]) -> type[BaseModel] | None:
    """The row form of a message model, or ``None`` when no list in it holds :class:`Row` items
    (built anew on each call: the catalog keeps one per message description)."""
    return _rows_model(model, set())


def _rows_model(model: type[BaseModel], seen: set[type]) -> type[BaseModel] | None:
    if model in seen:
        return None  # a recursive model: left as it is
    seen = seen | {model}
    changed: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = _rows_annotation(info.annotation, seen)
        if annotation is not None:
            changed[name] = (annotation, info)
    if not changed:
        return None
    if issubclass(model, RootModel):
        (annotation, info), = changed.values()
        return create_model(f"{model.__name__}Rows", __base__=model, root=(annotation, info))
    return create_model(f"{model.__name__}Rows", __base__=model, **changed)


def _rows_annotation(annotation: Any, seen: set[type]) -> Any:
    """``annotation`` with its Row items as dicts and the models holding them in row form, or
    ``None`` when nothing in it changes."""
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _rows_model(annotation, seen)
    if origin is list:
        (item,) = typing.get_args(annotation)
        if isinstance(item, type) and issubclass(item, Row):
            return list[row_dict(item)]  # type: ignore[misc]
        inner = _rows_annotation(item, seen)
        return list[inner] if inner is not None else None  # type: ignore[valid-type]
    if origin is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        inner = _rows_annotation(base, seen)
        return Annotated[(inner, *metadata)] if inner is not None else None
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        inner = [_rows_annotation(option, seen) for option in options]
        if all(i is None for i in inner):
            return None
        return typing.Union[tuple(i if i is not None else o for i, o in zip(inner, options, strict=True))]  # noqa: UP007
    return None
