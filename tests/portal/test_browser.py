"""Issue 12 item 9: a real browser. Headless Chromium (the system's, driven over the DevTools protocol)
authorises itself in Swagger UI with a party's API key and executes an operation that returns data, then
reads a message page of the portal (its example and its graph pattern rendered) and the live status page
(its charts drawn). Every request the browser made went to the DSO's own server: nothing from a CDN.
Screenshots are left in the test's tmp directory. Skipped, with the reason, where no Chromium can be had.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.portal.support import Served

websocket = pytest.importorskip("websocket", reason="websocket-client (the dev extra) drives Chromium")

from tests.portal.browser import Chromium, Page, find_chromium  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium; .ci/run installs it)")
    with Chromium.start(tmp_path_factory.mktemp("chromium-profile"), binary=binary) as chromium:
        yield chromium


def assert_all_local(browser: Chromium, served: Served) -> None:
    origin = urlsplit(served.base_url).netloc
    for url in browser.requested_urls():
        parts = urlsplit(url)
        assert parts.scheme in ("data", "about", "blob") or parts.netloc == origin, url


def test_swagger_ui_authorised_call_returns_data(browser: Chromium, served: Served, tmp_path: Path) -> None:
    page: Page = browser.new_page()
    page.navigate(f"{served.base_url}/docs")
    page.wait_for("document.querySelector('#operations-data-layer-grid_topology')")
    page.click(".auth-wrapper .btn.authorize")
    page.wait_for("document.querySelector('.modal-ux input')")
    page.type_into(".modal-ux input", served.keys["SP001"])
    page.click(".modal-ux .auth-btn-wrapper .btn.modal-btn.auth.authorize")
    page.wait_for("document.querySelector('.modal-ux .auth-btn-wrapper .btn-done')")
    page.click(".modal-ux .auth-btn-wrapper .btn-done")
    page.click("#operations-data-layer-grid_topology .opblock-summary-control")
    page.wait_for("document.querySelector('#operations-data-layer-grid_topology .try-out__btn')")
    page.click("#operations-data-layer-grid_topology .try-out__btn")
    page.wait_for("document.querySelector('#operations-data-layer-grid_topology .btn.execute')")
    page.click("#operations-data-layer-grid_topology .btn.execute")
    status = page.wait_for("(document.querySelector('#operations-data-layer-grid_topology .live-responses-table "
                           "tbody .response-col_status') || {}).innerText")
    body = page.wait_for("(document.querySelector('#operations-data-layer-grid_topology .live-responses-table "
                         "tbody .response-col_description pre') || {}).innerText")
    shot = page.screenshot(tmp_path / "swagger-ui.png", "#operations-data-layer-grid_topology")
    assert status.strip() == "200", repr(status)
    answer = json.loads(body)
    assert answer and {"client_id", "secondary_substation"} <= set(answer[0])
    curl = page.evaluate("document.querySelector('#operations-data-layer-grid_topology .curl-command').innerText")
    assert "Authorization: Bearer " in curl  # the key the browser typed went with the call
    assert_all_local(browser, served)
    assert shot.read_bytes().startswith(PNG) and shot.stat().st_size > 10_000


def test_a_portal_message_page_renders_its_example_and_pattern(browser: Chromium, served: Served,
                                                               tmp_path: Path) -> None:
    page = browser.new_page()
    page.navigate(f"{served.base_url}/portal/messages/hems-voltage.html")
    example = page.wait_for("document.querySelector('pre.example').innerText")
    pattern = page.evaluate("document.querySelector('pre.pattern').innerText")
    visible = page.evaluate("['pre.example', 'pre.pattern', 'pre.turtle'].map(s => "
                            "document.querySelector(s).getBoundingClientRect().height)")
    shot = page.screenshot(tmp_path / "portal-hems-voltage.png")
    assert json.loads(example)["Voltage_Monitoring"][0]["Hems_ID"] == "ID1234"
    assert "?hems a dso:HomeEnergyManagementSystem ." in pattern
    assert all(height > 50 for height in visible), visible
    assert page.evaluate("document.title") == "hems-voltage · dso-saref developer portal"
    assert_all_local(browser, served)
    assert shot.read_bytes().startswith(PNG) and shot.stat().st_size > 10_000


def test_the_status_page_draws_its_charts(browser: Chromium, served: Served, tmp_path: Path) -> None:
    page = browser.new_page()
    page.navigate(f"{served.base_url}/portal/status.html?hours=1")
    charts = page.wait_for("document.querySelectorAll('svg.chart').length")
    sizes = page.evaluate("[...document.querySelectorAll('svg.chart')].map(s => s.getBoundingClientRect().width)")
    shot = page.screenshot(tmp_path / "portal-status.png")
    assert charts == 4 and all(width > 300 for width in sizes), sizes
    assert_all_local(browser, served)
    assert shot.read_bytes().startswith(PNG)
