"""The emulator's matching and binding rules on their own: the KE 1.5.0's level-1 matching (an ANSWER
covers an ASK, POST/REACT arguments cover each other, result patterns matched apart), binding-set
checks, renaming, filtering and union."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib import Literal, URIRef

from dso_saref.ke.emulator_rules import (
    ANSWER,
    ASK,
    POST,
    REACT,
    Interaction,
    Refusal,
    check_bindings,
    compatible,
    joint_isomorphism,
    match,
    result_match,
    to_initiator,
    to_target,
    union,
)
from dso_saref.patterns import Pattern, Var, parse

EX = {"ex": "http://example.org/ns#"}
XSD_STRING = URIRef("http://www.w3.org/2001/XMLSchema#string")
TERMS = [URIRef("http://example.org/ns#p"), URIRef("http://example.org/ns#q"), URIRef("http://example.org/ns#C"),
         Literal("x")]


def renamed(pattern: Pattern, mapping: dict[str, str], order: list[int]) -> Pattern:
    triples = [tuple(Var(mapping[t.name]) if isinstance(t, Var) else t for t in triple) for triple in pattern.triples]
    return Pattern(tuple(triples[i] for i in order))  # type: ignore[misc]


@st.composite
def patterns(draw: st.DrawFn, names: str = "abcd") -> Pattern:
    count = draw(st.integers(1, 4))
    triples = []
    for _ in range(count):
        s = Var(draw(st.sampled_from(names)))
        p = draw(st.sampled_from([Var(names[0]), TERMS[0], TERMS[1]]))
        o = draw(st.sampled_from([*[Var(n) for n in names], *TERMS]))
        triples.append((s, p, o))
    return Pattern(tuple(dict.fromkeys(triples)))


def apply(pattern: Pattern, mapping: dict[str, str]) -> set[tuple[object, ...]]:
    return {tuple(Var(mapping[t.name]) if isinstance(t, Var) else t for t in triple) for triple in pattern.triples}


@settings(max_examples=60, deadline=None)
@given(patterns(), st.permutations("wxyz"), st.randoms(use_true_random=False))
def test_a_renamed_and_reordered_pattern_matches(pattern: Pattern, names: list[str], rnd: object) -> None:
    mapping = dict(zip("abcd", names, strict=True))
    order = list(range(len(pattern.triples)))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    other = renamed(pattern, mapping, order)
    ask = Interaction("a", "kb-a", ASK, None, pattern=pattern)
    answer = Interaction("b", "kb-b", ANSWER, None, pattern=other)
    found = match(ask, answer)
    assert found is not None and apply(pattern, found.renaming) == set(other.triples)


@settings(max_examples=60, deadline=None)
@given(patterns(), patterns(), st.permutations("wxyz"))
def test_post_and_react_match_under_one_joint_renaming(argument: Pattern, result: Pattern, names: list[str]) -> None:
    mapping = dict(zip("abcd", names, strict=True))
    same_order = list(range(len(argument.triples)))
    post = Interaction("p", "kb-a", POST, None, argument=argument, result=result)
    react = Interaction("r", "kb-b", REACT, None, argument=renamed(argument, mapping, same_order),
                        result=renamed(result, mapping, list(range(len(result.triples)))))
    found, results = match(post, react), result_match(post, react)
    assert found is not None and results is not None
    assert apply(argument, found.renaming) == set(react.argument.triples)  # type: ignore[union-attr]
    assert apply(result, results.renaming) == set(react.result.triples)  # type: ignore[union-attr]


def test_joint_renaming_keeps_argument_and_result_apart() -> None:
    # one pattern each side of the same shape: matching the union would be free to swap ?old and ?new
    left = [(parse("?m ex:p ?old .", EX), parse("?x ex:p ?before .", EX)),
            (parse("?m ex:p ?new .", EX), parse("?x ex:p ?after .", EX))]
    assert joint_isomorphism(left) == {"m": "x", "old": "before", "new": "after"}
    swapped = [(parse("?m ex:p ?old . ?old ex:q ?m .", EX), parse("?x ex:p ?y . ?y ex:q ?x .", EX)),
               (parse("?old ex:p ?m .", EX), parse("?y ex:p ?x .", EX))]
    assert joint_isomorphism(swapped) == {"m": "x", "old": "y"}
    inconsistent = [(parse("?m ex:p ?v .", EX), parse("?x ex:p ?y .", EX)),
                    (parse("?m ex:q ?w .", EX), parse("?y ex:q ?z .", EX))]
    assert joint_isomorphism(inconsistent) is None


def test_patterns_that_differ_do_not_match() -> None:
    base = Interaction("a", "kb", ASK, None, pattern=parse("?s ex:p ?o . ?s a ex:C .", EX))
    for text in ("?s ex:q ?o . ?s a ex:C .", "?s ex:p ?o .", "?s ex:p ?o . ?t a ex:C .", "?s ex:p ?o . ?s a ex:D ."):
        assert match(base, Interaction("b", "kb2", ANSWER, None, pattern=parse(text, EX))) is None
    assert match(base, Interaction("b", "kb2", REACT, None, argument=parse("?s ex:p ?o . ?s a ex:C .", EX))) is None


def test_level_1_an_answer_covers_an_ask_with_more_triples_and_constants_for_variables() -> None:
    # as the KE 1.5.0 showed (docs/ke.md, "Reasoner levels"): more triples on the ANSWER side are fine,
    # fewer are not; a variable meets a constant either way round and the KE binds it
    ask = Interaction("a", "kb", ASK, None, pattern=parse("?x ex:p ?y .", EX))
    more = Interaction("b", "kb2", ANSWER, None, pattern=parse("?m ex:p ?l . ?m a ex:C .", EX))
    found = match(ask, more)
    assert found is not None and found.renaming == {"x": "m", "y": "l"}
    assert match(Interaction("c", "kb2", ASK, None, pattern=more.pattern),
                 Interaction("d", "kb", ANSWER, None, pattern=ask.pattern)) is None
    constant = Interaction("e", "kb2", ANSWER, None, pattern=parse('?m ex:p "fixed" .', EX))
    filled = match(ask, constant)
    assert filled is not None and filled.filled == {"y": Literal("fixed", datatype=XSD_STRING)}
    assert to_initiator([{"m": "<urn:m1>"}], filled) == [{"x": "<urn:m1>", "y": '"fixed"'}]
    asked = Interaction("f", "kb", ASK, None, pattern=parse('?x ex:p "fixed" .', EX))
    fixed = match(asked, more)
    assert fixed is not None and fixed.fixed == {"l": Literal("fixed", datatype=XSD_STRING)}
    assert to_target([{}], fixed) == [{"l": '"fixed"'}]


def test_level_1_post_and_react_need_covering_arguments_and_results_only_decide_the_merge() -> None:
    post = Interaction("p", "kb", POST, None, argument=parse("?r a ex:Req . ?r ex:v ?v .", EX),
                       result=parse("?r ex:ok ?ok .", EX))
    same = Interaction("r1", "kb2", REACT, None, argument=parse("?q ex:v ?w . ?q a ex:Req .", EX),
                       result=parse("?q ex:zzz ?z .", EX))
    bare = Interaction("r2", "kb2", REACT, None, argument=parse("?q ex:v ?w . ?q a ex:Req .", EX))
    subset = Interaction("r3", "kb2", REACT, None, argument=parse("?q ex:v ?w .", EX), result=post.result)
    assert match(post, same) is not None and result_match(post, same) is None
    assert match(post, bare) is not None and result_match(post, bare) is None
    assert match(post, subset) is None  # a subset argument matches at level 2 only


def test_binding_sets_are_checked_and_written_canonically() -> None:
    pattern = parse("?s ex:p ?o .", EX)
    rows = check_bindings([{"s": "<http://e/s>", "o": '"x"^^<http://www.w3.org/2001/XMLSchema#string>'}],
                          "bindingSet", pattern, complete=True)
    assert rows == [{"s": "<http://e/s>", "o": '"x"'}]
    for bad, complaint in [
        ({"s": '"lit"', "o": '"x"'}, "must be bound to an IRI"),
        ({"s": "<http://e/s>"}, "missing ?o"),
        ({"s": "<http://e/s>", "o": 3}, "must be a string"),
        ({"s": "<not absolute>", "o": '"x"'}, "bindingSet[0].s"),
    ]:
        with pytest.raises(Refusal) as caught:
            check_bindings([bad], "bindingSet", pattern, complete=True)
        assert complaint in caught.value.message and caught.value.status == 400
    with pytest.raises(Refusal, match="non-null"):
        check_bindings([None], "bindingSet", pattern, complete=False)
    with pytest.raises(Refusal, match="array"):
        check_bindings({}, "bindingSet", pattern, complete=False)


def test_filtering_and_union_compare_terms_not_strings() -> None:
    typed = '"x"^^<http://www.w3.org/2001/XMLSchema#string>'
    assert compatible({"s": "<http://e/s>", "o": '"x"'}, [{"o": typed}])
    assert not compatible({"s": "<http://e/s>", "o": '"y"'}, [{"o": typed}])
    assert compatible({"o": '"y"'}, [])
    assert compatible({"o": '"y"'}, [{}])
    assert union([[{"o": '"x"'}], [{"o": typed}, {"o": '"y"'}]]) == [{"o": '"x"'}, {"o": '"y"'}]


@settings(max_examples=80, deadline=None)
@given(patterns(), patterns("efgh"), st.permutations("wxyz"), st.randoms(use_true_random=False))
def test_level_1_an_answer_holding_a_renamed_ask_and_more_always_covers_it(
    ask: Pattern, more: Pattern, names: list[str], rnd: object
) -> None:
    mapping = dict(zip("abcd", names, strict=True))
    answer = renamed(ask, mapping, list(range(len(ask.triples))))
    extended = Pattern(tuple(dict.fromkeys([*answer.triples, *more.triples])))
    order = list(extended.triples)
    rnd.shuffle(order)  # type: ignore[attr-defined]
    found = match(Interaction("a", "kb-a", ASK, None, pattern=ask),
                  Interaction("b", "kb-b", ANSWER, None, pattern=Pattern(tuple(order))))
    assert found is not None
    assert len(found.met) == len(ask.triples) and {t[1:] for t in found.met} <= set(extended.triples)

    def fits(mine: tuple[object, ...], there: tuple[object, ...]) -> bool:
        return all(a == b if not isinstance(a, Var) and not isinstance(b, Var) else found.images.get(a) == b
                   for a, b in zip(mine, there, strict=True))

    assert all(any(fits(triple, t[1:]) for t in found.met) for triple in ask.triples)  # each meets a met one
    assert len(set(found.images.values())) == len(found.images)  # one-to-one
