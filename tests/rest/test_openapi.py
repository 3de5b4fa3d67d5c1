"""Issue 12 item 6: the OpenAPI 3.1 document is generated from the operations and the catalog, is valid,
carries the catalog's examples (each valid against its schema), and is shown by Swagger UI and ReDoc
whose assets the API serves itself (no CDN)."""

from __future__ import annotations

import re

import jsonschema
import pytest
from openapi_spec_validator import validate

import dso_saref
from dso_saref.carrier import filter_keys
from dso_saref.rest.app import api_document
from dso_saref.rest.operations import DSO_OPERATIONS, PARTNER_OPERATIONS

from .conftest import Api


@pytest.mark.parametrize("api", ["dso", "partner"])
def test_the_document_is_valid_openapi_3_1(api: str) -> None:
    document = api_document(api)
    assert document["openapi"] == "3.1.0"
    validate(document)
    operations = DSO_OPERATIONS if api == "dso" else PARTNER_OPERATIONS
    assert {(op.path, op.method.lower()) for op in operations} == {
        (path, method) for path, methods in document["paths"].items() for method in methods}


def _resolve(document: dict, schema: dict) -> dict:
    """The schema with the document's components beside it, for its ``#/components/...`` references."""
    return {**schema, "components": document["components"]}


@pytest.mark.parametrize("op", DSO_OPERATIONS + PARTNER_OPERATIONS, ids=lambda op: op.exchange)
def test_examples_are_the_catalogs_and_fit_their_schemas(op) -> None:
    document = api_document("dso" if op in DSO_OPERATIONS else "partner")
    spec = document["paths"][op.path][op.method.lower()]
    if op.method == "POST":
        body = spec["requestBody"]["content"]["application/json"]
        assert body["example"] == dso_saref.catalog[op.exchange].example()
        jsonschema.validate(body["example"], _resolve(document, body["schema"]))
        assert "@prefix" in spec["requestBody"]["content"]["text/turtle"]["example"]
    answer = spec["responses"]["200"]["content"]["application/json"]
    example = dso_saref.catalog[op.answer()].example()
    assert answer["example"] in (example, [example])
    jsonschema.validate(answer["example"], _resolve(document, answer["schema"]))
    for status in ("400", "401", "403", "404", "406", "500"):
        assert spec["responses"][status]["content"]["application/problem+json"]["schema"]["$ref"].endswith("ErrorBody")
    assert spec["security"] == [{"bearerAuth": []}]


def test_query_parameters_are_the_requests_fields(api: Api) -> None:
    spec = api_document()["paths"]["/v1/data/metering"]["get"]
    names = {p["name"]: p["in"] for p in spec["parameters"]}
    assert names == {"data_type": "query", "id": "query", "Consent-Token": "header", "granularity": "query",
                     "start": "query", "end": "query"}
    lookup = api_document()["paths"]["/v1/data-layer/topology"]["get"]
    assert {p["name"] for p in lookup["parameters"]} == set(filter_keys(dso_saref.catalog["grid-topology"]))
    assert {p["name"] for p in lookup["parameters"]} >= {"client_id", "voltage_level"}
    assert all(not p["required"] and p["in"] == "query" for p in lookup["parameters"])


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_their_assets_from_the_api_itself(api: Api, page: str) -> None:
    reply = api.call("GET", page)
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/html")
    html = reply.body.decode()
    assert not re.search(r"(src|href)=[\"']https?://", html), "an asset from elsewhere"
    assert "fonts.googleapis" not in html and "cdn." not in html
    for asset in re.findall(r"(?:src|href)=[\"'](/static/docs/[^\"']+)", html):
        served = api.call("GET", asset)
        assert served.status == 200 and len(served.body) > 1000, asset
    assert "/openapi.json" in html
