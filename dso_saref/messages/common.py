"""Field types and the base model shared by every message of the catalog.

The general rules of MESSAGES.md live here, once: identifiers are strings (a JSON integer becomes its
decimal string), timestamps are ISO 8601 or the specification's ``2021/09/27 10:00`` form (offset-less
ones read in the configured time zone) and are written back in UTC with a ``Z``, numeric strings are
accepted where a number is expected, NaN and infinities are refused, units come from closed
vocabularies, unknown keys are an error (strict mode) and ``start`` must come before ``end``::

    class Window(Message):
        start: Timestamp
        end: Timestamp
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    RootModel,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from dso_saref.terms import (
    UNITS,
    Settings,
    TermError,
    format_date,
    format_datetime,
    parse_date,
    parse_datetime,
)

__all__ = [
    "Count",
    "Date",
    "Direction",
    "FieldKind",
    "Identifier",
    "Integer",
    "ListMessage",
    "Message",
    "NonNegative",
    "Number",
    "PowerType",
    "Row",
    "Status",
    "Text",
    "Timestamp",
    "Unit",
    "VoltageLevel",
    "Windowed",
    "YesNo",
    "canonical_list",
    "check_unique",
    "check_window",
    "settings_of",
]


def settings_of(info: ValidationInfo | None) -> Settings:
    """The :class:`Settings` passed as validation context (``context={"settings": ...}``), or the defaults."""
    context = info.context if info is not None else None
    if isinstance(context, dict) and isinstance(context.get("settings"), Settings):
        return context["settings"]
    return Settings()


_UNSENDABLE = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates: no UTF-8, no database keeps them
_LARGEST = 2**63  # integers and identifiers written as integers beyond this are refused


def _sendable(text: str) -> str:
    found = _UNSENDABLE.search(text)
    if found is not None:
        what = "a NUL character" if found.group() == "\x00" else f"a lone surrogate (U+{ord(found.group()):04X})"
        raise ValueError(f"the text holds {what} at position {found.start()}: it cannot be sent")
    return text


def _within_limits(text: str, info: ValidationInfo) -> None:
    try:
        settings_of(info).limits.string_length(text)
    except ValueError as exc:
        raise PydanticCustomError("string_length", str(exc)) from None


def _identifier(value: Any, info: ValidationInfo) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("an identifier must be a string or an integer")
    if isinstance(value, int) and not -_LARGEST <= value < _LARGEST:
        raise ValueError("an identifier written as an integer must be less than 2**63")
    text = str(value)
    _within_limits(text, info)
    if not text.strip():
        raise ValueError("an identifier must not be empty")
    return _sendable(text)


def _text(value: Any, info: ValidationInfo) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    _within_limits(value, info)
    return _sendable(value)


def _number(value: Any) -> float:
    if value.__class__ is float:
        if value - value != 0.0:  # NaN or an infinity
            raise ValueError("NaN and infinities are not accepted")
        return value
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, str):
        text = value.strip().replace(",", ".") if value.count(",") == 1 and "." not in value else value.strip()
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    if not isinstance(value, int | float):
        raise ValueError("expected a number")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError("the number is too large") from None
    if not math.isfinite(number):
        raise ValueError("NaN and infinities are not accepted")
    return number


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an integer") from None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError("expected a whole number")
        value = int(value)
    if not isinstance(value, int):
        raise ValueError("expected an integer")
    if not -_LARGEST <= value < _LARGEST:
        raise ValueError("the integer must be less than 2**63 in magnitude")
    return value


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError("must be zero or more (the direction carries the sign)")
    return value


def _at_least_one(value: int) -> int:
    if value < 1:
        raise ValueError("must be at least 1")
    return value


@functools.lru_cache(maxsize=4096)
def _timestamp_text(value: str) -> datetime:
    """The datetime of a timestamp text, naive when it has no offset (readings repeat their times:
    each distinct text is parsed once); raises ValueError."""
    try:
        return parse_datetime(value, None)
    except TermError as exc:
        raise ValueError(str(exc)) from None


def _timestamp(value: Any, info: ValidationInfo) -> datetime:
    if isinstance(value, str):
        parsed = _timestamp_text(value)
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise ValueError("a timestamp must be a string such as 2021-09-27T10:00:00Z")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=settings_of(info).timezone)


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError("a date must be a string such as 2021-09-27")
    try:
        return parse_date(value)
    except TermError as exc:
        raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class FieldKind:
    """Marks what a field type means (used to generate test data and docs): ``identifier``,
    ``text``, ``number``, ``non-negative``, ``integer``, ``count``, ``timestamp``, ``date`` or ``unit``
    (with its vocabulary)."""

    kind: str
    vocabulary: str | None = None


Identifier = Annotated[str, BeforeValidator(_identifier), FieldKind("identifier")]
"""An identifier (user, zone, meter, request, offer, HEMS, customer, postal code): a non-empty string."""

Text = Annotated[str, BeforeValidator(_text), FieldKind("text")]
"""Free text, kept exactly."""

Number = Annotated[float, BeforeValidator(_number), FieldKind("number")]
"""A finite number; a numeric string such as ``"240"`` is accepted."""

NonNegative = Annotated[float, BeforeValidator(_number), AfterValidator(_non_negative), FieldKind("non-negative")]
"""A finite number that is zero or more."""

Integer = Annotated[int, BeforeValidator(_integer), FieldKind("integer")]
"""A whole number; ``"3"`` and ``3.0`` are accepted."""

Count = Annotated[int, BeforeValidator(_integer), AfterValidator(_at_least_one), FieldKind("count")]
"""A whole number of at least 1."""

Timestamp = Annotated[
    datetime,
    BeforeValidator(_timestamp),
    PlainSerializer(format_datetime, return_type=str, when_used="json"),
    FieldKind("timestamp"),
]
"""A point in time, written back in UTC ISO 8601 with a ``Z``."""

Date = Annotated[
    date,
    BeforeValidator(_date),
    PlainSerializer(format_date, return_type=str, when_used="json"),
    FieldKind("date"),
]
"""A calendar date (``2021-09-27``; ``2021/09/27`` accepted)."""


def Unit(vocabulary: str) -> Any:
    """A unit label from the named closed vocabulary of :data:`dso_saref.terms.UNITS`; aliases
    collapse to the canonical label."""
    vocab = UNITS[vocabulary]
    canonical = {label: vocab.canonical(label) for label in vocab.accepted()}

    def check(value: Any) -> str:
        if value.__class__ is str and value in canonical:
            return canonical[value]
        if not isinstance(value, str):
            raise ValueError(f"a unit must be one of {', '.join(vocab.accepted())}")
        try:
            return vocab.canonical(value)
        except TermError as exc:
            raise ValueError(str(exc)) from None

    return Annotated[str, BeforeValidator(check), FieldKind("unit", vocabulary)]


_YES = frozenset({"yes", "true", "y"})
_NO = frozenset({"no", "false", "n"})


def _yes_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _YES:
            return True
        if text in _NO:
            return False
    raise ValueError("expected a boolean: true/false, or the spec's Yes/No")


YesNo = Annotated[bool, BeforeValidator(_yes_no)]
"""A boolean; the spec's ``Yes``/``No`` (any case) are accepted and written back as ``true``/``false``."""


class Direction(StrEnum):
    """Direction of a flexibility need: ``Up`` raises generation or lowers load, ``Down`` the reverse."""

    UP = "Up"
    DOWN = "Down"


class PowerType(StrEnum):
    """Whether a flexibility need is of active or reactive power."""

    ACTIVE = "Active"
    REACTIVE = "Reactive"


class VoltageLevel(StrEnum):
    """Voltage level at which a client is connected."""

    LV = "LV"
    MV = "MV"


class Status(StrEnum):
    """Outcome of a POST: the receiver accepted or rejected what was sent."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


def check_window(start: date | None, end: date | None, where: str = "start") -> None:
    """Raise ``ValueError`` unless ``start`` comes strictly before ``end`` (when both are given)."""
    if start is not None and end is not None and not start < end:
        raise ValueError(f"{where} must be before end")


def check_unique(items: list[Any], key: Any, what: str) -> None:
    """Raise ``ValueError`` naming the first repeated ``key(item)`` in ``items``; ``key`` may be a
    field name instead (a member of a :class:`Row`, given as a model or as its dict)."""
    if isinstance(key, str):
        values = [item[key] if item.__class__ is dict else getattr(item, key) for item in items]
        if len(set(values)) == len(values):
            return
        items, key = values, _same
    seen: set[Any] = set()
    for item in items:
        k = key(item)
        if k in seen:
            raise ValueError(f"{what} {k!r} appears more than once")
        seen.add(k)


def _same(value: Any) -> Any:
    return value


def _order(value: Any) -> tuple[Any, ...]:
    """A total order on JSON values that compares numbers as numbers (hour 2 before hour 10)."""
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, dict):
        return (3, tuple(_order(v) for v in value.values()), tuple(value))
    if isinstance(value, list):
        return (4, tuple(_order(v) for v in value))
    return (5,)


def canonical_list(items: list[Any]) -> list[Any]:
    """``items`` without duplicates, sorted by their values in model field order (numbers as
    numbers, texts as texts)."""
    unique = {json.dumps(item, ensure_ascii=False, sort_keys=False): item for item in items}
    return sorted(unique.values(), key=lambda item: (_order(item), json.dumps(item, ensure_ascii=False)))


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return canonical_list([_canonical(v) for v in value])
    return value


class Message(BaseModel):
    """Base of every JSON-object message: strict keys, exact names, canonical dump."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=False)

    #: Catalog name of the message (``metering-data``), set by each subclass.
    name: ClassVar[str] = ""

    def dump(self) -> Any:
        """The canonical JSON form: keys as on the wire, absent optionals left out, lists as sets."""
        return self.canonical(self.model_dump(mode="json", by_alias=True, exclude_none=True))

    @classmethod
    def canonical(cls, data: Any) -> Any:
        """Canonical form of dumped JSON: every list deduplicated and sorted (see docs/canonical.md)."""
        return _canonical(data)


class Row(Message):
    """Base of a model whose instances come by the thousand as list items (a metering reading).

    The forward path (payload -> binding table) validates rows as plain dicts of the same fields
    (:mod:`dso_saref.messages.rows`), not as model instances, so a row's rules live in its field
    types only: no ``field_validator`` or ``model_validator`` on a row, an optional field defaults to
    ``None``; a parent's rules over its rows read their members by name (``check_unique(rows, "time",
    ...)``). Raises TypeError for a field with another default."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for name, info in cls.model_fields.items():
            if not info.is_required() and (info.default is not None or info.default_factory is not None):
                raise TypeError(f"{cls.__name__}.{name}: a row's optional field defaults to None")
            if info.validation_alias is not None:
                raise TypeError(f"{cls.__name__}.{name}: a row's field has one alias (alias=)")


class ListMessage(RootModel[list[Any]]):
    """Base of every message that is a top-level JSON array (the specification's "Array of")."""

    name: ClassVar[str] = ""

    def dump(self) -> Any:
        """The canonical JSON form (see :meth:`Message.dump`)."""
        return self.canonical(self.model_dump(mode="json", by_alias=True, exclude_none=True))

    @classmethod
    def canonical(cls, data: Any) -> Any:
        """Canonical form of dumped JSON: every list deduplicated and sorted."""
        return _canonical(data)


class Windowed(Message):
    """A message with a ``start`` < ``end`` window of timestamps."""

    start: Timestamp
    end: Timestamp

    @model_validator(mode="after")
    def _start_before_end(self) -> Self:
        check_window(self.start, self.end)
        return self
