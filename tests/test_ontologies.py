"""Every IRI the project uses is declared: in its own ontologies/, and (CI) in the official files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

import dso_saref
from dso_saref.catalog import Catalog
from dso_saref.errors import DescriptionError
from dso_saref.mapping import VariableKind
from dso_saref.terms import DSO, UNITS
from tests.conftest import ROOT, official_subjects

#: Namespaces that are W3C standards themselves (no file of ../shared defines them); SKOS for
#: skos:broader, SAREF4GRID's idiom for a property narrower than one of its quantities.
STANDARD = (str(RDF), str(RDFS), str(OWL), "http://www.w3.org/2001/XMLSchema#", str(SKOS))


def project_graph() -> Graph:
    graph = Graph()
    for path in sorted((ROOT / "ontologies").glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


def used_iris() -> set[str]:
    iris: set[str] = set()
    for description in dso_saref.messages():
        iris |= description.pattern.iris()
        for var in description.variables.values():
            iris |= set(var.vocabulary.values())
            if var.kind == VariableKind.UNIT:
                iris |= {iri for _, iri in UNITS[var.unit].labels}
    return iris


def test_every_used_iri_is_declared_in_the_projects_ontologies() -> None:
    declared = {str(s) for s in project_graph().subjects()}
    missing = sorted(i for i in used_iris() if i not in declared and not i.startswith(STANDARD))
    assert missing == []


def test_every_unit_iri_of_every_vocabulary_is_declared() -> None:
    declared = {str(s) for s in project_graph().subjects()}
    missing = sorted({iri for v in UNITS.values() for _, iri in v.labels} - declared)
    assert missing == []


#: InterConnect's namespaces: their files are not published where we can reach them, so
#: ontologies/interconnect.ttl declares the terms we use, marked as theirs (docs/interop.md).
INTERCONNECT = "http://ontology.tno.nl/interconnect/"


def test_every_external_term_exists_in_the_official_files() -> None:
    graph = project_graph()
    external = {str(s) for s in graph.subjects(RDFS.isDefinedBy, None)} - {
        str(s) for s in graph.subjects() if str(s).startswith((str(DSO), INTERCONNECT))}
    missing = sorted(i for i in external if i not in official_subjects() and not i.startswith(STANDARD))
    assert missing == [], "declared as external but absent from ../shared/ontologies"


def test_every_used_non_project_iri_exists_in_the_official_files() -> None:
    foreign = {i for i in used_iris() if not i.startswith(str(DSO)) and not i.startswith(STANDARD)}
    assert sorted(foreign - official_subjects()) == []


def test_no_project_term_shadows_an_official_one() -> None:
    own = {str(s) for s in project_graph().subjects() if str(s).startswith(str(DSO))}
    assert own.isdisjoint(official_subjects())


def test_every_extension_term_has_label_definition_and_alignment() -> None:
    graph = project_graph()
    alignments = (RDFS.subClassOf, RDFS.subPropertyOf, SKOS.related, SKOS.broader, SKOS.exactMatch,
                  SKOS.closeMatch, RDF.type)
    problems = []
    for term in sorted({s for s in graph.subjects() if str(s).startswith(str(DSO)) and s != URIRef(str(DSO))}):
        if graph.value(term, RDFS.label) is None:
            problems.append(f"{term}: no rdfs:label")
        if graph.value(term, SKOS.definition) is None and graph.value(term, RDFS.comment) is None:
            problems.append(f"{term}: no definition")
        if not any(graph.value(term, p) is not None for p in alignments):
            problems.append(f"{term}: not aligned to anything")
    assert problems == []


def test_a_misspelt_unit_iri_fails_the_catalog_at_load(tmp_path: Path) -> None:
    source = ROOT / "graph_patterns" / "hems-voltage.toml"
    text = source.read_text(encoding="utf-8").replace("s4grid:Voltage", "s4grid:Voltag")
    (tmp_path / "hems-voltage.toml").write_text(text, encoding="utf-8")
    with pytest.raises(DescriptionError, match="Voltag"):
        len(Catalog(tmp_path))


def test_om_kiloWatt_is_refused(tmp_path: Path) -> None:
    source = ROOT / "graph_patterns" / "hems-voltage.toml"
    text = source.read_text(encoding="utf-8").replace(
        "?property a dso:VoltageProperty .",
        "?property a dso:VoltageProperty .\n?measurement saref:isMeasuredIn om:kiloWatt .")
    text = text.replace("[prefixes]", '[prefixes]\nom = "http://www.ontology-of-units-of-measure.org/resource/om-2/"')
    (tmp_path / "hems-voltage.toml").write_text(text, encoding="utf-8")
    with pytest.raises(DescriptionError, match="kiloWatt"):
        len(Catalog(tmp_path))


def test_data_folders_are_complete_for_every_message() -> None:
    for description in dso_saref.messages():
        assert description.example_path.is_file(), description.name


def test_catalog_copy_is_independent(tmp_path: Path) -> None:
    for path in (ROOT / "graph_patterns").glob("hems-voltage*.toml"):
        shutil.copy(path, tmp_path)
    assert sorted(Catalog(tmp_path)) == ["hems-voltage", "hems-voltage-request"]
