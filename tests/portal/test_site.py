"""Issue 12 item 7: the developer portal, a static site generated from the catalog (``dso-saref portal build``).

Every message has a page showing its purpose and spec section, its example, JSON Schema, Turtle, graph
patterns, what its shape checks, the KE registration bodies of each role and its REST operations with
snippets; every internal link of every page resolves (fragments included); no page loads anything from
outside the site; the downloads are the catalog's own examples and schemas."""

from __future__ import annotations

import html
import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from rdflib import Graph
from rdflib.compare import isomorphic
from rdflib.namespace import SH

import dso_saref
from dso_saref.catalog import DEFAULT, ROLES
from dso_saref.cli import main
from dso_saref.ke.roles import interactions_for
from dso_saref.portal.content import json_schema
from dso_saref.portal.site import Site
from dso_saref.rest.openapi import API_VERSION
from dso_saref.rest.operations import DSO_OPERATIONS, PARTNER_OPERATIONS
from dso_saref.terms import Settings
from tests.conftest import NAMES
from tests.portal.pages import is_external, read_page, resolve

API_PATHS = {"/docs", "/redoc", "/openapi.json", "/metrics"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The portal built into a fresh directory by the command, with a changelog."""
    root = tmp_path_factory.mktemp("portal")
    changelog = root / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## 0.2.0\n\n### Added\n\n- The REST API under `/v1`, with\n  Swagger UI.\n"
                         "- A **portal** (see [the issue](https://example.org/12)).\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["portal", "build", str(root / "site"), "--changelog", str(changelog)])
    assert result.exit_code == 0, result.output
    return root / "site"


def text(site: Path, name: str) -> str:
    return (site / name).read_text(encoding="utf-8")


def test_every_message_has_a_page_and_the_index_links_each(site: Path) -> None:
    index = read_page(text(site, "index.html"))
    assert {p.name for p in (site / "messages").glob("*.html")} == {f"{n}.html" for n in NAMES}
    assert {f"messages/{n}.html" for n in NAMES} <= set(index.links)
    assert f"REST API version <strong>{API_VERSION}</strong>" in text(site, "index.html")


@pytest.mark.parametrize("name", NAMES)
def test_a_message_page_shows_everything_the_catalog_knows(site: Path, name: str) -> None:
    description = DEFAULT[name]
    page = html.unescape(text(site, f"messages/{name}.html"))
    assert description.description in page
    assert f"D4.2 {description.spec}" in page
    assert json.dumps(description.example(), indent=2, ensure_ascii=False) in page
    assert description.table(description.example(), Settings()).serialize("turtle") in page
    for part in description.parts:  # every pattern the catalog offers for the message
        assert part.pattern.to_text(description.prefixes) in page
    shapes = description.shapes_graph
    for message in shapes.objects(None, SH.message):
        assert str(message) in page
    exchanges = ([name] if description.interaction else []) + description.answers
    for role in ROLES:
        for spec in interactions_for(role):
            if spec.exchange in exchanges:
                assert json.dumps(spec.body(), indent=2, ensure_ascii=False) in page, (role, spec.name)
    for op in (*DSO_OPERATIONS, *PARTNER_OPERATIONS):
        if name in (op.exchange, op.answer()):
            assert f"<code>{op.path}</code>" in page


def test_each_rest_operation_has_curl_and_python_snippets_that_compile(site: Path) -> None:
    for host, operations in (("dso", DSO_OPERATIONS), ("partner", PARTNER_OPERATIONS)):
        for op in operations:
            python = text(site, f"downloads/{op.exchange}.{host}.py")
            compile(python, f"{op.exchange}.{host}.py", "exec")
            curl = text(site, f"downloads/{op.exchange}.{host}.sh")
            assert curl.startswith("curl -sS") and op.path.split("{")[0] in curl
            assert "Authorization: Bearer $" in curl
            page = html.unescape(text(site, f"messages/{op.exchange}.html"))
            assert curl.strip() in page and python.strip() in page


def test_every_internal_link_of_every_page_resolves(site: Path) -> None:
    """Pages are read where a running DSO serves them (``/portal/``): a link leaving the portal must be
    a path of the API beside it (checked live in test_served.py)."""
    pages = sorted(site.rglob("*.html"))
    assert len(pages) == len(NAMES) + 4
    served = {f"/portal/{p.relative_to(site).as_posix()}": p for p in pages}
    ids = {where: read_page(p.read_text(encoding="utf-8")).ids for where, p in served.items()}
    checked = 0
    for where, path in served.items():
        found = read_page(path.read_text(encoding="utf-8"))
        assert found.title.strip(), where
        assert not found.unbalanced, (where, found.unbalanced[:5])
        for link in found.links:
            if is_external(link):
                assert link.startswith("https://"), (where, link)  # a changelog's reference, never an asset
                continue
            target, fragment = resolve(where, link)
            if not target.startswith("/portal/"):
                assert target in API_PATHS, (where, link)
                continue
            assert (site / target.removeprefix("/portal/")).is_file(), (where, link)
            if fragment:
                assert fragment in ids[target], (where, link)
            checked += 1
    assert checked > 20 * len(NAMES)  # every page links its downloads, neighbours and sections


def test_no_page_loads_anything_from_outside(site: Path) -> None:
    for path in site.rglob("*.html"):
        found = read_page(path.read_text(encoding="utf-8"))
        assert found.resources == [], path  # styles are inline, charts are inline SVG
        assert found.scripts == 0, path
        assert not any("url(" in style or "@import" in style for style in found.styles), path


@pytest.mark.parametrize("name", NAMES)
def test_the_downloads_are_the_catalogs_example_turtle_and_schema(site: Path, name: str) -> None:
    description = DEFAULT[name]
    example = json.loads(text(site, f"downloads/{name}.json"))
    assert example == description.example()
    graph = Graph().parse(data=text(site, f"downloads/{name}.ttl"), format="turtle")
    assert isomorphic(graph, Graph().parse(data=text(site, f"downloads/{name}.nt"), format="nt"))
    assert text(site, f"downloads/{name}.nt") == dso_saref.serialize(name, example, format="nt")
    schema = json.loads(text(site, f"downloads/{name}.schema.json"))
    assert schema == json_schema(description)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(example, schema, cls=jsonschema.Draft202012Validator)
    if hasattr(dso_saref, "json_schema"):  # the library's own (dso-saref schema NAME), once merged
        assert schema == dso_saref.json_schema(name)


def test_the_openapi_documents_are_downloadable(site: Path) -> None:
    from dso_saref.rest.app import api_document

    assert json.loads(text(site, "downloads/openapi.json")) == api_document("dso")
    assert json.loads(text(site, "downloads/partner-openapi.json")) == api_document("partner")


def test_the_api_page_gives_the_version_every_status_and_every_operation(site: Path) -> None:
    page = html.unescape(text(site, "api.html"))
    assert f"The REST API, version {API_VERSION}" in page
    for code in ("200", "201", "202", "400", "401", "403", "404", "405", "406", "415", "500"):
        assert f"<td><code>{code}</code></td>" in page
    for op in (*DSO_OPERATIONS, *PARTNER_OPERATIONS):
        assert f"<code>{op.path}</code>" in page


def test_the_changelog_page_renders_the_changelog(site: Path) -> None:
    page = text(site, "changelog.html")
    assert "<h3>0.2.0</h3>" in page and "<h4>Added</h4>" in page
    assert "<li>The REST API under <code>/v1</code>, with Swagger UI.</li>" in page
    assert '<strong>portal</strong> (see <a href="https://example.org/12">the issue</a>)' in page


def test_without_a_changelog_the_page_says_so(tmp_path: Path) -> None:
    site = Site(changelog=None)
    site.changelog = None  # a wheel: no CHANGELOG.md beside the package
    page = site.pages()["changelog.html"].decode()
    assert "built without a changelog" in page and "CHANGELOG.md" in page


def test_the_static_status_page_says_it_has_no_live_data(site: Path) -> None:
    page = text(site, "status.html")
    assert "it has no live data" in page and "/portal/status.html" in page
    assert "<svg" not in page


def test_building_into_a_file_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("x", encoding="utf-8")
    result = CliRunner().invoke(main, ["portal", "build", str(target)])
    assert result.exit_code == 2 and "is a file" in result.output
