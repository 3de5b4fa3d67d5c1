"""Basic graph patterns in the Knowledge Engine's syntax: parse, write, instantiate, match, compare.

A KE graph pattern is a SPARQL basic graph pattern: triple patterns separated by ``.`` (``;`` and ``,``
are accepted as the usual shorthands), variables ``?x``, IRIs ``<...>`` or prefixed names whose
prefixes come from a separate map, ``a`` for ``rdf:type`` and literals. FILTER, OPTIONAL, blank
nodes, property paths and in-pattern PREFIX declarations are refused with :class:`PatternError`::

    >>> p = parse("?m a saref:Measurement . ?m saref:hasValue ?v .", {"saref": "https://saref.etsi.org/core/"})
    >>> sorted(p.variables)
    ['m', 'v']
    >>> list(p.instantiate([{"m": URIRef("urn:m1"), "v": Literal(1.0)}]))[0][0]
    rdflib.term.URIRef('urn:m1')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD

from dso_saref.errors import PatternError
from dso_saref.terms import NONE, TermError, check_iri, format_term, parse_term

__all__ = ["Pattern", "Term", "Triple", "Var", "isomorphism", "parse", "write_term"]


@dataclass(frozen=True, order=True)
class Var:
    """A variable of a graph pattern (``?name``)."""

    name: str

    def __str__(self) -> str:
        return f"?{self.name}"


Term = Var | URIRef | Literal
Triple = tuple[Term, Term, Term]

_FORBIDDEN = re.compile(
    r"\b(FILTER|OPTIONAL|UNION|MINUS|BIND|VALUES|GRAPH|SERVICE|SELECT|CONSTRUCT|WHERE|PREFIX|BASE)\b",
    re.I,
)
_TOKEN = re.compile(
    r"""
    \s+ |
    \#[^\n]* |
    (?P<var>[?$][A-Za-z_][A-Za-z0-9_]*) |
    (?P<iri><[^<>"{}|^`\\\x00-\x20]*>) |
    (?P<literal>"(?:[^"\\\n]|\\.)*"(?:\^\^(?:<[^<>"\s]*>|[A-Za-z][\w.-]*:[\w.%-]*)|@[A-Za-z]+(?:-[A-Za-z0-9]+)*)?) |
    (?P<number>[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?) |
    (?P<a>\ba\b) |
    (?P<bool>\b(?:true|false)\b) |
    (?P<pname>(?:[A-Za-z][\w.-]*)?:[\w%-](?:[\w.%-]*[\w%-])?|(?:[A-Za-z][\w.-]*)?:) |
    (?P<punct>[.;,])
    """,
    re.X,
)


def _term(kind: str, text: str, prefixes: Mapping[str, str]) -> Term:
    if kind == "var":
        return Var(text[1:])
    if kind == "iri":
        return URIRef(check_iri(text[1:-1]))
    if kind == "a":
        return RDF.type
    if kind == "bool":
        return Literal(text == "true", datatype=XSD.boolean)
    if kind == "number":
        datatype = XSD.double if "e" in text.lower() else XSD.decimal if "." in text else XSD.integer
        return Literal(text, datatype=datatype)
    if kind == "pname":
        prefix, _, local = text.partition(":")
        if prefix not in prefixes:
            raise PatternError(f"prefix {prefix!r} of {text!r} is not declared in the prefixes map")
        return URIRef(check_iri(prefixes[prefix] + local))
    if kind == "literal":
        if "^^" in text and not text.endswith(">"):
            body, _, datatype = text.rpartition("^^")
            text = f"{body}^^<{_term('pname', datatype, prefixes)}>"
        return parse_term(text)
    raise PatternError(f"unexpected {text!r}")


def _tokens(text: str, prefixes: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            snippet = text[pos : pos + 20]
            if snippet.startswith(("_:", "[")):
                raise PatternError(f"blank nodes are not allowed in a KE graph pattern (at {snippet!r})")
            if snippet[:1] in "/|^*+!()":
                raise PatternError(f"property paths are not allowed in a KE graph pattern (at {snippet!r})")
            if snippet[:1] in "{}":
                raise PatternError(f"groups are not allowed in a KE graph pattern (at {snippet!r})")
            raise PatternError(f"cannot read the graph pattern at {snippet!r}")
        pos = match.end()
        kind = match.lastgroup
        if kind:
            yield kind, match.group(kind)


@dataclass(frozen=True)
class Pattern:
    """A parsed basic graph pattern: an ordered tuple of triple patterns."""

    triples: tuple[Triple, ...]

    @cached_property
    def variables(self) -> frozenset[str]:
        """Names of every variable in the pattern."""
        return frozenset(t.name for triple in self.triples for t in triple if isinstance(t, Var))

    def iris(self) -> frozenset[str]:
        """Every IRI written in the pattern (predicates, classes, constants)."""
        return frozenset(str(t) for triple in self.triples for t in triple if isinstance(t, URIRef))

    def to_text(self, prefixes: Mapping[str, str] | None = None) -> str:
        """The pattern in KE syntax, one triple per line; IRIs shortened with ``prefixes`` if given."""
        lines = [" ".join(write_term(t, prefixes or {}) for t in triple) + " ." for triple in self.triples]
        return "\n".join(lines)

    def instantiate(self, rows: Iterable[Mapping[str, URIRef | Literal]]) -> Iterator[tuple[URIRef, URIRef, object]]:
        """The triples of the pattern for each binding row; a triple touching an unbound or
        ``rdf:nil``-bound variable is left out (it describes something absent)."""
        for row in rows:
            for triple in self.triples:
                out = []
                for term in triple:
                    if isinstance(term, Var):
                        value = row.get(term.name)
                        if value is None or value == NONE:
                            break
                        out.append(value)
                    else:
                        out.append(term)
                else:
                    yield out[0], out[1], out[2]

    def graph(self, rows: Iterable[Mapping[str, URIRef | Literal]]) -> Graph:
        """An rdflib graph of :meth:`instantiate`."""
        graph = Graph()
        for triple in self.instantiate(rows):
            graph.add(triple)
        return graph

    def select_query(self) -> str:
        """A SPARQL SELECT DISTINCT of the pattern's variables matching its triples."""
        lines, filters = [], []
        for triple in self.triples:
            terms = []
            for term in triple:
                if isinstance(term, Literal) and term.datatype in (None, XSD.string) and not term.language:
                    # a string constant matches with or without ^^xsd:string (RDF 1.1: the same literal)
                    name, plain = f"?_literal{len(filters)}", format_term(Literal(str(term)))
                    filters.append(f"FILTER (sameTerm({name}, {plain}) || sameTerm({name}, {plain}^^<{XSD.string}>))")
                    terms.append(name)
                else:
                    terms.append(write_term(term, {}))
            lines.append(" ".join(terms) + " .")
        body = "\n".join(lines + filters)
        names = " ".join(f"?{v}" for v in sorted(self.variables))
        return f"SELECT DISTINCT {names} WHERE {{\n{body}\n}}"

    def match(self, graph: Graph) -> list[dict[str, URIRef | Literal]]:
        """Every binding row of the pattern in ``graph``, each once: what :meth:`select_query` selects
        (a string constant matches with or without ``^^xsd:string``). The triples are joined in an
        order where each one is the most bound by constants and the variables before it (rdflib's
        SPARQL engine takes every ``?x a Class`` first, a cross product: seconds for a few readings)."""
        order = _join_order(self.triples)
        names = sorted(self.variables)
        seen: set[tuple[object, ...]] = set()
        rows: list[dict[str, URIRef | Literal]] = []

        def step(index: int, bound: dict[str, URIRef | Literal]) -> None:
            if index == len(order):
                key = tuple(bound[name] for name in names)
                if key not in seen:
                    seen.add(key)
                    rows.append(bound)
                return
            terms = order[index]
            query = tuple(bound.get(t.name) if isinstance(t, Var) else None if _plain_string(t) else t for t in terms)
            for found in graph.triples(query):  # type: ignore[arg-type]
                row: dict[str, URIRef | Literal] | None = bound
                for term, value in zip(terms, found, strict=True):
                    if isinstance(term, Var):
                        have = row.get(term.name)
                        if have is None:
                            row = {**row, term.name: value}
                        elif have != value:  # a variable twice in one triple
                            row = None
                    elif _plain_string(term) and not (_plain_string(value) and str(value) == str(term)):
                        row = None
                    if row is None:
                        break
                if row is not None:
                    step(index + 1, row)

        step(0, {})
        return rows


def _plain_string(term: object) -> bool:
    """A string literal without a language tag (plain or ``^^xsd:string``: RDF 1.1's one literal)."""
    return isinstance(term, Literal) and term.datatype in (None, XSD.string) and not term.language


def _join_order(triples: tuple[Triple, ...]) -> list[Triple]:
    """The triples in a join order: next the one with the most terms bound (constants, variables of
    the triples before), then the fewest new variables."""
    left, bound, order = list(dict.fromkeys(triples)), set[str](), []
    while left:
        best = max(left, key=lambda triple: _bound_terms(triple, bound))
        left.remove(best)
        order.append(best)
        bound |= {t.name for t in best if isinstance(t, Var)}
    return order


def _bound_terms(triple: Triple, bound: set[str]) -> tuple[int, int]:
    known = sum(1 for t in triple if (t.name in bound if isinstance(t, Var) else not _plain_string(t)))
    return known, -sum(1 for t in triple if isinstance(t, Var) and t.name not in bound)


def write_term(term: Term, prefixes: Mapping[str, str]) -> str:
    """``term`` in KE syntax: a prefixed name where ``prefixes`` allow one, ``a`` for ``rdf:type``."""
    if isinstance(term, Var):
        return str(term)
    if isinstance(term, URIRef):
        if term == RDF.type:
            return "a"
        for prefix, ns in sorted(prefixes.items(), key=lambda kv: -len(kv[1])):
            local = str(term)[len(ns) :]
            if str(term).startswith(ns) and re.fullmatch(r"[\w-](?:[\w.-]*[\w-])?", local):
                return f"{prefix}:{local}"
    return format_term(term)


def parse(text: str, prefixes: Mapping[str, str]) -> Pattern:
    """Parse a KE basic graph pattern; raises :class:`PatternError` naming what is not allowed."""
    forbidden = _FORBIDDEN.search(re.sub(r'"(?:[^"\\]|\\.)*"|<[^>]*>', '""', text))
    if forbidden:
        raise PatternError(f"{forbidden.group(1).upper()} is not allowed in a KE graph pattern")
    try:
        tokens = list(_tokens(text, prefixes))
    except TermError as exc:
        raise PatternError(str(exc)) from exc
    triples: list[Triple] = []
    terms: list[Term] = []
    subject: Term | None = None
    predicate: Term | None = None

    def flush(kind: str) -> None:
        nonlocal subject, predicate, terms
        if subject is None:
            if len(terms) != 3:
                raise PatternError(f"a triple pattern needs subject, predicate and object (got {len(terms)} terms)")
            triple = (terms[0], terms[1], terms[2])
        elif predicate is not None and kind == "," and len(terms) == 1:
            triple = (subject, predicate, terms[0])
        elif len(terms) == 2:
            triple = (subject, terms[0], terms[1])
        elif predicate is not None and len(terms) == 1:
            triple = (subject, predicate, terms[0])
        else:
            raise PatternError("a ';' or ',' continuation is missing its predicate or object")
        _check(triple)
        triples.append(triple)
        terms = []
        if kind == ".":
            subject = predicate = None
        else:
            subject, predicate = triple[0], triple[1]

    for kind, token in tokens:
        if kind == "punct":
            flush(token)
        else:
            if len(terms) >= 3:
                raise PatternError("a triple pattern must end with '.' before the next one")
            terms.append(_term(kind, token, prefixes))
    if terms:
        flush(".")
    if subject is not None:
        raise PatternError("the pattern ends with a dangling ';' or ','")
    if not triples:
        raise PatternError("the graph pattern is empty")
    return Pattern(tuple(triples))


def _check(triple: Triple) -> None:
    s, p, _ = triple
    if isinstance(s, Literal):
        raise PatternError(f"a literal cannot be a subject ({format_term(s)})")
    if isinstance(p, Literal):
        raise PatternError(f"a literal cannot be a predicate ({format_term(p)})")


def isomorphism(left: Pattern, right: Pattern) -> dict[str, str] | None:
    """A renaming of ``left``'s variables onto ``right``'s that makes the two patterns the same set of
    triples (the KE's reasoner-level-1 matching), or ``None``."""
    a = list(dict.fromkeys(left.triples))
    b = list(dict.fromkeys(right.triples))
    if len(a) != len(b) or len(left.variables) != len(right.variables):
        return None
    constants_a = sorted(_shape(t) for t in a)
    constants_b = sorted(_shape(t) for t in b)
    if constants_a != constants_b:
        return None
    order = sorted(a, key=lambda t: -sum(not isinstance(x, Var) for x in t))
    used: set[int] = set()

    def extend(i: int, mapping: dict[str, str], reverse: dict[str, str]) -> dict[str, str] | None:
        if i == len(order):
            return dict(mapping)
        triple = order[i]
        for j, candidate in enumerate(b):
            if j in used:
                continue
            new_map, new_rev = dict(mapping), dict(reverse)
            if _unify(triple, candidate, new_map, new_rev):
                used.add(j)
                found = extend(i + 1, new_map, new_rev)
                if found is not None:
                    return found
                used.discard(j)
        return None

    return extend(0, {}, {})


def _shape(triple: Triple) -> tuple[str, ...]:
    return tuple("?" if isinstance(t, Var) else format_term(t) for t in triple)


def _unify(a: Triple, b: Triple, mapping: dict[str, str], reverse: dict[str, str]) -> bool:
    for x, y in zip(a, b, strict=True):
        if isinstance(x, Var) != isinstance(y, Var):
            return False
        if isinstance(x, Var):
            if mapping.get(x.name, y.name) != y.name or reverse.get(y.name, x.name) != x.name:
                return False
            mapping[x.name] = y.name
            reverse[y.name] = x.name
        elif x != y:
            return False
    return True
