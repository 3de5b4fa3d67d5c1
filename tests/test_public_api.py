"""The public face: ``__all__`` complete and sorted, errors converted at the boundary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rdflib import Graph

import dso_saref
from tests.conftest import NAMES, ROOT


def isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


#: The documented API (README's tour, docs/): exactly what ``dso_saref`` exports.
DOCUMENTED = {
    "ASK_ANSWER", "FORMATS", "POST_REACT",
    "Catalog", "Description", "DescriptionError", "DsoSarefError", "Interaction", "PatternError", "PayloadError",
    "Problem", "Report", "Settings", "UnknownMessageError", "Violation",
    "canonical", "catalog", "from_bindings", "json_schema", "match", "messages", "saref", "serialize", "to_bindings",
    "unsaref",
    "validate",
}


def test_all_is_exactly_the_documented_api_and_sorted() -> None:
    assert dso_saref.__all__ == sorted(dso_saref.__all__, key=isort_key)
    assert set(dso_saref.__all__) == DOCUMENTED
    for name in dso_saref.__all__:
        assert hasattr(dso_saref, name)


def test_import_is_lazy_no_pyshacl_until_a_pyshacl_validation() -> None:
    code = ("import sys, dso_saref; assert 'pyshacl' not in sys.modules; "
            "dso_saref.to_bindings('hems-voltage-request', {'Hems_ID': 'x'}); "
            "assert dso_saref.validate('hems-voltage-request', {'Hems_ID': 'x'}).conforms; "
            "assert 'pyshacl' not in sys.modules, 'the compiled engine needs no pySHACL'; "
            "dso_saref.validate('hems-voltage-request', {'Hems_ID': 'x'}, engine='pyshacl'); "
            "assert 'pyshacl' in sys.modules")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]


def test_messages_lists_the_catalog() -> None:
    assert [d.name for d in dso_saref.messages()] == NAMES


def test_unknown_message_names_suggest_close_ones() -> None:
    with pytest.raises(dso_saref.UnknownMessageError) as info:
        dso_saref.to_bindings("hems-voltag", {})
    assert "hems-voltage" in info.value.suggestions


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize("name", NAMES)
@given(payload=JSON)
def test_hostile_payloads_give_payload_errors_never_tracebacks(name: str, payload: object) -> None:
    try:
        dso_saref.saref(name, payload)
    except dso_saref.PayloadError as exc:
        assert exc.problems and all(p.location.startswith("$") for p in exc.problems)


@pytest.mark.parametrize("name", NAMES)
@given(bindings=st.lists(st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=4), max_size=3))
def test_hostile_bindings_give_payload_errors(name: str, bindings: list[dict[str, str]]) -> None:
    try:
        dso_saref.from_bindings(name, bindings)
    except dso_saref.PayloadError as exc:
        assert exc.problems


def test_bindings_from_another_party_with_xsd_string_are_accepted() -> None:
    bindings = [{"hems": "<https://dso.example.org/id/hems/ID1234>",
                 "hems_id": '"ID1234"^^<http://www.w3.org/2001/XMLSchema#string>',
                 "property": "<https://dso.example.org/id/hems/ID1234/voltage>"}]
    assert dso_saref.from_bindings("hems-voltage-request", bindings) == {"Hems_ID": "ID1234"}


def test_a_peer_s_iris_are_read_as_they_are_and_only_iris() -> None:
    """A peer mints under its own base (issue 10, item 2): its bindings are read whatever its IRIs,
    the message comes from the literals; a literal or a malformed IRI where a node belongs is refused."""
    peer = [{"hems": "<https://peer.example.net/things/h-1>", "hems_id": '"ID1234"',
             "property": "<https://peer.example.net/things/h-1/v>"}]
    assert dso_saref.from_bindings("hems-voltage-request", peer) == dso_saref.from_bindings(
        "hems-voltage-request", [{"hems": "<https://dso.example.org/id/hems/ID1234>", "hems_id": '"ID1234"',
                                  "property": "<https://dso.example.org/id/hems/ID1234/voltage>"}])
    for forged in ('"ID1234"', "<https://x.example/a> <https://x.example/b> <https://x.example/c>",
                   "<https://x.example/a>.<https://x.example/b>"):
        with pytest.raises(dso_saref.PayloadError, match="hems"):
            dso_saref.from_bindings("hems-voltage-request", [{"hems": forged, "hems_id": '"ID1234"',
                                                              "property": "<https://x.example/v>"}])


def test_installed_wheel_works_from_any_directory(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, check=False)
    if built.returncode != 0:
        pytest.fail(f"wheel build failed: {built.stderr[-2000:]}")
    (wheel,) = tmp_path.glob("dso_saref-*.whl")
    unpacked = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "zipfile", "-e", str(wheel), str(unpacked)], check=True)
    code = (
        "import json, dso_saref; "
        "d = dso_saref.catalog['hems-voltage']; "
        "assert '_data' in str(d.source), d.source; "
        "import dso_saref.validation.engines.compiled as compiled, dso_saref.backend as backend, "
        "dso_saref.ke as ke, dso_saref.cli as cli, dso_saref.app.demo as demo; "
        "assert all(m.__file__.startswith(sys.path[0]) for m in (dso_saref, compiled, backend, ke, cli, demo)); "
        "assert dso_saref.validate('hems-voltage', d.example()).conforms; "
        "assert dso_saref.serialize('hems-voltage', d.example()); "
        "print(json.dumps([len(dso_saref.messages()), len(dso_saref.saref('hems-voltage', d.example()))]))"
    )
    run = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(unpacked)!r}); {code}"],
                         cwd=tmp_path, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    count, triples = json.loads(run.stdout)
    assert count == len(NAMES)
    assert triples > 0


def test_validate_engines_agree_on_every_example_and_unknown_engine_is_refused() -> None:
    for name in NAMES:
        example = dso_saref.catalog[name].example()
        fast = dso_saref.validate(name, example)
        reference = dso_saref.validate(name, example, engine="pyshacl")
        assert fast.conforms and reference.conforms, name
    with pytest.raises(ValueError, match="engine"):
        dso_saref.validate("hems-voltage", {}, engine="fast")


def test_unsaref_reads_rdf_text_a_peer_s_graph_and_says_when_the_message_is_absent() -> None:
    """Issue 11, item 8: Turtle or N-Triples text, a peer's IRIs, and a clear error for no message (a
    message whose empty form is valid, an empty list of readings, reads as that)."""
    payload = dso_saref.catalog["hems-voltage"].example()
    peer = dso_saref.Settings(base="https://peer.example.net/things/")
    graph = dso_saref.saref("hems-voltage", payload, settings=peer)
    canonical = dso_saref.unsaref("hems-voltage", graph)
    assert dso_saref.unsaref("hems-voltage", graph.serialize(format="turtle")) == canonical
    assert dso_saref.unsaref("hems-voltage", graph.serialize(format="nt").encode(), format="nt") == canonical
    status = dso_saref.saref("hems-status", dso_saref.catalog["hems-status"].example())
    with pytest.raises(dso_saref.PayloadError, match="holds no hems-voltage-request") as caught:
        dso_saref.unsaref("hems-voltage-request", Graph())
    assert caught.value.problems[0].rule == "absent"
    assert dso_saref.unsaref("hems-voltage", status) == {"Voltage_Monitoring": []}


def test_strings_and_arrays_beyond_the_limits_are_refused_at_their_json_path() -> None:
    """Issue 15, item 13: configurable limits on size, string length and array length."""
    from dso_saref.payloads import Limits

    payload = dso_saref.catalog["hems-voltage"].example()
    payload["Voltage_Monitoring"][0]["Hems_ID"] = "x" * 70_000
    for data in (payload, json.dumps(payload), json.dumps(payload).encode()):
        with pytest.raises(dso_saref.PayloadError) as caught:
            dso_saref.to_bindings("hems-voltage", data)
        assert [(p.location, p.rule) for p in caught.value.problems] == [
            ("$.Voltage_Monitoring[0].Hems_ID", "string_length")]
        report = dso_saref.validate("hems-voltage", data)
        assert [(e.location, e.rule) for e in report.errors] == [("$.Voltage_Monitoring[0].Hems_ID", "string_length")]
    roomy = dso_saref.Settings(limits=Limits(string=100_000))
    assert dso_saref.validate("hems-voltage", payload, settings=roomy).conforms
    many = {"Voltage_Monitoring": [dict(payload["Voltage_Monitoring"][0], Hems_ID=f"H{i}") for i in range(5)]}
    tight = dso_saref.Settings(limits=Limits(items=4))
    with pytest.raises(dso_saref.PayloadError, match="an array of 5 items: the limit is 4"):
        dso_saref.to_bindings("hems-voltage", many, settings=tight)
    with pytest.raises(ValueError, match="items limit"):
        Limits(items=0)
    for scalar in (None, 3, 2.5, True, "text"):  # a document that is not an object nor an array
        assert Limits(items=1).check(scalar) == []
    with pytest.raises(dso_saref.terms.SettingsError, match="limits"):
        dso_saref.Settings(limits={"string": 5})  # type: ignore[arg-type]


def _zero_series(values: list[float]) -> list[dict[str, object]]:
    return [{"id": "U0000", "readings": [{"time": f"2021-09-27T{q // 4:02d}:{q % 4 * 15:02d}:00Z",
                                          "measurement": v, "unit": "kW"} for q, v in enumerate(values)]}]


def _measurement_iris(values: list[float]) -> list[str]:
    lines = dso_saref.serialize("metering-data", _zero_series(values), "nt").splitlines()
    return [line.split()[0] for line in lines if line.endswith("<https://saref.etsi.org/core/Measurement> .")]


def test_a_zero_s_iri_depends_on_its_own_sign_only() -> None:
    """0.0 and -0.0 are equal numbers with two texts, and a measurement's IRI hashes its value's text:
    neither may take the other's, from an earlier call's memo or from a long column of the same payload."""
    zero, minus = _measurement_iris([0.0]), _measurement_iris([-0.0])  # (a dict would hold them as one key)
    assert _measurement_iris([-0.0]) == minus and _measurement_iris([0.0]) == zero and zero != minus
    long = _measurement_iris([-0.0, 0.0, *map(float, range(1, 80))])
    assert [long[0], long[1].replace("T00%3A15", "T00%3A00")] == [*minus, *zero]
    text = dso_saref.serialize("metering-data", _zero_series([-0.0, 0.0, *map(float, range(1, 80))]), "nt")
    assert '"-0.0"^^' in text and '"0.0"^^' in text  # and each literal its own lexical form
