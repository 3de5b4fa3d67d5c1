"""How far apart two graph patterns are: the best pairing of their triples, and what differs.

Used to explain a near miss (``dso-saref ke match``): a peer's pattern and one of ours are paired
triple by triple under one consistent correspondence of variables (a variable may also meet a
constant, as in the Knowledge Engine); a pair may differ in one constant (a misspelt term, another
unit); what is left over is *extra* (only in theirs) or *missing* (only in ours)::

    >>> from dso_saref.patterns import parse
    >>> ex = {"ex": "http://example.org/ns#"}
    >>> theirs = parse("?m ex:unit ex:kiloWatt . ?m ex:v ?x .", ex)
    >>> found = align(theirs, parse("?a ex:v ?b . ?a ex:unit ex:kilowatt .", ex))
    >>> [(str(d.theirs), str(d.ours)) for d in found.different]
    [('http://example.org/ns#kiloWatt', 'http://example.org/ns#kilowatt')]

The search is a branch and bound over the pairings, most constrained triple first, within a step budget
(past it, the best pairing found so far is reported).
"""

from __future__ import annotations

from dataclasses import dataclass

from dso_saref.ke.covering import TermPairing, same_value
from dso_saref.patterns import Pattern, Term, Triple, Var

__all__ = ["Alignment", "Difference", "align"]

#: Pairings looked at before the best one so far is taken.
DEFAULT_ALIGN_BUDGET = 20_000
_EXACT, _CLOSE = 3, 1
_POSITIONS = ("subject", "predicate", "object")


@dataclass(frozen=True)
class Difference:
    """A triple of theirs paired with one of ours that differ in one constant at ``position``."""

    theirs_triple: Triple
    ours_triple: Triple
    position: str
    theirs: Term
    ours: Term


@dataclass(frozen=True)
class Alignment:
    """The best pairing found: exact pairs, pairs differing in one constant, and the left-overs."""

    exact: tuple[tuple[Triple, Triple], ...]
    different: tuple[Difference, ...]
    extra: tuple[Triple, ...]
    missing: tuple[Triple, ...]
    renaming: dict[str, str]
    """Their variable -> our variable, for the variables paired with variables."""

    @property
    def score(self) -> float:
        """From 0 (nothing in common) to 1 (every triple of both paired exactly)."""
        size = len(self.exact) + len(self.different) + max(len(self.extra), len(self.missing))
        return (len(self.exact) + 0.5 * len(self.different)) / size if size else 1.0


def _compare(mine: Triple, theirs: Triple) -> int | None:
    """The position of the one constant that differs (-1: none), or ``None`` when they cannot pair:
    two constants differ, or one differs and no other constant is shared (nothing ties them)."""
    differing, shared = -1, False
    for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        if isinstance(a, Var) or isinstance(b, Var):
            continue
        if same_value(a, b):
            shared = True
        elif differing >= 0:
            return None
        else:
            differing = i
    return differing if differing < 0 or shared else None


def align(theirs: Pattern, ours: Pattern, *, budget: int = DEFAULT_ALIGN_BUDGET) -> Alignment:
    """The pairing of ``theirs``'s triples with ``ours``'s that keeps the most triples exact (then the
    most differing in one constant only), under one correspondence of variables."""
    left = list(dict.fromkeys(theirs.triples))
    right = list(dict.fromkeys(ours.triples))
    options = {t: [(j, d) for j, r in enumerate(right) if (d := _compare(t, r)) is not None] for t in left}
    order = sorted(left, key=lambda t: (-sum(not isinstance(x, Var) for x in t), len(options[t]), str(t)))
    terms = TermPairing()
    chosen: list[tuple[Triple, int, int] | None] = []
    used: set[int] = set()
    best: tuple[int, list[tuple[Triple, int, int] | None]] = (-1, [])
    steps = 0

    def search(i: int, score: int) -> None:
        nonlocal best, steps
        if score + _EXACT * (len(order) - i) <= best[0] or steps > budget:
            return
        if i == len(order):
            best = (score, list(chosen))
            return
        triple = order[i]
        for j, differing in sorted(options[triple], key=lambda o: o[1] >= 0):
            steps += 1
            if j in used:
                continue
            added = terms.pair((a, b) for i, (a, b) in enumerate(zip(triple, right[j], strict=True)) if i != differing)
            if added is None:
                continue
            used.add(j)
            chosen.append((triple, j, differing))
            search(i + 1, score + (_EXACT if differing < 0 else _CLOSE))
            chosen.pop()
            used.discard(j)
            terms.undo(added)
        chosen.append(None)
        search(i + 1, score)
        chosen.pop()

    search(0, 0)
    return _alignment(best[1] or [None] * len(order), order, right)


def _alignment(pairs: list[tuple[Triple, int, int] | None], order: list[Triple], right: list[Triple]) -> Alignment:
    exact, different, extra, renaming = [], [], [], {}
    paired: set[int] = set()
    for triple, pair in zip(order, pairs, strict=True):
        if pair is None:
            extra.append(triple)
            continue
        _, j, differing = pair
        paired.add(j)
        there = right[j]
        renaming.update((a.name, b.name) for a, b in zip(triple, there, strict=True)
                        if isinstance(a, Var) and isinstance(b, Var))
        if differing < 0:
            exact.append((triple, there))
        else:
            different.append(Difference(triple, there, _POSITIONS[differing], triple[differing], there[differing]))
    missing = [r for j, r in enumerate(right) if j not in paired]
    return Alignment(tuple(exact), tuple(different), tuple(extra), tuple(missing), renaming)
