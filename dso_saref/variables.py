"""The variables of a graph pattern: where each one's value comes from and which RDF term it becomes.

A variable is declared in its ``[variables.NAME]`` table (docs/patterns.md): a typed literal of a JSON
value, an IRI minted under the base, a unit IRI from a closed vocabulary, or a closed label -> IRI
table; :meth:`Variable.term` writes a JSON value as its term and :meth:`Variable.value` reads it back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from dso_saref.errors import DescriptionError
from dso_saref.paths import Path, parse_path
from dso_saref.terms import (
    UNITS,
    TermError,
    format_date,
    format_datetime,
    lexical,
    mint_iri,
    parse_datetime,
    read_template,
    template_fields,
    template_regex,
    to_python,
)

__all__ = ["Variable", "VariableKind", "scalar_text"]


def scalar_text(value: Any) -> str:
    """The text of a JSON scalar as it goes into an IRI template or a key (``true``, ``12``, ``ID1``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class VariableKind:
    """The RDF term kinds a variable can take."""

    LITERAL = "literal"
    IRI = "iri"
    UNIT = "unit"
    VOCABULARY = "vocabulary"


_DATATYPES = {
    "xsd:string": XSD.string,
    "xsd:boolean": XSD.boolean,
    "xsd:integer": XSD.integer,
    "xsd:double": XSD.double,
    "xsd:decimal": XSD.decimal,
    "xsd:dateTime": XSD.dateTime,
    "xsd:dateTimeStamp": XSD.dateTimeStamp,
    "xsd:date": XSD.date,
}


@dataclass(frozen=True)
class Variable:
    """One variable of a message's graph pattern and how it is fed.

    Exactly one kind: ``datatype`` (typed literal of a JSON value), ``iri`` (template minted under
    the base from JSON-fed variables, or from the variable's own value when it has a ``path``),
    ``unit`` (unit IRI from a closed vocabulary) or ``vocabulary`` (closed label -> IRI table).
    """

    name: str
    kind: str
    path: Path | None = None
    datatype: URIRef | None = None
    template: str | None = None
    unit: str | None = None
    vocabulary: Mapping[str, str] = field(default_factory=dict)
    #: ``True``, or the name of the part (docs/patterns.md) the variable's value is bound in
    optional: bool | str = False
    description: str = ""
    #: One path per alternative (``None`` where the variable is not in it); empty without alternatives.
    branches: tuple[Path | None, ...] = ()
    #: Variables that must be bound for this derived IRI to be minted (``requires = ["cost"]``).
    requires: tuple[str, ...] = ()
    #: The variables whose values the template field ``{digest}`` stands for, hashed (a node that no
    #: single field identifies, minted from everything that tells it apart: ``digest = ["a", "b"]``).
    digest: tuple[str, ...] = ()

    @classmethod
    def from_declaration(cls, name: str, spec: Mapping[str, Any], prefixes: Mapping[str, str]) -> Variable:
        """Build a variable from its ``[variables.NAME]`` table; raises DescriptionError."""
        known = {"from", "datatype", "iri", "unit", "vocabulary", "optional", "description", "requires", "digest"}
        unknown = set(spec) - known
        if unknown:
            raise DescriptionError(f"variable ?{name}: unknown keys {sorted(unknown)}")
        kinds = [k for k in ("datatype", "iri", "unit", "vocabulary") if k in spec]
        if len(kinds) != 1:
            raise DescriptionError(f"variable ?{name} needs exactly one of datatype, iri, unit, vocabulary")
        branches: tuple[Path | None, ...] = ()
        if isinstance(spec.get("from"), list):
            if not all(isinstance(p, str) for p in spec["from"]) or not any(spec["from"]):
                raise DescriptionError(f"variable ?{name}: 'from' lists one path (or \"\") per alternative")
            branches = tuple(parse_path(p) if p else None for p in spec["from"])
            path = next(p for p in branches if p is not None)
        else:
            path = parse_path(spec["from"]) if "from" in spec else None
        requires = spec.get("requires", ())
        requires = (requires,) if isinstance(requires, str) else tuple(requires)
        if requires and (path is not None or kinds[0] != "iri"):
            raise DescriptionError(f"variable ?{name}: 'requires' is for IRIs minted from other variables")
        digest = tuple(spec.get("digest", ()))
        if digest and (path is not None or kinds[0] != "iri" or "{digest}" not in spec["iri"]):
            raise DescriptionError(f"variable ?{name}: 'digest' is for IRIs minted from other variables, whose "
                                   "template has a {digest} field")
        if not digest and "{digest}" in str(spec.get("iri", "")):
            raise DescriptionError(f"variable ?{name}: the template's {{digest}} needs 'digest = [...]'")
        optional = spec.get("optional", False)
        if not isinstance(optional, bool | str) or optional == "" or (
                isinstance(optional, str) and not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", optional)):
            raise DescriptionError(f"variable ?{name}: optional is true or a part name such as \"readings\"")
        common = {"name": name, "path": path, "optional": optional,
                  "description": spec.get("description", ""), "branches": branches, "requires": requires,
                  "digest": digest}
        kind = kinds[0]
        if kind != "iri" and path is None:
            raise DescriptionError(f"variable ?{name} of kind {kind} needs 'from'")
        if kind == "datatype":
            if spec["datatype"] not in _DATATYPES:
                raise DescriptionError(f"variable ?{name}: datatype must be one of {sorted(_DATATYPES)}")
            return cls(kind=VariableKind.LITERAL, datatype=_DATATYPES[spec["datatype"]], **common)
        if kind == "unit":
            if spec["unit"] not in UNITS:
                raise DescriptionError(f"variable ?{name}: unknown unit vocabulary {spec['unit']!r}")
            return cls(kind=VariableKind.UNIT, unit=spec["unit"], **common)
        if kind == "vocabulary":
            table = {label: _expand(iri, prefixes) for label, iri in spec["vocabulary"].items()}
            if len(set(table.values())) != len(table):
                raise DescriptionError(f"variable ?{name}: vocabulary IRIs must be distinct")
            return cls(kind=VariableKind.VOCABULARY, vocabulary=table, **common)
        template = spec["iri"]
        if path is not None and template_fields(template) != [name]:
            raise DescriptionError(f"variable ?{name}: an IRI fed from JSON must use the template field {{{name}}}")
        return cls(kind=VariableKind.IRI, template=template, **common)

    @property
    def needs(self) -> list[str]:
        """The variables a derived IRI cannot be minted without: its template's fields and what it
        requires (a digest counts an absent value as empty: it needs none of its fields)."""
        return [*(f for f in template_fields(self.template or "") if f != "digest"), *self.requires]

    @property
    def inputs(self) -> list[str]:
        """The variables a derived IRI is minted from (its template's fields and its digest's) or
        requires; empty for a variable the JSON feeds."""
        fields = [f for f in template_fields(self.template or "") if f != "digest"]
        return [*fields, *(d for d in self.digest if d not in fields), *self.requires]

    @property
    def fed(self) -> bool:
        """Whether the JSON feeds this variable directly (it has a path)."""
        return self.path is not None

    def term(self, value: Any, base: str) -> URIRef | Literal:
        """The RDF term of a (canonical JSON) value; raises :class:`TermError`."""
        if self.kind == VariableKind.LITERAL:
            if self.datatype in (XSD.dateTime, XSD.dateTimeStamp) and isinstance(value, str):
                value = parse_datetime(value)
            elif self.datatype == XSD.date and isinstance(value, str):
                value = date.fromisoformat(value)
            elif self.datatype in (XSD.double, XSD.decimal) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            return Literal(lexical(value, self.datatype), datatype=self.datatype, normalize=False)
        if self.kind == VariableKind.UNIT:
            return URIRef(UNITS[self.unit].iri(value))
        if self.kind == VariableKind.VOCABULARY:
            label = value if isinstance(value, str) else scalar_text(value)
            if label not in self.vocabulary:
                raise TermError(f"{value!r} is not one of {', '.join(self.vocabulary)}")
            return URIRef(self.vocabulary[label])
        if not isinstance(value, str):
            raise TermError(f"an identifier must be a string, got {type(value).__name__}")
        return URIRef(mint_iri(base, self.template, {self.name: value}))

    def value(self, term: URIRef | Literal, base: str) -> Any:
        """The canonical JSON value of a term read back; raises :class:`TermError`."""
        if self.kind == VariableKind.LITERAL:
            python = to_python(term, self.datatype)
            if isinstance(python, datetime):
                return format_datetime(python)
            if isinstance(python, date):
                return format_date(python)
            return python
        if not isinstance(term, URIRef):
            raise TermError(f"expected an IRI, got a literal {str(term)[:40]!r}")
        if self.kind == VariableKind.UNIT:
            return UNITS[self.unit].label(str(term))
        if self.kind == VariableKind.VOCABULARY:
            for label, iri in self.vocabulary.items():
                if iri == str(term):
                    return label
            raise TermError(f"<{term}> is not one of the IRIs of ?{self.name}")
        fields = read_template(template_regex(base, self.template), str(term))
        if fields is None:
            raise TermError(f"<{term}> is not an IRI of the form {base}{self.template}")
        return fields.get(self.name)


def _expand(curie: str, prefixes: Mapping[str, str]) -> str:
    prefix, sep, local = curie.partition(":")
    if sep and prefix in prefixes:
        return prefixes[prefix] + local
    if curie.startswith("<") and curie.endswith(">"):
        return curie[1:-1]
    raise DescriptionError(f"{curie!r} is neither a declared prefixed name nor <iri>")

