"""The data graph the compiled engine reads: blocks of triples per predicate, as term strings.

Built column by column from a message's binding table (:meth:`Data.from_table`: no triple is
materialised), or from any graph (:meth:`Data.from_graph`, :meth:`Data.from_ntriples`). Terms are
N-Triples strings (``<iri>``, ``"lex"^^<datatype>``, ``_:b0``); what is known of the objects of a
predicate (every one an IRI, or a well-formed literal of one datatype written by ``terms.lexical``)
lets whole columns be judged at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from rdflib import BNode
from rdflib import Graph as RdfGraph
from rdflib.namespace import RDF, RDFS

from dso_saref.table import Table, nt_term
from dso_saref.terms import TermError, escape_literal, literal_text, parse_term, unescape_literal
from dso_saref.variables import VariableKind

__all__ = ["IRI", "Data", "Edges"]

_TYPE = f"<{RDF.type}>"
_SUBCLASS = f"<{RDFS.subClassOf}>"
#: The object kind of a predicate whose objects are all IRIs.
IRI = "iri"

_IRI_TERM = r'<[^<>"{}|^`\\\x00-\x20]*>'
_BLANK_TERM = r"_:[A-Za-z0-9_][A-Za-z0-9_.-]*"
_LITERAL_TERM = r'"(?:[^"\\\n\r]|\\.)*"(?:\^\^' + _IRI_TERM + r"|@[A-Za-z]+(?:-[A-Za-z0-9]+)*)?"
#: One triple per line, in the plain form N-Triples writers use.
_NT_LINE = re.compile(rf"^[ \t]*({_IRI_TERM}|{_BLANK_TERM})[ \t]+({_IRI_TERM})[ \t]+({_IRI_TERM}|{_BLANK_TERM}"
                      rf"|{_LITERAL_TERM})[ \t]*\.[ \t]*(?:#[^\n]*)?\r?$", re.M)


class Edges:
    """The (subject, object) pairs along a path: a ``function`` dict when every subject has exactly
    one object (no tuples built: a zone-day's readings stay cheap), else a set of ``pairs``."""

    __slots__ = ("_by_subject", "_objects", "_pairs", "_subjects", "function")

    def __init__(self, function: dict[str, str] | None = None, pairs: set[tuple[str, str]] | None = None) -> None:
        if function is None and pairs is not None:
            subjects = {s for s, _ in pairs}
            if len(subjects) == len(pairs):
                function, pairs = dict(pairs), None
        self.function = function
        self._pairs = pairs
        self._subjects: Any = None
        self._objects: set[str] | None = None
        self._by_subject: dict[str, list[str]] | None = None

    def values(self, subject: str) -> list[str]:
        """The objects of one subject."""
        if self.function is not None:
            return [self.function[subject]] if subject in self.function else []
        if self._by_subject is None:
            self._by_subject = {}
            for s, o in self.pairs:
                self._by_subject.setdefault(s, []).append(o)
        return self._by_subject.get(subject, [])

    @property
    def pairs(self) -> set[tuple[str, str]]:
        if self._pairs is None:
            self._pairs = set(self.function.items())  # type: ignore[union-attr]
        return self._pairs

    @property
    def subjects(self) -> Any:
        """The subjects (a set, or the function's keys view)."""
        if self._subjects is None:
            self._subjects = self.function.keys() if self.function is not None else {s for s, _ in self.pairs}
        return self._subjects

    @property
    def objects(self) -> set[str]:
        if self._objects is None:
            self._objects = set(self.function.values()) if self.function is not None else \
                {o for _, o in self.pairs}
        return self._objects

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.function.items() if self.function is not None else self.pairs)

    def __len__(self) -> int:
        return len(self.function) if self.function is not None else len(self.pairs)

    def __contains__(self, pair: tuple[str, str]) -> bool:
        if self.function is not None:
            found = self.function.get(pair[0])
            return found is not None and found == pair[1]
        return pair in self.pairs

    def having(self, focus: set[str]) -> Edges:
        """The pairs whose subject is in ``focus``."""
        if self.subjects <= focus:
            return self
        if self.function is not None:
            return Edges(function={s: o for s, o in self.function.items() if s in focus})
        return Edges(pairs={(s, o) for s, o in self.pairs if s in focus})


class Data:
    """A data graph: blocks of (subjects, objects) per predicate, with what is known of the objects
    (``iri``, or the datatype IRI of well-formed literals written by ``terms.lexical``)."""

    def __init__(self) -> None:
        self.blocks: dict[str, list[tuple[list[str | None], list[str | None]]]] = {}
        self.kinds: dict[str, set[str | None]] = {}
        self.originals: dict[str, Any] = {}
        self._edges: dict[tuple[str, ...], Edges] = {}
        self._constants: dict[tuple[str, int], str] = {}
        self._types: dict[str, set[str]] | None = None

    def add(self, predicate: str, subjects: list[str | None], objects: list[str | None], kind: str | None,
            constant: str | None = None) -> None:
        """Add a block of triples (``None`` in a column: no triple for that row); ``constant`` when
        every object is that one term (an ``rdf:type`` of the pattern, say)."""
        self.blocks.setdefault(predicate, []).append((subjects, objects))
        self.kinds.setdefault(predicate, set()).add(kind)
        if constant is not None:
            self._constants[(predicate, len(self.blocks[predicate]) - 1)] = constant

    @classmethod
    def from_table(cls, table: Table) -> Data:
        """The triples of a message's binding rows (the pattern instantiated column by column)."""
        data = cls()
        variables = table.description.variables
        if table.size == 0:
            return data
        for (predicate, subjects, objects, level), (_, _, obj) in zip(
                table.blocks(), table.description.pattern.triples, strict=True):
            n = table.length(level)
            s_col = subjects if isinstance(subjects, list) else [subjects] * n
            if isinstance(objects, list):
                variable = variables[obj.name]
                kind = str(variable.datatype) if variable.kind == VariableKind.LITERAL else IRI
                data.add(predicate, s_col, objects, kind)
            else:
                data.add(predicate, s_col, [objects] * n, IRI if objects.startswith("<") else None, constant=objects)
        return data

    @classmethod
    def from_graph(cls, graph: RdfGraph) -> Data:
        """The triples of an rdflib graph (terms kept, so literals are judged as pySHACL sees them)."""
        data = cls()
        columns: dict[str, tuple[list[str | None], list[str | None]]] = {}
        originals = data.originals
        for s, p, o in graph:
            key = nt_term(p)
            s_text, o_text = _text(s), _text(o)
            originals.setdefault(s_text, s)
            originals.setdefault(o_text, o)
            subjects, objects = columns.setdefault(key, ([], []))
            subjects.append(s_text)
            objects.append(o_text)
        for predicate, (subjects, objects) in columns.items():
            data.add(predicate, subjects, objects, None)
        return data

    @classmethod
    def from_ntriples(cls, text: str) -> Data | None:
        """The triples of an N-Triples document read straight into columns, or ``None`` when a line
        is beyond the plain form this reader takes (escaped IRIs, odd spacing): parse it with rdflib.

        Terms keep the form they are written in (``"a"`` and ``"a"^^xsd:string`` stay two terms, as in
        rdflib); a literal written with escapes is rewritten in the form :func:`nt_term` gives."""
        data = cls()
        columns: dict[str, tuple[list[str | None], list[str | None]]] = {}
        terms: dict[str, str] = {}  # one string per distinct term: a node's IRI is written on many lines
        known = terms.setdefault
        count = 0
        for match in _NT_LINE.finditer(text):
            s, p, o = match.group(1, 2, 3)
            if "\\" in o:
                body, quote, suffix = o[1:].rpartition('"')
                try:
                    o = '"' + escape_literal(unescape_literal(body)) + quote + suffix
                except TermError:
                    return None  # rdflib decides what an odd escape means
            found = columns.get(p)
            if found is None:
                found = columns[p] = ([], [])
            found[0].append(known(s, s))
            found[1].append(known(o, o))
            count += 1
        lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
        if count != lines and count != sum(
                1 for line in text.split("\n") if line.strip() and not line.lstrip().startswith("#")):
            return None  # a line that is not a plain triple (nor blank, nor a comment)
        for predicate, (subjects, objects) in columns.items():
            data.add(predicate, subjects, objects, None)
        return data

    # -- indexes -----------------------------------------------------------------------------------

    def edges(self, path: tuple[str, ...]) -> Edges:
        """The pairs linked by ``path`` (a sequence of predicates, ``^<p>`` an inverse one)."""
        found = self._edges.get(path)
        if found is None:
            found = self._edges[path] = self._compute(path)
        return found

    def _compute(self, path: tuple[str, ...]) -> Edges:
        if len(path) > 1:
            head, tail = self.edges(path[:1]), self.edges(path[1:])
            if head.function is not None and tail.function is not None:
                ends = tail.function
                return Edges(function={s: ends[m] for s, m in head.function.items() if m in ends})
            if tail.function is not None:
                ends = tail.function
                return Edges(pairs={(s, ends[m]) for s, m in head if m in ends})
            return Edges(pairs={(s, end) for s, middle in head for end in tail.values(middle)})
        if path[0].startswith("^"):
            return Edges(pairs={(o, s) for s, o in self.edges((path[0][1:],))})
        blocks = self.blocks.get(path[0], [])
        if len(blocks) == 1 and None not in blocks[0][0] and None not in blocks[0][1]:
            subjects, objects = blocks[0]
            function = dict(zip(subjects, objects, strict=True))
            if len(function) == len(subjects):
                return Edges(function=function)  # distinct subjects: one object each
        pairs: set[tuple[str, str]] = set()
        for subjects, objects in blocks:
            if None in subjects or None in objects:
                pairs.update((s, o) for s, o in zip(subjects, objects, strict=True) if s is not None and o is not None)
            else:
                pairs.update(zip(subjects, objects, strict=True))
        return Edges(pairs=pairs)

    def subjects(self, path: tuple[str, ...]) -> Any:
        return self.edges(path).subjects

    def objects(self, path: tuple[str, ...]) -> set[str]:
        return self.edges(path).objects

    def typed(self, cls: str) -> set[str]:
        """Nodes with ``rdf:type cls`` (exactly, as a SPARQL triple pattern matches)."""
        if self._types is None:
            types: dict[str, set[str]] = {}
            for i, (subjects, objects) in enumerate(self.blocks.get(_TYPE, ())):
                constant = self._constants.get((_TYPE, i))
                if constant is not None:
                    types.setdefault(constant, set()).update(subjects)
                    types[constant].discard(None)  # type: ignore[arg-type]
                else:
                    for s, o in zip(subjects, objects, strict=True):
                        if s is not None and o is not None:
                            types.setdefault(o, set()).add(s)
            self._types = types
        return self._types.get(cls, set())

    def instances(self, cls: str) -> set[str]:
        """Instances of ``cls`` and of its subclasses by the data graph's ``rdfs:subClassOf`` (SHACL)."""
        if not self.blocks.get(_SUBCLASS):
            return self.typed(cls)
        classes, todo = {cls}, [cls]
        while todo:
            current = todo.pop()
            for sub, sup in self.edges((_SUBCLASS,)):
                if sup == current and sub not in classes:
                    classes.add(sub)
                    todo.append(sub)
        return set().union(*(self.typed(c) for c in classes))

    def object_kinds(self, path: tuple[str, ...]) -> set[str | None]:
        """What is known of the objects at the end of ``path`` (``None`` in the set: unknown)."""
        if path[-1].startswith("^"):
            return {None}  # the subjects of a predicate: IRIs or blank nodes, not told apart here
        return self.kinds.get(path[-1], {None})

    def literal(self, term: str) -> Any:
        """The rdflib term of a term string (the graph's own object when the data came from a graph)."""
        found = self.originals.get(term)
        if found is None:
            found = self.originals[term] = _rdflib(term)
        return found

    def lexical(self, term: str) -> str:
        """The lexical form of a literal term string (the graph's own object's when the data came
        from a graph), without building the rdflib literal."""
        found = self.originals.get(term)
        return literal_text(term) if found is None else str(found)


def _text(term: Any) -> str:
    return f"_:{term}" if isinstance(term, BNode) else nt_term(term)


def _rdflib(term: str) -> Any:
    return BNode(term[2:]) if term.startswith("_:") else parse_term(term)
