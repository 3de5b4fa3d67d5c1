"""The row form of a message (dso_saref/messages/rows.py): Row list items validated as dicts on the
forward path, with the verdicts, problems and tables of the message's own model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import dso_saref
from dso_saref.errors import PayloadError
from dso_saref.messages.common import Number, Row, check_unique
from dso_saref.messages.data_sharing import MeteringData, MeteringReading
from dso_saref.messages.rows import row_dict, rows_model
from dso_saref.payloads import Document, Limits, read_document
from dso_saref.terms import Settings
from tests.strategies import mutated, payload_strategy

NAME = "metering-data"
WITH_ROWS = [name for name in sorted(dso_saref.catalog) if rows_model(dso_saref.catalog[name].model) is not None]


def readings(count: int = 3) -> list[dict[str, Any]]:
    times = [f"2021-09-27T{i // 4:02d}:{15 * (i % 4):02d}:00Z" for i in range(count)]
    return [{"id": "U1", "readings": [{"time": t, "measurement": 1.5 + i, "unit": "kW"} for i, t in enumerate(times)]}]


def test_metering_readings_are_rows_and_the_forward_path_reads_them_as_dicts() -> None:
    assert NAME in WITH_ROWS
    message = dso_saref.catalog[NAME].read(readings())
    assert isinstance(message, MeteringData)
    assert message.root[0].readings[1] == {"time": message.root[0].readings[1]["time"], "measurement": 2.5,
                                           "unit": "kW"}
    typed = dso_saref.catalog[NAME].parse(readings())  # a caller's typed message: model instances
    assert isinstance(typed.root[0].readings[1], MeteringReading)


def outcome(name: str, payload: Any, settings: Settings | None = None, *, rows: bool) -> Any:
    """What the forward path makes of a payload through the row form, or through the model alone."""
    description = dso_saref.catalog[name]
    try:
        message = description.read(payload, settings) if rows else description.parse(payload, settings)
        table = description.table_of(message, settings)
    except PayloadError as exc:
        return [(p.location, p.message, p.rule) for p in exc.problems]
    return sorted(table.ntriples().splitlines()), table.bindings()


@pytest.mark.parametrize("name", WITH_ROWS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_the_row_form_gives_the_models_verdict_problems_and_table(name: str, data: st.DataObject) -> None:
    payload = data.draw(payload_strategy(dso_saref.catalog[name].model))
    if data.draw(st.booleans()):
        payload = data.draw(mutated(payload))
    for mode in (Settings(strict=True), Settings(strict=False)):
        assert outcome(name, payload, mode, rows=True) == outcome(name, payload, mode, rows=False)


@pytest.mark.parametrize("payload", [
    [{"id": "U1", "readings": [{"time": "2021-09-27T00:00:00Z", "measurement": 1, "unit": "kW"}] * 2}],
    [{"id": "U1", "readings": [{"time": "2021-09-27T00:00:00Z", "measurement": "1,5", "unit": "kilowatt"}]}],
    [{"id": "U1", "readings": [{"time": "2021/09/27 10:00", "measurement": -0.0, "unit": "W", "extra": 1}]}],
    [{"id": "U1", "readings": [MeteringReading(time="2021-09-27T00:00:00Z", measurement=1, unit="kW")]}],
    [{"id": "U1", "readings": [{"time": "2021-09-27T00:00:00Z", "measurement": float("nan"), "unit": "kW"}]}],
    [{"id": "U1", "readings": [{"time": "2021-09-27T00:00:00Z", "measurement": 1e300, "unit": "MW"}]}],
    [{"id": "U1", "readings": "none"}],
], ids=["same time twice", "aliases", "extra key, spec time, -0", "a model instance", "NaN", "huge", "not a list"])
def test_the_row_form_agrees_with_the_model_on_edge_cases(payload: Any) -> None:
    for mode in (Settings(strict=True), Settings(strict=False)):
        assert outcome(NAME, payload, mode, rows=True) == outcome(NAME, payload, mode, rows=False)


def test_a_rows_dict_has_the_models_keys_types_and_configuration() -> None:
    form = row_dict(MeteringReading)
    assert set(form.__annotations__) == {"time", "measurement", "unit"}
    assert form.__pydantic_config__["extra"] == "forbid"


def test_a_row_may_not_default_an_optional_field_to_anything_but_none() -> None:
    with pytest.raises(TypeError, match="defaults to None"):
        type("Bad", (Row,), {"__annotations__": {"value": Number}, "value": 1.0})
    fine = type("Fine", (Row,), {"__annotations__": {"value": Number | None}, "value": None})
    assert issubclass(fine, BaseModel)


def test_unique_by_field_name_reads_rows_as_models_or_dicts() -> None:
    as_dicts = [{"time": 1}, {"time": 2}, {"time": 1}]
    with pytest.raises(ValueError, match="reading at time 1 appears more than once"):
        check_unique(as_dicts, "time", "reading at time")
    models = dso_saref.catalog[NAME].parse(readings()).root[0].readings
    check_unique(models, "time", "reading at time")


def test_a_document_read_already_is_validated_without_reading_it_again() -> None:
    text = '[{"id": "U1", "id": "U1", "readings": []}]'
    document = read_document(text, limits=Limits(duplicate_keys="last"))
    report = dso_saref.validate(NAME, Document(document.value, document.warnings))
    assert report.conforms
    assert [(w.location, w.rule) for w in report.warnings] == [("$[0].id", "duplicate")]
    assert dso_saref.validate(NAME, Document(readings())).table.bindings() == dso_saref.to_bindings(NAME, readings())


@pytest.mark.parametrize(("items", "text", "refused"), [
    (3, "[1, 2, 3]", False), (3, "[1,2,3,4]", True), (2, '{"a": [[1, 2, 3]]}', True),
    (2, '{"a": "[1,2,3,4,5]"}', False),
])
def test_array_lengths_are_refused_whatever_the_documents_length(items: int, text: str, refused: bool) -> None:
    limits = Limits(items=items)
    try:
        read_document(text, limits=limits)
    except ValueError as exc:
        assert refused and "the limit is" in str(exc)
    else:
        assert not refused
    assert limits.may_exceed(len(text)) or not refused


def test_the_bench_payload_is_the_same_through_every_entry_point() -> None:
    payload = readings(40)
    text = json.dumps(payload)
    table = dso_saref.catalog[NAME].table(text)
    assert dso_saref.to_bindings(NAME, text) == dso_saref.to_bindings(NAME, payload) == table.bindings()
    assert dso_saref.serialize(NAME, text.encode()) == table.ntriples()
    assert dso_saref.validate(NAME, text).table.ntriples() == table.ntriples()
