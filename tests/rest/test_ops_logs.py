"""Issue 12 item 8: JSON-lines logs. One line per REST request with the request id the client gave (or
the one the gate made, echoed in ``X-Request-Id``), the same id on the rows the request wrote to the
registry of operations; lines of other loggers pick the id up from the request scope; every line is one
JSON object, whatever the message holds."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dso_saref.backend.policy import TOKEN_NOT_VALID
from dso_saref.backend.registry import Outcome, request_scope
from dso_saref.monitoring.logs import ACCESS_LOGGER, JsonLinesFormatter, json_lines_handler
from tests.portal.support import Served, json_log, serving


@pytest.fixture
def logged() -> Iterator[tuple[Served, io.StringIO]]:
    with json_log() as stream, serving() as dso:
        yield dso, stream


def access_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [line for line in map(json.loads, stream.getvalue().splitlines()) if line["logger"] == ACCESS_LOGGER]


def test_a_request_id_goes_into_the_access_log_and_the_registry(logged: tuple[Served, io.StringIO]) -> None:
    dso, stream = logged
    reply = dso.get("/v1/data/metering?data_type=User&id=U0001&granularity=1&start=2021-09-27T00:00:00Z"
                    "&end=2021-09-28T00:00:00Z", key="SP001",
                    headers={"X-Request-Id": "trace-42", "Consent-Token": "no-such-token"})
    assert reply.status == 403 and reply.headers["x-request-id"] == "trace-42"
    [line] = [line for line in access_lines(stream) if line["path"] == "/v1/data/metering"]
    assert line["request_id"] == "trace-42" and line["status"] == 403 and line["level"] == "WARNING"
    assert line["operation"] == "metering-request" and line["party"] == "SP001"
    assert line["refusal"] == TOKEN_NOT_VALID and line["ms"] > 0  # what the requester was told
    assert line["time"].endswith("Z")
    [row] = dso.backend.registry.entries(request_id="trace-42")
    assert row.outcome is Outcome.REFUSED and row.operation == "metering-request"
    assert row.reason == "unknown authorization token"  # the DSO's own account


def test_a_request_without_an_id_gets_one_and_logs_it(logged: tuple[Served, io.StringIO]) -> None:
    dso, stream = logged
    reply = dso.get("/v1/flexibility/needs?start=2021-09-28T00:00:00Z&end=2021-09-29T00:00:00Z", key="SP001")
    assert reply.status == 200
    [line] = [line for line in access_lines(stream) if line["path"] == "/v1/flexibility/needs"]
    assert line["request_id"] == reply.headers["x-request-id"] and line["level"] == "INFO"
    assert line["refusal"] is None


def test_other_loggers_take_the_id_of_the_request_scope() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("dso_saref.tests.scope")
    logger.propagate = False
    logger.addHandler(json_lines_handler(stream))
    try:
        with request_scope("scope-7"):
            logger.warning("inside %s", "the scope")
        logger.warning("outside")
        try:
            raise KeyError("boom")
        except KeyError:
            logger.exception("failed")
    finally:
        logger.handlers.clear()
        logger.propagate = True
    inside, outside, failed = map(json.loads, stream.getvalue().splitlines())
    assert inside["request_id"] == "scope-7" and inside["message"] == "inside the scope"
    assert outside["request_id"] is None
    assert failed["level"] == "ERROR" and "KeyError: 'boom'" in failed["exception"]


@settings(deadline=None)  # a shared machine: no per-example time limit
@given(message=st.text(), field=st.text())
def test_every_record_is_one_json_line(message: str, field: str) -> None:
    record = logging.LogRecord("dso_saref.x", logging.INFO, __file__, 1, message, None, None)
    record.fields = {"path": field, "message": "not the message"}
    line = JsonLinesFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == message and data["path"] == field
