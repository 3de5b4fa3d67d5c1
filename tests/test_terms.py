"""RDF terms: KE binding syntax, IRI minting and escaping, time, units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import XSD

from dso_saref.terms import (
    UNITS,
    Settings,
    TermError,
    format_datetime,
    format_term,
    mint_iri,
    parse_datetime,
    parse_term,
    read_template,
    template_regex,
)

BASE = "https://dso.example.org/id/"


@given(st.text())
def test_minted_iris_are_safe_and_reversible_for_any_string(value: str) -> None:
    iri = mint_iri(BASE, "meter/{meter_id}", {"meter_id": value})
    assert all(c.isascii() and c not in ' <>"{}|^`\\' and ord(c) > 32 for c in iri)
    assert unquote(iri[len(BASE) + len("meter/"):]) == value
    assert read_template(template_regex(BASE, "meter/{meter_id}"), iri) == {"meter_id": value}
    # and the IRI survives N-Triples as one term
    graph = Graph()
    graph.add((URIRef(iri), URIRef("urn:p"), Literal(value)))
    again = Graph().parse(data=graph.serialize(format="nt"), format="nt")
    assert set(again) == set(graph)


def test_same_identifier_same_iri() -> None:
    assert mint_iri(BASE, "u/{id}", {"id": "U1"}) == mint_iri(BASE, "u/{id}", {"id": "U1"})


def test_a_slash_in_an_identifier_cannot_forge_another_template() -> None:
    iri = mint_iri(BASE, "hems/{hems_id}/voltage", {"hems_id": "a/voltage"})
    assert iri == BASE + "hems/a%2Fvoltage/voltage"


@given(st.text())
def test_literals_round_trip_through_ke_syntax(text: str) -> None:
    term = Literal(text, datatype=XSD.string)
    assert parse_term(format_term(term)) == term


def test_plain_and_xsd_string_literals_are_equal() -> None:
    assert parse_term('"x"') == parse_term('"x"^^<http://www.w3.org/2001/XMLSchema#string>')


@pytest.mark.parametrize("bad", ["x", "<a b>", "<>", '"unterminated', '"x"^^<bad iri>', "<javascript>", '"\\q"', 42])
def test_malformed_binding_terms_are_refused(bad: object) -> None:
    with pytest.raises(TermError):
        parse_term(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021/09/27 10:00", datetime(2021, 9, 27, 10, 0, tzinfo=UTC)),
        ("2021-09-27T10:00:00Z", datetime(2021, 9, 27, 10, 0, tzinfo=UTC)),
        ("2021-09-27T11:00:00+01:00", datetime(2021, 9, 27, 10, 0, tzinfo=UTC)),
        ("2021/09/27", datetime(2021, 9, 27, tzinfo=UTC)),
    ],
)
def test_spec_and_iso_timestamp_forms_are_read(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


def test_offsetless_timestamps_use_the_configured_zone() -> None:
    lisbon_summer = timezone(timedelta(hours=1))
    assert format_datetime(parse_datetime("2021/09/27 10:00", lisbon_summer)) == "2021-09-27T09:00:00Z"


@pytest.mark.parametrize("bad", ["yesterday", "2021-13-01", "2021/02/30 10:00", "", "10:00"])
def test_bad_timestamps_are_refused(bad: str) -> None:
    with pytest.raises(TermError):
        parse_datetime(bad)


def test_units_are_closed_vocabularies() -> None:
    assert UNITS["power"].iri("kW") == "http://www.ontology-of-units-of-measure.org/resource/om-2/kilowatt"
    with pytest.raises(TermError, match="kWh"):
        UNITS["power"].iri("kWh")
    assert UNITS["hems-voltage"].canonical("V") == "volts"


@pytest.mark.parametrize("base", ["dso.example.org/", "https://dso.example.org/id", "https://a b/"])
def test_bad_bases_are_refused(base: str) -> None:
    with pytest.raises(TermError):
        Settings(base=base)
