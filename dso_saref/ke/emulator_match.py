"""Pattern matching as the Knowledge Engine does it at reasoner level 1, without factorial search.

Two knowledge interactions match when their graph patterns are the same set of triples up to a
renaming of variables (POST/REACT: the argument and the result patterns under one renaming). A
:class:`PatternShape` is computed once per registered pattern; :func:`find_renaming` then compares
two shapes within a step budget::

    >>> from dso_saref.patterns import parse
    >>> ex = {"ex": "http://example.org/ns#"}
    >>> left = PatternShape.of([parse("?m ex:p ?v . ?m a ex:C .", ex)])
    >>> right = PatternShape.of([parse("?x a ex:C . ?x ex:p ?y .", ex)])
    >>> find_renaming(left, right, budget=10_000)
    {'m': 'x', 'v': 'y'}

How it prunes, cheapest first: the shapes' signatures (triple count, variable count and the multiset
of triple signatures after colour refinement) must be equal; ground triples must be equal; the
patterns split into connected components, each matched to a component of equal signature (pattern
isomorphism is an equivalence, so the first fitting one will do); inside a component, variables are
mapped in connected order, each one's candidates read from an index of the other pattern's triples
and kept only if they carry the same colour, and every triple is checked as soon as all its variables
are mapped. Every candidate looked at is a step; past the budget :class:`MatchBudgetExceeded` is
raised (the caller treats it as no match).
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from dso_saref.patterns import Pattern, Term, Var

__all__ = ["DEFAULT_MATCH_BUDGET", "MatchBudgetExceeded", "PatternShape", "find_renaming"]

#: Steps (candidate triples and variables looked at) one comparison may take before it gives up.
DEFAULT_MATCH_BUDGET = 200_000
#: Colour refinement stops after this many term visits (long chains would otherwise need a round
#: per variable); both sides of a comparison have the same size, so they stop at the same round.
_REFINE_WORK = 400_000
_SELF = -1

TaggedTriple = tuple[int, Term, Term, Term]
"""A triple of the pattern with the index of the pattern it came from (0: argument, 1: result)."""


class MatchBudgetExceeded(Exception):
    """A comparison took more steps than its budget; it is treated as no match."""

    def __init__(self, budget: int) -> None:
        super().__init__(f"pattern matching gave up after {budget} steps")
        self.budget = budget


class _Steps:
    """Counts the work of one comparison against its budget."""

    __slots__ = ("budget", "count")

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.count = 0

    def tick(self, n: int = 1) -> None:
        self.count += n
        if self.count > self.budget:
            raise MatchBudgetExceeded(self.budget)


@dataclass(frozen=True, eq=False)
class _Component:
    """A connected part of a pattern (triples linked through shared variables)."""

    triples: tuple[TaggedTriple, ...]
    variables: tuple[Var, ...]
    signature: tuple[int, ...]
    index: Mapping[tuple[int, int, Term], tuple[TaggedTriple, ...]]
    """(tag, position, term) -> the component's triples holding that term there."""


@dataclass(frozen=True, eq=False)
class _Plan:
    """The order in which a component's variables are mapped, with, per step, the triples that can
    propose candidates (they hold the variable and something already known), the triples that become
    fully mapped at that step, and whether the variable is a twin of the one before it (the two can
    be swapped without changing the pattern, so their images may be taken in index order)."""

    order: tuple[Var, ...]
    anchors: tuple[tuple[TaggedTriple, ...], ...]
    checks: tuple[tuple[TaggedTriple, ...], ...]
    twins: tuple[bool, ...]


def _is_var(term: object) -> bool:
    return isinstance(term, Var)


@dataclass(frozen=True, eq=False)
class PatternShape:
    """What matching needs to know about one pattern (or an argument + result pair), computed once.

    ``colour`` is the stable colour of every variable after colour refinement (equal colours for
    variables that an isomorphism may swap); ``signature`` is an isomorphism invariant: two shapes
    with different signatures never match.
    """

    triples: frozenset[TaggedTriple]
    ground: frozenset[TaggedTriple]
    colour: Mapping[Var, int]
    signature: tuple[int, int, tuple[int, ...]]
    components: tuple[_Component, ...]
    plans: tuple[_Plan, ...]

    @classmethod
    def of(cls, patterns: Sequence[Pattern]) -> PatternShape:
        """The shape of ``patterns`` taken together, each one's triples tagged with its position."""
        triples = frozenset((tag, *triple) for tag, pattern in enumerate(patterns) for triple in pattern.triples)
        variables = sorted({t for triple in triples for t in triple[1:] if _is_var(t)}, key=lambda v: v.name)
        colour = _refine(triples, variables)
        triple_sig = {triple: _triple_signature(triple, colour) for triple in triples}
        components = _components(triples, variables, triple_sig)
        return cls(
            triples=triples,
            ground=frozenset(t for t in triples if not any(_is_var(x) for x in t[1:])),
            colour=colour,
            signature=(len(triples), len(variables), tuple(sorted(triple_sig.values()))),
            components=components,
            plans=tuple(_plan(component, colour) for component in components),
        )


def _term_token(term: Term, colour: Mapping[Var, int]) -> int:
    return hash(("?", colour[term])) if _is_var(term) else hash(("=", term))  # type: ignore[index]


def _triple_signature(triple: TaggedTriple, colour: Mapping[Var, int]) -> int:
    return hash((triple[0], *(_term_token(t, colour) for t in triple[1:])))


def _refine(triples: frozenset[TaggedTriple], variables: list[Var]) -> dict[Var, int]:
    """Colour refinement (1-dimensional Weisfeiler-Leman) of the variables: a variable's colour is
    refined by the multiset of the triples around it, written with the colours of their other terms,
    until the partition into colours stops growing (or the work bound is reached)."""
    around: defaultdict[Var, list[TaggedTriple]] = defaultdict(list)
    for triple in triples:
        for var in {t for t in triple[1:] if _is_var(t)}:
            around[var].append(triple)  # type: ignore[index]
    colour: dict[Var, int] = dict.fromkeys(variables, 0)
    classes = 1 if variables else 0
    visits = sum(len(found) for found in around.values()) or 1
    for _ in range(max(2, _REFINE_WORK // visits)):
        refined: dict[Var, int] = {}
        for var in variables:
            context = sorted(
                hash((triple[0], *(_SELF if t == var else _term_token(t, colour) for t in triple[1:])))
                for triple in around[var]
            )
            refined[var] = hash((colour[var], *context))
        colour = refined
        count = len(set(colour.values()))
        if count == classes:
            break
        classes = count
    return colour


def _components(
    triples: frozenset[TaggedTriple], variables: list[Var], triple_sig: Mapping[TaggedTriple, int]
) -> tuple[_Component, ...]:
    parent = {var: var for var in variables}

    def root(var: Var) -> Var:
        while parent[var] is not var:
            parent[var] = parent[parent[var]]
            var = parent[var]
        return var

    for triple in triples:
        held = [t for t in triple[1:] if _is_var(t)]
        for other in held[1:]:
            a, b = root(held[0]), root(other)  # type: ignore[arg-type]
            if a is not b:
                parent[b] = a
    grouped: defaultdict[Var, list[TaggedTriple]] = defaultdict(list)
    for triple in triples:
        first = next((t for t in triple[1:] if _is_var(t)), None)
        if first is not None:
            grouped[root(first)].append(triple)  # type: ignore[arg-type]
    members: defaultdict[Var, list[Var]] = defaultdict(list)
    for var in variables:
        members[root(var)].append(var)
    return tuple(
        _Component(tuple(found), tuple(members[key]), tuple(sorted(triple_sig[t] for t in found)), _index(found))
        for key, found in grouped.items()
    )


def _index(triples: list[TaggedTriple]) -> dict[tuple[int, int, Term], tuple[TaggedTriple, ...]]:
    index: defaultdict[tuple[int, int, Term], list[TaggedTriple]] = defaultdict(list)
    for triple in triples:
        for position in (1, 2, 3):
            index[(triple[0], position, triple[position])].append(triple)
    return {key: tuple(found) for key, found in index.items()}


def _plan(component: _Component, colour: Mapping[Var, int]) -> _Plan:
    """Map rare-coloured, well-connected variables first, then always a neighbour of what is mapped,
    twins one after the other."""
    class_size = Counter(colour[v] for v in component.variables)
    around: defaultdict[Var, list[TaggedTriple]] = defaultdict(list)
    for triple in component.triples:
        for var in dict.fromkeys(t for t in triple[1:] if _is_var(t)):
            around[var].append(triple)  # type: ignore[index]
    surroundings = {var: _surroundings(var, around[var]) for var in component.variables}
    groups: defaultdict[frozenset[TaggedTriple], list[Var]] = defaultdict(list)
    for var in component.variables:
        groups[surroundings[var]].append(var)
    group: dict[Var, str] = {}
    for members in groups.values():
        first = min(v.name for v in members)
        group.update(dict.fromkeys(members, first))
    links: Counter[Var] = Counter()
    for var in component.variables:  # a triple with a constant anchors its variables from the start
        links[var] = sum(1 for t in around[var] if not all(_is_var(x) for x in t[1:]))

    def rank(var: Var) -> tuple[int, int, int, str, str]:
        return (-links[var], class_size[colour[var]], -len(around[var]), group[var], var.name)

    heap = [rank(var) for var in component.variables]
    heapq.heapify(heap)
    by_name = {var.name: var for var in component.variables}
    placed: set[Var] = set()
    order: list[Var] = []
    anchors: list[tuple[TaggedTriple, ...]] = []
    checks: list[tuple[TaggedTriple, ...]] = []
    twins: list[bool] = []
    while heap:
        entry = heapq.heappop(heap)
        var = by_name[entry[4]]
        if var in placed or entry != rank(var):
            continue
        known = [t for t in around[var] if any(not _is_var(x) or x in placed for x in t[1:])]
        twins.append(bool(order) and surroundings[order[-1]] == surroundings[var]
                     and not any(order[-1] in t[1:] for t in around[var]))
        placed.add(var)
        order.append(var)
        anchors.append(tuple(known))
        checks.append(tuple(t for t in around[var] if all(not _is_var(x) or x in placed for x in t[1:])))
        for triple in around[var]:
            for other in dict.fromkeys(t for t in triple[1:] if _is_var(t) and t not in placed):
                links[other] += 1  # type: ignore[index]
                heapq.heappush(heap, rank(other))  # type: ignore[arg-type]
    return _Plan(tuple(order), tuple(anchors), tuple(checks), tuple(twins))


_BLANK = Var("")


def _surroundings(var: Var, triples: list[TaggedTriple]) -> frozenset[TaggedTriple]:
    """The triples around ``var`` with ``var`` blanked out: equal for twins."""
    return frozenset((t[0], *(_BLANK if x == var else x for x in t[1:])) for t in triples)  # type: ignore[misc]


def find_renaming(
    left: PatternShape, right: PatternShape, *, budget: int = DEFAULT_MATCH_BUDGET
) -> dict[str, str] | None:
    """The renaming of ``left``'s variables onto ``right``'s that makes the two the same set of
    tagged triples, or ``None``; raises :class:`MatchBudgetExceeded` after ``budget`` steps."""
    if left.signature != right.signature or left.ground != right.ground:
        return None
    steps = _Steps(budget)
    pools: defaultdict[tuple[int, ...], list[int]] = defaultdict(list)
    for i, component in enumerate(right.components):
        pools[component.signature].append(i)
    renaming: dict[str, str] = {}
    for i, component in enumerate(left.components):
        pool = pools[component.signature]
        for k, j in enumerate(pool):
            found = _component_renaming(left, i, right, j, steps)
            if found is not None:
                del pool[k]
                renaming.update((a.name, b.name) for a, b in found.items())
                break
        else:
            return None
    return renaming


def _component_renaming(
    left: PatternShape, i: int, right: PatternShape, j: int, steps: _Steps
) -> dict[Var, Var] | None:
    """Backtracking over the candidate images of one left component's variables in one right component."""
    plan = left.plans[i]
    colour, other_colour = left.colour, right.colour
    target = right.components[j]
    mapping: dict[Var, Var] = {}
    used: set[Var] = set()
    # per step: the index list its candidates came from and the position of the current one
    chosen: list[tuple[tuple[TaggedTriple, ...], int]] = []

    def image(term: Term) -> Term:
        return mapping.get(term, term) if _is_var(term) else term  # type: ignore[arg-type]

    def candidates(step: int) -> Iterator[tuple[tuple[TaggedTriple, ...], int, Var]]:
        var = plan.order[step]
        if not plan.anchors[step]:
            starts = tuple(v for v in target.variables if other_colour[v] == colour[var])
            yield from ((starts, k, v) for k, v in enumerate(starts))  # type: ignore[misc]
            return
        # the shortest index list wins; ties are broken the same way for twins, so they share the list
        choice: tuple[int, int, int, str, TaggedTriple] | None = None
        for triple in plan.anchors[step]:
            for position in (1, 2, 3):
                term = triple[position]
                if not _is_var(term) or term in mapping:
                    key = (triple[0], position, image(term))
                    rank = (len(target.index.get(key, ())), triple[0], position, str(key[2]), triple)
                    if choice is None or rank[:4] < choice[:4]:
                        choice = rank
        if choice is None:  # cannot happen: every anchor holds a constant or a mapped variable
            return
        anchor = choice[4]
        best = target.index.get((choice[1], choice[2], image(anchor[choice[2]])), ())
        first = 0
        if plan.twins[step] and chosen[step - 1][0] is best:
            first = chosen[step - 1][1] + 1
        seen: set[Var] = set()
        for k in range(first, len(best)):
            steps.tick()
            proposed = _proposal(anchor, best[k], var, mapping)
            if proposed is not None and proposed not in seen:
                seen.add(proposed)
                yield best, k, proposed

    stack: list[Iterator[tuple[tuple[TaggedTriple, ...], int, Var]]] = [candidates(0)]
    while stack:
        step = len(stack) - 1
        var = plan.order[step]
        previous = mapping.pop(var, None)
        if previous is not None:
            used.discard(previous)
            chosen.pop()
        for source, k, candidate in stack[-1]:
            steps.tick()
            if candidate in used or other_colour[candidate] != colour[var]:
                continue
            mapping[var] = candidate
            if all((t[0], image(t[1]), image(t[2]), image(t[3])) in right.triples for t in plan.checks[step]):
                used.add(candidate)
                chosen.append((source, k))
                break
            del mapping[var]
        else:
            stack.pop()
            continue
        if len(stack) == len(plan.order):
            return dict(mapping)
        stack.append(candidates(len(stack)))
    return None


def _proposal(anchor: TaggedTriple, candidate: TaggedTriple, var: Var, mapping: Mapping[Var, Var]) -> Var | None:
    """The variable ``candidate`` offers as ``var``'s image if it fits ``anchor`` where that is known."""
    proposed: Var | None = None
    for position in (1, 2, 3):
        term, there = anchor[position], candidate[position]
        if term == var:
            if not _is_var(there) or (proposed is not None and there != proposed):
                return None
            proposed = there  # type: ignore[assignment]
        elif _is_var(term):
            known = mapping.get(term)  # type: ignore[call-overload]
            if (known is None and not _is_var(there)) or (known is not None and known != there):
                return None
        elif term != there:
            return None
    return proposed
