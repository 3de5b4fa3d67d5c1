"""The SHACL shapes of the catalog, generated from its graph patterns, in SHACL Core.

Every class a message's pattern gives a node (``?x a C``) gets one node shape, targeted with
``sh:targetClass`` (so that any standard SHACL engine runs it, and every node of the class is
checked), saying what every message that types a node ``C`` says of it (docs/modelling.md, rule 2):

- each predicate the pattern's core gives the node: ``sh:minCount 1``; one value where the pattern has
  one per node: ``sh:maxCount 1``;
- the value's datatype (``sh:datatype``), class (``sh:class``), closed vocabulary (``sh:in``) or
  constant (``sh:hasValue``); an identifier is not blank (``sh:pattern "\\S"``);
- on a property's class, its measurements: their unit (``sh:in``) and the model's bound on their value
  (non-negative quantities, counts), through the path ``(^saref:relatesToProperty saref:...)``.

Two rules no node shape can say are SHACL-SPARQL constraints: a window's beginning before its end,
and a measured property belongs to the measured thing. A message's shapes file holds the shapes of
the classes its pattern types (they are the same in every file: a graph merged from many messages
conforms to every shape). ``python -m dso_saref.shaping`` writes ``shapes/``; a test checks it is up
to date, and :func:`disagreements` that no two messages describe one class differently.
"""

from __future__ import annotations

import argparse
import re
import sys
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rdflib import Literal, URIRef
from rdflib.namespace import RDF, XSD

from dso_saref.catalog import Catalog, Description
from dso_saref.messages.common import FieldKind
from dso_saref.parts import CORE
from dso_saref.paths import Iterate
from dso_saref.patterns import Var
from dso_saref.terms import PREFIXES, SAREF, TIME, UNITS
from dso_saref.validation.results import SHAPES
from dso_saref.variables import Variable, VariableKind

__all__ = ["CLASSES", "Facet", "disagreements", "generate", "main", "shape_text", "worlds"]

#: Where the class shapes live: ``<CLASSES + "saref-Measurement">``.
CLASSES = SHAPES + "classes#"

_NON_NEGATIVE = {"non-negative": 0, "count": 1}
#: What every saref:Measurement has, whatever it measures (SAREF 3.1.1's restrictions).
_MEASUREMENT = (SAREF.hasValue, SAREF.isMeasuredIn, SAREF.relatesToProperty, SAREF.isMeasurementOf)
_IDENTIFIER = "identifier"


@dataclass
class Facet:
    """What one message says of one predicate of a node of a class (or of the measurements of a
    property of that class): required, one value per node, and what the value is."""

    required: bool
    single: bool
    datatype: str | None = None
    classes: frozenset[str] = frozenset()
    values: frozenset[str] = frozenset()
    constant: str | None = None
    identifier: bool = False
    minimum: int | None = None
    messages: set[str] = field(default_factory=set)

    @property
    def constrains(self) -> bool:
        """Whether the facet says anything a shape can check."""
        return bool(self.required or self.single or self.datatype or self.classes or self.values or self.constant
                    or self.identifier or self.minimum is not None)


def _kind(description: Description, variable: Variable) -> FieldKind | None:
    """The model's field kind behind a JSON-fed variable (``non-negative``, ``identifier``, ...)."""
    if variable.path is None:
        return None
    node: Any = description.model
    info = None
    item: list[Any] = []  # the kinds of the list item a path ends on (``$.needs[#i]``)
    for step in variable.path.steps:
        node = _unwrap(node)
        if isinstance(step, Iterate):
            if isinstance(node, type) and issubclass(node, BaseModel) and "root" in node.model_fields:
                node = node.model_fields["root"].annotation
            listed = _unwrap(node)
            args = typing.get_args(listed) if typing.get_origin(listed) in (list, tuple) else ()
            item = [m for m in _metadata(args[0]) if isinstance(m, FieldKind)] if args else []
            node = _item(node)
            continue
        item = []
        if not (isinstance(node, type) and issubclass(node, BaseModel)):
            return None
        info = next((f for n, f in node.model_fields.items() if (f.alias or n) == step.name), None)
        if info is None:
            return None
        node = info.annotation
    if item:
        return item[0]
    if info is None:
        return None
    kinds = [m for m in [*info.metadata, *_metadata(info.annotation)] if isinstance(m, FieldKind)]
    return kinds[0] if kinds else None


def _unwrap(node: Any) -> Any:
    while True:
        origin = typing.get_origin(node)
        if origin is typing.Annotated:
            node = typing.get_args(node)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(node) if a is not type(None)]
            node = options[0] if options else node
            if len(options) != 1:
                return node
        else:
            return node


def _item(node: Any) -> Any:
    node = _unwrap(node)
    if typing.get_origin(node) in (list, tuple):
        return _unwrap(typing.get_args(node)[0])
    return node


def _metadata(annotation: Any) -> list[Any]:
    found: list[Any] = []
    while typing.get_origin(annotation) is typing.Annotated:
        found += list(annotation.__metadata__)
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            found += _metadata(option)
    return found


# -- reading the patterns ---------------------------------------------------------------------------


def _home(description: Description) -> dict[str, str]:
    """The part each variable is bound in (its own part, else the core)."""
    home = {}
    for part in description.parts:
        for name in part.own:
            home[name] = part.name
    return home


def _lineage(description: Description, part: str) -> set[str]:
    """The part and the parts it hangs from: their variables are bound whenever the part's are."""
    parents = {p.name: p.parent for p in description.parts}
    found = {part}
    while parents.get(part) is not None:
        part = parents[part]  # type: ignore[assignment]
        found.add(part)
    return found


def facets(description: Description) -> Iterator[tuple[str, tuple[str, ...], Facet]]:
    """``(class, path, facet)`` for what a message says of the nodes it types: each predicate, and
    for each typed property, its measurements' unit and value (``path`` is a tuple of steps, an
    inverse step written ``^iri``)."""
    pattern, levels = description.pattern, description.rows.level
    home = _home(description)
    types_of: dict[str, list[str]] = {}
    for s, p, o in pattern.triples:
        if p == RDF.type and isinstance(s, Var) and isinstance(o, URIRef):
            types_of.setdefault(s.name, []).append(str(o))
    measured: dict[str, list[Any]] = {}
    for s, p, o in pattern.triples:
        if p == SAREF.relatesToProperty and isinstance(s, Var) and isinstance(o, Var):
            measured.setdefault(s.name, []).append(o)
    uses: dict[tuple[str, Any], list[Any]] = {}
    for s, p, o in pattern.triples:
        if p != RDF.type and isinstance(s, Var) and s.name in types_of:
            uses.setdefault((s.name, p), []).append(o)
    for (subject, p), objects in uses.items():
        found = [_facet(description, subject, o, home, levels, types_of) for o in objects]
        facet = found[0]
        if any(prop.name in types_of for prop in measured.get(subject, ())):  # a measurement: rule 4
            if p == SAREF.hasValue:
                facet.datatype, facet.minimum = None, None  # the value's kind is the property's (below)
            elif p not in _MEASUREMENT:
                facet.required = False  # required per kind of property (below)
        if len(found) > 1:  # several values of one predicate (a client's properties): what they share
            facet.single = False
            facet.required = any(f.required for f in found)
            facet.classes = frozenset.intersection(*(f.classes for f in found))
            facet.values = frozenset().union(*(f.values for f in found), {f.constant for f in found if f.constant})
            facet.constant = None
            facet.datatype = found[0].datatype if len({f.datatype for f in found}) == 1 else None
        for cls in types_of[subject]:
            yield cls, (str(p),), facet
    for m, p, prop in pattern.triples:
        if p != SAREF.relatesToProperty or not isinstance(prop, Var) or prop.name not in types_of:
            continue
        for s, q, o in pattern.triples:
            if s != m or q in (RDF.type, SAREF.relatesToProperty, SAREF.isMeasurementOf):
                continue
            facet = _facet(description, m.name, o, home, levels, types_of)
            if q in _MEASUREMENT:
                facet.required = False  # counted on saref:Measurement's own shape
            elif facet.required:
                facet = Facet(True, False, messages=facet.messages)  # every measurement of the kind has one
            else:
                continue
            facet.single = False
            for cls in types_of[prop.name]:
                yield cls, (f"^{SAREF.relatesToProperty}", str(q)), facet


def _facet(description: Description, subject: str, obj: Any, home: Mapping[str, str], levels: Mapping[str, int],
           types_of: Mapping[str, list[str]]) -> Facet:
    here = home.get(subject, CORE)
    if isinstance(obj, Literal):  # a literal constant (an OBIS code): its datatype
        return Facet(True, True, datatype=str(obj.datatype or XSD.string), messages={description.name})
    if not isinstance(obj, Var):
        return Facet(True, True, constant=str(obj), messages={description.name})
    variable = description.variables[obj.name]
    bound = home.get(obj.name, CORE) in _lineage(description, here)  # its part, or one the node's hangs from
    facet = Facet(bound, levels.get(obj.name, 0) <= levels.get(subject, 0), messages={description.name})
    if variable.kind == VariableKind.LITERAL:
        facet.datatype = str(variable.datatype)
        kind = _kind(description, variable)
        if kind is not None:
            facet.identifier = kind.kind == _IDENTIFIER
            facet.minimum = _NON_NEGATIVE.get(kind.kind)
    elif variable.kind == VariableKind.UNIT:
        facet.values = frozenset(iri for _, iri in UNITS[variable.unit or ""].labels)
    elif variable.kind == VariableKind.VOCABULARY:
        facet.values = frozenset(variable.vocabulary.values())
    else:
        facet.classes = frozenset(types_of.get(obj.name, ()))
    return facet


def _descriptions(source: Catalog | Iterable[Description]) -> list[Description]:
    """The default descriptions of a catalog, by name, or the descriptions given."""
    if isinstance(source, Catalog):
        return [source[name] for name in sorted(source)]
    return sorted(source, key=lambda d: d.name)


def worlds(catalog: Catalog) -> dict[str, list[Description]]:
    """The descriptions whose class shapes are merged, by profile: the default descriptions
    (``saref``), and per pattern profile its descriptions (docs/interop.md): a graph merged from
    messages of one profile conforms to every shape of that profile."""
    out: dict[str, list[Description]] = {"saref": _descriptions(catalog)}
    for name in sorted(catalog):
        for profile, description in catalog.profiles(name).items():
            if profile != "saref":
                out.setdefault(profile, []).append(description)
    return out


def merged(catalog: Catalog | Iterable[Description]) -> dict[str, dict[tuple[str, ...], Facet]]:
    """Per class and path, what every message that types the class says (required only where all
    do; one value only where all say one; the union of allowed values)."""
    out: dict[str, dict[tuple[str, ...], Facet]] = {}
    seen: dict[str, set[str]] = {}
    for description in _descriptions(catalog):
        name = description.name
        for cls, path, facet in facets(description):
            seen.setdefault(cls, set()).add(name)
            paths = out.setdefault(cls, {})
            known = paths.get(path)
            if known is None:
                paths[path] = facet
                continue
            known.required = known.required and facet.required
            known.single = known.single and facet.single
            known.values |= facet.values
            known.classes &= facet.classes  # sh:class only where every message types the value so
            known.datatype = known.datatype if known.datatype == facet.datatype else None
            known.identifier = known.identifier and facet.identifier
            known.minimum = None if known.minimum is None or facet.minimum is None else min(known.minimum,
                                                                                              facet.minimum)
            if known.constant != facet.constant:
                known.values |= {c for c in (known.constant, facet.constant) if c}
                known.constant = None
            known.messages |= facet.messages
    for cls, paths in out.items():
        for facet in paths.values():
            if not facet.messages >= seen[cls]:
                facet.required = False  # a message types the class but says nothing of this predicate
    return out


def disagreements(catalog: Catalog | Iterable[Description]) -> list[str]:
    """Where two messages describe one class differently (a predicate required in one, absent or
    optional in another): docs/modelling.md, rule 2, asks them to say the same, or not to type it."""
    found = []
    per: dict[str, dict[str, set[tuple[str, ...]]]] = {}
    for description in _descriptions(catalog):
        for cls, path, facet in facets(description):
            if facet.required and not path[0].startswith("^"):
                per.setdefault(cls, {}).setdefault(description.name, set()).add(path)
    for cls, by_message in sorted(per.items()):
        required = {frozenset(p) for p in by_message.values()}
        if len(required) > 1:
            shapes = "; ".join(f"{m}: {', '.join(sorted(_short(p[0]) for p in paths))}"
                               for m, paths in sorted(by_message.items()))
            found.append(f"{_short(cls)} is described differently: {shapes}")
    return found


# -- writing Turtle -------------------------------------------------------------------------------------

_PREFIX_LINES = {**PREFIXES, "sh": "http://www.w3.org/ns/shacl#", "skos": "http://www.w3.org/2004/02/skos/core#",
                 "schema": "http://schema.org/", **{f"ic-{module}": f"http://ontology.tno.nl/interconnect/{path}#"
                                                   for module, path in (("data", "datapoint"), ("dev", "device"),
                                                                        ("flex", "flexibility"), ("tplg", "topology"),
                                                                        ("uom", "units"), ("user", "user"),
                                                                        ("inc", "incentivetable"),
                                                                        ("pwlm", "powerlimit"))}}


def _short(iri: str) -> str:
    for prefix, namespace in sorted(_PREFIX_LINES.items(), key=lambda kv: -len(kv[1])):
        if iri.startswith(namespace) and re.fullmatch(r"[A-Za-z_][\w.-]*", iri[len(namespace):]) \
                and not iri.endswith("."):
            return f"{prefix}:{iri[len(namespace):]}"
    return f"<{iri}>"


def _local(iri: str) -> str:
    return _short(iri).replace(":", "-").strip("<>").replace("/", "-")


#: Prefixes read letter by letter starting with a vowel sound ("an s4grid:Meter", "an xsd:string").
_SPELLED_WITH_VOWEL = {"s4grid", "s4ener", "om", "xsd", "rdf", "rdfs", "sh"}


def _article(text: str) -> str:
    """The article of a term as read aloud: "a dso:GridZone", "an s4grid:Meter", "an hour"."""
    prefix, colon, _ = text.partition(":")
    if colon and not text.startswith("<"):
        return "an" if prefix in _SPELLED_WITH_VOWEL else "a"
    return "an" if text[:1].lower() in "aeiou" else "a"


def _node_shape(cls: str, paths: Mapping[tuple[str, ...], Facet]) -> list[str]:
    name = _local(cls)
    short = _short(cls)
    lines = [f"<{CLASSES}{name}> a sh:NodeShape ;",
             f'    rdfs:label "{short}" ;',
             f"    sh:targetClass {short} ;"]
    props = sorted(((p, f) for p, f in paths.items() if f.constrains), key=lambda kv: (len(kv[0]), kv[0]))
    lines.append("    sh:property " + " ,\n        ".join(f"<{CLASSES}{name}.{_path_name(p)}>" for p, _ in props)
                 + " .")
    lines.append("")
    for path, facet in props:
        lines += _property_shape(cls, path, facet)
    return lines


def _path_name(path: tuple[str, ...]) -> str:
    return "-".join(("inverse-" + _local(step[1:])) if step.startswith("^") else _local(step) for step in path)


def _path_text(path: tuple[str, ...]) -> str:
    steps = [f"[ sh:inversePath {_short(s[1:])} ]" if s.startswith("^") else _short(s) for s in path]
    return steps[0] if len(steps) == 1 else "( " + " ".join(steps) + " )"


def _path_words(path: tuple[str, ...]) -> str:
    return "/".join(("^" + _short(s[1:])) if s.startswith("^") else _short(s) for s in path)


def _property_shape(cls: str, path: tuple[str, ...], facet: Facet) -> list[str]:
    short = _short(cls)
    measurement = path[0].startswith("^")
    constraints: list[str] = []
    what: list[str] = []
    count = ""
    if facet.required and facet.single:
        constraints.append("sh:minCount 1 ; sh:maxCount 1")
        count = "exactly one"
    elif facet.required:
        constraints.append("sh:minCount 1")
        count = "at least one"
    elif facet.single:
        constraints.append("sh:maxCount 1")
        count = "at most one"
    if facet.datatype:
        constraints.append(f"sh:datatype {_short(facet.datatype)}")
        what.append({str(XSD.decimal): "a number (xsd:decimal)", str(XSD.integer): "a whole number (xsd:integer)",
                     str(XSD.string): "a string", str(XSD.dateTime): "a timestamp (xsd:dateTime)",
                     str(XSD.dateTimeStamp): "a timestamp with an offset (xsd:dateTimeStamp)",
                     str(XSD.date): "a date (xsd:date)", str(XSD.boolean): "true or false (xsd:boolean)"}.get(
                         facet.datatype, _short(facet.datatype)))
    if facet.identifier:
        constraints.append('sh:pattern "\\\\S"')
        what.append("not blank")
    if facet.minimum is not None:
        constraints.append(f"sh:minInclusive {facet.minimum}")
        what.append(f"{facet.minimum} or more")
    if facet.constant and measurement:  # each measurement's, not one of them
        constraints.append(f"sh:in ( {_short(facet.constant)} )")
        what.append(_short(facet.constant))
    elif facet.constant:
        constraints.append(f"sh:hasValue {_short(facet.constant)}")
        what.append(_short(facet.constant))
    elif facet.values:
        constraints.append("sh:in ( " + " ".join(_short(v) for v in sorted(facet.values)) + " )")
        what.append("one of " + ", ".join(_short(v) for v in sorted(facet.values)))
    elif facet.classes:
        for c in sorted(facet.classes):
            constraints.append(f"sh:class {_short(c)}")
        what.append(" and ".join(f"{_article(_short(c))} {_short(c)}" for c in sorted(facet.classes)))
    if measurement and facet.required:  # every measurement of the kind has the predicate (a SPARQL rule)
        step, predicate = path[0][1:], path[-1]
        named = _short(predicate)
        message = f"every measurement of {_article(short)} {short} has {_article(named)} {named}"
        return [f"<{CLASSES}{_local(cls)}.{_path_name(path)}> a sh:PropertyShape ;",
                f"    sh:path [ sh:inversePath {_short(step)} ] ;",
                "    sh:sparql [ a sh:SPARQLConstraint ;",
                f'        sh:message "{message}" ;',
                f'        sh:select "SELECT $this ?value WHERE {{ ?value <{step}> $this . '
                f'FILTER NOT EXISTS {{ ?value <{predicate}> ?any }} }}" ] ;',
                f'    sh:message "{message}" .', ""]
    if measurement:
        message = f"the measurements of {_article(short)} {short} have as {_short(path[-1])}"
    else:
        message = f"{_article(short)} {short} has {count} {_path_words(path)}".replace("  ", " ")
    if what:
        message += ": " + ", ".join(what)
    lines = [f"<{CLASSES}{_local(cls)}.{_path_name(path)}> a sh:PropertyShape ;",
             f"    sh:path {_path_text(path)} ;"]
    lines += [f"    {c} ;" for c in constraints]
    lines.append(f'    sh:message "{message}" .')
    lines.append("")
    return lines


_DATETIME = "<http://www.w3.org/2001/XMLSchema#dateTime>"

_WINDOW = """<{{classes}}time-Interval.{name}> a sh:SPARQLConstraint ;
    rdfs:label "a window begins before it ends" ;
    sh:message "a time:Interval begins before it ends (time:hasBeginning before time:hasEnd)" ;
    sh:prefixes <{{classes}}prefixes> ;
    sh:select \"\"\"
        SELECT $this ?value WHERE {{{{
            $this time:hasBeginning/time:{position} ?value ; time:hasEnd/time:{position} ?end .
            FILTER ({begin} >= {end})
        }}}}\"\"\" .
"""

_PROPERTY_OF_THING = """<{classes}saref-Measurement.property-of-thing> a sh:SPARQLConstraint ;
    rdfs:label "the measured property belongs to the measured thing" ;
    sh:message "the saref:relatesToProperty of a measurement is a saref:hasProperty of its saref:isMeasurementOf" ;
    sh:prefixes <{classes}prefixes> ;
    sh:select \"\"\"
        SELECT $this ?value WHERE {{
            $this saref:relatesToProperty ?value ; saref:isMeasurementOf ?thing .
            FILTER NOT EXISTS {{ ?thing saref:hasProperty ?value }}
        }}\"\"\" .
"""

#: The SPARQL constraints of a class (docs/modelling.md, rule 7): (name, Turtle with {classes}).
_RULES = {
    str(TIME.Interval): [
        ("time-Interval.window", _WINDOW.format(name="window", position="inXSDDateTimeStamp",
                                                begin=f"{_DATETIME}(str(?value))", end=f"{_DATETIME}(str(?end))")),
        ("time-Interval.window-of-dates", _WINDOW.format(name="window-of-dates", position="inXSDDate",
                                                         begin="?value", end="?end")),
    ],
    str(SAREF.Measurement): [("saref-Measurement.property-of-thing", _PROPERTY_OF_THING)],
}


def shape_text(description: Description, shapes: Mapping[str, Mapping[tuple[str, ...], Facet]]) -> str:
    """The Turtle of one message's shapes file: the shapes of every class its pattern types."""
    classes = sorted({str(o) for _, p, o in description.pattern.triples if p == RDF.type and isinstance(o, URIRef)})
    used = {prefix for cls in classes for path, f in shapes.get(cls, {}).items()
            for term in (cls, *(s.lstrip("^") for s in path), *(f.values or ()), *(f.classes or ()),
                         f.constant or "", f.datatype or "")
            for prefix, namespace in _PREFIX_LINES.items() if term.startswith(namespace)}
    used |= {"sh", "rdf", "rdfs", "xsd", "saref", "time"}
    source = f"profiles/{description.source.name}" if description.profile != "saref" else f"{description.name}.toml"
    out = [f"# SHACL shapes of {description.name} ({description.spec}), generated from graph_patterns/{source}",
           "# by `python -m dso_saref.shaping`: do not edit; docs/modelling.md says what they check and why.",
           "# One node shape per class the message types, targeted by class (SHACL Core), the same in every",
           "# message's file."]
    out += [f"@prefix {p}: <{n}> ." for p, n in sorted(_PREFIX_LINES.items()) if p in used]
    out.append("")
    sparql = [rule for cls in classes for rule in _RULES.get(cls, ())]
    if sparql:
        out.append(f"<{CLASSES}prefixes> sh:declare")
        declared = [f'    [ sh:prefix "{p}" ; sh:namespace "{n}"^^xsd:anyURI ]'
                    for p, n in sorted(_PREFIX_LINES.items()) if p in ("saref", "time")]
        out.append(" ,\n".join(declared) + " .")
        out.append("")
    for cls in classes:
        paths = shapes.get(cls, {})
        if not paths:
            continue
        lines = _node_shape(cls, paths)
        rules = _RULES.get(cls, ())
        if rules:
            lines[3] = lines[3][:-2] + " ;"
            lines.insert(4, "    sh:sparql " + " , ".join(f"<{CLASSES}{name}>" for name, _ in rules) + " .")
        out += lines
    for _, text in sparql:
        out.append(text.format(classes=CLASSES))
    return "\n".join(out).rstrip() + "\n"


def generate(catalog: Catalog) -> dict[str, str]:
    """Every message's shapes file, and every pattern profile's, by name (``NAME``, ``NAME@PROFILE``);
    each profile's class shapes merged over its own profile's descriptions."""
    out = {}
    for world in worlds(catalog).values():
        shapes = merged(world)
        out.update({description.name: _text(description, shapes) for description in world})
    return dict(sorted(out.items()))


def _text(description: Description, shapes: Mapping[str, Mapping[tuple[str, ...], Facet]]) -> str:
    """A description's shapes file; a profile's class shapes are named in the profile's namespace
    (``shapes/profiles/interconnect/classes#``): they differ from the default's of the same class."""
    text = shape_text(description, shapes)
    if description.profile == "saref":
        return text
    return text.replace(CLASSES, f"{SHAPES}profiles/{description.profile}/classes#")


def main(argv: Iterable[str] | None = None) -> int:
    """Write (or, with ``--check``, compare) ``shapes/NAME.ttl`` for every message and profile, or with
    ``--patterns DIR`` ``DIR/NAME@PROFILE.ttl`` for the user's profiles there; 1 when out of date."""
    parser = argparse.ArgumentParser(prog="python -m dso_saref.shaping", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report out-of-date files instead of writing them")
    parser.add_argument("--patterns", metavar="DIR", help="a folder of your own pattern profiles (docs/interop.md)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    from dso_saref.catalog import DEFAULT

    catalog = DEFAULT if args.patterns is None else Catalog(patterns=Path(args.patterns))
    stale = []
    for name, text in generate(catalog).items():
        description = catalog[name]
        if (description.shape_file is None) == (args.patterns is not None):
            continue  # the package's shapes, or the user's
        path: Path = description.shape_path
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    for profile, world in worlds(catalog).items():
        for problem in disagreements(world):
            print(f"warning: {problem}" if profile == "saref" else f"warning: profile {profile}: {problem}",
                  file=sys.stderr)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
