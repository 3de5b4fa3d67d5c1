"""The stand-in's pattern matcher (KE reasoner level 1: the same triples up to variable names and
order, argument and result under one renaming): renamed and shuffled patterns match, a single
changed triple does not, it agrees with a brute-force reference on small patterns, and it stays
within its step budget on the inputs that made the old matcher factorial."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from itertools import permutations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ke_support import KB_A, KB_B, serve
from rdflib import Literal, URIRef

from dso_saref.ke import EmulatorServer, KnowledgeEngineClient
from dso_saref.ke.emulator_match import DEFAULT_MATCH_BUDGET, MatchBudgetExceeded, PatternShape, find_renaming
from dso_saref.ke.emulator_rules import ANSWER, ASK, Interaction, match
from dso_saref.patterns import Pattern, Term, Var, parse

EX = "http://example.org/ns#"
PREFIXES = {"ex": EX}
CONSTANTS = [URIRef(EX + "p"), URIRef(EX + "q"), URIRef(EX + "C"), Literal("x"), Literal(1)]
FRESH = URIRef(EX + "fresh")

Tagged = set[tuple[int, Term, Term, Term]]


@st.composite
def patterns(draw: st.DrawFn, names: str = "abcde", most: int = 6) -> Pattern:
    """A small pattern: variables from ``names``, constants from :data:`CONSTANTS`."""
    variables = [Var(n) for n in names]
    term = st.sampled_from([*variables, *CONSTANTS])
    triples = draw(st.lists(st.tuples(st.sampled_from([*variables, CONSTANTS[2]]), term, term),
                            min_size=1, max_size=most, unique=True))
    return Pattern(tuple(triples))


def tagged(parts: list[Pattern]) -> Tagged:
    return {(tag, *triple) for tag, part in enumerate(parts) for triple in part.triples}


def variables_of(triples: Tagged) -> list[str]:
    return sorted({t.name for triple in triples for t in triple[1:] if isinstance(t, Var)})


def rename(parts: list[Pattern], mapping: dict[str, str], rnd: random.Random) -> list[Pattern]:
    """``parts`` with every variable renamed through ``mapping`` and the triples shuffled."""
    out = []
    for part in parts:
        triples = [tuple(Var(mapping[t.name]) if isinstance(t, Var) else t for t in triple) for triple in part.triples]
        rnd.shuffle(triples)
        out.append(Pattern(tuple(triples)))  # type: ignore[arg-type]
    return out


def applied(triples: Tagged, mapping: dict[str, str]) -> Tagged:
    return {(tag, *(Var(mapping[t.name]) if isinstance(t, Var) else t for t in rest)) for tag, *rest in triples}


def brute_force(left: list[Pattern], right: list[Pattern]) -> bool:
    """The definition itself: some bijection of variables makes the tagged triple sets equal."""
    a, b = tagged(left), tagged(right)
    names_a, names_b = variables_of(a), variables_of(b)
    if len(a) != len(b) or len(names_a) != len(names_b):
        return False
    return any(applied(a, dict(zip(names_a, image, strict=True))) == b for image in permutations(names_b))


def renaming(left: list[Pattern], right: list[Pattern], budget: int = 200_000) -> dict[str, str] | None:
    return find_renaming(PatternShape.of(left), PatternShape.of(right), budget=budget)


def fresh_names(names: list[str], rnd: random.Random) -> dict[str, str]:
    images = [f"v{i}" for i in range(len(names))]
    rnd.shuffle(images)
    return dict(zip(names, images, strict=True))


@settings(max_examples=150, deadline=None)
@given(st.lists(patterns(most=8), min_size=1, max_size=2), st.randoms(use_true_random=False))
def test_a_renamed_and_shuffled_pattern_matches(parts: list[Pattern], rnd: random.Random) -> None:
    mapping = fresh_names(variables_of(tagged(parts)), rnd)
    other = rename(parts, mapping, rnd)
    found = renaming(parts, other)
    assert found is not None
    assert applied(tagged(parts), found) == tagged(other)


def changed(parts: list[Pattern], rnd: random.Random) -> list[Pattern] | None:
    """``parts`` with one term of one triple changed so that no renaming can undo it: a fresh
    constant, or a fresh variable in place of a variable that occurs elsewhere too."""
    tag = rnd.randrange(len(parts))
    triples = list(parts[tag].triples)
    row = rnd.randrange(len(triples))
    position = rnd.randrange(3)
    old = triples[row][position]
    occurrences = sum(t == old for p in parts for triple in p.triples for t in triple)
    if isinstance(old, Var) and occurrences > 1 and rnd.random() < 0.5:
        new: Term = Var("fresh")
    else:
        new = FRESH
    triple = list(triples[row])
    triple[position] = new
    triples[row] = tuple(triple)  # type: ignore[assignment]
    if len(set(triples)) != len(triples):
        return None
    return [*parts[:tag], Pattern(tuple(triples)), *parts[tag + 1:]]


@settings(max_examples=150, deadline=None)
@given(st.lists(patterns(most=8), min_size=1, max_size=2), st.randoms(use_true_random=False))
def test_a_single_changed_triple_does_not_match(parts: list[Pattern], rnd: random.Random) -> None:
    other = changed(rename(parts, fresh_names(variables_of(tagged(parts)), rnd), rnd), rnd)
    if other is None:
        return
    assert renaming(parts, other) is None
    assert renaming(other, parts) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(patterns(names="abcd"), min_size=1, max_size=2), st.data())
def test_the_matcher_agrees_with_brute_force(parts: list[Pattern], data: st.DataObject) -> None:
    rnd = data.draw(st.randoms(use_true_random=False))
    if data.draw(st.booleans()):
        other = data.draw(st.lists(patterns(names="wxyz"), min_size=len(parts), max_size=len(parts)))
    else:  # close to the left one: renamed, shuffled, one term replaced by another of the vocabulary
        other = rename(parts, fresh_names(variables_of(tagged(parts)), rnd), rnd)
        tag = rnd.randrange(len(other))
        triples = [list(t) for t in other[tag].triples]
        pool = [*{t for triple in triples for t in triple if isinstance(t, Var)}, *CONSTANTS]
        triples[rnd.randrange(len(triples))][rnd.randrange(3)] = rnd.choice(pool)
        other[tag] = Pattern(tuple(dict.fromkeys(tuple(t) for t in triples)))  # type: ignore[misc]
    found = renaming(parts, other)
    assert (found is not None) == brute_force(parts, other)
    if found is not None:
        assert applied(tagged(parts), found) == tagged(other)


def disjoint_plus_one(n: int, *, isomorphic: bool) -> tuple[Pattern, Pattern]:
    """The review's blow-up: n disjoint triples plus one linking two of them (or, on the right when
    not isomorphic, linking a triple to itself); every triple shape is the same on both sides."""
    left = " ".join(f"?a{i} ex:p ?b{i} ." for i in range(n)) + " ?a0 ex:q ?b1 ."
    right = " ".join(f"?c{i} ex:p ?d{i} ." for i in reversed(range(n)))
    right += " ?c0 ex:q ?d1 ." if isomorphic else " ?c0 ex:q ?d0 ."
    return parse(left, PREFIXES), parse(right, PREFIXES)


@pytest.mark.parametrize("n", [10, 12, 29])
def test_the_factorial_cases_of_the_review_are_answered_within_a_small_budget(n: int) -> None:
    left, right = disjoint_plus_one(n, isomorphic=False)
    assert renaming([left], [right], budget=10) is None
    left, right = disjoint_plus_one(n, isomorphic=True)
    found = renaming([left], [right], budget=50 * n)
    assert found is not None and applied(tagged([left]), found) == tagged([right])


def test_patterns_colour_refinement_cannot_tell_apart_are_still_told_apart() -> None:
    two_triangles = parse("?a ex:p ?b . ?b ex:p ?c . ?c ex:p ?a . ?d ex:p ?e . ?e ex:p ?f . ?f ex:p ?d .", PREFIXES)
    hexagon = parse("?a ex:p ?b . ?b ex:p ?c . ?c ex:p ?d . ?d ex:p ?e . ?e ex:p ?f . ?f ex:p ?a .", PREFIXES)
    assert PatternShape.of([two_triangles]).signature == PatternShape.of([hexagon]).signature
    assert renaming([two_triangles], [hexagon]) is None
    assert renaming([hexagon], [two_triangles]) is None
    assert renaming([hexagon], [hexagon]) is not None


def test_many_interchangeable_variables_match_without_exhausting_the_budget() -> None:
    star = parse(" ".join(f"?hub ex:p ?leaf{i} . ?leaf{i} a ex:C ." for i in range(400)), PREFIXES)
    other = parse(" ".join(f"?leaf{i} a ex:C . ?centre ex:p ?leaf{i} ." for i in reversed(range(400))), PREFIXES)
    assert renaming([star], [other], budget=20_000) is not None


def test_a_comparison_over_budget_raises_and_counts_as_no_match_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    left, right = disjoint_plus_one(12, isomorphic=True)
    with pytest.raises(MatchBudgetExceeded):
        renaming([left], [right], budget=5)
    ask = Interaction("http://kb/a/interaction/ask", "http://kb/a", ASK, "ask", pattern=left)
    answer = Interaction("http://kb/b/interaction/answer", "http://kb/b", ANSWER, "answer", pattern=right)
    assert match(ask, answer) is not None
    with caplog.at_level(logging.WARNING, logger="dso_saref.ke.emulator"):
        assert match(ask, answer, budget=5) is None
    assert "http://kb/a/interaction/ask against http://kb/b/interaction/answer gave up after 5 steps" in caplog.text


def test_ground_triples_and_literals_must_be_equal_exactly() -> None:
    base = parse("ex:a ex:p ex:b . ?s ex:p 1 .", PREFIXES)
    assert renaming([base], [parse("?x ex:p 1 . ex:a ex:p ex:b .", PREFIXES)]) == {"s": "x"}
    assert renaming([base], [parse("ex:a ex:p ex:c . ?x ex:p 1 .", PREFIXES)]) is None
    assert renaming([base], [parse('ex:a ex:p ex:b . ?x ex:p "1" .', PREFIXES)]) is None


def test_over_http_a_comparison_over_budget_is_no_match_and_a_log_line_and_within_it_a_match(
    make_server: Callable[..., EmulatorServer], caplog: pytest.LogCaptureFixture
) -> None:
    left, right = disjoint_plus_one(12, isomorphic=True)
    for budget, answered in ((5, False), (DEFAULT_MATCH_BUDGET, True)):
        server = make_server(match_budget=budget)
        with KnowledgeEngineClient(server.base_url) as ke:
            ke.register_knowledge_base(KB_A, "A", "asks")
            ke.register_knowledge_base(KB_B, "B", "answers")
            ask = ke.register_ask(KB_A, left.to_text())
            answer = ke.register_answer(KB_B, right.to_text())
            answering = serve(ke, KB_B, lambda request: [], count=1) if answered else None
            with caplog.at_level(logging.WARNING, logger="dso_saref.ke.emulator"):
                result = ke.ask(KB_A, ask)
            if answering is not None:
                answering.result()
        assert [info.knowledge_interaction_id for info in result.exchange_info] == ([answer] if answered else [])
    assert caplog.text.count("gave up after 5 steps") == 1
