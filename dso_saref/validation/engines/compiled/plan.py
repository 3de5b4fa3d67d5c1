"""A message's SHACL shape compiled once into a small plan of checks (what :mod:`.run` runs).

Only the SHACL Core the catalog's shapes use is compiled: targets (``sh:targetClass``,
``sh:targetNode``, ``sh:targetSubjectsOf``, ``sh:targetObjectsOf``), property shapes whose path is a
predicate, an inverse predicate or a sequence of them, ``sh:minCount``, ``sh:maxCount``,
``sh:datatype``, ``sh:class``, ``sh:in``, ``sh:hasValue``, ``sh:nodeKind``, ``sh:pattern``,
``sh:minInclusive`` (and the other three bounds), ``sh:qualifiedValueShape`` with ``sh:class`` and
its counts, and SPARQL constraints whose query is a star around ``$this`` with ``FILTER NOT EXISTS
{ one triple }`` (its object may be a variable of its own) or a comparison of two of its variables
(the ``start < end`` rule). Anything else raises :class:`Unsupported`, and the message is validated
by pySHACL: a constraint is never skipped.

Terms are N-Triples strings (``<iri>``, ``"lex"^^<datatype>``), the form the engine's data uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, XSD

from dso_saref.table import nt_term
from dso_saref.validation.results import SHAPES, VARIABLE

__all__ = ["Constraint", "NodePlan", "Plan", "PropertyPlan", "SparqlQuery", "Star", "Target", "Unsupported",
           "compile_shape"]


_IGNORED = {RDF.type, RDFS.label, RDFS.comment, SH.name, SH.description, SH.message, SH.order, SH.group,
            VARIABLE}
_NODE_KINDS = {SH.IRI: "iri", SH.Literal: "literal", SH.BlankNode: "bnode", SH.BlankNodeOrIRI: "bnode-or-iri",
               SH.BlankNodeOrLiteral: "bnode-or-literal", SH.IRIOrLiteral: "iri-or-literal"}
_BOUNDS = {SH.minInclusive: ("MinInclusive", ">="), SH.maxInclusive: ("MaxInclusive", "<="),
           SH.minExclusive: ("MinExclusive", ">"), SH.maxExclusive: ("MaxExclusive", "<")}


class Unsupported(Exception):
    """The shape uses SHACL the compiler does not know: validate the message with pySHACL."""


@dataclass(frozen=True)
class Constraint:
    """One constraint of a shape: ``component`` (``MinCount``, ``Datatype``, ``SPARQL``, ...) and its
    parameter; ``messages`` are the result messages pySHACL gives (SPARQL constraint's first)."""

    component: str
    value: Any
    messages: tuple[str, ...]


@dataclass(frozen=True)
class Star:
    """A tree of triple patterns rooted at one variable (``?this``): ``edges`` are ``(parent variable,
    path, child variable or constant term, inverse)``; ``kinds`` the classes a variable must have;
    ``allowed`` the ``FILTER (?v IN (...))`` sets."""

    edges: tuple[tuple[str, tuple[str, ...], str, bool], ...]
    kinds: dict[str, tuple[str, ...]]
    allowed: dict[str, frozenset[str]]


@dataclass(frozen=True)
class SparqlQuery:
    """A compiled SPARQL constraint: the star around ``$this``, ``value`` the variable reported, and
    its filters: ``absent`` triples (``FILTER NOT EXISTS``; object ``*``: any object), ``compare``
    ``(left, op, right, cast)``."""

    star: Star
    value: str
    absent: tuple[tuple[str, str, str], ...]
    compare: tuple[tuple[str, str, str, str | None], ...]


@dataclass(frozen=True)
class Target:
    """``kind`` ``class`` / ``node`` / ``subjects`` / ``objects`` with an N-Triples ``term``."""

    kind: str
    term: str


@dataclass
class PropertyPlan:
    """A property shape: its ``path`` (predicates of a sequence), the path as the report renders it,
    and its constraints."""

    shape: str
    path: tuple[str, ...]
    report_path: Any
    constraints: list[Constraint] = field(default_factory=list)


@dataclass
class NodePlan:
    """A shape with targets: its node-level constraints and property shapes."""

    shape: str
    targets: list[Target]
    constraints: list[Constraint] = field(default_factory=list)
    properties: list[PropertyPlan] = field(default_factory=list)


@dataclass
class Plan:
    """Every targeted shape of one message's shapes graph."""

    name: str
    shapes: list[NodePlan]
    labels: dict[str, str]


def compile_shape(name: str, graph: Graph) -> Plan:
    """Compile message ``name``'s shapes graph; raises :class:`Unsupported`."""
    return _Compiler(graph).plan(name)


class _Compiler:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    def plan(self, name: str) -> Plan:
        graph = self.graph
        shapes = set(graph.subjects(RDF.type, SH.NodeShape)) | set(graph.subjects(RDF.type, SH.PropertyShape))
        shapes |= set(graph.objects(None, SH.property))
        targeted = [s for s in shapes if any((s, t, None) in graph for t in (
            SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target))]
        for shape in shapes:
            if (shape, RDF.type, RDFS.Class) in graph:
                raise Unsupported(f"{shape}: implicit class targets")
            if (shape, SH.deactivated, None) in graph or (shape, SH.severity, None) in graph:
                raise Unsupported(f"{shape}: sh:deactivated / sh:severity")
        plans = []
        labels: dict[str, str] = {}
        for shape in sorted(targeted, key=str):
            if (shape, SH.path, None) in graph:
                raise Unsupported(f"{shape}: a property shape with its own targets")
            plans.append(self.node(shape, labels))
        return Plan(name, plans, labels)

    def _label(self, shape: Any, labels: dict[str, str]) -> str:
        if isinstance(shape, BNode):
            raise Unsupported("blank node shapes (their results cannot be named)")
        labels[str(shape)] = str(shape)[len(SHAPES):] if str(shape).startswith(SHAPES) else str(shape)
        return str(shape)

    def node(self, shape: Any, labels: dict[str, str]) -> NodePlan:
        graph = self.graph
        plan = NodePlan(self._label(shape, labels), self.targets(shape))
        for p, o in graph.predicate_objects(shape):
            if p in _IGNORED or p in (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf,
                                      SH.target, SH.property):
                continue
            if p == SH["class"]:
                plan.constraints.append(Constraint("Class", nt_term(self._iri(o)), self._messages(shape)))
            elif p == SH.sparql:
                plan.constraints.append(self.sparql(o, self._messages(shape, required=False)))
            else:
                raise Unsupported(f"{shape}: node-level {p}")
        for prop in graph.objects(shape, SH.property):
            plan.properties.append(self.property(prop, labels))
        return plan

    def targets(self, shape: Any) -> list[Target]:
        graph = self.graph
        found = []
        for kind, predicate in (("class", SH.targetClass), ("node", SH.targetNode),
                                ("subjects", SH.targetSubjectsOf), ("objects", SH.targetObjectsOf)):
            found += [Target(kind, nt_term(self._term(o))) for o in graph.objects(shape, predicate)]
        if (shape, SH.target, None) in graph:
            raise Unsupported(f"{shape}: SHACL-AF targets")
        return found

    def property(self, shape: Any, labels: dict[str, str]) -> PropertyPlan:
        graph = self.graph
        path, report = self._path(graph.value(shape, SH.path))
        plan = PropertyPlan(self._label(shape, labels), path, report)
        messages = self._messages(shape)
        qualified = {}
        for p, o in graph.predicate_objects(shape):
            if p in _IGNORED or p == SH.path:
                continue
            if p in (SH.minCount, SH.maxCount, SH.qualifiedMinCount, SH.qualifiedMaxCount):
                number = o.toPython() if isinstance(o, Literal) else None
                if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                    raise Unsupported(f"{shape}: {p} {o}")
                if p in (SH.qualifiedMinCount, SH.qualifiedMaxCount):
                    qualified[p] = number
                else:
                    plan.constraints.append(Constraint("MinCount" if p == SH.minCount else "MaxCount", number,
                                                       messages))
            elif p == SH.qualifiedValueShape:
                qualified[p] = self._qualified(o)
            elif p == SH.datatype:
                plan.constraints.append(Constraint("Datatype", self._iri(o), messages))
            elif p == SH["class"]:
                plan.constraints.append(Constraint("Class", nt_term(self._iri(o)), messages))
            elif p == SH["in"]:
                members = list(Collection(graph, o))
                if not all(isinstance(m, URIRef) for m in members):
                    raise Unsupported(f"{shape}: sh:in with literals")
                plan.constraints.append(Constraint("In", frozenset(nt_term(m) for m in members), messages))
            elif p == SH.hasValue:
                plan.constraints.append(Constraint("HasValue", nt_term(self._iri(o)), messages))
            elif p == SH.nodeKind:
                if o not in _NODE_KINDS:
                    raise Unsupported(f"{shape}: sh:nodeKind {o}")
                plan.constraints.append(Constraint("NodeKind", _NODE_KINDS[o], messages))
            elif p == SH.pattern:
                if (shape, SH.flags, None) in graph:
                    raise Unsupported(f"{shape}: sh:flags")
                plan.constraints.append(Constraint("Pattern", re.compile(str(o)), messages))
            elif p in _BOUNDS:
                if not isinstance(o, Literal) or o.datatype not in (XSD.decimal, XSD.integer, XSD.double):
                    raise Unsupported(f"{shape}: {p} {o}")
                plan.constraints.append(Constraint(_BOUNDS[p][0], (_BOUNDS[p][1], o.toPython()), messages))
            elif p == SH.sparql:
                plan.constraints.append(self.sparql(o, messages))
            else:
                raise Unsupported(f"{shape}: {p}")
        if qualified:
            if SH.qualifiedValueShape not in qualified or len(qualified) == 1:
                raise Unsupported(f"{shape}: incomplete qualified value shape")
            test = qualified[SH.qualifiedValueShape]
            for key, component in ((SH.qualifiedMinCount, "QualifiedMinCount"),
                                   (SH.qualifiedMaxCount, "QualifiedMaxCount")):
                if key in qualified:
                    plan.constraints.append(Constraint(component, (test, qualified[key]), messages))
        return plan

    def sparql(self, node: Any, shape_messages: tuple[str, ...]) -> Constraint:
        graph = self.graph
        for p in graph.predicates(node):
            if p not in (RDF.type, SH.prefixes, SH.select, SH.message, RDFS.label, RDFS.comment):
                raise Unsupported(f"SPARQL constraint with {p}")
        own = self._messages(node, required=not shape_messages)
        if any("{" in m for m in own + shape_messages):
            raise Unsupported("message templates")
        messages = own + tuple(m for m in shape_messages if m not in own)
        query = _Query(str(graph.value(node, SH.select)), self._prefixes(node))
        if query.selected != ["this", "value"]:
            raise Unsupported("SPARQL constraint must select $this ?value")
        star = query.star("this")
        if any(parent != "this" for parent, *_ in star.edges):
            raise Unsupported("SPARQL constraints beyond one edge from $this")
        compiled = SparqlQuery(star, "value", tuple(query.absent), tuple(query.compare))
        return Constraint("SPARQL", compiled, messages)

    # -- helpers ---------------------------------------------------------------------------------

    def _messages(self, node: Any, *, required: bool = True) -> tuple[str, ...]:
        messages = tuple(str(m) for m in self.graph.objects(node, SH.message))
        if not messages and required:
            raise Unsupported(f"{node}: no sh:message (pySHACL's generic messages are not replicated)")
        return messages

    def _prefixes(self, node: Any) -> dict[str, str]:
        out = {}
        for holder in self.graph.objects(node, SH.prefixes):
            for declaration in self.graph.objects(holder, SH.declare):
                out[str(self.graph.value(declaration, SH.prefix))] = str(self.graph.value(declaration, SH.namespace))
        return out

    def _path(self, node: Any) -> tuple[tuple[str, ...], Any]:
        if isinstance(node, URIRef):
            return (nt_term(node),), node
        if node is not None and self.graph.value(node, RDF.first) is not None:
            parts = [self._step(p) for p in Collection(self.graph, node)]
            if len(parts) > 1:
                return tuple(step for step, _ in parts), ("sequence", tuple(report for _, report in parts))
        if node is not None and self.graph.value(node, SH.inversePath) is not None:
            step, report = self._step(node)
            return (step,), report
        raise Unsupported(f"path {node}")

    def _step(self, node: Any) -> tuple[str, Any]:
        """One step of a path: a predicate, or ``[ sh:inversePath p ]`` (``^<p>``)."""
        if isinstance(node, URIRef):
            return nt_term(node), node
        inverse = self.graph.value(node, SH.inversePath)
        if isinstance(inverse, URIRef) and len(list(self.graph.predicate_objects(node))) == 1:
            return "^" + nt_term(inverse), ("inverse", inverse)
        raise Unsupported(f"path step {node}")

    def _qualified(self, node: Any) -> tuple[str, Any]:
        """``("class", C)`` for ``[ sh:class C ]``, ``("in", members)`` for ``[ sh:in (...) ]``."""
        pairs = [(p, o) for p, o in self.graph.predicate_objects(node) if p != RDF.type]
        if len(pairs) == 1 and pairs[0][0] == SH["class"]:
            return "class", nt_term(self._iri(pairs[0][1]))
        if len(pairs) == 1 and pairs[0][0] == SH["in"]:
            members = list(Collection(self.graph, pairs[0][1]))
            if all(isinstance(m, URIRef) for m in members):
                return "in", frozenset(nt_term(m) for m in members)
        raise Unsupported("qualified value shapes other than [ sh:class C ] and [ sh:in (IRIs) ]")

    @staticmethod
    def _iri(node: Any) -> URIRef:
        if not isinstance(node, URIRef):
            raise Unsupported(f"{node!r} where an IRI was expected")
        return node

    @staticmethod
    def _term(node: Any) -> URIRef | Literal:
        if isinstance(node, BNode):
            raise Unsupported("blank node targets")
        return node


# ---------------------------------------------------------------------------------------------
# the SPARQL the shapes use


_TOKEN = re.compile(r"""\s+|\#[^\n]*|(?P<var>[?$][A-Za-z_]\w*)|(?P<iri><[^<>"\s]*>)|(?P<op>>=|<=|!=|[<>=])
    |(?P<punct>[{}().;,/])|(?P<pname>[A-Za-z][\w-]*:[\w-]*|:[\w-]+)|(?P<word>[A-Za-z]+)""", re.X)


class _Query:
    """A SELECT over a star of triple patterns with FILTERs, tokenised and parsed strictly."""

    def __init__(self, text: str, prefixes: dict[str, str]) -> None:
        self.prefixes = prefixes
        self.tokens = self._tokens(text)
        self.pos = 0
        self.triples: list[tuple[str, tuple[str, ...], str]] = []
        self.absent: list[tuple[str, str, str]] = []
        self.compare: list[tuple[str, str, str, str | None]] = []
        self.allowed: dict[str, frozenset[str]] = {}
        self._parse()

    def _tokens(self, text: str) -> list[tuple[str, str]]:
        out, pos = [], 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                raise Unsupported(f"SPARQL at {text[pos:pos + 20]!r}")
            pos = match.end()
            if match.lastgroup:
                out.append((match.lastgroup, match.group(match.lastgroup)))
        return out

    def _next(self, kind: str | None = None, text: str | None = None) -> str:
        if self.pos >= len(self.tokens):
            raise Unsupported("SPARQL ends early")
        got_kind, got = self.tokens[self.pos]
        if (kind and got_kind != kind) or (text and got.upper() != text.upper()):
            raise Unsupported(f"SPARQL: expected {text or kind}, got {got!r}")
        self.pos += 1
        return got

    def _peek(self) -> str:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else ""

    def _parse(self) -> None:
        self._next("word", "SELECT")
        self.selected = []
        while self.tokens[self.pos][0] == "var":
            self.selected.append(self._next()[1:])
        self._next("word", "WHERE")
        self._next("punct", "{")
        while self._peek() != "}":
            if self._peek().upper() == "FILTER":
                self._filter()
            else:
                self._triples(self.triples)
        self._next("punct", "}")
        if self.pos != len(self.tokens):
            raise Unsupported("SPARQL after the WHERE block (modifiers)")

    def _term(self) -> str:
        kind, text = self.tokens[self.pos]
        self.pos += 1
        if kind == "var":
            return "?" + text[1:]
        if kind == "iri":
            return text
        if kind == "pname":
            prefix, _, local = text.partition(":")
            if prefix not in self.prefixes:
                raise Unsupported(f"SPARQL prefix {prefix!r} is not declared")
            return f"<{self.prefixes[prefix]}{local}>"
        if kind == "word" and text == "a":
            return f"<{RDF.type}>"
        raise Unsupported(f"SPARQL term {text!r}")

    def _predicate(self) -> tuple[str, ...]:
        path = [self._term()]
        while self._peek() == "/":
            self._next()
            path.append(self._term())
        if any(p.startswith("?") for p in path):
            raise Unsupported("SPARQL variable predicates")
        return tuple(path)

    def _triples(self, into: list[Any]) -> None:
        subject = self._term()
        while True:
            predicate = self._predicate()
            into.append((subject, predicate, self._term()))
            while self._peek() == ",":
                self._next()
                into.append((subject, predicate, self._term()))
            if self._peek() == ";":
                self._next()
                if self._peek() in (".", "}"):
                    break
                continue
            break
        if self._peek() == ".":
            self._next()

    def _filter(self) -> None:
        self._next("word", "FILTER")
        if self._peek().upper() == "NOT":
            self._next()
            self._next("word", "EXISTS")
            self._next("punct", "{")
            inner: list[tuple[str, tuple[str, ...], str]] = []
            self._triples(inner)
            self._next("punct", "}")
            if len(inner) != 1 or len(inner[0][1]) != 1:
                raise Unsupported("FILTER NOT EXISTS with more than one plain triple")
            s, (p,), o = inner[0]
            self.absent.append((s, p, o))
            return
        self._next("punct", "(")
        left, cast = self._operand()
        if self._peek().upper() == "IN":
            self._next()
            self._next("punct", "(")
            members = {self._term()}
            while self._peek() == ",":
                self._next()
                members.add(self._term())
            self._next("punct", ")")
            if cast or not left.startswith("?") or any(m.startswith("?") for m in members):
                raise Unsupported("FILTER IN form")
            self.allowed[left[1:]] = frozenset(members)
        else:
            op = self._next("op")
            right, right_cast = self._operand()
            if op not in (">=", ">", "<=", "<") or cast != right_cast:
                raise Unsupported(f"FILTER comparison {op}")
            self.compare.append((left[1:], op, right[1:], cast))
        self._next("punct", ")")

    def _operand(self) -> tuple[str, str | None]:
        """``?v`` or ``xsd:dateTime(str(?v))`` (the cast the window rules use)."""
        if self.tokens[self.pos][0] == "var":
            return self._term(), None
        cast = self._term()
        if cast != f"<{XSD.dateTime}>":
            raise Unsupported(f"FILTER function {cast}")
        self._next("punct", "(")
        self._next("word", "str")
        self._next("punct", "(")
        var = self._term()
        self._next("punct", ")")
        self._next("punct", ")")
        if not var.startswith("?"):
            raise Unsupported("cast of a constant")
        return var, "dateTime"

    def star(self, center: str) -> Star:
        """The query as a tree of triple patterns rooted at ``?center`` (each other variable reached by
        one edge); raises Unsupported for any other shape (cycles, unlinked variables)."""
        edges: list[tuple[str, tuple[str, ...], str, bool]] = []
        kinds: dict[str, list[str]] = {}
        known = {center}
        todo = []
        for s, path, o in self.triples:
            if path == (f"<{RDF.type}>",) and s.startswith("?") and not o.startswith("?"):
                kinds.setdefault(s[1:], []).append(o)
            else:
                todo.append((s, path, o))
        while todo:
            for triple in todo:
                s, path, o = triple
                if s.startswith("?") and s[1:] in known and not (o.startswith("?") and o[1:] in known):
                    edges.append((s[1:], path, o, False))
                    new = o
                elif o.startswith("?") and o[1:] in known and not (s.startswith("?") and s[1:] in known) \
                        and len(path) == 1:
                    edges.append((o[1:], path, s, True))
                    new = s
                else:
                    continue
                if new.startswith("?"):
                    known.add(new[1:])
                todo.remove(triple)
                break
            else:
                raise Unsupported("SPARQL triples that do not form a tree around ?this")
        if set(kinds) - known or set(self.allowed) - known:
            raise Unsupported("SPARQL variables not linked to ?this")
        absent = []
        for s, p, o in self.absent:
            if s.startswith("?") and s[1:] not in known:
                raise Unsupported("FILTER NOT EXISTS on an unknown subject")
            if o.startswith("?") and o[1:] not in known:
                if any(o in (left, right) for left, _, right, _ in self.compare) or o[1:] in self.allowed:
                    raise Unsupported("FILTER NOT EXISTS on a variable used elsewhere")
                o = "*"  # a variable of its own: any object
            absent.append((s, p, o))
        self.absent = absent
        for left, _, right, _ in self.compare:
            if left not in known or right not in known:
                raise Unsupported("FILTER comparison of unknown variables")
        return Star(tuple(edges), {k: tuple(v) for k, v in kinds.items()}, dict(self.allowed))
