"""Pattern profiles: another graph pattern for a message, for a peer that speaks another dialect.

A profile is a TOML file ``NAME@PROFILE.toml`` beside the message's default description (the
``saref`` profile, ``graph_patterns/NAME.toml``): the shipped ones in ``graph_patterns/profiles/``, a
user's in any directory given to ``Catalog(patterns=DIR)`` (``--patterns DIR`` on the CLI). It has the
message's JSON, model and exchange; only the RDF side differs::

    name = "hems-voltage"
    profile = "interconnect"
    description = "..."
    pattern = \"\"\" ?measurement a ic-data:DataPoint . ... \"\"\"
    [prefixes]
    ic-data = "http://ontology.tno.nl/interconnect/datapoint#"
    [variables.quantity]
    iri = "hems/{hems_id}/voltage/{timestamp}/{digest}/quantity"
    digest = ["voltage", "unit"]

Variables the profile does not declare are the default's of the same name (a node that is the same
thing keeps the default's IRI template); the profile must feed every JSON path the default feeds, so
that JSON -> bindings -> JSON stays lossless. Every IRI must be declared in ``ontologies/`` (or in a
``*.ttl`` file of the user's directory); a user profile may say ``undeclared = "warn"`` to accept a
peer's terms that no ontology declares (their typos are not ours to fix) with a warning instead.

An exchange whose answer (or result) has a profile has it too: its request is the default's, its
counterpart the profile (``hems-voltage-request@interconnect`` asks for
``hems-voltage@interconnect``). The Knowledge Engine allows letters, digits and ``-`` in
interaction names, so a profile's KIs are named ``NAME--PROFILE`` (:func:`dso_saref.parts.ki_name`).
"""

from __future__ import annotations

import re
import threading
import tomllib
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF

from dso_saref.errors import DescriptionError, PatternError
from dso_saref.patterns import Pattern, Var, parse
from dso_saref.terms import PREFIXES, UNITS
from dso_saref.variables import Variable, VariableKind

__all__ = ["DEFAULT_PROFILE", "SEPARATOR", "ProfileWarning", "declarations", "describe_profile", "exchange_profile",
           "load_profiles", "split_name", "undeclared_iris"]

#: The profile name of a message's default description (``graph_patterns/NAME.toml``).
DEFAULT_PROFILE = "saref"
#: Between the message name and the profile name: ``hems-voltage@interconnect``.
SEPARATOR = "@"

_PROFILE_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*\Z")
_KEYS = {"name", "profile", "description", "prefixes", "pattern", "variables", "undeclared"}
_REQUIRED = {"name", "profile", "prefixes", "pattern"}


class ProfileWarning(UserWarning):
    """A user profile uses IRIs that no ontology declares (accepted by ``undeclared = "warn"``)."""


def split_name(name: str) -> tuple[str, str]:
    """``(message, profile)`` of a catalog name: ``("hems-voltage", "interconnect")`` for
    ``hems-voltage@interconnect``, ``("hems-voltage", "saref")`` for ``hems-voltage``."""
    message, separator, profile = name.partition(SEPARATOR)
    return message, (profile if separator else DEFAULT_PROFILE)


def describe_profile(path: Path, defaults: Mapping[str, Any], declared: set[str], *, user: bool = False) -> Any:
    """The Description of the profile in ``path`` (a ``Description`` of its message with the profile's
    pattern and variables); raises DescriptionError naming the file and the field."""
    where = str(path) if user else f"profiles/{path.name}"
    message, _, profile = path.stem.partition(SEPARATOR)
    if not profile:
        raise DescriptionError(f"{where}: a profile file is named NAME@PROFILE.toml (e.g. hems-voltage@mine.toml)")
    if not _PROFILE_NAME.match(profile) or profile == DEFAULT_PROFILE:
        raise DescriptionError(f"{where}: profile name {profile!r} must be lower-case letters, digits and single "
                               f"'-', and not {DEFAULT_PROFILE!r} (the default description)")
    base = defaults.get(message)
    if base is None:
        raise DescriptionError(f"{where}: no message {message!r} in the catalog")
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DescriptionError(f"{where}: {exc}") from exc
    unknown, missing = sorted(set(spec) - _KEYS), sorted(_REQUIRED - set(spec))
    if unknown or missing:
        raise DescriptionError(f"{where}: unknown keys {unknown}, missing keys {missing}")
    if (spec["name"], spec["profile"]) != (message, profile):
        raise DescriptionError(f"{where}: name and profile ({spec['name']!r}, {spec['profile']!r}) must match the "
                               f"file name ({message!r}, {profile!r})")
    if spec.get("undeclared", "error") not in ("error", "warn") or (spec.get("undeclared") and not user):
        raise DescriptionError(f"{where}: undeclared is \"error\" (the default) or \"warn\" (user profiles only)")
    prefixes = _prefixes(where, spec["prefixes"])
    try:
        pattern = parse(spec["pattern"], prefixes)
    except (PatternError, TypeError) as exc:
        raise DescriptionError(f"{where}: pattern: {exc}") from exc
    variables = _variables(where, spec.get("variables", {}), prefixes, pattern.variables, base)
    description = replace(
        base, name=f"{message}{SEPARATOR}{profile}", profile=profile, message=message,
        description=str(spec.get("description", base.description)).strip(), prefixes=prefixes, pattern=pattern,
        pattern_text=spec["pattern"].strip(), variables=variables, source=path, answers=[],
        shape_file=path.with_suffix(".ttl") if user else None, _compiled={}, _lock=threading.RLock())
    try:
        description.rows  # noqa: B018 - builds and checks the iterator chain
        description.parts  # noqa: B018 - the parts the data fills
    except DescriptionError as exc:
        raise DescriptionError(f"{where}: {exc}") from exc
    _check_lossless(where, description, base)
    _check_iris(where, description, declared, warn=spec.get("undeclared") == "warn")
    return description


def _prefixes(where: str, table: Any) -> dict[str, str]:
    if not isinstance(table, Mapping) or not all(isinstance(v, str) for v in table.values()):
        raise DescriptionError(f"{where}: prefixes: a table of prefix = \"namespace IRI\"")
    for prefix, namespace in table.items():
        if PREFIXES.get(prefix, namespace) != namespace:
            raise DescriptionError(f"{where}: prefixes.{prefix}: is {namespace}, the project uses {PREFIXES[prefix]}")
    return dict(table)


def _variables(where: str, declared: Any, prefixes: Mapping[str, str], names: Iterable[str],
               base: Any) -> dict[str, Variable]:
    if not isinstance(declared, Mapping):
        raise DescriptionError(f"{where}: variables: a table of [variables.NAME] tables")
    names = set(names)
    extra = sorted(set(declared) - names)
    if extra:
        raise DescriptionError(f"{where}: variables.{extra[0]}: not a variable of the profile's pattern")
    variables = {}
    for name in sorted(names):
        if name in declared:
            if not isinstance(declared[name], Mapping):
                raise DescriptionError(f"{where}: variables.{name}: a table (iri, from, datatype, ...)")
            try:
                variables[name] = Variable.from_declaration(name, declared[name], prefixes)
            except DescriptionError as exc:
                raise DescriptionError(f"{where}: variables.{name}: {exc}") from exc
        elif name in base.variables:
            variables[name] = base.variables[name]
        else:
            raise DescriptionError(f"{where}: variables.{name}: ?{name} is in the pattern but neither declared "
                                   f"here nor a variable of {base.name}")
    return variables


def _check_lossless(where: str, profile: Any, base: Any) -> None:
    """Every JSON path the default feeds is fed by the profile too (or JSON -> RDF -> JSON loses it)."""
    def fed(description: Any) -> dict[str, str]:
        return {v.path.text: v.name for v in description.variables.values() if v.path is not None}
    lost = sorted(set(fed(base)) - set(fed(profile)))
    if lost:
        raise DescriptionError(f"{where}: pattern: no variable reads {', '.join(lost)} (the default's "
                               f"?{fed(base)[lost[0]]}): the profile would lose it on the way back to JSON")


def undeclared_iris(description: Any, declared: set[str]) -> list[str]:
    """The IRIs of a description's pattern and closed vocabularies that ``declared`` lacks."""
    iris = set(description.pattern.iris())
    for var in description.variables.values():
        iris.update(var.vocabulary.values())
        if var.kind == VariableKind.UNIT:
            iris.update(iri for _, iri in UNITS[var.unit].labels)
    iris.discard(str(RDF.type))
    return sorted(i for i in iris if i not in declared)


def _check_iris(where: str, description: Any, declared: set[str], *, warn: bool) -> None:
    undeclared = undeclared_iris(description, declared)
    if not undeclared:
        return
    text = f"{where}: pattern: IRIs declared in no ontology: {', '.join(undeclared)}"
    if not warn:
        raise DescriptionError(text + " (declare them in a .ttl file beside the profile, or say "
                               "undeclared = \"warn\" in a user profile)")
    warnings.warn(text, ProfileWarning, stacklevel=4)


def exchange_profile(exchange: Any, counterpart: Any) -> Any:
    """The profile of an exchange whose counterpart has one and the exchange itself not: the
    exchange's request, asking for (or answered by) ``counterpart``. An ASK's request keeps the
    triples whose variables the counterpart's core has (what the asker binds); raises
    DescriptionError when that loses a JSON field of the request."""
    interaction = exchange.interaction
    key = "answer" if interaction.type == "ask-answer" else "result"
    changes: dict[str, Any] = {}
    if interaction.type == "ask-answer":
        core = counterpart.parts[0].variables
        triples = tuple(t for t in exchange.pattern.triples
                        if all(not isinstance(term, Var) or term.name in core for term in t))
        pattern = Pattern(triples)
        changes = {"pattern": pattern, "pattern_text": pattern.to_text(exchange.prefixes),
                   "variables": {n: v for n, v in exchange.variables.items() if n in pattern.variables}}
    name = f"{exchange.name}{SEPARATOR}{counterpart.profile}"
    shape_file = counterpart.shape_file.with_name(f"{name}.ttl") if counterpart.shape_file else None
    description = replace(exchange, name=name, shape_file=shape_file,
                          profile=counterpart.profile, message=exchange.name, answers=[],
                          interaction=replace(interaction, **{key: counterpart.name}), _compiled={},
                          _lock=threading.RLock(), **changes)
    _check_lossless(str(counterpart.source) if counterpart.shape_file else f"profiles/{counterpart.source.name}",
                    description, exchange)
    if interaction.type != "ask-answer":
        # the request's optional values travel in the default's parts (one KI each, whatever profile
        # the exchange is in): only the core is the profile's
        description.__dict__["parts"] = [replace(exchange.parts[0], key=description.name), *exchange.parts[1:]]
    return description


def declarations(paths: Iterable[Path]) -> set[str]:
    """The IRIs the Turtle files declare (subjects), without those marked ``owl:deprecated`` (the
    misspellings seen on the wire that :mod:`ke match <dso_saref.match>` explains); raises
    DescriptionError naming a file that does not parse."""
    graph = Graph()
    for path in paths:
        try:
            graph.parse(path, format="turtle")
        except Exception as exc:  # rdflib's Turtle parser raises several exception types
            raise DescriptionError(f"{path}: not valid Turtle: {exc}") from exc
    deprecated = set(graph.subjects(OWL.deprecated, None))
    found = {str(s) for s in graph.subjects() if isinstance(s, URIRef) and s not in deprecated}
    found.discard(str(OWL.Ontology))
    return found


def load_profiles(defaults: Mapping[str, Any], shipped: Path, folders: Iterable[Path | str],
                  declared: set[str]) -> dict[str, dict[str, Any]]:
    """Every profile by message and profile name: the shipped ones (``shipped/*.toml``), the user's
    (each folder's ``*.toml``, checked against ``declared`` and the folder's ``*.ttl``), and the
    exchanges' whose counterpart has one; raises DescriptionError naming the file and the field."""
    found: dict[str, dict[str, Any]] = {}
    sources = [(path, False, declared) for path in sorted(shipped.glob("*.toml"))] if shipped.is_dir() else []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise DescriptionError(f"{folder}: not a directory of profiles (NAME@PROFILE.toml files)")
        own = declared | declarations(sorted(p for p in folder.glob("*.ttl") if SEPARATOR not in p.name))  # not shapes
        sources += [(path, True, own) for path in sorted(folder.glob("*.toml"))]
    for path, user, known in sources:
        description = describe_profile(path, defaults, known, user=user)
        by_profile = found.setdefault(description.message, {})
        if description.profile in by_profile:
            raise DescriptionError(f"{path}: profile {description.name} is already defined by "
                                   f"{by_profile[description.profile].source}")
        accepted = known | set(undeclared_iris(description, known))
        description._declarations = lambda accepted=accepted: accepted
        clash = {part.key.rpartition(".")[2] for part in defaults[description.message].parts[1:]}
        if description.profile in clash:
            raise DescriptionError(f"{path}: profile name {description.profile!r} is the name of a part of "
                                   f"{description.message}: their interaction names would clash")
        by_profile[description.profile] = description
    _link(defaults, found)
    return found


def _link(defaults: Mapping[str, Any], found: dict[str, dict[str, Any]]) -> None:
    """Point each profile's exchange at its counterpart's profile (when there is one), and give the
    exchanges whose counterpart alone has a profile that profile."""
    for name, exchange in defaults.items():
        interaction = exchange.interaction
        if interaction is None:
            continue
        counterpart = interaction.counterpart
        key = "answer" if interaction.type == "ask-answer" else "result"
        for profile, answer in found.get(counterpart, {}).items():
            own = found.get(name, {}).get(profile)
            if own is None:
                own = found.setdefault(name, {})[profile] = exchange_profile(exchange, answer)
            own.interaction = replace(interaction, **{key: answer.name})
            answer.answers.append(own.name)
