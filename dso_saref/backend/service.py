"""The reference DSO: every use case of the specification over one database, behind typed messages.

:class:`DsoBackend` composes the modules of the backend (consent, metering, flexibility market, fault
location, observability, elasticity, data layer) over one :class:`~dso_saref.backend.storage.Storage`.
:meth:`DsoBackend.handlers` maps the catalog name of each exchange the DSO *serves* to a
:class:`~dso_saref.exchange.Handler`; the DSO-initiated exchanges are methods that return the
:class:`~dso_saref.exchange.Outgoing` message to send, with ``record_*`` methods for the answers::

    backend = DsoBackend(Storage("dso.sqlite"), settings=BackendSettings(k_anonymity=5))
    seed(backend)                                            # dso_saref.app.seed
    context = ExchangeContext(requester="https://sp001.example.org/kb", received_at=backend.now())
    response = backend.handlers()["authorization-request"](AuthorizationRequest(...), context)
    out = backend.publish_needs([FlexibilityNeed(...)])     # Outgoing[FlexibilityNeeds], to every provider
    for plan in backend.build_activation_plans():             # one Outgoing[ActivationPlan] per provider
        backend.record_activation_acknowledgement(plan.reference, ack_from(plan.recipient))

Every handler and method commits its state change before it returns: the answer it gives is never
ahead of the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from dso_saref.backend.consent import Consent, ConsentRegistry, ConsentState
from dso_saref.backend.datalayer import ANSWERS, DataLayerService
from dso_saref.backend.elasticity import ElasticityService
from dso_saref.backend.errors import Refused
from dso_saref.backend.faults import FaultEvent, FaultLocation
from dso_saref.backend.flexibility import FlexibilityMarket
from dso_saref.backend.grid import GridData
from dso_saref.backend.incentives import IncentiveDesk
from dso_saref.backend.lookups import ReadingLookup, TopologyLookup
from dso_saref.backend.metering import MeteringService
from dso_saref.backend.observability import Observability, VoltageAlarm
from dso_saref.backend.parties import Parties, ServiceProvider
from dso_saref.backend.policy import AccessPolicy, Code
from dso_saref.backend.registry import OperationsRegistry, Outcome
from dso_saref.backend.settings import BackendSettings
from dso_saref.backend.storage import Storage
from dso_saref.exchange import ExchangeContext, Handler, Outgoing, Query
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
    FlexibilityNeed,
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

__all__ = ["DsoBackend"]

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DsoBackend:
    """The reference DSO over ``storage``; ``clock`` gives "now" for DSO-initiated operations (handlers
    use the exchange's ``received_at``)."""

    def __init__(self, storage: Storage, *, settings: BackendSettings | None = None, clock: Clock = _utc_now) -> None:
        self.storage = storage
        self.settings = settings or BackendSettings()
        self._clock = clock
        self.registry = OperationsRegistry(storage)
        self.parties = Parties(storage)
        self.grid = GridData(storage)
        self.consents = ConsentRegistry(storage, self.registry, self.settings)
        self.policy = AccessPolicy(storage, self.grid, self.parties, self.consents, self.registry, self.settings)
        self.metering = MeteringService(storage, self.parties, self.policy, self.registry, self.settings)
        self.incentives = IncentiveDesk(storage, self.policy, self.registry)
        self.market = FlexibilityMarket(storage, self.grid, self.parties, self.policy, self.registry,
                                        self.settings.bounds)
        self.faults = FaultLocation(storage, self.parties, self.policy, self.registry)
        self.observability = Observability(storage, self.parties, self.policy, self.registry, self.settings)
        self.elasticity = ElasticityService(storage, self.policy, self.registry, self.settings)
        self.data_layer = DataLayerService(self.grid, self.policy, self.registry)

    def now(self) -> datetime:
        """The backend's clock."""
        return self._clock()

    # -- the exchanges the DSO serves ------------------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        """The handler of every exchange the DSO serves, by the catalog name of its request (the
        carrier checks requests and answers against the catalog's models); lookups (the data layer's
        readings and topology) take a :class:`~dso_saref.exchange.Query`. Every handler is behind the
        access policy's guard (:meth:`~dso_saref.backend.policy.AccessPolicy.guard`)."""
        table: dict[str, Handler] = {
            "authorization-request": self._authorization,
            "metering-request": self._metering_request,
            "flexibility-data-request": self._flexibility_data,
            "flexibility-needs-request": self._needs_request,
            "flexibility-offers": self._offers,
            "fault-notification": self._fault_notification,
            "opportunities-request": self._opportunities,
            "grid-topology": self._topology,
        }
        table.update({name: self._reading_lookup(name) for name in ANSWERS})
        return {name: self.policy.guard(name, handler) for name, handler in table.items()}

    def record_malformed(self, exchange: str, context: ExchangeContext, error: BaseException | str) -> Refused:
        """Register and log a request of ``exchange`` its carrier could not read into a message (a
        malformed binding set); returns the :class:`Refused` whose ``reason`` to answer with."""
        return self.policy.malformed(exchange, context, error)

    def _authorization(self, message: AuthorizationRequest, context: ExchangeContext) -> AuthorizationResponse:
        now = context.received_at
        provider = self.policy.provider(context.requester, "authorization-request", now, subject=message.end_user)
        if message.service_provider is not None and message.service_provider != provider.id:
            raise self.policy.refuse("authorization-request", provider.id, now, code=Code.INVALID,
                                     subject=message.end_user, reason=f"service_provider {message.service_provider} "
                                     f"is not the requester ({provider.id})")
        if self.parties.end_user(message.end_user) is None:
            raise self.policy.refuse("authorization-request", provider.id, now, code=Code.INVALID,
                                     subject=message.end_user, reason="unknown end user")
        consent = self.consents.request(end_user=message.end_user, service_provider=provider.id,
                                        start=message.start, end=message.end, now=now)
        return _authorization_response(consent, now)

    def _metering_request(self, message: MeteringRequest, context: ExchangeContext) -> MeteringData:
        return self.metering.metering(message, requester=context.requester, now=context.received_at)

    def _flexibility_data(self, message: FlexibilityDataRequest, context: ExchangeContext) -> FlexibilityData:
        return self.metering.flexibility_data(message, requester=context.requester, now=context.received_at)

    def _needs_request(self, message: FlexibilityNeedsRequest, context: ExchangeContext) -> FlexibilityNeeds:
        return self.market.needs_request(message, requester=context.requester, now=context.received_at)

    def _offers(self, message: FlexibilityOffers, context: ExchangeContext) -> Acknowledgement:
        return self.market.receive_offers(message, requester=context.requester, now=context.received_at)

    def _fault_notification(self, message: FaultNotification, context: ExchangeContext) -> Acknowledgement:
        return self.faults.receive_fault_notification(message, requester=context.requester, now=context.received_at)

    def _opportunities(self, message: OpportunitiesRequest, context: ExchangeContext) -> Opportunities:
        return self.observability.opportunities(message, requester=context.requester, now=context.received_at)

    def _topology(self, query: Query, context: ExchangeContext) -> GridTopology:
        lookup = TopologyLookup.model_validate(_known(query, TopologyLookup))
        return self.data_layer.topology(lookup, requester=context.requester, now=context.received_at)

    def _reading_lookup(self, name: str) -> Handler:
        def lookup(query: Query, context: ExchangeContext) -> BaseModel:
            filters = ReadingLookup.model_validate(_known(query, ReadingLookup))
            return self.data_layer.readings(name, filters, requester=context.requester, now=context.received_at)

        return lookup

    # -- HLUC 5: the customer channel and incentives ------------------------------------------------------

    def grant_consent(self, consent_id: str) -> Consent:
        """The end user grants a pending consent (through the DSO's customer channel)."""
        return self.consents.grant(consent_id, now=self.now())

    def refuse_consent(self, consent_id: str, reason: str = "refused by the end user") -> Consent:
        """The end user refuses a pending consent."""
        return self.consents.refuse(consent_id, now=self.now(), reason=reason)

    def revoke_consent(self, consent_id: str, reason: str = "revoked by the end user") -> Consent:
        """The end user revokes a granted consent; its token is refused from now on."""
        return self.consents.revoke(consent_id, now=self.now(), reason=reason)

    def incentive_offer(self, *, end_user: str, recipient: str, contracted_power: float, incentive: float,
                        start: datetime, end: datetime, **units: str) -> Outgoing[IncentiveOffer]:
        """A contracted power incentive for ``end_user``, to post to ``recipient`` (a knowledge-base id);
        ``units`` may give ``contracted_power_unit``, ``incentive_unit`` and ``offer_id``."""
        return self.incentives.offer(end_user=end_user, recipient=recipient, contracted_power=contracted_power,
                                     incentive=incentive, start=start, end=end, now=self.now(), **units)

    def record_incentive_response(self, response: IncentiveResponse, *, responder: str) -> Acknowledgement:
        """Record the answer to an incentive offer and update the end user's preferences."""
        return self.incentives.respond(response, requester=responder, now=self.now())

    # -- HLUC 10: the DSO's side of the market ------------------------------------------------------------

    def publish_needs(self, needs: Sequence[FlexibilityNeed], *, intraday: bool = False) -> Outgoing[FlexibilityNeeds]:
        """Publish new needs (day ahead, or intraday additional needs) to every service provider."""
        message = self.market.publish_needs(needs, now=self.now(), kind="intraday" if intraday else "day-ahead")
        return Outgoing(message)

    def add_to_needs(self, additions: Mapping[str, float]) -> Outgoing[FlexibilityNeeds]:
        """Intraday: more of existing needs (re-opens their clearing); publish the updated needs."""
        return Outgoing(self.market.add_to_needs(additions, now=self.now()))

    def record_needs_acknowledgement(self, acknowledgement: Acknowledgement, *, responder: str) -> None:
        """Record a provider's acknowledgement of a needs publication."""
        self._record(responder, "flexibility-needs", acknowledgement)

    def build_activation_plans(self, request_ids: Iterable[str] | None = None) -> list[Outgoing[ActivationPlan]]:
        """Clear the needs (default: every open need) and return one activation plan per provider."""
        return self.market.build_activation_plans(request_ids, now=self.now())

    def record_activation_acknowledgement(self, plan_id: str, acknowledgement: Acknowledgement) -> None:
        """Record a provider's acknowledgement of the plan ``plan_id`` (its outgoing reference)."""
        self.market.record_activation_acknowledgement(plan_id, acknowledgement, now=self.now())

    # -- HLUC 11: fault location, HEMS, disaggregated data ---------------------------------------------

    def set_min_faulty_hems(self, provider_id: str, minimum: int, *,
                            postal_code: str | None = None) -> Outgoing[FaultMinHems]:
        """Set a provider's minimum number of faulty HEMS (one postal code, or all)."""
        return self.faults.set_min_faulty_hems(provider_id, minimum, now=self.now(), postal_code=postal_code)

    def set_min_elapsed_time(self, provider_id: str, seconds: float, *,
                             postal_code: str | None = None) -> Outgoing[FaultMinElapsedTime]:
        """Set a provider's minimum elapsed time of an interruption (seconds)."""
        return self.faults.set_min_elapsed_time(provider_id, seconds, now=self.now(), postal_code=postal_code)

    def record_settings_acknowledgement(self, provider_id: str, setting: str, acknowledgement: Acknowledgement, *,
                                        postal_code: str | None = None) -> None:
        """Record a provider's acknowledgement of ``fault-min-hems`` or ``fault-min-elapsed-time``."""
        self.faults.record_settings_acknowledgement(provider_id, setting, acknowledgement, now=self.now(),
                                                    postal_code=postal_code)

    def subscribe_postal_codes(self, provider_id: str, postal_codes: Sequence[str]) -> Outgoing[FaultPostalCodes]:
        """Subscribe postal codes for fault notifications (pending until the provider answers)."""
        return self.faults.subscribe(provider_id, postal_codes, now=self.now())

    def record_subscription_response(self, provider_id: str, postal_codes: Sequence[str],
                                     response: SubscriptionResponse) -> None:
        """Record the provider's subscription response for those postal codes."""
        self.faults.record_subscription_response(provider_id, postal_codes, response, now=self.now())

    def raise_due_faults(self) -> list[FaultEvent]:
        """Raise the fault events whose minimum elapsed time has now passed."""
        return self.faults.raise_due_faults(now=self.now())

    def hems_status_request(self, hems_id: str) -> Outgoing[HemsStatusRequest]:
        """Ask the provider of a HEMS for its status."""
        return self.observability.hems_status_request(hems_id)

    def record_hems_status(self, status: HemsStatus, *, responder: str) -> list[VoltageAlarm]:
        """Record a status answer; returns the HEMS flagged with an abnormal voltage."""
        return self.observability.record_hems_status(status, provider_id=self._provider(responder).id,
                                                     now=self.now())

    def hems_voltage_request(self, hems_id: str) -> Outgoing[HemsVoltageRequest]:
        """Ask the provider of a HEMS for its last voltage reading."""
        return self.observability.hems_voltage_request(hems_id)

    def record_hems_voltage(self, voltage: HemsVoltage, *, responder: str) -> list[VoltageAlarm]:
        """Record a voltage answer; returns the readings outside the voltage band."""
        return self.observability.record_hems_voltage(voltage, provider_id=self._provider(responder).id,
                                                      now=self.now())

    def disaggregated_data_request(self, provider_id: str,
                                   customer_ids: Sequence[str]) -> Outgoing[DisaggregatedDataRequest]:
        """Ask a data service provider for disaggregated consumption of customers."""
        return self.observability.disaggregated_data_request(provider_id, customer_ids, now=self.now())

    def record_disaggregated_data(self, data: DisaggregatedData, *, responder: str) -> int:
        """Store a data service provider's answer; returns the number of values stored."""
        return self.observability.record_disaggregated_data(data, provider_id=self._provider(responder).id,
                                                            now=self.now())

    # -- HLUC 11 PUC 2: elasticity -------------------------------------------------------------------------

    def elasticity_request(self, message: ElasticityInput, provider_id: str) -> Outgoing[ElasticityInput]:
        """Post a user profile to a service provider's elasticity service."""
        return self.elasticity.request(message, provider_id=provider_id, now=self.now())

    def record_elasticity_output(self, output: ElasticityOutput, *, responder: str) -> None:
        """Keep the elasticity output a service provider answered."""
        self.elasticity.record_output(output, provider_id=self._provider(responder).id, now=self.now())

    def compute_elasticity(self, message: ElasticityInput) -> ElasticityOutput:
        """Run the elasticity service inside the DSO (spec 3.2.3.3) and keep the run."""
        return self.elasticity.compute(message, now=self.now())

    # -- helpers ---------------------------------------------------------------------------------------------

    def _provider(self, knowledge_base_id: str) -> ServiceProvider:
        provider = self.parties.provider_for(knowledge_base_id)
        if provider is None:
            return self.parties.provider(knowledge_base_id)  # a provider id is accepted too; raises NotFound
        return provider

    def _record(self, responder: str, operation: str, acknowledgement: Acknowledgement) -> None:
        provider = self.parties.provider_for(responder)
        self.registry.log(at=self.now(), actor=provider.id if provider else responder, operation=operation,
                          subject=acknowledgement.reference or "", reason=acknowledgement.reason or "",
                          outcome=Outcome.ACCEPTED if acknowledgement.status.value == "accepted" else Outcome.REJECTED)


def _known(query: Query, model: type[BaseModel]) -> dict[str, Any]:
    """The fields a lookup asker bound that ``model`` filters on (the others are not filters)."""
    return {key: value for key, value in query.fields.items() if key in model.model_fields}


def _authorization_response(consent: Consent, now: datetime) -> AuthorizationResponse:
    state = consent.state(now)
    common = {"end_user": consent.end_user, "service_provider": consent.service_provider, "start": consent.start,
              "end": consent.end}
    if state is ConsentState.GRANTED:
        return AuthorizationResponse(**common, granted=True, authorization_token=consent.token,
                                     reason=f"valid until {consent.expires_at:%Y-%m-%dT%H:%M:%SZ}")
    if state is ConsentState.PENDING:
        return AuthorizationResponse(**common, granted=False,
                                     reason=f"pending: waiting for the end user's consent (consent {consent.id}); "
                                            "ask again later")
    return AuthorizationResponse(**common, granted=False, reason=consent.reason or f"consent {state.value}")
