"""The OpenAPI 3.1 document of a REST API, generated from its operations and the catalog, and the pages
that show it (Swagger UI and ReDoc, their assets served from the ``fastapi-offline`` package: no CDN).

Each operation's parameters are its request's JSON fields (the request model's JSON Schema), its body
the request model (JSON) or its SAREF RDF (Turtle, N-Triples, JSON-LD), its responses the answer model
and the error body of every status it can give; examples are the catalog's (``examples/NAME.json``,
and their RDF)::

    document = openapi_document(DSO_OPERATIONS, title="dso-saref DSO interface", version="1.0.0")
    add_docs(app, title="dso-saref DSO interface")      # /docs, /redoc, /static/docs/
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from dso_saref.carrier import filter_keys
from dso_saref.catalog import DEFAULT, Catalog
from dso_saref.rest.media import JSON, PROBLEM, RDF_TYPES
from dso_saref.rest.operations import Operation
from dso_saref.rest.problems import ErrorBody
from dso_saref.terms import Settings

__all__ = ["API_VERSION", "add_docs", "openapi_document"]

#: The version of the REST API (its paths are under ``/v1``).
API_VERSION = "1.0.0"
_REF = "#/components/schemas/{model}"
_ERRORS = {
    "400": "Invalid query, header or body: the validation report gives each error at its JSON path",
    "401": "No API key, or an unknown, malformed, expired or revoked one",
    "403": "Not the caller's: its role does not start this exchange, another party's resource, or end user "
           "data without a consent that covers it",
    "404": "Unknown identifier",
    "406": "The Accept header names none of application/json, text/turtle, application/n-triples, "
           "application/ld+json",
    "500": "The server failed; the body gives only the request id to quote",
}


def _answer_statuses(model: type[BaseModel]) -> dict[str, str]:
    fields = model.model_fields
    if "granted" in fields:
        return {"200": "Not granted: the end user refused, or the request cannot be granted (reason)",
                "201": "Granted: the consent's token is in the answer",
                "202": "Pending: the end user has not decided yet; ask again later"}
    if "status" in fields:
        return {"200": "Not taken (status rejected or denied, with the reason)",
                "201": "Accepted and stored"}
    return {"200": "The answer"}


def _schemas(operations: Sequence[Operation], catalog: Catalog) -> tuple[dict[Any, dict[str, Any]], dict[str, Any]]:
    wanted: list[tuple[type[BaseModel], str]] = [(ErrorBody, "serialization")]
    for op in operations:
        wanted.append((catalog[op.exchange].model, "validation"))
        wanted.append((catalog[op.answer(catalog)].model, "serialization"))
    unique = list(dict.fromkeys(wanted))
    refs, top = models_json_schema(unique, ref_template=_REF)  # type: ignore[arg-type]
    return dict(refs), top.get("$defs", {})


def _parameter_schema(prop: dict[str, Any]) -> dict[str, Any]:
    options = [o for o in prop.get("anyOf", ()) if o.get("type") != "null"]
    schema = dict(options[0]) if len(options) == 1 and "anyOf" in prop else {
        k: v for k, v in prop.items() if k not in ("default", "title")}
    return schema


def _rdf_examples(catalog: Catalog, name: str, example: Any) -> dict[str, Any]:
    content = {}
    for media, fmt in RDF_TYPES.items():
        text = catalog[name].table(example, Settings()).serialize(fmt)
        content[media] = {"schema": {"type": "string"}, "example": text}
    return content


def _operation(op: Operation, catalog: Catalog, refs: dict[Any, dict[str, Any]],
               defs: dict[str, Any]) -> dict[str, Any]:
    request = catalog[op.exchange]
    answer = catalog[op.answer(catalog)]
    request_ref = refs[(request.model, "validation")]
    answer_ref = refs[(answer.model, "serialization")]
    lookup = op.kind == "lookup"
    many = lookup and not answer.top_list
    answer_schema = {"type": "array", "items": answer_ref} if many else answer_ref
    answer_example = [answer.example()] if many else answer.example()
    spec: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": (f"Catalog exchange `{op.exchange}` (D4.2 {op.spec}); answered with `{answer.name}`. "
                        f"Callers: {', '.join(op.roles(catalog))}."
                        + (" Query parameters narrow the answer: each is a field of the answer." if lookup else "")
                        + (" Send `Idempotency-Key` to apply a retried POST once." if op.method == "POST" else "")),
        "tags": [op.path.split("/")[2]],
        "security": [{"bearerAuth": []}],
        "parameters": [],
    }
    if lookup:
        definition = defs[answer_ref["$ref"].split("/")[-1]]
        if "items" in definition:  # a list message (the topology): its entries' fields
            definition = defs[definition["items"]["$ref"].split("/")[-1]]
        props = definition.get("properties", {})
        for key in sorted(filter_keys(answer)):
            if key in props:
                spec["parameters"].append({"name": key, "in": "query", "required": False,
                                           "schema": _parameter_schema(props[key])})
    elif op.method == "GET" or op.path_fields:
        definition = defs[request_ref["$ref"].split("/")[-1]]
        props, required = definition.get("properties", {}), set(definition.get("required", ()))
        example = request.example()
        for key, prop in props.items():
            where = "path" if key in op.path_fields else "header" if key in op.headers else "query"
            if op.method != "GET" and where == "query":
                continue
            schema = _parameter_schema(prop)
            parameter = {"name": op.headers.get(key, key), "in": where, "required": where == "path" or key in required,
                         "schema": schema}
            if where == "query" and schema.get("type") == "array":
                parameter.update(style="form", explode=True)
            if isinstance(example, dict) and key in example:
                parameter["example"] = example[key]
            spec["parameters"].append(parameter)
    if op.method == "POST":
        example = request.example()
        spec["requestBody"] = {"required": True, "content": {
            JSON: {"schema": request_ref, "example": example}, **_rdf_examples(catalog, request.name, example)}}
        spec["parameters"].append({"name": "Idempotency-Key", "in": "header", "required": False,
                                   "schema": {"type": "string", "minLength": 1, "maxLength": 255}})
    statuses = _answer_statuses(answer.model) if op.method == "POST" else {"200": "The answer"}
    responses: dict[str, Any] = {}
    for code, text in statuses.items():
        rdf = {media: {"schema": {"type": "string"}} for media in RDF_TYPES}
        responses[code] = {"description": text, "content": {JSON: {"schema": answer_schema, "example": answer_example},
                                                            **rdf}}
    errors = dict(_ERRORS)
    if op.method == "POST":
        errors["415"] = "A body in a media type this API does not read"
    for code, text in errors.items():
        responses[code] = {"description": text, "content": {PROBLEM: {"schema": refs[(ErrorBody, "serialization")]}}}
    spec["responses"] = responses
    return spec


def _document(operations: tuple[Operation, ...], title: str, version: str, description: str,
              catalog: Catalog) -> dict[str, Any]:
    refs, defs = _schemas(operations, catalog)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, catalog, refs, defs)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "description":
                                               "An API key issued by the operator (dso-saref parties add)"}},
        },
    }


def openapi_document(operations: Sequence[Operation], *, title: str, version: str = API_VERSION,
                     description: str = "", catalog: Catalog = DEFAULT, app: FastAPI | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations`` (plus the documented routes of ``app``, if given)."""
    document = _document(tuple(operations), title, version, description, catalog)
    if app is None:
        return document
    from fastapi.openapi.utils import get_openapi

    extra = get_openapi(title=title, version=version, routes=app.routes)
    merged = {**document, "paths": {**extra.get("paths", {}), **document["paths"]}}
    schemas = extra.get("components", {}).get("schemas", {})
    if schemas:
        merged["components"] = {**document["components"], "schemas": {**schemas, **document["components"]["schemas"]}}
    return merged


def add_docs(app: FastAPI, *, title: str, openapi_url: str = "/openapi.json") -> None:
    """Serve Swagger UI at ``/docs`` and ReDoc at ``/redoc`` for ``openapi_url``, with their assets under
    ``/static/docs/`` from the ``fastapi-offline`` package."""
    static = resources.files("fastapi_offline") / "static"
    app.mount("/static/docs", StaticFiles(directory=str(static)), name="docs-assets")

    def swagger(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=openapi_url, title=f"{title}: Swagger UI",
                                   swagger_js_url="/static/docs/swagger-ui-bundle.js",
                                   swagger_css_url="/static/docs/swagger-ui.css",
                                   swagger_favicon_url="/static/docs/favicon.png")

    def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(openapi_url=openapi_url, title=f"{title}: ReDoc",
                              redoc_js_url="/static/docs/redoc.standalone.js",
                              redoc_favicon_url="/static/docs/favicon.png", with_google_fonts=False)

    app.add_api_route("/docs", swagger, methods=["GET"], include_in_schema=False)
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False)
