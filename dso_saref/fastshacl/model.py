"""The fast model reader: a message's pydantic model compiled once into plain Python checks.

pydantic validates a 100k-reading metering payload in about a second, and dumping it back to JSON
takes as long again; the hot path cannot afford either. :func:`compile_model` walks a model's fields
once and builds closures that apply **the model's own** validators (the ``BeforeValidator`` /
``AfterValidator`` functions of each field type, the ``field_validator`` and ``model_validator``
methods, run on light stand-ins of the instances) and write the JSON that
``model_dump(mode="json", by_alias=True, exclude_none=True)`` would write::

    >>> from dso_saref.messages.data_sharing import MeteringData
    >>> read = compile_model(MeteringData)
    >>> read([{"id": 7, "readings": []}], Settings())
    [{'id': '7', 'readings': []}]

The reader only vouches for payloads it fully understands: anything else (a wrong type, a missing or
unknown key, a validator that raises or reaches for something the stand-ins lack) raises
:class:`Bail`, and the caller runs the reference path (pydantic), which gives the exact errors. A model
using a pydantic feature the compiler does not know raises :class:`Unsupported` at compile time: that
message always takes the reference path. Conversions of strings (timestamps, units, identifiers) are
memoised per call, which is what makes a zone-day of readings cheap.
"""

from __future__ import annotations

import inspect
import math
import operator
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import Any

import annotated_types
from pydantic import AfterValidator, BaseModel, BeforeValidator, PlainSerializer, RootModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from dso_saref.terms import Settings

__all__ = ["Bail", "Unsupported", "compile_model"]


class Bail(Exception):
    """The fast reader cannot vouch for this payload: run the reference path (pydantic)."""


class Unsupported(Exception):
    """The model uses a feature the fast reader does not compile."""


_CONFIG = {"extra", "populate_by_name", "str_strip_whitespace", "title", "defer_build"}
_SCALARS = (str, float, int, bool)


class _Context:
    """Per-call state: the validation context handed to validators, and the conversion caches."""

    __slots__ = ("caches", "context")

    def __init__(self, settings: Settings, slots: int) -> None:
        self.context = {"settings": settings}
        self.caches: list[dict[Any, Any]] = [{} for _ in range(slots)]


class _Info:
    """A stand-in for pydantic's ``ValidationInfo``: ``context``, ``data``, ``field_name``, ``mode``.

    Scalar conversions get no ``data`` (so their results can be memoised): a validator reading it
    raises AttributeError, which makes the reader bail."""

    __slots__ = ("context", "data", "field_name", "mode")

    def __init__(self, context: Any, field_name: str | None, data: dict[str, Any] | None = None) -> None:
        self.context = context
        self.field_name = field_name
        self.mode = "python"
        if data is not None:
            self.data = data


class _Instance(tuple):
    """Base of the stand-ins for validated model instances, handed to ``model_validator(mode="after")``
    and to the field validators of an enclosing model: a tuple of the typed field values, then the
    JSON; each field is a read-only attribute (see :func:`_instance_class`)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and tuple.__eq__(self[:-1], other[:-1])  # type: ignore[index]

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment] - pydantic models are not hashable either


def _instance_class(model: type[BaseModel], names: list[str]) -> type[_Instance]:
    """A stand-in class for ``model``: one attribute per field (C-level item getters), the model's
    ClassVars; anything else raises AttributeError, which makes the reader bail."""
    clash = sorted(set(names) & set(dir(tuple)))
    if clash:
        raise Unsupported(f"{model.__name__}: fields {clash} clash with the stand-in instances")
    namespace: dict[str, Any] = {"__slots__": ()}
    for name in getattr(model, "__class_vars__", ()):
        value = getattr(model, name, None)
        if value is not None and not callable(value):
            namespace[name] = value
    for i, name in enumerate(names):
        namespace[name] = property(operator.itemgetter(i))
    namespace["_json"] = property(operator.itemgetter(len(names)))
    return type(f"{model.__name__}Instance", (_Instance,), namespace)


def _takes_info(func: Callable[..., Any], plain: int) -> bool:
    """Whether a validator takes an ``info`` argument after its ``plain`` positional ones."""
    try:
        parameters = [p for p in inspect.signature(func).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError) as exc:
        raise Unsupported(f"cannot inspect validator {func!r}") from exc
    if len(parameters) not in (plain, plain + 1):
        raise Unsupported(f"validator {func!r} has an unexpected signature")
    return len(parameters) == plain + 1


Convert = Callable[[Any, _Context], tuple[Any, Any]]

_MISSING = object()


class _Scalar:
    """A scalar field type: its validators (before, the core type check, after), its JSON serializer
    and its memo cache (for string input)."""

    def __init__(self, steps: list[tuple[Callable[..., Any], bool]], dump: Callable[[Any], Any] | None,
                 field_name: str, slot: int) -> None:
        self.steps = steps
        self.dump = dump
        self.field_name = field_name
        self.slot = slot
        self.needs_info = any(with_info for _, with_info in steps)

    def __call__(self, raw: Any, ctx: _Context) -> tuple[Any, Any]:
        cache = ctx.caches[self.slot] if raw.__class__ is str else None
        if cache is not None:
            found = cache.get(raw)
            if found is not None:
                return found
        info = _Info(ctx.context, self.field_name) if self.needs_info else None
        value = raw
        for func, with_info in self.steps:
            value = func(value, info) if with_info else func(value)
        result = (value, value if self.dump is None else self.dump(value))
        if cache is not None:
            cache[raw] = result
        return result


class _Optional:
    """``X | None``: ``None`` stays ``None`` (and is left out of the JSON)."""

    def __init__(self, inner: Convert) -> None:
        self.inner = inner

    def __call__(self, raw: Any, ctx: _Context) -> tuple[Any, Any]:
        return (None, None) if raw is None else self.inner(raw, ctx)


class _List:
    """``list[X]`` with optional length bounds; lists of models read through generated loops."""

    def __init__(self, item: Convert, low: int, high: float) -> None:
        self.item = item
        self.low = low
        self.high = high

    def __call__(self, raw: Any, ctx: _Context) -> tuple[Any, Any]:
        if raw.__class__ is not list or not self.low <= len(raw) <= self.high:
            raise Bail
        item = self.item
        if isinstance(item, _ModelReader):
            return item.read_list(raw, ctx)
        typed, dumped = [], []
        for value in raw:
            t, j = item(value, ctx)
            typed.append(t)
            dumped.append(j)
        return typed, dumped


class _Compiler:
    """Compiles one message model; counts the memo caches a call needs."""

    def __init__(self) -> None:
        self.slots = 0
        self.models: dict[type[BaseModel], Any] = {}

    def annotated(self, annotation: Any, metadata: list[Any], field_name: str) -> Convert:
        """The conversion of a field annotation with its metadata (validators, serializers, lengths)."""
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            base, *extra = typing.get_args(annotation)
            return self.annotated(base, [*extra, *metadata], field_name)
        if origin in (typing.Union, types.UnionType):
            options = typing.get_args(annotation)
            inner = [o for o in options if o is not type(None)]
            if len(inner) != 1 or len(options) != 2 or metadata:
                raise Unsupported(f"{field_name}: unions other than X | None")
            return _Optional(self.annotated(inner[0], [], field_name))
        if origin is list:
            (item,) = typing.get_args(annotation)
            low, high = 0, math.inf
            for entry in metadata:
                if isinstance(entry, annotated_types.MinLen):
                    low = entry.min_length
                elif isinstance(entry, annotated_types.MaxLen):
                    high = entry.max_length
                else:
                    raise Unsupported(f"{field_name}: list metadata {entry!r}")
            if typing.get_origin(item) in (typing.Union, types.UnionType):
                raise Unsupported(f"{field_name}: optional list items")
            return _List(self.annotated(item, [], field_name), low, high)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if metadata:
                raise Unsupported(f"{field_name}: metadata on a model field")
            return self.model(annotation)
        return self._scalar(annotation, metadata, field_name)

    def _scalar(self, annotation: Any, metadata: list[Any], field_name: str) -> _Scalar:
        befores: list[tuple[Callable[..., Any], bool]] = []
        afters: list[tuple[Callable[..., Any], bool]] = []
        serializer = None
        for entry in metadata:
            if isinstance(entry, BeforeValidator):
                befores.insert(0, (entry.func, _takes_info(entry.func, 1)))  # pydantic runs them right to left
            elif isinstance(entry, AfterValidator):
                afters.append((entry.func, _takes_info(entry.func, 1)))
            elif isinstance(entry, PlainSerializer):
                if entry.when_used not in ("json", "always") or _takes_info(entry.func, 1):
                    raise Unsupported(f"{field_name}: serializer {entry!r}")
                serializer = entry.func
            elif type(entry).__name__ == "FieldKind":
                continue  # documentation marker (dso_saref.messages.common.FieldKind)
            else:
                raise Unsupported(f"{field_name}: metadata {entry!r}")
        if serializer is None and annotation in (datetime, date):
            raise Unsupported(f"{field_name}: {annotation.__name__} without a JSON serializer")
        core = _core(annotation, field_name)
        self.slots += 1
        return _Scalar([*befores, (core, False), *afters], serializer or _dump_of(annotation), field_name,
                       self.slots - 1)

    def model(self, model: type[BaseModel]) -> Any:
        """The reader of a nested model (compiled once per model class; recursion is refused)."""
        if model in self.models:
            if self.models[model] is None:
                raise Unsupported(f"{model.__name__}: recursive models")
            return self.models[model]
        self.models[model] = None
        self.models[model] = _ModelReader(self, model)
        return self.models[model]


def _core(annotation: Any, field_name: str) -> Callable[[Any], Any]:
    """The type check pydantic applies after the "before" validators (lax mode, JSON-like input);
    anything it would coerce in a way not modelled here makes the reader bail."""
    if annotation in (str, int, bool):
        def exact(value: Any) -> Any:
            if value.__class__ is not annotation:
                raise Bail
            return value
        return exact
    if annotation is float:
        def number(value: Any) -> Any:
            if value.__class__ is float:
                if value - value != 0.0:  # NaN or infinite
                    raise Bail
                return value
            if value.__class__ is int:
                return float(value)
            raise Bail
        return number
    if annotation is datetime:
        def moment(value: Any) -> Any:
            if not isinstance(value, datetime):
                raise Bail
            return value
        return moment
    if annotation is date:
        def day(value: Any) -> Any:
            if value.__class__ is not date:
                raise Bail
            return value
        return day
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        members = {(type(m.value), m.value): m for m in annotation}

        def member(value: Any) -> Any:
            if value.__class__ is annotation:
                return value
            found = members.get((value.__class__, value))
            if found is None:
                raise Bail
            return found
        return member
    if typing.get_origin(annotation) is typing.Literal:
        allowed = {(type(v), v) for v in typing.get_args(annotation)}

        def literal(value: Any) -> Any:
            if (value.__class__, value) not in allowed:
                raise Bail
            return value
        return literal
    raise Unsupported(f"{field_name}: type {annotation!r}")


def _dump_of(annotation: Any) -> Callable[[Any], Any] | None:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _enum_value
    return None


def _enum_value(member: Any) -> Any:
    return member.value


class _Field:
    __slots__ = ("alias", "convert", "default", "dumped_default", "name", "required", "validate_default",
                 "validators")

    def __init__(self, name: str, info: FieldInfo, convert: Convert) -> None:
        if info.serialization_alias not in (None, info.alias) or info.validation_alias not in (None, info.alias):
            raise Unsupported(f"{name}: separate validation or serialization aliases")
        if info.default_factory is not None:
            raise Unsupported(f"{name}: default factories")
        self.name = name
        self.alias = info.alias or name
        self.convert = convert
        self.required = info.is_required()
        self.default = None if info.default is PydanticUndefined else info.default
        if not isinstance(self.default, (*_SCALARS, type(None))):
            raise Unsupported(f"{name}: default {self.default!r}")
        self.dumped_default = self.default.value if isinstance(self.default, Enum) else self.default
        self.validate_default = bool(info.validate_default)
        self.validators: list[tuple[Callable[..., Any], bool]] = []



class _ModelReader:
    """Reads one model: keys, fields in definition order, field and model validators.

    The common case (a JSON object whose keys are the fields' aliases) runs through Python source
    generated once per model (:meth:`_generate`), unrolled field by field, with a loop over list
    items for lists of the model; everything else goes through :meth:`_general`, field by field."""

    def __init__(self, compiler: _Compiler, model: type[BaseModel]) -> None:
        config = dict(model.model_config)
        if set(config) - _CONFIG or config.get("str_strip_whitespace"):
            raise Unsupported(f"{model.__name__}: model_config {sorted(set(config) - _CONFIG)}")
        self.model = model
        self.root = issubclass(model, RootModel)
        if not self.root and config.get("extra") != "forbid":
            raise Unsupported(f"{model.__name__}: extra keys must be forbidden")
        decorators = model.__pydantic_decorators__
        for kind in ("validators", "root_validators", "field_serializers", "model_serializers", "computed_fields"):
            if getattr(decorators, kind):
                raise Unsupported(f"{model.__name__}: {kind}")
        self.fields = [_Field(name, info, compiler.annotated(info.annotation, list(info.metadata), name))
                       for name, info in model.model_fields.items()]
        by_name = {f.name: f for f in self.fields}
        for decorator in decorators.field_validators.values():
            names = decorator.info.fields
            if decorator.info.mode != "after" or names == ("*",) or any(n not in by_name for n in names):
                raise Unsupported(f"{model.__name__}: field validator {decorator.cls_var_name}")
            for n in names:
                by_name[n].validators.append((decorator.func, _takes_info(decorator.func, 1)))
        self.before: list[tuple[Callable[..., Any], bool]] = []
        self.after: list[tuple[Callable[..., Any], bool]] = []
        for decorator in decorators.model_validators.values():
            if decorator.info.mode not in ("before", "after"):
                raise Unsupported(f"{model.__name__}: model validator mode {decorator.info.mode}")
            (self.before if decorator.info.mode == "before" else self.after).append(
                (decorator.func, _takes_info(decorator.func, 1)))
        if len(self.before) > 1:
            raise Unsupported(f"{model.__name__}: several 'before' model validators")
        self.keys: dict[str, _Field] = {f.alias: f for f in self.fields}
        if config.get("populate_by_name"):
            for f in self.fields:
                self.keys.setdefault(f.name, f)
        self.instance_class = _instance_class(model, [f.name for f in self.fields])
        self.read_one, self.read_list = self._generate()

    def __call__(self, raw: Any, ctx: _Context) -> tuple[Any, Any]:
        return self.read_one(raw, ctx)

    # -- the general path ------------------------------------------------------------------------

    def _general(self, raw: Any, ctx: _Context) -> tuple[Any, Any]:
        """One instance, any key spelling (aliases, names), defaults; the model "before" validator
        has already run."""
        if raw.__class__ is not dict:
            raise Bail
        values: dict[str, Any] = {}
        for key, value in raw.items():
            f = self.keys.get(key)
            if f is None or f.name in values:
                raise Bail  # unknown key, or a field given under both its name and its alias
            values[f.name] = value
        typed: dict[str, Any] = {}
        dumped: dict[str, Any] = {}
        for f in self.fields:
            if f.name in values:
                t, j = f.convert(values[f.name], ctx)
            elif f.required:
                raise Bail
            elif f.validate_default:
                t, j = f.convert(f.default, ctx)
            else:
                t, j = f.default, f.dumped_default
            for func, with_info in f.validators:
                result = func(t, _Info(ctx.context, f.name, dict(typed))) if with_info else func(t)
                if result is not t:
                    raise Bail  # a validator that replaces the value: leave it to pydantic
            typed[f.name] = t
            if t is not None:
                dumped[f.alias] = j
        return self._instance([*typed.values(), dumped], ctx)

    def _instance(self, values: list[Any], ctx: _Context) -> tuple[Any, Any]:
        instance = self.instance_class(values)
        dumped = values[-1]
        for func, with_info in self.after:
            if (func(instance, _Info(ctx.context, None)) if with_info else func(instance)) is not instance:
                raise Bail
        return instance, dumped

    # -- the generated path ----------------------------------------------------------------------

    def _generate(self) -> tuple[Convert, Callable[[list[Any], _Context], tuple[Any, Any]]]:
        names: dict[str, Any] = {"Bail": Bail, "Info": _Info, "MISSING": _MISSING, "CLS": self.instance_class,
                                 "general": self._general, "instance": self._instance}
        body: list[str] = []
        if self.before:
            func, with_info = self.before[0]
            names["BEFORE"] = func
            body.append("item = BEFORE(item, Info(ctx.context, None))" if with_info else "item = BEFORE(item)")
        if self.root:
            if self.fields[0].validators:
                raise Unsupported(f"{self.model.__name__}: field validators on a root model")
            names["ROOT"] = self.fields[0].convert
            body += ["t, j = ROOT(item, ctx)", "t, j = instance([t, j], ctx)"]
            one = _source("read_one", ["item = raw", *body, "return t, j"])
            many = _source("read_list", ["typed, dumped = [], []", "for item in raw:",
                                         *(f"    {line}" for line in body), "    typed.append(t)",
                                         "    dumped.append(j)", "return typed, dumped"])
            return _compile(one + many, names)
        # the fast case: every key is an alias; required keys are read with item[...] (a KeyError
        # sends the item to the general path) and the key count rules out unknown keys
        fast: list[str] = []
        slots: set[int] = set()
        for k, f in enumerate(self.fields):
            fast += self._field_source(k, f, names, slots)
        optional = [k for k, f in enumerate(self.fields) if not f.required]
        count = str(len(self.fields) - len(optional)) + "".join(f" + (v{k} is not MISSING)" for k in optional)
        reads = [f"v{k} = item[{f.alias!r}]" if f.required else f"v{k} = item.get({f.alias!r}, MISSING)"
                 for k, f in enumerate(self.fields)]
        if all(f.required and not isinstance(f.convert, _Optional) for f in self.fields):
            dumped = [f"j = {{{', '.join(f'{f.alias!r}: j{k}' for k, f in enumerate(self.fields))}}}"]
            if all(isinstance(f.convert, _Scalar) for f in self.fields):
                # the JSON is the input itself when every value is already canonical (saves a dict)
                same = " and ".join(f"j{k}.__class__ is v{k}.__class__ and j{k} == v{k}"
                                    for k in range(len(self.fields)))
                dumped = [f"if {same}:", "    j = item", "else:", f"    {dumped[0]}"]
        else:
            dumped = ["j = {}", *(f"if t{k} is not None: j[{f.alias!r}] = j{k}" for k, f in enumerate(self.fields))]
        after = []
        for i, (func, with_info) in enumerate(self.after):
            names[f"AFTER{i}"] = func
            call = f"AFTER{i}(t, Info(ctx.context, None))" if with_info else f"AFTER{i}(t)"
            after.append(f"if {call} is not t: raise Bail")
        values = ", ".join(f"t{k}" for k in range(len(self.fields)))
        build = [*dumped, f"t = CLS(({values}, j))", *after]
        caches = [f"c{slot} = ctx.caches[{slot}]" for slot in sorted(slots)]
        item = ["if item.__class__ is not dict:", "    raise Bail", "try:",
                *(f"    {line}" for line in reads), "except KeyError:", "    t, j = general(item, ctx)",
                "else:", f"    if len(item) != {count}:", "        t, j = general(item, ctx)", "    else:",
                *(f"        {line}" for line in fast + build)]
        one = _source("read_one", ["item = raw", *body, *caches, *item, "return t, j"])
        many = _source("read_list", [*caches, "typed_out, dumped_out = [], []", "for item in raw:",
                                     *(f"    {line}" for line in body + item),
                                     "    typed_out.append(t)", "    dumped_out.append(j)",
                                     "return typed_out, dumped_out"])
        return _compile(one + many, names)

    def _field_source(self, k: int, f: _Field, names: dict[str, Any], slots: set[int]) -> list[str]:
        """Source lines that set ``t{k}``, ``j{k}`` (typed value, JSON) from ``item``."""
        names[f"C{k}"] = f.convert
        convert = self._convert_source(k, f, names, slots)
        if f.required:
            lines = [f"v = v{k}", *convert]
        else:
            names[f"D{k}"] = f.default
            names[f"DJ{k}"] = f.dumped_default
            default = f"t{k}, j{k} = C{k}(D{k}, ctx)" if f.validate_default else f"t{k}, j{k} = D{k}, DJ{k}"
            lines = [f"v = v{k}", "if v is MISSING:", f"    {default}", "else:",
                     *(f"    {line}" for line in convert)]
        for i, (func, with_info) in enumerate(f.validators):
            names[f"V{k}_{i}"] = func
            data = "{" + ", ".join(f"{g.name!r}: t{g_k}" for g_k, g in enumerate(self.fields[:k])) + "}"
            call = f"V{k}_{i}(t{k}, Info(ctx.context, {f.name!r}, {data}))" if with_info else f"V{k}_{i}(t{k})"
            lines.append(f"if {call} is not t{k}: raise Bail")
        return lines

    def _convert_source(self, k: int, f: _Field, names: dict[str, Any], slots: set[int]) -> list[str]:
        convert = f.convert
        optional = isinstance(convert, _Optional)
        if optional:
            convert = convert.inner
        if not isinstance(convert, _Scalar):
            return [f"t{k}, j{k} = C{k}(v, ctx)"]
        slots.add(convert.slot)
        names[f"S{k}"] = convert
        steps = []
        for i, (func, with_info) in enumerate(convert.steps):
            names[f"F{k}_{i}"] = func
            steps.append(f"t{k} = F{k}_{i}(t{k}, Info(ctx.context, {f.name!r}))" if with_info
                         else f"t{k} = F{k}_{i}(t{k})")
        names[f"DUMP{k}"] = convert.dump
        lines = ["if v.__class__ is str:", f"    r = c{convert.slot}.get(v)",
                 f"    t{k}, j{k} = S{k}(v, ctx) if r is None else r", "else:", f"    t{k} = v",
                 *(f"    {step}" for step in steps),
                 f"    j{k} = t{k}" if convert.dump is None else f"    j{k} = DUMP{k}(t{k})"]
        if optional:
            lines = ["if v is None:", f"    t{k} = j{k} = None", "else:", *(f"    {line}" for line in lines)]
        return lines


def _source(name: str, lines: list[str]) -> str:
    return f"def {name}(raw, ctx):\n" + "".join(f"    {line}\n" for line in lines)


def _compile(source: str, names: dict[str, Any]) -> tuple[Any, Any]:
    namespace = dict(names)
    exec(compile(source, "<dso_saref.fastshacl.model>", "exec"), namespace)
    return namespace["read_one"], namespace["read_list"]


def compile_model(model: type[BaseModel]) -> Callable[[Any, Settings], Any]:
    """A reader of ``model``'s JSON payloads: returns the JSON ``model_dump(mode="json",
    by_alias=True, exclude_none=True)`` gives for a payload ``model_validate`` accepts, and raises
    :class:`Bail` for anything it cannot vouch for. Raises :class:`Unsupported` at compile time."""
    compiler = _Compiler()
    read = compiler.model(model)

    def reader(payload: Any, settings: Settings) -> Any:
        ctx = _Context(settings, compiler.slots)
        try:
            return read(payload, ctx)[1]
        except Bail:
            raise
        except Exception as exc:  # any validator error, or a stand-in lacking what a validator needs
            raise Bail from exc

    return reader
