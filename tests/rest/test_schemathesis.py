"""Tests and figures: schemathesis (property-based, from our OpenAPI document) over every operation of the
DSO's API with a valid key of a party that may call it: no 500, every response matches its documented
status, media type and schema, unsupported methods are 405, a request without its key is refused; the
invalid requests schemathesis makes (negative cases) are sent too, and answered without a 500.

What the document cannot say is left to other tests: RDF request bodies (documented as strings: their
validity is the message's shape; tests/rest/test_semantic.py posts real ones), and whether a request is
accepted or refused, both ways: the models' JSON Schema is their canonical form, stricter than what the
wire contract accepts on the way in (an integer identifier, a numeric string, the spec's ``2021/09/27
10:00``: ``negative_data_rejection``), and blind to their cross-field rules and shapes (start before end,
units of the power type: ``positive_data_acceptance``). tests/rest/test_statuses.py checks those 400s."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from dso_saref.app.seed import seed_world
from dso_saref.backend import DsoBackend, Storage
from dso_saref.rest.app import api_document, create_app
from dso_saref.rest.operations import DSO_OPERATIONS, ROLE_ACTS_AS
from dso_saref.rest.server import RestServer

from .conftest import NOW, Clock, issue_keys


def _json_bodies_only(document: dict) -> dict:
    for methods in document["paths"].values():
        for spec in methods.values():
            content = spec.get("requestBody", {}).get("content")
            if content:
                spec["requestBody"]["content"] = {"application/json": content["application/json"]}
    return document


schema = schemathesis.openapi.from_dict(_json_bodies_only(copy.deepcopy(api_document("dso"))))

#: Examples per operation (``DSO_SAREF_SCHEMATHESIS_EXAMPLES`` for a longer run).
EXAMPLES = int(os.environ.get("DSO_SAREF_SCHEMATHESIS_EXAMPLES", "30"))
PARTY_ROLES = {"SP001": "service-provider", "DSP001": "data-service-provider", "TP": "third-party"}
PARTY_OF = {op.operation_id: next(p for p, role in PARTY_ROLES.items() if ROLE_ACTS_AS[role] in op.roles())
            for op in DSO_OPERATIONS}


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[str, dict[str, str]]]:
    storage = Storage(":memory:")
    backend = DsoBackend(storage, clock=Clock(NOW))
    seed_world(backend)
    app = create_app(backend)
    keys = issue_keys(app.state.credentials, NOW)
    with RestServer(app) as server:
        yield server.base_url, keys
    storage.close()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api(case, live) -> None:
    base_url, keys = live
    party = PARTY_OF[case.operation.definition.raw["operationId"]]
    case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {keys[party]}"},
                           excluded_checks=[positive_data_acceptance, negative_data_rejection])
