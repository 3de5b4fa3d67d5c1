"""Serving one REST operation: the request read into the catalog's message, the server's handler called
with an exchange context, the answer checked and written back in the negotiated media type.

The rules are the Knowledge Engine adapter's (:mod:`dso_saref.carrier` holds what both carriers share):
the request is the catalog's model of the exchange (validated by :func:`dso_saref.validate`: the model
and the message's SHACL shape, each error at its JSON path), the answer must be an instance of the
counterpart's model, a lookup is narrowed by the fields the asker gives and its answers filtered by
them. What is REST's own: where the fields come from (query, path, headers, a JSON or RDF body), the
caller's role (an exchange its role does not start is 403), the ``Idempotency-Key`` of a POST, and the
statuses of :mod:`dso_saref.rest.problems`::

    serving = Serving(handlers, journal=journal, clock=backend.now, keys=IdempotencyKeys(storage))
    app.add_api_route(op.path, serving.endpoint(op), methods=[op.method], include_in_schema=False)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, get_args

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from dso_saref.backend.credentials import Caller
from dso_saref.backend.errors import NotFound, Refused, StateError
from dso_saref.backend.idempotency import IdempotencyKeys
from dso_saref.backend.registry import request_scope
from dso_saref.carrier import answer_instances, bound_fields, filter_bindings, filter_keys
from dso_saref.catalog import DEFAULT, Catalog, Description
from dso_saref.errors import PayloadError, Problem
from dso_saref.exchange import ExchangeContext, Handler, Query
from dso_saref.graphs import RdfSyntaxError, parse_rdf
from dso_saref.rest.gate import Journal
from dso_saref.rest.media import NotAcceptable, body_format, negotiate, render
from dso_saref.rest.operations import ROLE_ACTS_AS, Operation
from dso_saref.rest.problems import RestError, problem_response
from dso_saref.terms import Settings
from dso_saref.validation import Report, Validator, Violation
from dso_saref.validation.triples import Triples

__all__ = ["MAX_BODY", "Inputs", "Serving", "status_of"]

log = logging.getLogger(__name__)

#: The largest request body read (bytes); a larger one is refused with 400.
MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class Inputs:
    """What a request carries for its message: path parameters, query items (in order, repeated keys
    kept), the headers the operation reads, the body and its ``Content-Type``."""

    path: Mapping[str, str]
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    body: bytes
    content_type: str | None
    idempotency_key: str | None = None


def status_of(answer: BaseModel) -> int:
    """The success status of a POST's answer: 201 for an accepted acknowledgement or subscription and
    a granted authorization, 202 for an authorization pending the end user's consent, else 200."""
    status = getattr(answer, "status", None)
    if getattr(status, "value", status) == "accepted":
        return 201
    granted = getattr(answer, "granted", None)
    if granted is True:
        return 201
    if granted is False and (getattr(answer, "reason", None) or "").startswith("pending"):
        return 202
    return 200


def _report(name: str, problems: list[Problem]) -> dict[str, Any]:
    return Report.of(name, [Violation(p.location, p.message, p.rule, "model") for p in problems]).to_dict()


def _invalid(name: str, report: dict[str, Any]) -> RestError:
    errors = report["errors"]
    first = f": {errors[0]['location']}: {errors[0]['message']}" if errors else ""
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return RestError(400, f"invalid {name}{first}{more}", report=report)


class Serving:
    """Serves operations with ``handlers`` (by exchange name). ``journal`` records refusals, ``clock``
    gives the time of each exchange, ``keys`` (when given) applies POSTs with an ``Idempotency-Key``
    once, ``settings`` mint and read RDF terms, ``validator`` checks requests."""

    def __init__(self, handlers: Mapping[str, Handler], *, journal: Journal, clock: Callable[[], datetime],
                 keys: IdempotencyKeys | None = None, settings: Settings | None = None,
                 validator: Validator | None = None, catalog: Catalog = DEFAULT, max_body: int = MAX_BODY) -> None:
        self.handlers = dict(handlers)
        self.journal = journal
        self.clock = clock
        self.keys = keys
        self.settings = settings or Settings()
        self.validator = validator or Validator(catalog)
        self.catalog = catalog
        self.max_body = max_body
        self._arrays: dict[str, frozenset[str]] = {}
        self._adapters: dict[tuple[str, str], TypeAdapter[Any]] = {}

    def endpoint(self, op: Operation) -> Callable[[Request], Any]:
        """The ASGI endpoint of ``op`` (read the request, serve it in a worker thread)."""
        if op.exchange not in self.handlers:
            raise ValueError(f"no handler for {op.exchange}")

        async def serve(request: Request) -> Response:
            state = request.scope.setdefault("state", {})
            state["operation"] = op.exchange
            request_id = state.get("request_id", "")
            caller: Caller = state["caller"]
            try:
                fmt = negotiate(request.headers.get("accept"))
                body = await self._body(request) if op.method == "POST" else b""
                inputs = Inputs(request.path_params, tuple(request.query_params.multi_items()),
                                {key: request.headers[h] for key, h in op.headers.items() if h in request.headers},
                                body, request.headers.get("content-type"), request.headers.get("idempotency-key"))
            except NotAcceptable as exc:
                return self._refuse(op, caller, request_id, RestError(406, str(exc)), state)
            except ClientDisconnect:  # the client went away before sending its whole body: nobody to answer
                state["refusal"] = "the client disconnected"
                return Response(status_code=400)
            except RestError as error:
                return self._refuse(op, caller, request_id, error, state)
            return await run_in_threadpool(self.serve, op, caller, inputs, fmt, request_id, state)

        serve.__name__ = op.operation_id
        return serve

    async def _body(self, request: Request) -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise RestError(400, f"the body is larger than {self.max_body} bytes", report=Report.of(
                    "request", [Violation("$", f"larger than {self.max_body} bytes", "size", "input")]).to_dict())
            chunks.append(chunk)
        return b"".join(chunks)

    def serve(self, op: Operation, caller: Caller, inputs: Inputs, fmt: str, request_id: str,
              state: dict[str, Any]) -> Response:
        """Serve one request (in a worker thread): the response, or the refusal."""
        with request_scope(request_id):
            try:
                return self._serve(op, caller, inputs, fmt, request_id)
            except RestError as error:
                return self._refuse(op, caller, request_id, error, state)
            except Refused as exc:  # the backend logged it already
                state["refusal"] = exc.reason
                return problem_response(RestError(403, exc.reason), request_id)
            except NotFound as exc:
                return self._refuse(op, caller, request_id, RestError(404, str(exc)), state)
            except StateError as exc:
                return self._refuse(op, caller, request_id, RestError(403, str(exc)), state)
            except PayloadError as exc:  # a handler that could not read what it was given
                return self._refuse(op, caller, request_id, RestError(400, str(exc), report=_report(
                    exc.message_name, exc.problems)), state)
            except Exception:
                log.exception("%s %s failed (request %s)", op.method, op.path, request_id)
                return self._refuse(op, caller, request_id, RestError(
                    500, f"the server failed to serve this request; quote request id {request_id}"), state)

    def _refuse(self, op: Operation, caller: Caller, request_id: str, error: RestError,
                state: dict[str, Any]) -> Response:
        state["refusal"] = error.detail
        try:
            self.journal.refused(request_id=request_id, actor=caller.party.provider_id or caller.party.name,
                                 operation=op.exchange, reason=f"{error.status} {error.detail}"[:500])
        except Exception:
            log.exception("could not record the refusal of request %s", request_id)
        return problem_response(error, request_id)

    # -- the exchange ------------------------------------------------------------------------------

    def _serve(self, op: Operation, caller: Caller, inputs: Inputs, fmt: str, request_id: str) -> Response:
        role = ROLE_ACTS_AS.get(caller.party.role, caller.party.role)
        allowed = op.roles(self.catalog)
        if role not in allowed:
            raise RestError(403, f"a {caller.party.role} does not start {op.exchange} (only: {', '.join(allowed)})")
        description = self.catalog[op.exchange]
        counterpart = self.catalog[op.answer(self.catalog)]
        lookup = op.kind == "lookup"
        bound: dict[str, str] = {}
        if lookup:
            bound = self._filter(description, inputs)
            message: Any = Query(None, bound_fields(description, [bound], self.settings), (bound,) if bound else ())
        else:
            message = self._message(op, description, inputs)
            self._check_identity(op, caller, message)
        context = ExchangeContext(caller.party.requester, self.clock(), op.exchange, "rest", request_id)
        handler = self.handlers[op.exchange]
        if self.keys is not None and op.method == "POST" and inputs.idempotency_key is not None:
            try:
                answer = self.keys.handle(op.exchange, handler, message, context, answer=counterpart.model,
                                          key=inputs.idempotency_key)
            except (ValueError, StateError) as exc:
                raise RestError(400, f"Idempotency-Key: {exc}") from None
        else:
            answer = handler(message, context)
        items = answer_instances(answer, counterpart, lookup, self.settings)
        if lookup and bound:
            items = self._narrow(items, counterpart, message)
        single = not lookup or counterpart.top_list
        body, media = render(items, counterpart, fmt, self.settings, single=single)
        status = status_of(items[0]) if op.method == "POST" and single else 200
        return Response(body, status_code=status, media_type=media)

    def _check_identity(self, op: Operation, caller: Caller, message: BaseModel) -> None:
        """A request that names the service provider asking must name the caller's (403 otherwise)."""
        named = getattr(message, "service_provider", None)
        if named is not None and op.kind == "request" and caller.party.provider_id not in (None, named):
            raise RestError(403, f"service_provider {named} is not the caller ({caller.party.provider_id})")

    def _message(self, op: Operation, description: Description, inputs: Inputs) -> BaseModel:
        """The request's typed message. A GET's fields are read by the message's model (the catalog); a
        body, JSON or RDF, is validated by the model and the message's shape. 400 with the report of
        :func:`dso_saref.validate` (each error at its JSON path) when it is not the message."""
        if op.method == "GET":
            return self._parse(description, self._fields(op, description, inputs))
        if inputs.query:
            raise RestError(400, f"{op.method} {op.path} takes no query parameters", report=_report(
                description.name, [Problem(f"?{k}", "not a parameter of this operation") for k, _ in inputs.query]))
        fmt = body_format(inputs.content_type)
        if fmt is None:
            raise RestError(415, f"a body of {inputs.content_type or 'no declared type'} is not read here: send "
                            "application/json, text/turtle, application/n-triples or application/ld+json (UTF-8)")
        if fmt == "json":
            message = self._parse(description, inputs.body)
            table = description.table_of(message, self.settings)
            if self.validator.check(description.name, Triples.of_table(table)):  # the shape: where, from the report
                raise _invalid(description.name, self.validator.validate(
                    description.name, inputs.body, format="json", settings=self.settings).to_dict())
            return message
        try:
            graph = parse_rdf(inputs.body, fmt)
        except RdfSyntaxError as exc:
            raise _invalid(description.name, Report.of(description.name, [Violation(
                "<document>", str(exc), "syntax", "input")], input="rdf").to_dict()) from None
        report = self.validator.validate(description.name, graph, settings=self.settings)
        if not report.conforms:
            raise _invalid(description.name, report.to_dict())
        try:
            payload = description.from_term_rows(description.graph_rows(graph), self.settings)
        except PayloadError as exc:
            raise _invalid(description.name, _report(description.name, exc.problems)) from None
        return self._parse(description, payload)

    def _parse(self, description: Description, payload: Any) -> BaseModel:
        """The model's reading of ``payload``; 400 with :func:`dso_saref.validate`'s report otherwise."""
        try:
            return description.parse(payload, self.settings)
        except PayloadError:
            report = self.validator.validate(description.name, payload, format="json" if isinstance(
                payload, bytes) else None, settings=self.settings)
            raise _invalid(description.name, report.to_dict()) from None

    def _fields(self, op: Operation, description: Description, inputs: Inputs) -> dict[str, Any]:
        """The JSON payload of a GET: path parameters, query parameters (a list field may repeat, no
        other), and the fields the operation reads from headers."""
        arrays = self._array_fields(description)
        payload: dict[str, Any] = dict(inputs.path)
        problems = []
        for key, value in inputs.query:
            if key in op.headers:
                problems.append(Problem(f"$.{key}", f"send it in the {op.headers[key]} header, not in the URL"))
            elif key in op.path_fields:
                problems.append(Problem(f"$.{key}", "given in the path already"))
            elif key in arrays:
                payload.setdefault(key, []).append(value)
            elif key in payload:
                problems.append(Problem(f"$.{key}", "given more than once"))
            else:
                payload[key] = value
        if problems:
            raise _invalid(description.name, _report(description.name, problems))
        payload.update(inputs.headers)
        return payload

    def _array_fields(self, description: Description) -> frozenset[str]:
        found = self._arrays.get(description.name)
        if found is None:
            props = description.model.model_json_schema().get("properties", {})
            found = frozenset(k for k, v in props.items()
                              if v.get("type") == "array" or any(o.get("type") == "array" for o in v.get("anyOf", ())))
            self._arrays[description.name] = found
        return found

    # -- lookups ------------------------------------------------------------------------------------

    def _filter(self, description: Description, inputs: Inputs) -> dict[str, str]:
        """The binding a lookup's query parameters make (each a field of the answer; 400 otherwise)."""
        keys = filter_keys(description)
        fields: dict[str, Any] = {}
        problems = []
        for key, text in inputs.query:
            var = keys.get(key)
            if var is None:
                problems.append(Problem(f"$.{key}", f"not a field this lookup filters on (one of: "
                                                    f"{', '.join(sorted(keys))})"))
            elif key in fields:
                problems.append(Problem(f"$.{key}", "given more than once"))
            else:
                fields[key] = _typed(text, var)
                problems += self._field_problems(description, key, fields[key])
        if problems:
            raise _invalid(description.name, _report(description.name, problems))
        try:
            return filter_bindings(description, fields, self.settings)
        except PayloadError as exc:
            raise _invalid(description.name, _report(description.name, exc.problems)) from None

    def _field_problems(self, description: Description, key: str, value: Any) -> list[Problem]:
        """What the answer model's type of field ``key`` finds wrong with ``value`` (an empty identifier,
        a negative count, ...), so that a lookup never hands its server a filter the model refuses."""
        adapter = self._adapters.get((description.name, key))
        if adapter is None:
            model = description.model
            if description.top_list:  # a list message (the topology): its entries' model
                model = get_args(model.model_fields["root"].annotation)[0]
            info = model.model_fields.get(key)
            if info is None:
                return []
            adapter = self._adapters[(description.name, key)] = TypeAdapter(
                Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation)
        try:
            adapter.validate_python(value, context={"settings": self.settings})
        except ValidationError as exc:
            return [Problem(f"$.{key}", error["msg"].removeprefix("Value error, "), error["type"])
                    for error in exc.errors(include_url=False)]
        return []

    def _narrow(self, items: list[BaseModel], description: Description, query: Query) -> list[BaseModel]:
        """The answers whose fields equal every field the asker gave (canonical JSON values, as the KE
        compares literals and vocabulary terms)."""

        def agrees(data: dict[str, Any]) -> bool:
            return all(data.get(key) == value for key, value in query.fields.items())

        if description.top_list:  # a list message (the topology): narrow its entries
            entries = items[0].root  # type: ignore[attr-defined]
            return [description.model([e for e in entries if agrees(description.model([e]).dump()[0])])]
        return [item for item in items if agrees(item.dump())]  # type: ignore[attr-defined]


def _typed(text: str, var: Any) -> Any:
    """A query parameter's text as the JSON value its variable reads (numbers and booleans parsed;
    left as text when it is none, for the variable to refuse)."""
    datatype = str(getattr(var, "datatype", "") or "")
    try:
        if datatype.endswith(("#double", "#decimal", "#float")):
            return float(text)
        if datatype.endswith(("#integer", "#int", "#long", "#nonNegativeInteger", "#positiveInteger")):
            return int(text)
    except ValueError:
        return text
    if datatype.endswith("#boolean") and text in ("true", "false"):
        return text == "true"
    return text
