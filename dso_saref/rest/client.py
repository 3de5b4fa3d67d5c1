"""Typed clients of the REST APIs: :class:`PartnerClient` for the APIs that external platforms host and the
DSO calls (a service provider's needs, activation plan, fault-location, HEMS and elasticity endpoints),
:class:`DsoClient` for the DSO's own API (what a service provider or third party calls).

Each method is one operation of :mod:`dso_saref.rest.operations` and is named after it: it takes the
typed request, writes it where the operation reads it (query, path, header or JSON body) and returns
the typed answer, read by the catalog's model. A refusal raises :class:`RestRefused` (its status, the
reason, the validation report of a 400); no reply raises
:class:`~dso_saref.rest.transport.RestUnavailable`. Every POST carries a new ``Idempotency-Key``, so a
request the transport sends again is applied once::

    with PartnerClient("http://127.0.0.1:8081", api_key=key) as sp:
        ack = sp.flexibility_needs(needs)                 # -> Acknowledgement
        status = sp.hems_status_request(HemsStatusRequest(Hems_ID="H0001"))   # -> HemsStatus
    with DsoClient("http://127.0.0.1:8080", api_key=key) as dso:
        needs = dso.flexibility_needs_request(FlexibilityNeedsRequest(start=..., end=...))
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlencode

from pydantic import BaseModel

from dso_saref.catalog import DEFAULT, Catalog
from dso_saref.errors import DsoSarefError, PayloadError, Problem
from dso_saref.messages.data_sharing import (
    AuthorizationRequest,
    AuthorizationResponse,
    FlexibilityData,
    FlexibilityDataRequest,
    IncentiveOffer,
    IncentiveResponse,
    MeteringData,
    MeteringRequest,
)
from dso_saref.messages.elasticity import ElasticityInput, ElasticityOutput
from dso_saref.messages.flexibility import (
    Acknowledgement,
    ActivationPlan,
    FlexibilityNeeds,
    FlexibilityNeedsRequest,
    FlexibilityOffers,
)
from dso_saref.messages.grid_data import GridTopology
from dso_saref.messages.observability import (
    DisaggregatedData,
    DisaggregatedDataRequest,
    FaultMinElapsedTime,
    FaultMinHems,
    FaultNotification,
    FaultPostalCodes,
    HemsStatus,
    HemsStatusRequest,
    HemsVoltage,
    HemsVoltageRequest,
    Opportunities,
    OpportunitiesRequest,
    SubscriptionResponse,
)
from dso_saref.rest.media import JSON
from dso_saref.rest.operations import DSO_OPERATIONS, PARTNER_OPERATIONS, Operation
from dso_saref.rest.transport import HttpRequest, HTTPTransport, RestUnavailable, Transport
from dso_saref.terms import Settings

__all__ = ["DsoClient", "PartnerClient", "RestClient", "RestRefused", "RestUnavailable"]


class RestRefused(DsoSarefError):
    """The server refused a request: ``status`` (400, 401, 403, 404, ...), its ``detail``, the
    validation ``report`` of a 400 and the ``request_id`` to quote."""

    def __init__(self, status: int, detail: str, *, report: dict[str, Any] | None = None,
                 request_id: str | None = None) -> None:
        self.status = status
        self.detail = detail
        self.report = report
        self.request_id = request_id
        super().__init__(f"{status}: {detail}")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class RestClient:
    """The calls of ``operations`` on the API at ``base_url`` (or through ``transport``), authenticated
    with ``api_key``; answers are read with ``settings``."""

    operations: tuple[Operation, ...] = ()

    def __init__(self, base_url: str | None = None, *, api_key: str, transport: Transport | None = None,
                 timeout: float = 30.0, settings: Settings | None = None, catalog: Catalog = DEFAULT) -> None:
        if (base_url is None) == (transport is None):
            raise ValueError("give exactly one of base_url and transport")
        self.transport = transport or HTTPTransport(str(base_url), timeout=timeout)
        self.settings = settings or Settings()
        self.catalog = catalog
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": JSON}
        self._by_name = {op.exchange: op for op in self.operations}

    def close(self) -> None:
        """Close the transport."""
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def call(self, name: str, message: BaseModel | Mapping[str, Any] | None = None) -> Any:
        """Exchange ``name`` with ``message`` (a typed request, or for a lookup a mapping of the fields
        that narrow it); the typed answer (a list of messages for a lookup of single readings). Raises
        :class:`RestRefused`, :class:`RestUnavailable`, KeyError for an operation this API lacks, and
        PayloadError for an answer that is not the exchange's."""
        op = self._by_name[name]
        request = self.request(op, message)
        reply = self.transport.handle(request)
        if not 200 <= reply.status < 300:
            raise self._refused(reply.status, reply.body)
        answer = self.catalog[op.answer(self.catalog)]
        try:
            data = reply.json()
        except ValueError as exc:
            raise PayloadError(answer.name, [Problem("$", f"the answer is not JSON: {exc}", "json")]) from None
        if op.kind == "lookup" and not answer.top_list:
            if not isinstance(data, list):
                raise RestRefused(reply.status, f"{name}: expected a JSON array of {answer.name}")
            return [answer.parse(item, self.settings) for item in data]
        return answer.parse(data, self.settings)

    def request(self, op: Operation, message: BaseModel | Mapping[str, Any] | None) -> HttpRequest:
        """The HTTP request of ``op`` for ``message``."""
        payload = (message.model_dump(mode="json", by_alias=True, exclude_none=True) if isinstance(message, BaseModel)
                   else dict(message or {}))
        fields = dict(payload) if isinstance(payload, dict) else {}
        headers = dict(self._headers)
        path = op.path
        for key in op.path_fields:
            path = path.replace("{" + key + "}", quote(_text(fields.pop(key)), safe=""))
        for key, header in op.headers.items():
            if key in fields:
                headers[header] = _text(fields.pop(key))
        if op.method == "GET":
            query = [(k, _text(item)) for k, v in fields.items() for item in (v if isinstance(v, list) else [v])]
            target = f"{path}?{urlencode(query)}" if query else path
            return HttpRequest("GET", target, headers)
        headers["Content-Type"] = JSON
        headers["Idempotency-Key"] = str(uuid.uuid4())
        body = json.dumps(fields if isinstance(payload, dict) else payload, ensure_ascii=False).encode("utf-8")
        return HttpRequest("POST", path, headers, body)

    @staticmethod
    def _refused(status: int, body: bytes) -> RestRefused:
        try:
            problem = json.loads(body) if body else {}
        except ValueError:
            problem = {}
        if not isinstance(problem, dict):
            problem = {}
        return RestRefused(status, str(problem.get("detail") or body[:200].decode("utf-8", "replace")),
                           report=problem.get("report"), request_id=problem.get("request_id"))


class PartnerClient(RestClient):
    """The DSO's client of a partner's API (the endpoints of :data:`PARTNER_OPERATIONS`)."""

    operations = PARTNER_OPERATIONS

    def flexibility_needs(self, message: FlexibilityNeeds) -> Acknowledgement:
        """Publish flexibility needs (3.2.2.2.1.1)."""
        return self.call("flexibility-needs", message)

    def activation_plan(self, message: ActivationPlan) -> Acknowledgement:
        """Send an activation plan (3.2.2.2.1.2)."""
        return self.call("activation-plan", message)

    def fault_min_hems(self, message: FaultMinHems) -> Acknowledgement:
        """Set the minimum number of faulty HEMS (3.2.3.2.1.1)."""
        return self.call("fault-min-hems", message)

    def fault_min_elapsed_time(self, message: FaultMinElapsedTime) -> Acknowledgement:
        """Set the minimum elapsed time of an interruption (3.2.3.2.1.2)."""
        return self.call("fault-min-elapsed-time", message)

    def fault_postal_codes(self, message: FaultPostalCodes) -> SubscriptionResponse:
        """Subscribe postal codes for fault notifications (3.2.3.2.1.3)."""
        return self.call("fault-postal-codes", message)

    def hems_status_request(self, message: HemsStatusRequest) -> HemsStatus:
        """A HEMS's communication status (3.2.3.2.1.4)."""
        return self.call("hems-status-request", message)

    def hems_voltage_request(self, message: HemsVoltageRequest) -> HemsVoltage:
        """A HEMS's last voltage reading (3.2.3.2.1.5)."""
        return self.call("hems-voltage-request", message)

    def disaggregated_data_request(self, message: DisaggregatedDataRequest) -> DisaggregatedData:
        """Disaggregated consumption of customers (3.2.3.3.1.1)."""
        return self.call("disaggregated-data-request", message)

    def incentive_offer(self, message: IncentiveOffer) -> IncentiveResponse:
        """A contracted power incentive offer (Table 4)."""
        return self.call("incentive-offer", message)

    def elasticity_input(self, message: ElasticityInput) -> ElasticityOutput:
        """A user profile for the elasticity service (3.2.3.3)."""
        return self.call("elasticity-input", message)


class DsoClient(RestClient):
    """A party's client of the DSO's API (the operations of :data:`DSO_OPERATIONS`)."""

    operations = DSO_OPERATIONS

    def authorization_request(self, message: AuthorizationRequest) -> AuthorizationResponse:
        """Ask for access to an end user's data (3.2.1.1.1.1)."""
        return self.call("authorization-request", message)

    def metering_request(self, message: MeteringRequest) -> MeteringData:
        """Metering data of an end user (with its consent token) or a zone (3.2.1.1.1.2)."""
        return self.call("metering-request", message)

    def flexibility_data_request(self, message: FlexibilityDataRequest) -> FlexibilityData:
        """Flexibility history of a zone (3.2.1.1.1.3)."""
        return self.call("flexibility-data-request", message)

    def flexibility_needs_request(self, message: FlexibilityNeedsRequest) -> FlexibilityNeeds:
        """The DSO's open needs of a window (3.2.2.1.1.1)."""
        return self.call("flexibility-needs-request", message)

    def flexibility_offers(self, message: FlexibilityOffers) -> Acknowledgement:
        """Offers for the DSO's needs (3.2.2.1.1.2)."""
        return self.call("flexibility-offers", message)

    def fault_notification(self, message: FaultNotification) -> Acknowledgement:
        """A potential fault and its location (3.2.3.1.1.1.1)."""
        return self.call("fault-notification", message)

    def opportunities_request(self, message: OpportunitiesRequest) -> Opportunities:
        """Flexibility opportunities around zip codes (3.2.3.1.1.1.2)."""
        return self.call("opportunities-request", message)

    def incentive_response(self, message: IncentiveResponse) -> Acknowledgement:
        """The answer to an incentive offer."""
        return self.call("incentive-response", message)

    def hems_status(self, message: HemsStatus) -> Acknowledgement:
        """Report HEMS status to the DSO."""
        return self.call("hems-status", message)

    def hems_voltage(self, message: HemsVoltage) -> Acknowledgement:
        """Report HEMS voltage readings to the DSO."""
        return self.call("hems-voltage", message)

    def disaggregated_data(self, message: DisaggregatedData) -> Acknowledgement:
        """Send the disaggregated data the DSO asked for."""
        return self.call("disaggregated-data", message)

    def elasticity_output(self, message: ElasticityOutput) -> Acknowledgement:
        """Send the output of an elasticity computation the DSO asked for."""
        return self.call("elasticity-output", message)

    def lv_client_reading(self, **fields: Any) -> list[Any]:
        """LV client readings (``LvClientReading``) narrowed by ``fields`` (``id``, ``timestamp``, ...)."""
        return self.call("lv-client-reading", fields)

    def mv_client_reading(self, **fields: Any) -> list[Any]:
        """MV client readings (``MvClientReading``) narrowed by ``fields``."""
        return self.call("mv-client-reading", fields)

    def secondary_substation_reading(self, **fields: Any) -> list[Any]:
        """Secondary substation readings narrowed by ``fields``."""
        return self.call("secondary-substation-reading", fields)

    def primary_substation_reading(self, **fields: Any) -> list[Any]:
        """Primary substation readings narrowed by ``fields``."""
        return self.call("primary-substation-reading", fields)

    def grid_topology(self, **fields: Any) -> GridTopology:
        """The grid topology entries narrowed by ``fields`` (``client_id``, ``voltage_level``, ...)."""
        return self.call("grid-topology", fields)
