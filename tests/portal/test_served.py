"""Issue 12 items 7 and 8: the portal as a running DSO serves it at ``/portal/``.

Every page reachable from the index answers 200 without a key, and so does every link leaving the
portal (Swagger UI, ReDoc, the OpenAPI document, ``/metrics``) and every asset those pages load, all
from this server; the API itself still wants a key; the Python snippet of every DSO operation, run as
a developer would run it, gets an answer from the live API; the status page is drawn from live traffic."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections import deque

import pytest

from dso_saref.rest.operations import DSO_OPERATIONS, Operation
from tests.portal.pages import is_external, read_page, resolve
from tests.portal.support import Served

#: A party that may call each catalog role's operations.
PARTY_OF_ROLE = {"service-provider": "SP001", "third-party": "TP", "data-service-provider": "DSP001"}


def test_every_page_and_every_link_answers_without_a_key(served: Served) -> None:
    seen: set[str] = set()
    queue = deque(["/portal/"])
    pages = 0
    while queue:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        reply = served.get(path)
        assert reply.status == 200, (path, reply.status)
        if not reply.headers["content-type"].startswith("text/html"):
            continue
        pages += 1
        found = read_page(reply.body.decode("utf-8"))
        for url in [*found.links, *found.resources]:
            assert not is_external(url) or url.startswith("https://"), (path, url)
            if is_external(url):
                continue
            target, _ = resolve(path, url)
            if target.startswith("/portal/") or path.startswith("/portal/") or url in found.resources:
                queue.append(target)  # the portal's links, and what the API's pages load
    assert pages >= 33 + 4 + 2  # the messages, index, api, changelog, status; Swagger UI and ReDoc
    assert {"/docs", "/redoc", "/openapi.json", "/metrics", "/static/docs/swagger-ui-bundle.js"} <= seen


def test_the_portal_is_public_and_the_api_is_not(served: Served) -> None:
    assert served.get("/portal").status == 308
    assert served.get("/portal").headers["location"] == "/portal/"
    assert served.get("/portal/no-such-page.html").status == 404
    assert served.get("/portal/../v1/flexibility/needs").status == 401
    assert served.get("/v1/flexibility/needs").status == 401
    download = served.get("/portal/downloads/hems-voltage.ttl")
    assert download.headers["content-type"].startswith("text/turtle")


def _caller(op: Operation) -> str:
    return next(PARTY_OF_ROLE[role] for role in op.roles() if role in PARTY_OF_ROLE)


@pytest.mark.parametrize("op", DSO_OPERATIONS, ids=lambda op: op.exchange)
def test_the_python_snippet_of_each_operation_gets_an_answer(served: Served, op: Operation,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    snippet = served.get(f"/portal/downloads/{op.exchange}.dso.py").body.decode("utf-8")
    monkeypatch.setenv("DSO_URL", served.base_url)
    monkeypatch.setenv("DSO_API_KEY", served.keys[_caller(op)])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(snippet, f"{op.exchange}.dso.py", "exec"), {"__name__": "__main__"})
    status, body = printed.getvalue().split("\n", 1)
    # the example is a valid request: answered, or refused for what the seed lacks (an unknown end user,
    # a consent token the DSO never issued), never as malformed, unauthenticated or failed
    assert int(status) in (200, 201, 202, 403, 404), (op.exchange, printed.getvalue())
    assert body.strip()


def test_the_status_page_draws_the_traffic_it_saw(served: Served) -> None:
    for _ in range(3):
        assert served.get("/v1/flexibility/needs?start=2021-09-28T00:00:00Z&end=2021-09-29T00:00:00Z",
                          key="SP001").status == 200
    assert served.get("/v1/flexibility/needs").status == 401
    page = served.get("/portal/status.html?hours=1").body.decode("utf-8")
    assert "<h1>Status</h1>" in page and "no live data" not in page
    requests = int(re.search(r'<dd class="requests">(\d+)</dd>', page).group(1))
    assert requests >= 4
    assert "no-key: " in page  # the 401 above, by reason
    charts = re.findall(r"<svg .*?</svg>", page, re.S)
    assert len(charts) == 4
    assert all("<title>" in chart for chart in charts)
    assert 'data-series="requests"' in charts[0] and 'data-series="p99"' in charts[1]
    assert 'data-series="no-key"' in charts[3]
    ready = json.loads(served.get("/ready").body)
    assert ready["status"] == "ready" and ready["checks"][0]["name"] == "database"
    assert "<td>database</td>" in page
