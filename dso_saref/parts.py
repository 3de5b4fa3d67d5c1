"""A message's graph pattern in parts that the data always fills completely: the core, and one part per
group of values that may be absent.

The Knowledge Engine has no OPTIONAL, and a binding set means the pattern instantiated with every
row, so a placeholder for an absent value would state something false (``rdf:nil`` a measurement, an
MV client connected to a feeder). A message whose pattern has optional variables is therefore split:
the **core** (every triple whose variables are always bound) and one **part** per group of optional
variables that are bound together (the triples that mention them), nested where an optional group
hangs from another (an entry's meters inside an optional entry). Each part is a pattern of its own:
its triples, plus the type and identifying triples of the nodes it hangs from (its **anchors**), so
that a peer reads it on its own and joins it to the core by those nodes. A payload gives one binding
set per part that has rows; reading them back joins each part's rows to its parent's by the anchors::

    metering-data          ?subject a saref:FeatureOfInterest . ?subject dso:hasIdentifier ?id ...
    metering-data.readings ?subject a saref:FeatureOfInterest . ?subject dso:hasIdentifier ?id .
                           ?reading a saref:Measurement . ?reading saref:isMeasurementOf ?subject ...

A variable is optional when its declaration says ``optional = true`` (or names its part:
``optional = "readings"``); variables minted from optional ones belong to their part.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rdflib.namespace import RDF

from dso_saref.errors import DescriptionError
from dso_saref.paths import Key
from dso_saref.patterns import Pattern, Triple, Var
from dso_saref.terms import template_fields
from dso_saref.variables import Variable

__all__ = ["CORE", "Part", "ki_name", "split"]

#: The name of the core part.
CORE = ""


@dataclass(frozen=True)
class Part:
    """One part of a message's pattern.

    ``key`` names it in binding sets (``metering-data``, ``metering-data.readings``), ``parent`` is
    the part it hangs from (``None`` for the core), ``own`` the variables bound only when the part is
    present, ``anchors`` the variables it shares with its ancestors (the nodes it hangs from and their
    identifiers), ``pattern`` its triples (its own and its anchors' context) and ``level`` the nesting
    level of its rows (the deepest level of its own variables).
    """

    name: str
    key: str
    parent: str | None
    own: frozenset[str]
    anchors: frozenset[str]
    pattern: Pattern
    level: int

    @property
    def variables(self) -> frozenset[str]:
        """Every variable of the part's pattern."""
        return self.pattern.variables


def ki_name(key: str) -> str:
    """The Knowledge Engine interaction name of a part key (``metering-data--readings``): KI names
    allow letters, digits and ``-`` only."""
    return key.replace("@", "--").replace(".", "--")


def split(message: str, pattern: Pattern, variables: Mapping[str, Variable], levels: Mapping[str, int]) -> list[Part]:
    """The core and the parts of a message's pattern, parents before children; raises
    DescriptionError when two optional groups of one nesting level cannot be told apart."""
    group = _groups(pattern, variables, levels)
    if not group:
        return [Part(CORE, message, None, frozenset(pattern.variables), frozenset(), pattern,
                     max((levels.get(v, 0) for v in pattern.variables), default=0))]
    names = _names(group, variables)
    triples_of: dict[str, list[Triple]] = {}
    parent: dict[str, str] = {}
    for triple in pattern.triples:
        optional = [v.name for v in triple if isinstance(v, Var) and v.name in group]
        if not optional:
            triples_of.setdefault(CORE, []).append(triple)
            continue
        top = max(levels.get(n, 0) for n in optional)
        home = group[next(n for n in optional if levels.get(n, 0) == top)]
        for other in {group[n] for n in optional} - {home}:
            parent.setdefault(home, other)
        triples_of.setdefault(home, []).append(triple)
    for home in set(group.values()):
        parent.setdefault(home, CORE)
    core = triples_of.get(CORE, [])
    core_vars = frozenset(v.name for t in core for v in t if isinstance(v, Var))
    parts = [Part(CORE, message, None, core_vars, frozenset(), Pattern(tuple(core)),
                  max((levels.get(v, 0) for v in core_vars), default=0))]
    for home in _tree_order(parent):
        own_triples = triples_of.get(home, [])
        own = frozenset(n for n, g in group.items() if g == home)
        mentioned = {v.name for t in own_triples for v in t if isinstance(v, Var)}
        context = _context(pattern, mentioned - own, variables, exclude=own)
        triples = context + [t for t in own_triples if t not in context]
        every = frozenset(v.name for t in triples for v in t if isinstance(v, Var))
        if not every - own and core_vars:
            raise DescriptionError(f"the part {names[home]!r} shares no node with the rest of the pattern: its rows "
                                   "could not be joined back")
        parts.append(Part(names[home], f"{message}.{names[home]}",
                          names[parent[home]] if parent[home] != CORE else CORE, own, every - own,
                          Pattern(tuple(triples)), max(levels.get(v, 0) for v in every)))
    return parts


def _groups(pattern: Pattern, variables: Mapping[str, Variable], levels: Mapping[str, int]) -> dict[str, str]:
    """Each optional variable's group: variables named alike join, minted variables follow their
    deepest optional field, and optional variables of one nesting level that share a triple are bound
    together (one group)."""
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    def join(a: str, b: str) -> None:
        parent[root(a)] = root(b)

    named: dict[str, str] = {}
    for name, variable in variables.items():
        if variable.optional:
            parent[name] = name
            if isinstance(variable.optional, str):
                if variable.optional in named:
                    join(name, named[variable.optional])
                named.setdefault(variable.optional, name)
    changed = True
    while changed:
        changed = False
        for name, variable in variables.items():
            if name in parent or variable.fed:
                continue
            fields = [f for f in variable.needs if f in parent]
            if fields:
                parent[name] = name
                join(name, max(fields, key=lambda f: levels.get(f, 0)))
                changed = True
    for triple in pattern.triples:
        optional = [v.name for v in triple if isinstance(v, Var) and v.name in parent]
        if optional:
            top = max(levels.get(n, 0) for n in optional)
            deepest = [n for n in optional if levels.get(n, 0) == top]
            for other in deepest[1:]:
                join(other, deepest[0])
    return {name: root(name) for name in parent}


def _names(group: Mapping[str, str], variables: Mapping[str, Variable]) -> dict[str, str]:
    """A part name per group: its declared name, else the JSON key of its first fed variable."""
    names: dict[str, str] = {}
    for home in sorted(set(group.values())):
        declared = next((variables[n].optional for n in group if group[n] == home
                         and isinstance(variables[n].optional, str)), None)
        if declared:
            names[home] = declared
            continue
        fed = sorted(n for n in group if group[n] == home and variables[n].fed)
        keys = [step.name for step in variables[fed[0]].path.walk if isinstance(step, Key)] if fed else []
        key = keys[-1] if keys else home
        names[home] = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-") or home
    if len(set(names.values())) != len(names):
        raise DescriptionError(f"optional groups with the same name: {sorted(names.values())}; name them")
    return names


def _tree_order(parent: Mapping[str, str]) -> list[str]:
    order: list[str] = []
    todo = [CORE]
    while todo:
        current = todo.pop(0)
        children = sorted(p for p, q in parent.items() if q == current)
        order += children
        todo += children
    return order


def _context(pattern: Pattern, anchors: Iterable[str], variables: Mapping[str, Variable],
             exclude: frozenset[str]) -> list[Triple]:
    """The type triples of each anchor node and the triples that tie it to the JSON values its IRI is
    minted from (so a peer can tell which thing a part is about without the core)."""
    anchors = set(anchors)
    out: list[Triple] = []
    for s, p, o in pattern.triples:
        if not isinstance(s, Var) or s.name not in anchors:
            continue
        if p == RDF.type and not isinstance(o, Var):
            out.append((s, p, o))
            continue
        fields = set(template_fields(variables[s.name].template or ""))
        if isinstance(o, Var) and o.name in fields and o.name not in exclude:
            out.append((s, p, o))
    return out
