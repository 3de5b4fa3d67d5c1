"""What the DSO receives over REST as answers pushed to it (:func:`~dso_saref.rest.operations.pushed_answers`):
each a :class:`~dso_saref.exchange.Handler` over the backend's ``record_*`` methods that acknowledges
what it stored, so that the REST API serves pushes like any other exchange::

    handlers = {**backend.handlers(), **dso_receivers(backend)}
    ack = handlers["hems-voltage"](voltage, ExchangeContext(sp_kb, now, channel="rest"))

A push the backend cannot take (a HEMS of another provider) raises its error (the API answers 403).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dso_saref.exchange import ExchangeContext, Handler
from dso_saref.messages.common import Status
from dso_saref.messages.data_sharing import IncentiveResponse
from dso_saref.messages.elasticity import ElasticityOutput
from dso_saref.messages.flexibility import Acknowledgement
from dso_saref.messages.observability import DisaggregatedData, HemsStatus, HemsVoltage

if TYPE_CHECKING:
    from dso_saref.backend import DsoBackend

__all__ = ["dso_receivers"]


def dso_receivers(backend: DsoBackend) -> dict[str, Handler]:
    """The DSO's handler of every pushed answer, by its catalog name."""

    def incentive_response(message: IncentiveResponse, context: ExchangeContext) -> Acknowledgement:
        return backend.record_incentive_response(message, responder=context.requester)

    def hems_status(message: HemsStatus, context: ExchangeContext) -> Acknowledgement:
        alarms = backend.record_hems_status(message, responder=context.requester)
        return _recorded(", ".join(sorted({e.Hems_ID for e in message.Voltage_Monitoring})),
                         f"{len(alarms)} abnormal voltage flags")

    def hems_voltage(message: HemsVoltage, context: ExchangeContext) -> Acknowledgement:
        alarms = backend.record_hems_voltage(message, responder=context.requester)
        return _recorded(", ".join(sorted({r.Hems_ID for r in message.Voltage_Monitoring})),
                         f"{len(alarms)} readings outside the voltage band")

    def disaggregated_data(message: DisaggregatedData, context: ExchangeContext) -> Acknowledgement:
        stored = backend.record_disaggregated_data(message, responder=context.requester)
        return _recorded(", ".join(sorted({c.customer_id for c in message.customers})), f"{stored} values stored")

    def elasticity_output(message: ElasticityOutput, context: ExchangeContext) -> Acknowledgement:
        backend.record_elasticity_output(message, responder=context.requester)
        return _recorded(message.userID, "elasticity output kept")

    return {"incentive-response": incentive_response, "hems-status": hems_status, "hems-voltage": hems_voltage,
            "disaggregated-data": disaggregated_data, "elasticity-output": elasticity_output}


def _recorded(reference: str, reason: str) -> Acknowledgement:
    return Acknowledgement(status=Status.ACCEPTED, reference=reference[:200] or None, reason=reason)
