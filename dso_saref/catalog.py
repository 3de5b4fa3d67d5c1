"""The message catalog: every DSO message's model, graph pattern, shape and example, cross-checked.

Each message is described once, in ``graph_patterns/NAME.toml`` (prefixes, the KE basic graph
pattern, where each variable's value comes from in the JSON and which RDF term it becomes, and the
Knowledge Engine interaction it starts), with its pydantic model in ``dso_saref/messages/``, its SHACL
shape in ``shapes/NAME.ttl`` and its example in ``examples/NAME.json``. The catalog loads them lazily,
once, and checks them against each other, so a broken description fails loudly at load::

    >>> from dso_saref.catalog import Catalog
    >>> catalog = Catalog()
    >>> catalog["hems-voltage"].interaction is None   # answers hems-voltage-request
    True
"""

from __future__ import annotations

import difflib
import importlib
import json
import threading
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SH, XSD

from dso_saref.errors import DescriptionError, PatternError, PayloadError, Problem, UnknownMessageError
from dso_saref.mapping import Rows
from dso_saref.parts import Part, split
from dso_saref.paths import Key, RowError
from dso_saref.patterns import Pattern, parse
from dso_saref.payloads import DocumentError, load_json
from dso_saref.profiles import DEFAULT_PROFILE, declarations, load_profiles, split_name, undeclared_iris
from dso_saref.resources import data_dir
from dso_saref.table import Table, TableBuilder
from dso_saref.terms import NONE, PREFIXES, Settings, TermError, format_term, parse_term
from dso_saref.variables import Variable

__all__ = ["ASK_ANSWER", "DEFAULT", "POST_REACT", "ROLES", "Catalog", "Description", "Interaction", "json_path"]

POST_REACT = "post-react"
ASK_ANSWER = "ask-answer"

#: The parties of the DSO interface: who starts (``initiators``) and who serves (``responders``) each
#: exchange is declared in its ``[interaction]`` table.
ROLES = ("dso", "service-provider", "third-party", "data-service-provider")


@dataclass(frozen=True)
class Interaction:
    """The Knowledge Engine exchange a message starts.

    POST/REACT: the message's pattern is the argument, ``result``'s pattern the result.
    ASK/ANSWER: ``answer``'s pattern is the graph pattern; the message binds a subset of its variables.
    """

    type: str
    result: str | None = None
    answer: str | None = None
    initiators: tuple[str, ...] = ()
    responders: tuple[str, ...] = ()

    @property
    def counterpart(self) -> str:
        """Name of the message that comes back (the result or the answer)."""
        return (self.result if self.type == POST_REACT else self.answer) or ""


def json_path(loc: tuple[Any, ...]) -> str:
    """A JSONPath (``$[0].readings[1].time``) for a pydantic error location."""
    out = "$"
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("root",):
            continue
        elif isinstance(part, str) and part.replace("_", "a").isalnum() and not part[:1].isdigit():
            out += f".{part}"
        else:
            out += f"['{part}']"
    return out


def _problems(exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and (p.startswith("function-") or p in (
            "list[...]",))))
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key (strict mode): check its spelling against the message's keys"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif message.startswith("Value error, "):
            message = message[len("Value error, "):]
        problems.append(Problem(json_path(loc), message, error["type"]))
    return problems


@dataclass
class Description:
    """Everything the catalog knows about one message."""

    name: str
    description: str
    spec: str
    direction: str
    model: type[BaseModel]
    prefixes: dict[str, str]
    pattern: Pattern
    pattern_text: str
    variables: dict[str, Variable]
    interaction: Interaction | None
    source: Path
    answers: list[str] = field(default_factory=list)
    #: The pattern profile (``saref``: the default description; docs/interop.md) and the message's name.
    profile: str = "saref"
    message: str = ""
    #: A user profile's shape file (``DIR/NAME@PROFILE.ttl``; generated from its pattern when absent).
    shape_file: Path | None = None
    _declarations: Callable[[], set[str]] = field(default=set, repr=False, compare=False)
    _compiled: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.message = self.message or self.name

    @cached_property
    def rows(self) -> Rows:
        """The row structure (iterators, levels) of the message's variables."""
        return Rows(self.variables)

    @cached_property
    def parts(self) -> list[Part]:
        """The message's pattern in parts that the data always fills: the core first, then one part
        per group of optional values (:mod:`dso_saref.parts`)."""
        return split(self.name, self.pattern, self.variables, self.rows.level)

    @cached_property
    def builder(self) -> TableBuilder:
        """The message's variables compiled into its binding-table builder (built once)."""
        return TableBuilder(self)

    @property
    def top_list(self) -> bool:
        """Whether the message is a top-level JSON array."""
        return "root" in self.model.model_fields and self.model.model_json_schema().get("type") == "array"

    @property
    def optional(self) -> set[str]:
        """Variables that may be bound to ``rdf:nil``."""
        return self.rows.optional()

    @property
    def shape_path(self) -> Path:
        """Where the message's SHACL shape lives (a shipped profile's in ``shapes/profiles/``)."""
        if self.shape_file is not None:
            return self.shape_file
        return data_dir("shapes") / ("profiles" if self.profile != "saref" else "") / f"{self.name}.ttl"

    @cached_property
    def shapes_graph(self) -> Graph:
        """The message's SHACL shapes graph, parsed once and checked against the catalog (every IRI
        declared in ontologies/, every annotated variable in the pattern); raises DescriptionError.
        Engines read it and never change it."""
        return _load_shapes(self, self._declarations())

    def compiled(self, key: str, build: Callable[[Description], T]) -> T:
        """Per-message state another layer compiles from this description (a validation engine's
        plan, say): ``build(self)`` on first use under ``key``, then kept."""
        found = self._compiled.get(key, _MISSING)
        if found is _MISSING:
            with self._lock:
                found = self._compiled.get(key, _MISSING)
                if found is _MISSING:
                    found = self._compiled[key] = build(self)
        return found  # type: ignore[return-value]

    @property
    def example_path(self) -> Path:
        """Where the message's example payload lives."""
        return data_dir("examples") / f"{self.message}.json"

    def example(self) -> Any:
        """The example payload of the message."""
        return json.loads(self.example_path.read_text(encoding="utf-8"))

    # -- JSON side ---------------------------------------------------------------------------

    def parse(self, payload: Any, settings: Settings | None = None) -> BaseModel:
        """The typed message of a JSON payload: a JSON value, or a JSON document as ``str`` or
        ``bytes`` (read by :func:`dso_saref.payloads.load_json`); raises PayloadError with JSONPath
        locations."""
        settings = settings or Settings()
        return self._validated(self._value(payload, settings), settings)

    def read(self, payload: Any, settings: Settings | None = None, *, checked: bool = False) -> BaseModel:
        """The message of a payload for the forward path (payload -> binding table): its row form
        (:mod:`dso_saref.messages.rows`: rows as dicts, not model instances) when pydantic accepts it
        so, else :meth:`parse`'s typed message; raises PayloadError as :meth:`parse` does. Only for
        building tables: a caller's typed message comes from :meth:`parse`. ``checked``: the JSON
        value was read by :mod:`dso_saref.payloads` already (its limits checked)."""
        settings = settings or Settings()
        value = payload if checked and not isinstance(payload, str | bytes | bytearray) \
            else self._value(payload, settings)
        rows = self.compiled("rows-model", _rows_model)
        if rows is not None:
            try:
                return rows.model_validate(value, context={"settings": settings})
            except (ValidationError, TypeError, RecursionError):
                pass  # the message's own model says what is wrong (or lenient mode takes it)
        return self._validated(value, settings)

    def _value(self, payload: Any, settings: Settings) -> Any:
        """The JSON value of a payload (a document read, a value's limits checked); raises PayloadError."""
        if isinstance(payload, str | bytes | bytearray):
            try:
                return load_json(payload, limits=settings.limits)
            except DocumentError as exc:
                raise PayloadError(self.name, exc.problems) from None
        problems = settings.limits.check(payload)
        if problems:
            raise PayloadError(self.name, problems)
        return payload

    def _validated(self, payload: Any, settings: Settings) -> BaseModel:
        context = {"settings": settings}
        try:
            return self.model.model_validate(payload, context=context)
        except ValidationError as exc:
            problems = _problems(exc)
            if settings.strict or any(p.rule != "extra_forbidden" for p in problems):
                raise PayloadError(self.name, problems) from None
            stripped = _strip_unknown(payload, exc)
            try:
                return self.model.model_validate(stripped, context=context)
            except ValidationError as again:
                raise PayloadError(self.name, _problems(again)) from None
        except (TypeError, RecursionError) as exc:
            raise PayloadError(self.name, [Problem("$", f"not a JSON payload: {exc}")]) from None

    def canonical(self, payload: Any, settings: Settings | None = None) -> Any:
        """The canonical JSON form of a payload (see docs/canonical.md)."""
        return self.parse(payload, settings).dump()

    # -- bindings and triples --------------------------------------------------------------------

    def table(self, payload: Any, settings: Settings | None = None) -> Table:
        """The binding table of a payload (a JSON value, a JSON document, or the typed message): its
        bindings, triples and what validation reads; raises PayloadError."""
        settings = settings or Settings()
        message = payload if isinstance(payload, self.model) else self.read(payload, settings)
        return self.table_of(message, settings)

    def table_of(self, message: BaseModel, settings: Settings | None = None) -> Table:
        """The binding table of a typed message of this description; raises PayloadError for a value
        that cannot become its RDF term (a datetime beyond year 9999 in UTC, say)."""
        settings = settings or Settings()
        try:
            return self.builder.build(message, settings.base)
        except (TermError, RowError, OverflowError) as exc:
            raise PayloadError(self.name, [Problem("$", f"a value cannot become its RDF term: {exc}", "term")]) \
                from None

    def from_term_rows(self, rows: list[Mapping[str, URIRef | Literal]], settings: Settings | None = None) -> Any:
        """The canonical JSON payload of binding rows of rdflib terms; raises PayloadError."""
        return self.message_of_rows(rows, settings).dump()

    def message_of_rows(self, rows: list[Mapping[str, URIRef | Literal]],
                        settings: Settings | None = None) -> BaseModel:
        """The typed message of binding rows of rdflib terms (read by the model once); raises
        PayloadError."""
        settings = settings or Settings()
        try:
            data = self.rows.rebuild(rows, settings.base, self.top_list)
        except RowError as exc:
            raise PayloadError(self.name, [exc.problem]) from None
        return self.parse(data, settings)

    def instances(self, rows: list[Mapping[str, URIRef | Literal]]) -> list[list[Mapping[str, URIRef | Literal]]]:
        """Rows split into one group per message instance (by the values of the top-level
        variables), for answers that carry several single-object messages."""
        top = [name for name, level in self.rows.level.items() if level == 0 and self.variables[name].fed]
        groups: dict[tuple[str, ...], list[Mapping[str, URIRef | Literal]]] = {}
        for row in rows:
            groups.setdefault(tuple(str(row.get(name)) for name in top), []).append(row)
        return [groups[key] for key in sorted(groups)]

    def parse_bindings(self, bindings: Any) -> list[dict[str, URIRef | Literal]]:
        """The rows (rdflib terms, ``rdf:nil`` where a part is absent) of KE binding sets: a dict of
        binding sets by part key (what :meth:`Table.bindings` gives), or one binding set, the core's
        (a list of ``{variable: term string}``); the parts are joined to their parents by their
        anchors. Raises PayloadError naming the binding."""
        if isinstance(bindings, list):
            bindings = {self.parts[0].key: bindings}
        if not isinstance(bindings, Mapping):
            raise PayloadError(self.name, [Problem("bindings", "binding sets are a JSON object of arrays by part, "
                                                   "or one array", "binding")])
        parts = {part.key: part for part in self.parts}
        unknown = sorted(set(bindings) - set(parts))
        if unknown:
            raise PayloadError(self.name, [Problem(f"bindings[{unknown[0]!r}]", f"not a part of {self.name} "
                                                   f"(its parts: {', '.join(parts)})", "binding")])
        parsed = {key: self._parse_set(part, bindings.get(key, [])) for key, part in parts.items()}
        return self._join(parsed)

    def _parse_set(self, part: Part, bindings: Any) -> list[dict[str, URIRef | Literal]]:
        where = "bindings" if part.parent is None else f"bindings[{part.key!r}]"
        if not isinstance(bindings, list):
            raise PayloadError(self.name, [Problem(where, "a binding set must be a JSON array", "binding")])
        rows = []
        for i, binding in enumerate(bindings):
            if not isinstance(binding, dict):
                raise PayloadError(self.name, [Problem(f"{where}[{i}]", "a binding must be an object", "binding")])
            row = {}
            for key, value in binding.items():
                if key not in part.variables:
                    raise PayloadError(self.name, [Problem(f"{where}[{i}].{key}",
                                                           "not a variable of the part's pattern", "binding")])
                try:
                    row[key] = parse_term(value)
                except TermError as exc:
                    raise PayloadError(self.name, [Problem(f"{where}[{i}].{key}", str(exc), "binding")]) from None
            missing = sorted(part.variables - set(row))
            if missing:
                raise PayloadError(self.name, [Problem(f"{where}[{i}]", f"variables {missing} are not bound "
                                                       "(a binding set binds every variable of its pattern)",
                                                       "binding")])
            rows.append(row)
        return rows

    def _join(self, parsed: Mapping[str, list[dict[str, URIRef | Literal]]]) -> list[dict[str, URIRef | Literal]]:
        """Full rows: the core's rows, each part's rows joined to their parent's by the part's anchors
        (a row whose part is absent keeps ``rdf:nil`` for the part's own variables)."""
        core, *rest = self.parts
        rows = [dict(row) for row in parsed[core.key]]
        for part in rest:
            index: dict[tuple[Any, ...], list[dict[str, URIRef | Literal]]] = {}
            anchors = sorted(part.anchors)
            for row in parsed[part.key]:
                index.setdefault(tuple(row[a] for a in anchors), []).append(row)
            used: set[tuple[Any, ...]] = set()
            joined = []
            for row in rows:
                key = tuple(row.get(a, NONE) for a in anchors)
                matches = index.get(key)
                if not matches:
                    joined.append({**row, **dict.fromkeys(part.own, NONE)})
                    continue
                used.add(key)
                joined += [{**row, **{v: match[v] for v in part.own}} for match in matches]
            orphans = sorted(set(index) - used, key=str)
            if orphans:
                first = dict(zip(anchors, orphans[0], strict=True))
                raise PayloadError(self.name, [Problem(f"bindings[{part.key!r}]", "a row hangs from no row of its "
                                                       f"parent (anchors {first})", "binding")])
            rows = joined
        return rows

    def graph_rows(self, graph: Graph) -> list[dict[str, URIRef | Literal]]:
        """The rows a graph holds for this message: each part's pattern matched on its own, the parts
        joined to their parents (see :meth:`parse_bindings`)."""
        return self._join({part.key: part.pattern.match(graph) for part in self.parts})


_MISSING = object()
T = TypeVar("T")
#: Namespaces whose terms a shape uses without ontologies/ declaring them.
_SHAPE_VOCABULARIES = (str(SH), str(RDF), str(RDFS), str(XSD), str(OWL), "https://w3id.org/dso-saref/shapes/")


def _rows_model(description: Description) -> type[BaseModel] | None:
    from dso_saref.messages.rows import rows_model  # with the models, not at import

    return rows_model(description.model)


def _load_shapes(description: Description, declared: set[str]) -> Graph:
    path = description.shape_path
    graph = Graph()
    if description.shape_file is not None and not path.is_file():  # a user's profile, its shape not generated
        raise DescriptionError(f"{path}: no shape file for {description.name}: run `python -m dso_saref.shaping "
                               f"--patterns {path.parent}`")
    try:
        graph.parse(path, format="turtle")
    except FileNotFoundError as exc:
        raise DescriptionError(f"{description.name}: no shape file shapes/{path.name}") from exc
    except Exception as exc:  # rdflib's Turtle parser raises several exception types
        raise DescriptionError(f"shapes/{path.name}: not valid Turtle: {exc}") from exc
    iris = {str(t) for triple in graph for t in triple if isinstance(t, URIRef)}
    undeclared = sorted(i for i in iris if not i.startswith(_SHAPE_VOCABULARIES) and i not in declared)
    if undeclared:
        raise DescriptionError(f"shapes/{path.name}: IRIs not declared in ontologies/: {', '.join(undeclared)}")
    annotated = {str(v) for v in graph.objects(None, URIRef("https://w3id.org/dso-saref/shapes/variable"))}
    unknown = sorted(annotated - set(description.variables))
    if unknown:
        raise DescriptionError(f"shapes/{path.name}: shapes check variables {unknown} that the pattern does not have")
    # pySHACL adds these "system triples" to every shapes graph it reads; adding them once here keeps
    # the shared graph unchanged by validation (and safe to read from several threads).
    graph.add((OWL.Class, RDFS.subClassOf, RDFS.Class))
    graph.add((OWL.DatatypeProperty, RDFS.subClassOf, RDF.Property))
    return graph


def _strip_unknown(payload: Any, exc: ValidationError) -> Any:
    data = json.loads(json.dumps(payload))
    for error in exc.errors():
        if error["type"] != "extra_forbidden":
            continue
        node = data
        loc = [p for p in error["loc"] if p != "root"]
        for part in loc[:-1]:
            node = node[part]
        node.pop(loc[-1], None)
    return data


class Catalog(Mapping[str, Description]):
    """Every message description, loaded lazily once and cross-checked."""

    def __init__(self, root: Path | None = None, *, patterns: Path | Sequence[Path] = ()) -> None:
        """``root``: the folder of the default descriptions (``graph_patterns/``, whose ``profiles/``
        holds the shipped profiles); ``patterns``: folders of a user's own profiles
        (``NAME@PROFILE.toml``, docs/interop.md)."""
        self._root = root
        self._patterns = (patterns,) if isinstance(patterns, Path | str) else tuple(patterns)
        self._lock = threading.Lock()
        self._descriptions: dict[str, Description] | None = None
        self._profiles: dict[str, dict[str, Description]] = {}
        self._declared: set[str] | None = None

    # Mapping protocol -------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Description:
        loaded = self._load()
        if name not in loaded:
            message, profile = split_name(str(name))
            found = self._profiles.get(message, {}).get(profile)
            if found is not None:
                return found
            known = list(loaded) + [p.name for by in self._profiles.values() for p in by.values()]
            close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
            raise UnknownMessageError(str(name), close)
        return loaded[name]

    def profiles(self, name: str) -> dict[str, Description]:
        """Every pattern profile of message ``name`` by profile name, ``saref`` (the default
        description) first; raises UnknownMessageError."""
        default = self[split_name(name)[0]]
        return {DEFAULT_PROFILE: default, **dict(sorted(self._profiles.get(default.name, {}).items()))}

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    # loading ----------------------------------------------------------------------------------

    @property
    def declared_iris(self) -> set[str]:
        """Every IRI the project's ``ontologies/`` declares (own terms and the external terms it uses)."""
        if self._declared is None:
            self._declared = declarations(sorted(data_dir("ontologies").glob("*.ttl")))
        return self._declared

    def _load(self) -> dict[str, Description]:
        if self._descriptions is not None:
            return self._descriptions
        with self._lock:
            if self._descriptions is None:
                root = self._root or data_dir("graph_patterns")
                loaded = {}
                for path in sorted(root.glob("*.toml")):
                    description = _describe(path)
                    description._declarations = lambda: self.declared_iris
                    loaded[description.name] = description
                _cross_check(loaded, self.declared_iris)
                self._profiles = load_profiles(loaded, root / "profiles", self._patterns, self.declared_iris)
                for by_profile in self._profiles.values():
                    for description in by_profile.values():
                        description._declarations = lambda: self.declared_iris
                self._descriptions = loaded
        return self._descriptions


_KEYS = {"name", "description", "spec", "direction", "model", "prefixes", "pattern", "variables", "interaction"}


def _describe(path: Path) -> Description:
    where = f"{path.name}"
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DescriptionError(f"{where}: {exc}") from exc
    unknown = set(spec) - _KEYS
    missing = {"name", "description", "model", "prefixes", "pattern", "variables"} - set(spec)
    if unknown or missing:
        raise DescriptionError(f"{where}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    if spec["name"] != path.stem:
        raise DescriptionError(f"{where}: name {spec['name']!r} must match the file name")
    prefixes = dict(spec["prefixes"])
    for prefix, namespace in prefixes.items():
        if PREFIXES.get(prefix, namespace) != namespace:
            raise DescriptionError(f"{where}: prefix {prefix}: is {namespace}, the project uses {PREFIXES[prefix]}")
    try:
        pattern = parse(spec["pattern"], prefixes)
    except PatternError as exc:
        raise DescriptionError(f"{where}: {exc}") from exc
    variables = {name: Variable.from_declaration(name, decl, prefixes) for name, decl in spec["variables"].items()}
    if set(variables) != pattern.variables:
        raise DescriptionError(
            f"{where}: variables declared {sorted(set(variables) - pattern.variables)} are not in the pattern, "
            f"pattern variables {sorted(pattern.variables - set(variables))} are not declared")
    module_name, _, class_name = spec["model"].partition(":")
    try:
        model = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise DescriptionError(f"{where}: model {spec['model']!r} cannot be imported: {exc}") from exc
    interaction = None
    if "interaction" in spec:
        decl = spec["interaction"]
        if decl.get("type") not in (POST_REACT, ASK_ANSWER):
            raise DescriptionError(f"{where}: interaction type must be {POST_REACT} or {ASK_ANSWER}")
        roles = {key: tuple(decl.get(key, ())) for key in ("initiators", "responders")}
        for key, names in roles.items():
            unknown_roles = sorted(set(names) - set(ROLES))
            if unknown_roles:
                raise DescriptionError(f"{where}: interaction {key} {unknown_roles} are not roles {ROLES}")
        interaction = Interaction(decl["type"], decl.get("result"), decl.get("answer"), **roles)
    description = Description(
        name=spec["name"], description=spec["description"].strip(), spec=spec.get("spec", ""),
        direction=spec.get("direction", ""), model=model, prefixes=prefixes, pattern=pattern,
        pattern_text=spec["pattern"].strip(), variables=variables, interaction=interaction, source=path)
    try:
        description.rows  # noqa: B018 - builds and checks the iterator chain
    except DescriptionError as exc:
        raise DescriptionError(f"{where}: {exc}") from exc
    _check_paths(description)
    return description


def _schema_at(schema: dict[str, Any], node: dict[str, Any], key: str | None) -> dict[str, Any] | None:
    defs = schema.get("$defs", {})
    while True:
        if "$ref" in node:
            node = defs[node["$ref"].split("/")[-1]]
        elif "anyOf" in node:
            options = [o for o in node["anyOf"] if o.get("type") != "null"]
            node = options[0] if options else node
            if "anyOf" in node or "$ref" in node:
                continue
            break
        else:
            break
    if key is None:
        return node.get("items") if node.get("type") == "array" else None
    props = node.get("properties", {})
    return props.get(key)


def _check_paths(description: Description) -> None:
    schema = description.model.model_json_schema(by_alias=True, mode="validation")
    for var in description.variables.values():
        if var.path is None:
            continue
        node: dict[str, Any] | None = schema
        for step in var.path.steps:
            node = _schema_at(schema, node, step.name if isinstance(step, Key) else None) if node else None
            if node is None:
                raise DescriptionError(
                    f"{description.source.name}: ?{var.name} reads {var.path.text}, which the model "
                    f"{description.model.__name__} has no field for")


def _cross_check(loaded: dict[str, Description], declared: set[str]) -> None:
    for description in loaded.values():
        where = description.source.name
        undeclared = undeclared_iris(description, declared)
        if undeclared:
            raise DescriptionError(f"{where}: IRIs not declared in ontologies/: {', '.join(undeclared)}")
        interaction = description.interaction
        if interaction is None:
            continue
        other = interaction.counterpart
        if other not in loaded:
            raise DescriptionError(f"{where}: interaction refers to unknown message {other!r}")
        loaded[other].answers.append(description.name)
        if interaction.type == ASK_ANSWER:
            answer = loaded[other]
            extra = description.pattern.variables - answer.pattern.variables
            if extra:
                raise DescriptionError(f"{where}: ASK variables {sorted(extra)} are not in {other}'s pattern")
            if not set(description.pattern.triples) <= set(answer.pattern.triples):
                raise DescriptionError(f"{where}: the ASK request's triples must be a part of {other}'s pattern")


def format_rows(rows: list[Mapping[str, URIRef | Literal]]) -> list[dict[str, str]]:
    """KE binding set (term strings) of rdflib term rows."""
    return [{k: format_term(v) for k, v in sorted(row.items())} for row in rows]


def is_none(term: object) -> bool:
    """Whether a bound term is the ``rdf:nil`` absence marker."""
    return term == NONE


#: The catalog of the package's own descriptions (``dso_saref.catalog``), loaded on first use.
DEFAULT = Catalog()
