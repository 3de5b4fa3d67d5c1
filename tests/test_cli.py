"""The command line contract: exit 0 / 1 (bad input) / 2 (usage), never a traceback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

import dso_saref
from dso_saref.backend import Storage
from dso_saref.cli import main
from tests.conftest import NAMES, ROOT

EXAMPLES = ROOT / "examples"
EXAMPLE = str(EXAMPLES / "hems-voltage.json")


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.output


def test_messages_prints_one_line_per_type_name_first() -> None:
    code, out = run("messages")
    assert code == 0
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == NAMES


def test_saref_turtle_then_unsaref_round_trips() -> None:
    code, turtle = run("saref", "hems-voltage", EXAMPLE)
    assert code == 0 and "saref:Measurement" in turtle
    code, out = run("unsaref", "hems-voltage", "-", stdin=turtle)
    assert code == 0
    assert json.loads(out)["Voltage_Monitoring"][0]["Hems_ID"] == "ID1234"


def test_bindings_format_round_trips() -> None:
    code, out = run("saref", "hems-voltage", EXAMPLE, "--format", "bindings")
    assert code == 0
    code, back = run("unsaref", "hems-voltage", "-", "--format", "bindings", stdin=out)
    assert code == 0 and json.loads(back)["Voltage_Monitoring"][0]["Voltage_from_Hems"] == 240.0


def test_every_rdf_format_round_trips() -> None:
    for fmt in ("nt", "json-ld"):
        code, out = run("saref", "hems-voltage", EXAMPLE, "--format", fmt)
        assert code == 0
        code, back = run("unsaref", "hems-voltage", "-", "--format", fmt, stdin=out)
        assert code == 0, back


def test_unknown_name_is_a_usage_error_listing_close_names() -> None:
    code, out = run("saref", "hems-voltag", EXAMPLE)
    assert code == 2 and "hems-voltage" in out


def test_malformed_json_is_bad_input() -> None:
    code, out = run("saref", "hems-voltage", "-", stdin="{")
    assert code == 1 and "not valid JSON" in out


def test_invalid_payload_names_the_json_path() -> None:
    payload = {"Voltage_Monitoring": [{"Hems_ID": "x", "timestamp": "2021-12-03T15:11:20Z",
                                       "Voltage_from_Hems": 1, "Voltage_from_Hems_unit": "parsecs"}]}
    code, out = run("saref", "hems-voltage", "-", stdin=json.dumps(payload))
    assert code == 1 and "$.Voltage_Monitoring[0].Voltage_from_Hems_unit" in out


def test_lenient_mode_drops_unknown_keys() -> None:
    code, out = run("saref", "hems-voltage-request", "-", "--lenient", "--format", "bindings",
                    stdin='{"Hems_ID": "a", "extra": 1}')
    assert code == 0 and json.loads(out)["hems-voltage-request"][0]["hems_id"] == '"a"'


def test_unreadable_file_is_a_usage_error() -> None:
    code, _ = run("saref", "hems-voltage", "/nonexistent/x.json")
    assert code == 2


def test_bad_rdf_is_bad_input() -> None:
    code, out = run("unsaref", "hems-voltage", "-", stdin="garbage")
    assert code == 1 and "not valid turtle" in out


def test_bad_time_zone_is_a_usage_error() -> None:
    code, _ = run("saref", "hems-voltage", EXAMPLE, "--timezone", "Mars/Olympus")
    assert code == 2


# -- issue 11: exit codes as the README says, JSON output, schemas, SHACL reports, extra shapes ---------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("cli") / "dso.sqlite"
    with Storage(str(path)):
        pass
    return str(path)


#: (arguments, exit code): 0 success, 1 bad input or a failure the message explains, 2 usage error.
EXIT_CODES = [
    (("messages",), 0),
    (("messages", "--format", "yaml"), 2),
    (("schema", "hems-voltage"), 0),
    (("schema", "hems-voltag"), 2),
    (("saref", "hems-voltage", EXAMPLE), 0),
    (("saref", "hems-voltage", "/nonexistent.json"), 2),
    (("saref", "hems-voltage", "-", "--base", "urn:x:"), 2),
    (("unsaref", "hems-voltage-request", "-"), 1),  # empty input: no hems-voltage-request in it
    (("validate", "hems-voltage", EXAMPLE), 0),
    (("validate", "hems-voltage", "/nonexistent/*.json"), 2),
    (("validate", "hems-voltage", EXAMPLE, "--shapes", "/nonexistent.ttl"), 2),
    (("shapes", "hems-voltage"), 0),
    (("shapes", "nope"), 2),
    (("ke", "kis", "--role", "dso"), 0),
    (("ke", "kis"), 2),
    # before the KE is contacted: a role that does not start the exchange, a bad payload
    (("ke", "send", "hems-voltage-request", "-", "--role", "third-party", "--ke-url", "http://127.0.0.1:{closed}"), 2),
    (("ke", "send", "flexibility-offers", "-", "--role", "service-provider", "--ke-url", "http://127.0.0.1:{closed}"),
     1),
    pytest.param(("ke", "register", "--role", "dso", "--ke-url", "http://127.0.0.1:{closed}/rest"), 1,
                 marks=pytest.mark.slow),  # unreachable: three attempts, backing off
    pytest.param(("ke", "send", "flexibility-needs-request", EXAMPLES / "flexibility-needs-request.json", "--role",
                  "service-provider", "--ke-url", "http://127.0.0.1:{closed}/rest"), 1, marks=pytest.mark.slow),
    (("ke", "emulate", "--port", "70000"), 2),
    (("serve", "--db", ":memory:", "--ke-url", "http://127.0.0.1:{closed}/rest", "--attempts", "1"), 1),
    (("serve",), 2),  # no database
    (("serve", "--db", ":memory:", "--kb-id", "kb"), 2),
    (("consent", "list", "--db", "{db}"), 0),
    (("consent", "grant", "nope", "--db", "{db}"), 1),
    (("consent", "list", "--db", "/nonexistent.sqlite"), 2),
    (("operations", "--db", "{db}", "--user", "U9999"), 1),
    (("ingest", "metering", EXAMPLES / "metering-data.json"), 2),  # no database
    (("ingest", "metering", EXAMPLES / "hems-voltage.json", "--db", "{db}"), 1),
    (("config", "show"), 0),
    (("config", "show", "--config", "/nonexistent.toml"), 2),
    (("demo", "--db", EXAMPLE), 2),  # the demo writes a new database
    (("demo", "--only", "HLUC99 PUC1"), 2),  # an unknown use case
    (("demo", "--only", "HLUC11 PUC2", "--quiet"), 0),
    (("demo", "--only", "HLUC11 PUC2", "--ke-url", "http://127.0.0.1:{closed}/rest"), 1),  # no KE there
]


def _exit_code_id(case: object) -> str:
    args = case.values[0] if hasattr(case, "values") else case[0]  # type: ignore[index, attr-defined]
    return " ".join(map(str, args))[:60]


@pytest.mark.parametrize(("args", "code"), EXIT_CODES, ids=[_exit_code_id(case) for case in EXIT_CODES])
def test_exit_codes_are_what_the_readme_says(args: tuple[object, ...], code: int, db: str) -> None:
    port = closed_port()
    argv = [str(a).format(closed=port, db=db) for a in args]
    result = CliRunner().invoke(main, argv, input="{}")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "0 success, 1 bad input" in readme and "2 usage error" in readme


def test_messages_as_json_lists_every_message_with_its_interaction() -> None:
    code, out = run("messages", "--format", "json")
    items = json.loads(out)
    assert code == 0 and [i["name"] for i in items] == NAMES
    request = next(i for i in items if i["name"] == "flexibility-needs-request")
    assert request["interaction"]["counterpart"] == "flexibility-needs" and request["spec"]
    assert "service-provider" in request["interaction"]["initiators"]


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_the_models_json_schema_and_accepts_the_example(name: str) -> None:
    from jsonschema import Draft202012Validator

    code, out = run("schema", name)
    schema = json.loads(out)
    assert code == 0 and schema == dso_saref.json_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema" and schema["title"] == name
    Draft202012Validator.check_schema(schema)
    assert not list(Draft202012Validator(schema).iter_errors(dso_saref.catalog[name].example()))


def test_schema_rejects_what_the_model_rejects_for_types_and_keys() -> None:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(dso_saref.json_schema("hems-voltage-request"))
    assert list(validator.iter_errors({"Hems_ID": "x", "extra": 1}))
    assert list(validator.iter_errors({}))


def test_unsaref_reads_turtle_and_n_triples_and_says_when_the_message_is_absent() -> None:
    """A list message reads as empty from a graph without its items; an object message is absent."""
    for fmt in ("turtle", "nt"):
        code, text = run("saref", "hems-voltage", EXAMPLE, "--format", fmt)
        code, back = run("unsaref", "hems-voltage", "-", "--format", fmt, stdin=text)
        assert code == 0 and json.loads(back)["Voltage_Monitoring"][0]["Hems_ID"] == "ID1234"
    code, other = run("saref", "hems-voltage-request", "-", stdin='{"Hems_ID": "ID1"}')
    result = CliRunner().invoke(main, ["unsaref", "metering-request", "-"], input=other)
    assert result.exit_code == 1 and result.stdout == ""
    assert "the graph holds no metering-request" in result.stderr
    result = CliRunner().invoke(main, ["unsaref", "metering-data", "-"], input=other)
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_validate_turtle_prints_the_standard_shacl_report() -> None:
    from rdflib import Graph, Literal
    from rdflib.namespace import RDF, SH

    bad = {"Voltage_Monitoring": [{"Hems_ID": "ID1", "timestamp": "2021-12-03T15:11:20Z", "Voltage_from_Hems": 240,
                                   "Voltage_from_Hems_unit": "volts"}]}
    nt = dso_saref.serialize("hems-voltage", bad, "nt").replace('"240.0"', '"-5.0"').replace("volt>", "watt>")
    result = CliRunner().invoke(main, ["validate", "hems-voltage", "-", "--input-format", "nt", "--format", "turtle"],
                                input=nt)
    assert result.exit_code == 1, result.output
    graph = Graph().parse(data=result.stdout, format="turtle")
    (report,) = graph.subjects(RDF.type, SH.ValidationReport)
    assert graph.value(report, SH.conforms) == Literal(False)
    results = list(graph.objects(report, SH.result))
    expected = dso_saref.validate("hems-voltage", nt, format="nt")
    assert len(results) == len(expected.errors) > 0
    for node in results:
        assert graph.value(node, RDF.type) == SH.ValidationResult
        assert graph.value(node, SH.resultSeverity) == SH.Violation
        assert graph.value(node, SH.focusNode) is not None and graph.value(node, SH.resultMessage) is not None
        assert str(graph.value(node, SH.sourceConstraintComponent)).startswith(str(SH))
        assert str(graph.value(node, SH.sourceShape)).startswith("https://w3id.org/dso-saref/shapes/classes#")
    ok = CliRunner().invoke(main, ["validate", "hems-voltage", EXAMPLE, "--format", "turtle"])
    assert ok.exit_code == 0 and (None, SH.conforms, Literal(True)) in Graph().parse(data=ok.stdout, format="turtle")


def test_validate_turtle_reports_model_problems_on_stderr_and_no_results() -> None:
    from rdflib import Graph
    from rdflib.namespace import SH

    result = CliRunner().invoke(main, ["validate", "hems-voltage", "-", "--format", "turtle"],
                                input='{"Voltage_Monitoring": [{"Hems_ID": "x"}]}')
    assert result.exit_code == 1
    graph = Graph().parse(data=result.stdout, format="turtle")
    assert not list(graph.objects(None, SH.result))
    assert "$.Voltage_Monitoring[0].timestamp: required key is missing" in result.stderr


SHAPES_TTL = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix saref: <https://saref.etsi.org/core/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<https://pilot.example.org/shapes#LowVoltage> a sh:NodeShape ;
    sh:targetClass saref:Measurement ;
    sh:property [ sh:path saref:hasValue ; sh:maxInclusive 230 ; sh:message "above the pilot's 230 V" ] .
"""


def test_validate_checks_extra_user_shapes(tmp_path: Path) -> None:
    shapes = tmp_path / "pilot.ttl"
    shapes.write_text(SHAPES_TTL, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "hems-voltage", EXAMPLE, "--shapes", str(shapes)])
    assert result.exit_code == 1
    assert "above the pilot's 230 V" in result.stdout and "$.Voltage_Monitoring[0].Voltage_from_Hems" in result.stdout
    report = CliRunner().invoke(main, ["validate", "hems-voltage", EXAMPLE, "--shapes", str(shapes), "--format",
                                       "turtle"])
    assert "sh:MaxInclusiveConstraintComponent" in report.stdout and "above the pilot's 230 V" in report.stdout
    broken = tmp_path / "broken.ttl"
    broken.write_text("this is not turtle", encoding="utf-8")
    bad = CliRunner().invoke(main, ["validate", "hems-voltage", EXAMPLE, "--shapes", str(broken)])
    assert bad.exit_code == 2 and "--shapes" in bad.output and "broken.ttl" in bad.output


@pytest.mark.slow
def test_demo_json_prints_one_document_of_results_and_narrates_on_stderr() -> None:
    result = CliRunner().invoke(main, ["demo", "--format", "json", "--log-level", "WARNING"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["passed"] and len(document["use_cases"]) == 7
    assert all(case["passed"] and case["puc"] for case in document["use_cases"])
    assert "HLUC" in result.stderr or "->" in result.stderr
