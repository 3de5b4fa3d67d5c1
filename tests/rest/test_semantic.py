"""Issue 12 item 4: every answer can be had as SAREF RDF (Turtle, N-Triples, JSON-LD) by content
negotiation, through the catalog, and reads back to the same JSON; request bodies may be RDF, read back
through the message's graph pattern and validated by its shape (400 with the report otherwise)."""

from __future__ import annotations

import json

import pytest

import dso_saref
from dso_saref.graphs import parse_rdf
from dso_saref.rest.media import NotAcceptable, body_format, negotiate

from .conftest import Api, publish_need

RDF = {"text/turtle": "turtle", "application/n-triples": "nt", "application/ld+json": "json-ld"}
GETS = {
    "flexibility-needs": "/v1/flexibility/needs?start=2021-09-28T00:00:00Z&end=2021-09-30T00:00:00Z",
    "flexibility-data": "/v1/data/flexibility?zone_id=Z-SS01&start=2021-09-27&end=2021-09-28",
    "grid-topology": "/v1/data-layer/topology?voltage_level=LV",
    "primary-substation-reading": "/v1/data-layer/primary-substation-readings?timestamp=2021-09-27T10:00:00Z",
}


@pytest.mark.parametrize(("accept", "fmt"), [(None, "json"), ("*/*", "json"), ("text/*", "turtle"),
                                             ("application/n-triples", "nt"),
                                             ("text/turtle;q=0.2, application/ld+json;q=0.9", "json-ld"),
                                             ("application/json;q=0, text/turtle", "turtle"),
                                             ("TEXT/TURTLE", "turtle")])
def test_negotiation(accept, fmt) -> None:
    assert negotiate(accept) == fmt


@pytest.mark.parametrize("accept", ["application/xml", "text/html", "application/json;q=0", "*/*;q=0"])
def test_nothing_acceptable(accept) -> None:
    with pytest.raises(NotAcceptable):
        negotiate(accept)


def test_body_formats() -> None:
    assert body_format("application/json; charset=UTF-8") == "json"
    assert body_format("text/turtle") == "turtle"
    assert body_format("application/x-www-form-urlencoded") is None
    assert body_format(None) is None


@pytest.mark.parametrize("answer", sorted(GETS))
@pytest.mark.parametrize("media", sorted(RDF))
def test_every_answer_as_saref_rdf_reads_back_to_the_json(api: Api, answer: str, media: str) -> None:
    publish_need(api)
    as_json = api.call("GET", GETS[answer], key="SP001").json()
    reply = api.call("GET", GETS[answer], key="SP001", headers={"Accept": media})
    assert reply.status == 200 and reply.headers["content-type"].split(";")[0] == media
    graph = parse_rdf(reply.body, RDF[media])
    description = dso_saref.catalog[answer]
    if isinstance(as_json, list) and not description.top_list:  # a lookup's instances: one per reading
        rows = description.graph_rows(graph)
        back = sorted((description.from_term_rows(g) for g in description.instances(rows)), key=json.dumps)
        assert back == sorted(as_json, key=json.dumps) and back
    else:
        assert dso_saref.unsaref(answer, graph) == dso_saref.canonical(answer, as_json)


@pytest.mark.parametrize("media", sorted(RDF))
def test_a_post_body_in_rdf_is_read_back_and_served(api: Api, media: str) -> None:
    offer = publish_need(api)
    text = dso_saref.serialize("flexibility-offers", [offer], format=RDF[media])
    reply = api.call("POST", "/v1/flexibility/offers", key="SP001", body=text, headers={"Content-Type": media})
    assert reply.status == 201, reply.body
    [stored] = api.backend.market.offers(offer["request_id"])
    assert stored.offer.offer_id == "O1" and stored.provider_id == "SP001"


def test_an_rdf_body_that_is_not_the_message_is_refused_with_the_report(api: Api) -> None:
    reply = api.call("POST", "/v1/flexibility/offers", key="SP001", body="<urn:a> <urn:b> <urn:c> .",
                     headers={"Content-Type": "application/n-triples"})
    assert reply.status == 400 and reply.json()["report"]["input"] == "rdf"
    broken = api.call("POST", "/v1/flexibility/offers", key="SP001", body="this is not turtle",
                      headers={"Content-Type": "text/turtle"})
    assert broken.status == 400 and broken.json()["report"]["errors"][0]["rule"] == "syntax"


def test_an_rdf_body_that_breaks_the_shape_is_refused_at_its_node(api: Api) -> None:
    offer = publish_need(api)
    text = dso_saref.serialize("flexibility-offers", [offer], format="nt")
    bad = "\n".join(line for line in text.splitlines() if "hasPrice" not in line and "price" not in line.lower())
    reply = api.call("POST", "/v1/flexibility/offers", key="SP001", body=bad, headers={"Content-Type":
                                                                                        "application/n-triples"})
    assert reply.status == 400
    assert all(e["location"] for e in reply.json()["report"]["errors"])
    assert not api.backend.market.offers(offer["request_id"])


def test_an_error_is_json_whatever_the_client_accepts(api: Api) -> None:
    reply = api.call("GET", "/v1/flexibility/needs?start=x&end=y", key="SP001", headers={"Accept": "text/turtle"})
    assert reply.status == 400 and reply.headers["content-type"] == "application/problem+json"
