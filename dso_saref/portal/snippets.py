"""Client snippets of a REST operation, filled with the catalog's example: a curl command and a Python
script (``requests``). Both read the API's base URL and the caller's API key from the environment
(``DSO_URL``/``DSO_API_KEY`` for the DSO's API, ``PARTNER_URL``/``PARTNER_API_KEY`` for a partner's)::

    s = snippets(operation("flexibility-offers"), DEFAULT["flexibility-offers"], "dso")
    print(s.curl)      # curl -sS -X POST "${DSO_URL:-http://127.0.0.1:8080}/v1/flexibility/offers" ...
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from dso_saref.catalog import Description
from dso_saref.rest.operations import Operation

__all__ = ["DEFAULT_URL", "Snippets", "python_literal", "snippets"]

#: Where ``dso-saref serve --rest`` listens unless told otherwise.
DEFAULT_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Snippets:
    """A curl command and a Python script calling one operation with the example."""

    curl: str
    python: str


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def python_literal(value: Any, indent: int = 0) -> str:
    """A JSON value written as a Python literal, one item per line for objects and arrays."""
    pad, inner = " " * indent, " " * (indent + 4)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {python_literal(v, indent + 4)},"
                 for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value:
        if all(not isinstance(v, dict | list) for v in value):
            return "[" + ", ".join(python_literal(v) for v in value) + "]"
        return "[\n" + "\n".join(f"{inner}{python_literal(v, indent + 4)}," for v in value) + f"\n{pad}]"
    if isinstance(value, bool) or value is None:
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _request_parts(op: Operation, example: Any) -> tuple[str, dict[str, Any], dict[str, str]]:
    """The path (fields substituted), query parameters and headers of a GET built from the example."""
    fields = example if isinstance(example, dict) else {}
    path = op.path
    for key in op.path_fields:
        path = path.replace("{" + key + "}", quote(_text(fields.get(key, key)), safe=""))
    query: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if op.kind == "request":
        for key, value in fields.items():
            if key in op.headers:
                headers[op.headers[key]] = _text(value)
            elif key not in op.path_fields and value is not None:
                query[key] = [_text(v) for v in value] if isinstance(value, list) else _text(value)
    return path, query, headers


def snippets(op: Operation, request: Description, host: str) -> Snippets:
    """The snippets of ``op`` (its request is ``request``) on the DSO's API (``host="dso"``) or a
    partner's (``"partner"``)."""
    var = "DSO" if host == "dso" else "PARTNER"
    example = request.example()
    base = f"${{{var}_URL:-{DEFAULT_URL}}}" if host == "dso" else f"${{{var}_URL}}"
    key = f"{{os.environ['{var}_API_KEY']}}"
    code = [f'headers = {{\n    "Authorization": f"Bearer {key}",']
    if op.method == "GET":
        path, query, headers = _request_parts(op, example)
        url = base + path + (f"?{urlencode(query, doseq=True)}" if query else "")
        lines = [f'curl -sS "{url}"', f'-H "Authorization: Bearer ${var}_API_KEY"']
        lines += [f"-H {shlex.quote(f'{name}: {value}')}" for name, value in headers.items()]
        code += [f"    {json.dumps(name)}: {json.dumps(value)}," for name, value in headers.items()]
        code += ["}", f"params = {python_literal(query)}"]
        if op.kind == "lookup":
            code[-1] += "  # fields of the answer narrow it (the operation's query parameters)"
        code.append(f'reply = requests.get(f"{{{var}_URL}}{path}", params=params, headers=headers, timeout=30)')
    else:
        lines = [f'curl -sS -X POST "{base}{op.path}"', f'-H "Authorization: Bearer ${var}_API_KEY"',
                 '-H "Content-Type: application/json"', f"--data-binary @{request.name}.json"]
        code += ["}", f"payload = {python_literal(example)}",
                 f'reply = requests.post(f"{{{var}_URL}}{op.path}", json=payload, headers=headers, timeout=30)']
    url_line = (f'{var}_URL = os.environ.get("{var}_URL", "{DEFAULT_URL}")' if host == "dso"
                else f'{var}_URL = os.environ["{var}_URL"]')
    python = "\n".join([
        f'"""{op.summary} ({op.method} {op.path}; D4.2 {op.spec})."""',
        "import os",
        "",
        "import requests",
        "",
        url_line,
        *code,
        "print(reply.status_code)",
        "print(reply.json())",
    ])
    return Snippets(" \\\n    ".join(lines), python)
