"""When two knowledge interactions match at reasoner level 1, as the real Knowledge Engine decides it.

The KE 1.5.0 matches at level 1 with its ``ENTRY_LEVEL`` strategy (one-to-one, single rule, fully
covered; docs/ke.md, "Level 1 is covering"): one interaction's pattern *covers* another's when each of
its triples meets a distinct triple of the other under one consistent, one-to-one correspondence of
terms, where a variable may meet a variable or a constant and two constants must be the same value
(such pairs are not part of the correspondence, as in the KE's ``Match``). One corner is stricter
than the KE: it does not check the correspondence inside a single triple (``?x ex:knows ?x`` meets
``?a ex:knows ?b`` there), this module does.
The covering side may hold more triples (an ANSWER may say more than the ASK asks for). For
POST/REACT both argument patterns must cover each other (the same number of triples)::

    >>> from dso_saref.patterns import parse
    >>> ex = {"ex": "http://example.org/ns#"}
    >>> ask = PatternShape.of([parse("?x ex:label ?y .", ex)])
    >>> answer = PatternShape.of([parse("?m ex:label ?l . ?m a ex:Thing .", ex)])
    >>> cover(ask, answer).renaming
    {'x': 'm', 'y': 'l'}

Isomorphic patterns (the usual case between our own roles) take :func:`find_renaming`'s fast path;
everything else is a backtracking search over candidate triples that counts its steps against a budget
(:class:`MatchBudgetExceeded` past it).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

from rdflib import Literal, URIRef

from dso_saref.ke.emulator_match import (
    DEFAULT_MATCH_BUDGET,
    MatchBudgetExceeded,
    PatternShape,
    TaggedTriple,
    find_renaming,
)
from dso_saref.patterns import Term, Var

__all__ = ["Correspondence", "TermPairing", "cover", "same_value", "value_key"]


@dataclass(frozen=True)
class Correspondence:
    """How an initiator's pattern meets a target's: the image of each initiator term (variable or
    constant) in the target's pattern, and which target triples were met."""

    images: Mapping[Term, Term]
    met: frozenset[TaggedTriple] = field(default_factory=frozenset)

    @property
    def renaming(self) -> dict[str, str]:
        """Initiator variable -> the target variable it meets."""
        return {k.name: v.name for k, v in self.images.items() if isinstance(k, Var) and isinstance(v, Var)}

    @property
    def filled(self) -> dict[str, URIRef | Literal]:
        """Initiator variable -> the target's constant it meets (the KE fills it in for the initiator)."""
        return {k.name: v for k, v in self.images.items() if isinstance(k, Var) and not isinstance(v, Var)}

    @property
    def fixed(self) -> dict[str, URIRef | Literal]:
        """Target variable -> the initiator's constant it meets (the KE binds it for the target)."""
        return {v.name: k for k, v in self.images.items() if isinstance(v, Var) and not isinstance(k, Var)}


def same_value(left: Term, right: Term) -> bool:
    """Whether two constants are the same RDF value (``"21.20"^^xsd:decimal`` = ``"21.2"^^xsd:decimal``)."""
    return value_key(left) == value_key(right)


def value_key(term: Term) -> Hashable:
    """A key equal for terms that are the same RDF value (a variable is its own key)."""
    if isinstance(term, Literal):
        if term.value is not None and not isinstance(term.value, bytes):
            return ("literal", term.language, type(term.value).__name__, term.value)
        return ("literal", term.language, str(term.datatype), str(term))
    return term


class TermPairing:
    """A one-to-one, consistent pairing of terms (left -> right), built and undone step by step.

    Pairs of two constants are not recorded (the caller has checked they are the same value), as in
    the KE's ``Match``; a variable may pair with a variable or a constant."""

    def __init__(self) -> None:
        self.forward: dict[Hashable, Term] = {}
        self.backward: dict[Hashable, Hashable] = {}

    def pair(self, pairs: Iterable[tuple[Term, Term]]) -> list[Hashable] | None:
        """Record ``pairs``; the keys added (for :meth:`undo`), or ``None`` (nothing recorded) when one
        contradicts what is recorded."""
        added: list[Hashable] = []
        for term, there in pairs:
            if not isinstance(term, Var) and not isinstance(there, Var):
                continue
            key, other = value_key(term), value_key(there)
            if key in self.forward:
                if value_key(self.forward[key]) != other:
                    break
                continue
            if other in self.backward:
                break
            self.forward[key], self.backward[other] = there, key
            added.append(key)
        else:
            return added
        self.undo(added)
        return None

    def undo(self, added: list[Hashable]) -> None:
        """Forget the pairs :meth:`pair` added."""
        for key in added:
            self.backward.pop(value_key(self.forward.pop(key)))

    def images(self, triples: Iterable[TaggedTriple]) -> dict[Term, Term]:
        """Each recorded left term of ``triples`` -> its right term."""
        terms = {value_key(t): t for triple in triples for t in triple[1:]}
        return {terms[key]: image for key, image in self.forward.items()}


def cover(
    initiator: PatternShape, target: PatternShape, *, both_ways: bool = False, budget: int = DEFAULT_MATCH_BUDGET
) -> Correspondence | None:
    """How ``target`` covers ``initiator`` (every initiator triple meets its own target triple of the
    same tag), or ``None``; ``both_ways`` also asks the converse (the same number of triples per tag).
    Raises :class:`MatchBudgetExceeded` after ``budget`` steps."""
    left, right = sorted(initiator.triples, key=_order), sorted(target.triples, key=_order)
    if not _counts_allow(left, right, both_ways):
        return None
    if initiator.signature == target.signature and initiator.ground == target.ground:
        renaming = find_renaming(initiator, target, budget=budget)
        if renaming is not None:
            return Correspondence({Var(k): Var(v) for k, v in renaming.items()}, frozenset(right))
    return _search(left, right, budget)


def _order(triple: TaggedTriple) -> tuple[int, str, str, str]:
    return (triple[0], str(triple[1]), str(triple[2]), str(triple[3]))


def _counts_allow(left: list[TaggedTriple], right: list[TaggedTriple], both_ways: bool) -> bool:
    for tag in {t[0] for t in left} | {t[0] for t in right}:
        have, need = sum(t[0] == tag for t in right), sum(t[0] == tag for t in left)
        if have < need or (both_ways and have != need):
            return False
    return True


def _may_mix(left: list[TaggedTriple], right: list[TaggedTriple], keys: Mapping[TaggedTriple, tuple[Hashable, ...]]
             ) -> bool:
    """Whether a triple of ``left`` might meet one of ``right`` with a variable against a constant in its
    subject or object (a variable predicate: always): with the same predicate, one side's variable and
    the other's constant in the same place. Linear: it spares a near miss the candidate search."""
    places: list[dict[tuple[int, Hashable, int], set[bool]]] = []
    for triples in (left, right):
        kinds: dict[tuple[int, Hashable, int], set[bool]] = {}
        for triple in triples:
            subject, predicate, obj = keys[triple]
            if predicate is None:
                return True
            kinds.setdefault((triple[0], predicate, 0), set()).add(subject is None)
            kinds.setdefault((triple[0], predicate, 2), set()).add(obj is None)
        places.append(kinds)
    mine, theirs = places
    return any(len(mine[place] | theirs[place]) > 1 for place in mine.keys() & theirs.keys())


def _search(left: list[TaggedTriple], right: list[TaggedTriple], budget: int) -> Correspondence | None:
    """Backtracking: initiator triples in connected order (fewest candidates first), each tried on
    every still unmet target triple whose constants fit, keeping the term correspondence one-to-one."""
    keys = {t: tuple(None if isinstance(x, Var) else value_key(x) for x in t[1:]) for t in (*left, *right)}
    if len(left) == len(right) and not _may_mix(left, right, keys):
        return None  # variables can meet only variables: a cover would be an isomorphism, and there is none
    by_predicate: dict[tuple[int, Hashable], list[TaggedTriple]] = {}
    for r in right:
        by_predicate.setdefault((r[0], keys[r][1]), []).append(r)
    candidates: dict[TaggedTriple, list[TaggedTriple]] = {}
    mixed = False
    for t in left:
        mine = keys[t]
        pool = [r for r in right if r[0] == t[0]] if mine[1] is None else [
            *by_predicate.get((t[0], mine[1]), ()), *by_predicate.get((t[0], None), ())]
        found = []
        for r in pool:
            theirs = keys[r]
            if all(a is None or b is None or a == b for a, b in zip(mine, theirs, strict=True)):
                found.append(r)
                mixed = mixed or any((a is None) != (b is None) for a, b in zip(mine, theirs, strict=True))
        if not found:
            return None
        candidates[t] = found
    if not mixed and len(left) == len(right):
        return None  # variables meet only variables: a cover would be an isomorphism, and there is none
    order: list[TaggedTriple] = []
    seen: set[Term] = set()
    rest = set(left)
    while rest:
        best = min(rest, key=lambda t: (not any(x in seen for x in t[1:] if isinstance(x, Var)),
                                        len(candidates[t]), _order(t)))
        rest.discard(best)
        order.append(best)
        seen.update(x for x in best[1:] if isinstance(x, Var))
    terms = TermPairing()
    met: set[TaggedTriple] = set()
    steps = 0

    # per placed triple: the next candidate index to try, the target triple it met and what it bound
    stack: list[tuple[int, TaggedTriple | None, list[Hashable]]] = [(0, None, [])]
    while stack:
        i = len(stack) - 1
        start, there, added = stack.pop()
        if there is not None:
            met.discard(there)
            terms.undo(added)
        triple = order[i]
        for k in range(start, len(candidates[triple])):
            steps += 1
            if steps > budget:
                raise MatchBudgetExceeded(budget)
            option = candidates[triple][k]
            if option in met:
                continue
            bound = terms.pair(zip(triple[1:], option[1:], strict=True))
            if bound is None:
                continue
            met.add(option)
            stack.append((k + 1, option, bound))
            if len(stack) == len(order):
                return Correspondence(terms.images(left), frozenset(met))
            stack.append((0, None, []))
            break
    return None
