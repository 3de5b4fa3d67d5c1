"""Issue 13 item 2: ``dso-saref ke match`` / ``dso_saref.match`` tells a pilot team whether its knowledge
interaction reaches ours at reasoner level 1 (as the real KE 1.5.0 matches, through the stand-in's own
matcher) and, if not, what differs, which terms are misspelt, and a profile that would match.

Fixtures in ``tests/fixtures/ke-match`` (our saref dialect, pilot styles; README there gives each
expected diagnosis) and ``tests/fixtures/interconnect`` (the pilots' dialect: needs the interconnect
profiles of item 1)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dso_saref
from dso_saref.cli import main
from dso_saref.errors import PatternError
from dso_saref.ke import InProcessTransport, KnowledgeEngineClient, KnowledgeEngineEmulator
from dso_saref.ke.emulator import EmulatorConfig
from dso_saref.ke.match import candidates, match, read_interaction
from dso_saref.ke.roles import interactions_for
from dso_saref.ke.vocabulary import Vocabulary
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "ke-match"
INTERCONNECT = ROOT / "tests" / "fixtures" / "interconnect"
OM = "http://www.ontology-of-units-of-measure.org/resource/om-2/"


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary.load()


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["ke", "match", *args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def labels(report: dso_saref.ke.match.MatchReport) -> set[tuple[str, str, str]]:  # type: ignore[name-defined]
    return {(m.candidate.message, m.candidate.ki, m.candidate.kind) for m in report.matches}


def test_an_answer_in_a_pilot_style_matches_our_ask_exactly(vocabulary: Vocabulary) -> None:
    report = dso_saref.match((FIXTURES / "hems-voltage.answer.gp").read_text(), kind="answer", vocabulary=vocabulary)
    assert report.matched and not report.nearest and not report.unknown_terms and report.suggestion is None
    assert ("hems-voltage", "hems-voltage-request", "AskKnowledgeInteraction") in labels(report)
    code, out = run(str(FIXTURES / "hems-voltage.answer.gp"))  # the kind from the file name
    assert code == 0 and "MATCH at reasoner level 1" in out and "hems-voltage@saref (hems-voltage-request, ASK)" in out


def test_the_stand_in_connects_the_same_pair_the_report_names() -> None:
    # one matcher: the pilot's ANSWER registered in the stand-in is asked by the DSO's own ASK
    with KnowledgeEngineEmulator(EmulatorConfig(handle_timeout=0.2, exchange_timeout=0.2)) as emulator:
        ke = KnowledgeEngineClient(transport=InProcessTransport(emulator))
        ke.register_knowledge_base("http://dso.example/kb", "dso", "the DSO")
        ke.register_knowledge_base("http://pilot.example/kb", "pilot", "a pilot's HEMS provider")
        [spec] = [s for s in interactions_for("dso") if s.name == "hems-voltage-request"]
        ask = ke.register_ask("http://dso.example/kb", spec.graph_pattern or "", prefixes=spec.prefixes)
        answer = ke.register_answer("http://pilot.example/kb", (FIXTURES / "hems-voltage.answer.gp").read_text())
        result = ke.ask("http://dso.example/kb", ask)  # the pilot does not poll: reported FAILED, but asked
        assert [info.knowledge_interaction_id for info in result.exchange_info] == [answer]


def test_a_registration_body_with_its_prefixes_is_read_and_matched(vocabulary: Vocabulary) -> None:
    body = (FIXTURES / "hems-status.ask.json").read_text()
    report = match(body, vocabulary=vocabulary)
    assert report.interaction.kind == "AskKnowledgeInteraction" and report.interaction.name == "ask-hems-status"
    assert ("hems-status", "hems-status-request", "AnswerKnowledgeInteraction") in labels(report)
    assert match(json.loads(body), vocabulary=vocabulary).matched  # a mapping as well as its text
    code, out = run(str(FIXTURES / "hems-status.ask.json"), "--format", "json")
    [entry] = json.loads(out)
    assert code == 0 and entry["matched"] and entry["kind"] == "ASK"
    assert {"message": "hems-status", "profile": "saref", "ki": "hems-status-request", "ours": "ANSWER", "as": "ASK",
            "results_match": None} in entry["matches"]


def test_a_near_miss_reports_the_extra_triple_and_level_1_covering_decides_by_direction(
    vocabulary: Vocabulary,
) -> None:
    text = (FIXTURES / "hems-status.near-miss-extra.ask.gp").read_text()
    report = match(text, kind="ask", vocabulary=vocabulary)
    assert not report.matched
    nearest = report.nearest[0]
    assert (nearest.candidate.message, nearest.candidate.ki) == ("hems-status", "hems-status-request")
    assert [report.triple(t) for t in nearest.alignment.extra] == ["?hems a saref:Device ."]
    assert not nearest.alignment.missing and not nearest.alignment.different
    assert len(report.nearest) == 3
    # the same triples as an ANSWER hold every triple of our ASK: the KE asks it (an ANSWER may say more)
    assert match(text, kind="answer", vocabulary=vocabulary).matched
    code, out = run(str(FIXTURES / "hems-status.near-miss-extra.ask.gp"))
    assert code == 1 and "extra (theirs only): ?hems a saref:Device ." in out


def test_a_misspelt_unit_is_the_different_term_and_the_declared_one_is_suggested(vocabulary: Vocabulary) -> None:
    report = match((FIXTURES / "mv-client-reading.near-miss-typo.gp").read_text(), vocabulary=vocabulary)
    assert not report.matched
    nearest = report.nearest[0]
    assert nearest.candidate.message == "mv-client-reading"
    [different] = nearest.alignment.different
    assert (different.position, str(different.theirs), str(different.ours)) == ("object", OM + "kiloWatt",
                                                                                 OM + "kilowatt")
    assert not nearest.alignment.extra and not nearest.alignment.missing
    assert [(u.iri, u.suggestion) for u in report.unknown_terms] == [(OM + "kiloWatt", OM + "kilowatt")]
    code, out = run(str(FIXTURES / "mv-client-reading.near-miss-typo.gp"))
    assert code == 1
    assert "different object: om:kiloWatt where ours has om:kilowatt" in out
    assert "declared in no ontology we know: om:kiloWatt; did you mean om:kilowatt?" in out


def test_the_suggested_profile_is_toml_for_the_nearest_message_in_its_variables(vocabulary: Vocabulary) -> None:
    report = match((FIXTURES / "mv-client-reading.near-miss-typo.gp").read_text(), vocabulary=vocabulary)
    assert report.suggestion is not None
    profile = tomllib.loads(report.suggestion)
    assert profile["name"] == "mv-client-reading" and profile["profile"] == "peer"
    suggested = read_interaction(profile["pattern"], prefixes=profile["prefixes"]).pattern
    ours = report.nearest[0].candidate.pattern
    assert suggested.variables == ours.variables  # their names replaced by ours: the JSON paths still apply
    assert OM + "kiloWatt" in suggested.iris()  # the peer's pattern as it is on the wire


def test_post_and_react_are_compared_by_argument_and_say_whether_results_merge(vocabulary: Vocabulary) -> None:
    [ours] = [c for c in candidates() if c.ki == "flexibility-offers" and c.kind == "ReactKnowledgeInteraction"]
    argument = ours.pattern.to_text(ours.prefixes)
    body = {"knowledgeInteractionType": "PostKnowledgeInteraction", "argumentGraphPattern": argument,
            "prefixes": ours.prefixes}
    report = match(body, vocabulary=vocabulary)
    [found] = [m for m in report.matches if m.candidate.ki == "flexibility-offers"]
    assert found.results is False  # no result pattern: the REACT is called, its results are not merged
    assert ours.result is not None
    with_result = {**body, "resultGraphPattern": ours.result.to_text(ours.prefixes)}
    [found] = [m for m in match(with_result, vocabulary=vocabulary).matches if m.candidate.ki == "flexibility-offers"]
    assert found.results is True


@pytest.mark.parametrize("source, complaint", [
    ("", "empty"),
    ("?s ?p", "subject, predicate and object"),
    ("?s foo:bar ?o .", "prefix 'foo'"),
    ("?s ex:p [ ex:q ?o ] .", "blank nodes"),
    ("?s <http://example.org/p> _:b .", "blank nodes"),
    ('{"graphPattern": 5}', "graphPattern: must be a string"),
    ('{"graphPattern": "?s <urn:p> ?o .", "argumentGraphPattern": "?s <urn:p> ?o ."}', "not both"),
    ('{"knowledgeInteractionType": "Nope", "graphPattern": "?s <urn:p> ?o ."}', "unknown kind"),
    ('{"graphPattern": "?s <urn:p> ?o .", "prefixes": ["x"]}', "prefixes"),
    ("{not json", "not JSON"),
])
def test_unreadable_input_is_exit_2_with_the_reason(source: str, complaint: str) -> None:
    with pytest.raises(PatternError, match=complaint):
        read_interaction(source)
    code, out = run("-", input=source)
    assert code == 2 and complaint in out


def test_a_missing_file_is_exit_2_and_the_worst_verdict_wins(tmp_path: Path) -> None:
    code, out = run(str(tmp_path / "nope.gp"))
    assert code == 2 and "nope.gp: cannot read it" in out
    code, _ = run(str(FIXTURES / "hems-voltage.answer.gp"), str(FIXTURES / "mv-client-reading.near-miss-typo.gp"))
    assert code == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.text(max_size=200),
    st.text(alphabet="?xyz<>:. \"'{}[]_;,ab@#\n", max_size=80),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                     st.sampled_from(["graphPattern", "argumentGraphPattern", "resultGraphPattern", "prefixes",
                                      "knowledgeInteractionType", "x"]), inner, max_size=4), max_leaves=8).map(
        json.dumps),
))
def test_hostile_input_never_gives_a_traceback(source: str) -> None:
    code, _ = run("-", input=source)
    assert code in (0, 1, 2)


INTERCONNECT_EXACT = {
    "hems-voltage.answer.gp": ("hems-voltage", "interconnect"),
    "hems-voltage.saref-core.answer.gp": ("hems-voltage", "saref-core"),
    "metering-data.readings.ask.json": ("metering-data", "interconnect"),
    "flexibility-offers.post.json": ("flexibility-offers", "interconnect"),
    "lv-client-reading.ask.gp": ("lv-client-reading", "interconnect"),
    "primary-substation-reading.saref-core.answer.gp": ("primary-substation-reading", "saref-core"),
}
needs_profiles = pytest.mark.skipif(not hasattr(dso_saref.catalog, "profiles"),
                                    reason="needs the interconnect/saref-core profiles (issue 13 item 1)")


@needs_profiles
@pytest.mark.parametrize("fixture", sorted(INTERCONNECT_EXACT))
def test_pilot_dialect_fixtures_match_their_profile(fixture: str) -> None:
    code, out = run(str(INTERCONNECT / fixture), "--format", "json")
    [entry] = json.loads(out)
    assert code == 0
    assert INTERCONNECT_EXACT[fixture] in {(m["message"], m["profile"]) for m in entry["matches"]}


@needs_profiles
def test_pilot_dialect_near_misses_are_diagnosed() -> None:
    # the drafts' README expects no match for each; at the real KE's level 1 that holds in one direction:
    # a pattern with an extra triple is no ASK of ours (an ANSWER may hold more), one missing a triple
    # is no ANSWER of ours (an ASK may ask for less)
    typo = match((INTERCONNECT / "mv-client-reading.near-miss-typo.gp").read_text())
    assert not typo.matched and typo.nearest[0].candidate.message == "mv-client-reading"
    assert [(str(d.theirs), str(d.ours)) for d in typo.nearest[0].alignment.different] == [
        (OM + "kiloWatt", OM + "kilowatt")]
    extra = match((INTERCONNECT / "hems-voltage.near-miss-extra.gp").read_text(), kind="ask")
    assert not extra.matched and len(extra.nearest[0].alignment.extra) == 1
    missing = match((INTERCONNECT / "metering-data.near-miss-missing.gp").read_text(), kind="answer")
    assert not missing.matched and len(missing.nearest[0].alignment.missing) == 1
