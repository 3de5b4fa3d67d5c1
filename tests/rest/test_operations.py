"""Issue 12 item 1: every exchange in which the DSO answers or receives has its REST operation, and no
operation lacks a catalog exchange; every exchange the DSO starts has a partner endpoint; every operation
has its typed client method (named after it)."""

from __future__ import annotations

import pytest

import dso_saref
from dso_saref.rest.client import DsoClient, PartnerClient
from dso_saref.rest.operations import (
    DSO_OPERATIONS,
    PARTNER_OPERATIONS,
    RECEIPTS,
    dso_exchanges,
    partner_exchanges,
    pushed_answers,
)


def test_every_exchange_the_dso_serves_has_its_operation_and_no_operation_lacks_one() -> None:
    served = {op.exchange: op.kind for op in DSO_OPERATIONS if op.kind != "push"}
    assert served == dso_exchanges()
    assert {op.exchange for op in DSO_OPERATIONS if op.kind == "push"} == pushed_answers()
    assert len({op.exchange for op in DSO_OPERATIONS}) == len(DSO_OPERATIONS)


def test_the_pushed_answers_are_the_data_answers_of_what_the_dso_starts() -> None:
    assert pushed_answers() == {"incentive-response", "hems-status", "hems-voltage", "disaggregated-data",
                                "elasticity-output"}
    assert not pushed_answers() & set(RECEIPTS)


def test_every_exchange_the_dso_starts_has_a_partner_endpoint() -> None:
    assert {op.exchange for op in PARTNER_OPERATIONS} == partner_exchanges()


@pytest.mark.parametrize("op", DSO_OPERATIONS + PARTNER_OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
def test_operations_are_versioned_with_callers_and_answers_of_the_catalog(op) -> None:
    assert op.path.startswith("/v1/")
    assert op.method in ("GET", "POST")
    assert op.roles(), f"{op.exchange}: nobody may call it"
    assert op.answer() in dso_saref.catalog
    assert set(op.path_fields) <= set(dso_saref.catalog[op.exchange].model.model_fields)
    assert set(op.headers) <= set(dso_saref.catalog[op.exchange].model.model_fields)


def test_paths_and_methods_are_unique_per_api() -> None:
    for operations in (DSO_OPERATIONS, PARTNER_OPERATIONS):
        pairs = [(op.method, op.path) for op in operations]
        assert len(pairs) == len(set(pairs))


@pytest.mark.parametrize(("client", "operations"), [(DsoClient, DSO_OPERATIONS), (PartnerClient, PARTNER_OPERATIONS)])
def test_every_operation_has_its_typed_client_method(client, operations) -> None:
    missing = [op.operation_id for op in operations if not callable(getattr(client, op.operation_id, None))]
    assert not missing
    assert client.operations == operations
