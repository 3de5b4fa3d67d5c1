"""Pattern profiles (issue 13 item 1, docs/interop.md): every profile a lossless, declared, valid
description of its message; a user's profile folder loads, and a broken profile is refused naming
its file and field."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

import dso_saref
from dso_saref.catalog import Catalog
from dso_saref.errors import DescriptionError, UnknownMessageError
from dso_saref.profiles import ProfileWarning, split_name
from dso_saref.terms import DSO
from dso_saref.variables import VariableKind
from tests.conftest import NAMES, ROOT, official_subjects
from tests.strategies import payload_strategy
from tests.test_catalog import assert_round_trip

PROFILES = sorted(d.name for name in NAMES for p, d in dso_saref.catalog.profiles(name).items() if p != "saref")
SHIPPED = sorted(path.stem for path in (ROOT / "graph_patterns" / "profiles").glob("*.toml"))
INTERCONNECT = "http://ontology.tno.nl/interconnect/"


def test_the_catalog_lists_messages_and_gives_their_profiles() -> None:
    catalog = dso_saref.catalog
    assert not any("@" in name for name in catalog), "plain iteration yields the default messages only"
    profiles = catalog.profiles("lv-client-reading")
    assert list(profiles) == ["saref", "interconnect", "saref-core"]
    assert profiles["saref"] is catalog["lv-client-reading"]
    assert profiles["interconnect"] is catalog["lv-client-reading@interconnect"]
    assert catalog["lv-client-reading@interconnect"].interaction.counterpart == "lv-client-reading@interconnect"
    assert catalog.profiles("hems-voltage-request@interconnect") == catalog.profiles("hems-voltage-request")
    assert split_name("hems-voltage@interconnect") == ("hems-voltage", "interconnect")
    with pytest.raises(UnknownMessageError, match="lv-client-reading@interconnect"):
        catalog["lv-client-reading@interconect"]


def test_shipped_profiles_are_the_issue_13_set() -> None:
    measurements = ["disaggregated-data", "hems-voltage", "lv-client-reading", "metering-data", "mv-client-reading",
                    "primary-substation-reading", "secondary-substation-reading"]
    assert sorted([f"{m}@saref-core" for m in measurements] + [f"{m}@interconnect" for m in measurements]
                             + [f"{m}@interconnect" for m in ("flexibility-offers", "grid-topology", "incentive-offer",
                                                             "incentive-response")]) == SHIPPED


@pytest.mark.parametrize("name", PROFILES)
def test_example_round_trips_and_conforms_in_the_profile(name: str) -> None:
    description = dso_saref.catalog[name]
    example = description.example()
    assert_round_trip(name, example)
    assert set(dso_saref.to_bindings(name, example)) <= {part.key for part in description.parts}
    graph = dso_saref.saref(name, example)
    for engine in ("compiled", "pyshacl"):
        assert dso_saref.validate(name, example, engine=engine).conforms, engine
        assert dso_saref.validate(name, graph, engine=engine).conforms, engine


@pytest.mark.parametrize("name", PROFILES)
def test_a_node_that_is_the_same_thing_has_the_defaults_iri(name: str) -> None:
    """A variable the profile shares with the default description (the client, the measurement that
    is now a data point, the HEMS) is bound to the same IRI for the same payload."""
    profile = dso_saref.catalog[name]
    default = dso_saref.catalog[profile.message]
    shared = [v for v in profile.variables if v in default.variables and profile.variables[v].kind == VariableKind.IRI]
    assert shared, "a profile describes some node of its default"

    def iris(description: object) -> dict[str, set[str]]:
        rows = [row for rows in dso_saref.to_bindings(description.name, description.example()).values()
                for row in rows]
        return {v: {row[v] for row in rows if v in row} for v in shared}

    assert iris(profile) == iris(default)


@pytest.mark.parametrize("name", PROFILES)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_hypothesis_round_trip_of_every_profile(name: str, data: st.DataObject) -> None:
    assert_round_trip(name, data.draw(payload_strategy(dso_saref.catalog[name].model)))


def _project_graph() -> Graph:
    graph = Graph()
    for path in sorted((ROOT / "ontologies").glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


def _used(name: str) -> set[str]:
    description = dso_saref.catalog[name]
    iris = set(description.pattern.iris()) | {i for v in description.variables.values() for i in v.vocabulary.values()}
    return iris - {str(RDF.type)}


def test_every_profile_iri_is_declared_and_no_wire_variant_is_used() -> None:
    graph = _project_graph()
    deprecated = {str(s) for s in graph.subjects(OWL.deprecated, None)}
    declared = {str(s) for s in graph.subjects()} - deprecated
    used = set().union(*(_used(name) for name in PROFILES))
    assert sorted(used - declared) == []
    assert {"http://www.ontology-of-units-of-measure.org/resource/om-2/kiloWatt",
            "http://ontology.tno.nl/interconnect/topology#hasToplogicalAssociation"} <= deprecated


def test_interconnect_terms_are_marked_as_theirs() -> None:
    graph = _project_graph()
    terms = {s for s in graph.subjects() if isinstance(s, URIRef) and str(s).startswith(INTERCONNECT)}
    theirs = {s for s in terms if (s, OWL.deprecated, None) not in graph}
    assert theirs
    for term in theirs:
        module = str(graph.value(term, RDFS.isDefinedBy))
        assert str(term).startswith(module) and module.startswith(INTERCONNECT), term
        assert graph.value(term, RDFS.label) is not None and graph.value(term, RDFS.comment) is not None, term


def test_every_official_iri_of_the_profiles_exists_in_the_official_files() -> None:
    subjects = official_subjects()
    used = set().union(*(_used(name) for name in PROFILES))
    foreign = {i for i in used if not i.startswith((str(DSO), INTERCONNECT, str(SKOS)))}
    assert sorted(foreign - subjects) == []


def test_saref_core_profiles_use_official_terms_but_identifiers_units_and_one_class() -> None:
    """saref-core: SAREF core, S4GRID, OM, OWL-Time; beside them only schema:identifier, skos:broader,
    the QUDT reactive-power units and the own class that keeps two readings apart."""
    allowed = ("https://saref.etsi.org/core/", "https://saref.etsi.org/saref4grid/",
               "http://www.ontology-of-units-of-measure.org/resource/om-2/", "http://www.w3.org/2006/time#",
               "http://schema.org/identifier", str(SKOS.broader), "http://qudt.org/vocab/unit/")
    for name in (n for n in PROFILES if n.endswith("@saref-core") and n in SHIPPED):
        own = {i for i in _used(name) if not i.startswith(allowed)}
        assert len(own) <= 1 and all(i.startswith(str(DSO)) for i in own), (name, own)


# -- a user's profiles ---------------------------------------------------------------------------

SOURCE = ROOT / "graph_patterns" / "profiles" / "hems-voltage@interconnect.toml"


def _user_profile(folder: Path, text: str | None = None, name: str = "hems-voltage@pilot") -> Path:
    folder.mkdir(exist_ok=True)
    body = SOURCE.read_text(encoding="utf-8").replace('profile = "interconnect"', 'profile = "pilot"')
    path = folder / f"{name}.toml"
    path.write_text(body if text is None else text(body), encoding="utf-8")
    return path


def test_a_user_profile_folder_loads_round_trips_and_validates(tmp_path: Path) -> None:
    _user_profile(tmp_path)
    catalog = Catalog(patterns=tmp_path)
    description = catalog["hems-voltage@pilot"]
    assert list(catalog.profiles("hems-voltage")) == ["saref", "interconnect", "pilot", "saref-core"]
    assert catalog["hems-voltage-request@pilot"].interaction.counterpart == "hems-voltage@pilot"
    example = description.example()
    table = description.table(example)
    assert description.from_term_rows(description.parse_bindings(table.bindings())) == description.canonical(example)
    from dso_saref import shaping
    from dso_saref.validation import Validator

    validator = Validator(catalog=catalog, engine="pyshacl")
    with pytest.raises(DescriptionError, match=r"no shape file for hems-voltage@pilot: run `python -m "
                                               r"dso_saref.shaping --patterns "):
        validator.validate("hems-voltage@pilot", example)
    assert shaping.main(["--patterns", str(tmp_path), "--check"]) == 1
    assert shaping.main(["--patterns", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.ttl")) == ["hems-voltage-request@pilot.ttl",
                                                               "hems-voltage@pilot.ttl"]
    assert shaping.main(["--patterns", str(tmp_path), "--check"]) == 0
    fresh = Catalog(patterns=tmp_path)
    for engine in ("pyshacl", "compiled"):
        report = Validator(catalog=fresh, engine=engine).validate("hems-voltage@pilot", example)
        assert report.conforms, report.errors
    assert sorted(Catalog()) == sorted(catalog)


def test_a_peers_misspelt_terms_are_accepted_with_a_warning_only_when_asked(tmp_path: Path) -> None:
    def typo(body: str) -> str:
        return body.replace("?measure om:hasUnit ?unit .", "?measure om:hasUnit ?unit .\n?measure a om:kiloWatt .")

    _user_profile(tmp_path, typo)
    with pytest.raises(DescriptionError, match=r"hems-voltage@pilot\.toml: pattern: .*om-2/kiloWatt"):
        len(Catalog(patterns=tmp_path))
    _user_profile(tmp_path, lambda body: 'undeclared = "warn"\n' + typo(body))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert Catalog(patterns=tmp_path)["hems-voltage@pilot"].name == "hems-voltage@pilot"
    assert any(issubclass(w.category, ProfileWarning) and "kiloWatt" in str(w.message) for w in caught)


def test_a_ttl_beside_the_profile_declares_its_terms(tmp_path: Path) -> None:
    _user_profile(tmp_path, lambda body: body.replace("?quantity a om:ElectricPotential .",
                                                      "?quantity a <https://pilot.example.org/Voltage> ."))
    (tmp_path / "pilot.ttl").write_text("<https://pilot.example.org/Voltage> a <http://www.w3.org/2002/07/owl#Class> .",
                                        encoding="utf-8")
    assert Catalog(patterns=tmp_path)["hems-voltage@pilot"].pattern.iris() >= {"https://pilot.example.org/Voltage"}


@pytest.mark.parametrize(("edit", "message"), [
    (lambda body: body.replace('pattern = """', 'pattern = """\n?x ?y'), r"hems-voltage@pilot\.toml: pattern: "),
    (lambda body: "unexpected = 1\n" + body, r"hems-voltage@pilot\.toml: unknown keys \['unexpected'\]"),
    (lambda body: body + '\nunits = "V"\n',
     r"hems-voltage@pilot\.toml: variables\.measure: .*unknown keys \['units'\]"),
    (lambda body: body.replace("[variables.quantity]", "[variables.quantitty]"),
     r"hems-voltage@pilot\.toml: variables\.quantitty: not a variable of the profile's pattern"),
    (lambda body: body.replace("?measure om:hasNumericalValue ?voltage .\n", ""),
     r"hems-voltage@pilot\.toml: .*\?measure(ment)? uses \['voltage'\]"),
    (lambda body: body.replace('iri = "instant/{timestamp}"', 'iri = "instant/{tme}"'),
     r"hems-voltage@pilot\.toml: .*tme"),
    (lambda body: body.replace('name = "hems-voltage"', 'name = "hems-volt"'),
     r"hems-voltage@pilot\.toml: name and profile"),
    (lambda body: body.replace("[prefixes]", '[prefixes]\nsaref = "https://saref.etsi.org/core"'),
     r"hems-voltage@pilot\.toml: prefixes\.saref: is https://saref\.etsi\.org/core, the project uses"),
    (lambda body: body.replace('pattern = """', 'pattern = """ " '), r"hems-voltage@pilot\.toml: "),
    (lambda body: "name = [", r"hems-voltage@pilot\.toml: "),
])
def test_a_broken_user_profile_is_refused_naming_its_file_and_field(tmp_path: Path, edit: object,
                                                                    message: str) -> None:
    _user_profile(tmp_path, edit)  # type: ignore[arg-type]
    with pytest.raises(DescriptionError, match=message):
        len(Catalog(patterns=tmp_path))


def test_a_profile_that_would_lose_a_json_field_is_refused(tmp_path: Path) -> None:
    source = ROOT / "graph_patterns" / "profiles" / "lv-client-reading@interconnect.toml"
    lines = source.read_text(encoding="utf-8").replace('profile = "interconnect"', 'profile = "pilot"').splitlines()
    kept = [line for line in lines if not line.startswith("?voltage_")]
    text = "\n".join(kept).split("[variables.voltage_quantity]")[0]
    (tmp_path / "lv-client-reading@pilot.toml").write_text(text, encoding="utf-8")
    with pytest.raises(DescriptionError, match=r"lv-client-reading@pilot\.toml: pattern: no variable reads \$\.voltage "
                                               r"\(the default's \?voltage\)"):
        len(Catalog(patterns=tmp_path))


@pytest.mark.parametrize(("file_name", "message"), [
    ("hems-voltage", "a profile file is named NAME@PROFILE.toml"),
    ("hems-voltage@saref", "not 'saref'"),
    ("hems-voltage@Pilot_1", "lower-case letters"),
    ("hems-voltag@pilot", "no message 'hems-voltag'"),
    ("hems-voltage@interconnect", "already defined by"),
])
def test_a_misnamed_user_profile_is_refused(tmp_path: Path, file_name: str, message: str) -> None:
    profile = file_name.partition("@")[2]
    _user_profile(tmp_path, lambda body: body.replace('profile = "pilot"', f'profile = "{profile}"'), name=file_name)
    with pytest.raises(DescriptionError, match=message):
        len(Catalog(patterns=tmp_path))


def test_a_missing_profile_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DescriptionError, match="not a directory"):
        len(Catalog(patterns=tmp_path / "absent"))


def test_a_catalog_copy_without_profiles_loads(tmp_path: Path) -> None:
    for path in (ROOT / "graph_patterns").glob("hems-voltage*.toml"):
        shutil.copy(path, tmp_path)
    assert list(Catalog(tmp_path).profiles("hems-voltage")) == ["saref"]
