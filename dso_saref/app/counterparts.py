"""Reference behaviours of the DSO's counterparts, for the demo and the scenario tests: a service provider
(HEMS aggregator, flexibility provider and data service provider in one) and a third party.

:class:`ServiceProviderRole` keeps its state in memory (it is not the DSO) and serves, through typed
:class:`~dso_saref.exchange.Handler` objects like the DSO's, every exchange the DSO starts:
it acknowledges needs publications and activation plans, applies fault-location settings, accepts or
denies postal-code subscriptions, answers HEMS status and voltage questions, disaggregated-data requests,
incentive offers and elasticity inputs (by the reference method of :mod:`dso_saref.backend.elasticity`).
It also builds the messages a provider starts: authorization and metering requests, needs requests,
offers for the needs it knows, and fault notifications once the DSO's thresholds hold::

    sp = ServiceProviderRole("SP001", SP001, hems=[ManagedHems("H0001", "4405-123", meter_id="M0001")])
    ack = sp.handlers()["flexibility-needs"](needs, ExchangeContext(DSO_KB, now))
    offers = sp.make_offers()
    sp.outage("4405-123", at=now)
    notification = sp.fault_notification(now=now + timedelta(minutes=5))
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dso_saref.backend.elasticity import elasticity_output
from dso_saref.backend.errors import NotFound
from dso_saref.backend.faults import seconds_of
from dso_saref.backend.metering import to_base_unit
from dso_saref.backend.settings import BackendSettings, VoltageBand
from dso_saref.exchange import ExchangeContext, Handler
from dso_saref.messages.common import Status
from dso_saref.messages.data_sharing import (
    AuthorizationRequest,
    DataType,
    IncentiveOffer,
    IncentiveResponse,
    MeteringRequest,
)
from dso_saref.messages.elasticity import ElasticityInput, ElasticityOutput
from dso_saref.messages.flexibility import (
    Acknowledgement,
    ActivationPlan,
    FlexibilityNeed,
    FlexibilityNeeds,
    FlexibilityNeedsRequest,
    FlexibilityOffer,
    FlexibilityOffers,
)
from dso_saref.messages.observability import (
    ConsumptionPoint,
    CustomerData,
    DisaggregatedData,
    DisaggregatedDataRequest,
    FaultLocationEntry,
    FaultMinElapsedTime,
    FaultMinHems,
    FaultNotification,
    FaultPostalCodes,
    HemsStatus,
    HemsStatusEntry,
    HemsStatusRequest,
    HemsVoltage,
    HemsVoltageReading,
    HemsVoltageRequest,
    LoadConsumption,
    OpportunitiesRequest,
    SubscriptionResponse,
    SubscriptionStatus,
)

__all__ = ["ManagedHems", "ServiceProviderRole", "ThirdPartyRole"]

_ALL = "*"


@dataclass
class ManagedHems:
    """A HEMS the provider manages: where it is, its meter, whether it communicates, its voltage."""

    hems_id: str
    postal_code: str
    meter_id: str | None = None
    online: bool = True
    voltage: float = 230.0
    offline_since: datetime | None = None


class ServiceProviderRole:
    """A reference service provider (see the module doc). ``capacity`` is the flexibility (kW) each
    managed meter can give; prices are ``base_price`` +/- 0.02 EUR/kWh drawn from ``random.Random(seed)``;
    an incentive offer is accepted when its incentive is at least ``min_incentive``."""

    def __init__(self, provider_id: str, knowledge_base_id: str, *, hems: Iterable[ManagedHems] = (),
                 meters: Iterable[str] = (), capacity: float = 1.5, base_price: float = 0.12, seed: int = 0,
                 min_incentive: float = 0.0, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.provider_id = provider_id
        self.knowledge_base_id = knowledge_base_id
        self.hems = {h.hems_id: h for h in hems}
        self.meters = set(meters) | {h.meter_id for h in self.hems.values() if h.meter_id}
        self.capacity = capacity
        self.base_price = base_price
        self.min_incentive = min_incentive
        self._rng = random.Random(seed)
        self._clock = clock
        self.needs: dict[str, FlexibilityNeed] = {}
        self.offers: dict[tuple[str, str], FlexibilityOffer] = {}
        self.plans: list[ActivationPlan] = []
        self.min_faulty_hems: dict[str, int] = {}
        self.min_elapsed_seconds: dict[str, float] = {}
        self.subscribed: set[str] = set()
        self._notifications = 0

    def handlers(self) -> dict[str, Handler]:
        """The handler of every exchange the provider serves, by the catalog name of its request."""
        return {
            "flexibility-needs": self._on_needs,
            "activation-plan": self._on_plan,
            "fault-min-hems": self._on_min_hems,
            "fault-min-elapsed-time": self._on_min_elapsed,
            "fault-postal-codes": self._on_postal_codes,
            "hems-status-request": self._on_status,
            "hems-voltage-request": self._on_voltage,
            "disaggregated-data-request": self._on_disaggregated,
            "incentive-offer": self._on_incentive,
            "elasticity-input": self._on_elasticity,
        }

    # -- flexibility ------------------------------------------------------------------------------------

    def _on_needs(self, message: FlexibilityNeeds, context: ExchangeContext) -> Acknowledgement:
        for need in message.root:
            self.needs[need.request_id] = need
        return Acknowledgement(status=Status.ACCEPTED, reference=",".join(n.request_id for n in message.root) or None)

    def needs_request(self, start: datetime, end: datetime) -> FlexibilityNeedsRequest:
        """Ask the DSO for the needs of a window (the answer goes to :meth:`remember_needs`)."""
        return FlexibilityNeedsRequest(start=start, end=end)

    def remember_needs(self, needs: FlexibilityNeeds) -> None:
        """Keep the needs of a needs-request answer."""
        for need in needs.root:
            self.needs[need.request_id] = need

    def make_offers(self, request_ids: Iterable[str] | None = None) -> FlexibilityOffers:
        """Offers for the known needs (or those listed) that the provider's meters are eligible for: over
        the need's window, at most what the need asks and ``capacity`` per meter, in the need's unit."""
        ids = sorted(self.needs) if request_ids is None else list(request_ids)
        offers = []
        for request_id in ids:
            need = self.needs[request_id]
            meters = sorted(self.meters & set(need.eligible_clients)) if need.eligible_clients else sorted(self.meters)
            if not meters:
                continue
            unit = need.unit
            per_unit = to_base_unit(1.0, unit)[0]
            quantity = min(need.needs, self.capacity * len(meters) / per_unit)
            offer_id = f"{self.provider_id}-{request_id}-{sum(1 for k in self.offers if k[0] == request_id) + 1}"
            offer = FlexibilityOffer(request_id=request_id, offer_id=offer_id, offer=round(quantity, 6), unit=unit,
                                     price=round(self.base_price + self._rng.uniform(-0.02, 0.02), 4),
                                     start=need.start, end=need.end, meter_ids=meters)
            self.offers[(request_id, offer_id)] = offer
            offers.append(offer)
        return FlexibilityOffers(offers)

    def _on_plan(self, message: ActivationPlan, context: ExchangeContext) -> Acknowledgement:
        unknown = sorted({e.offer_id for e in message.root if (e.request_id, e.offer_id) not in self.offers})
        if unknown:
            return Acknowledgement(status=Status.REJECTED, reason=f"unknown offers {', '.join(unknown)}")
        self.plans.append(message)
        return Acknowledgement(status=Status.ACCEPTED)

    # -- fault location ------------------------------------------------------------------------------------

    def _on_min_hems(self, message: FaultMinHems, context: ExchangeContext) -> Acknowledgement:
        self.min_faulty_hems[message.Postal_Code or _ALL] = message.Fault_Location_Inputs[-1].Min_nbr_Hems_faulty
        return Acknowledgement(status=Status.ACCEPTED, reference=message.Postal_Code)

    def _on_min_elapsed(self, message: FaultMinElapsedTime, context: ExchangeContext) -> Acknowledgement:
        item = message.Fault_Location_Inputs[-1]
        self.min_elapsed_seconds[message.Postal_Code or _ALL] = seconds_of(item.Min_time_of_interruption,
                                                                           item.Min_time_of_interruption_unit)
        return Acknowledgement(status=Status.ACCEPTED, reference=message.Postal_Code)

    def _on_postal_codes(self, message: FaultPostalCodes, context: ExchangeContext) -> SubscriptionResponse:
        codes = [i.Postal_Code for i in message.Fault_Location_Inputs]
        problems = []
        for code in codes:
            present = sum(1 for h in self.hems.values() if h.postal_code == code)
            if present == 0:
                problems.append(f"no HEMS in {code}")
            elif present < self._min_hems(code):
                problems.append(f"{present} HEMS in {code}, fewer than the minimum {self._min_hems(code)}")
        if problems:
            return SubscriptionResponse(status=SubscriptionStatus.DENIED, reason="; ".join(problems))
        self.subscribed.update(codes)
        return SubscriptionResponse(status=SubscriptionStatus.ACCEPTED)

    def _min_hems(self, code: str) -> int:
        return self.min_faulty_hems.get(code, self.min_faulty_hems.get(_ALL, 1))

    def _min_elapsed(self, code: str) -> float:
        return self.min_elapsed_seconds.get(code, self.min_elapsed_seconds.get(_ALL, 0.0))

    def outage(self, postal_code: str, *, at: datetime) -> None:
        """Every HEMS of ``postal_code`` stops communicating at ``at``."""
        for h in self.hems.values():
            if h.postal_code == postal_code and h.online:
                h.online, h.offline_since = False, at

    def restore(self, postal_code: str) -> None:
        """The HEMS of ``postal_code`` communicate again."""
        for h in self.hems.values():
            if h.postal_code == postal_code:
                h.online, h.offline_since = True, None

    def fault_notification(self, *, now: datetime) -> FaultNotification | None:
        """A notification of the subscribed postal codes where the DSO's settings hold (enough faulty
        HEMS for long enough), or ``None``."""
        entries = []
        for code in sorted(self.subscribed):
            down = [h for h in self.hems.values() if h.postal_code == code and not h.online]
            if not down or len(down) < self._min_hems(code):
                continue
            since = min(h.offline_since or now for h in down)
            if (now - since).total_seconds() >= self._min_elapsed(code):
                entries.append(FaultLocationEntry(Postal_Code=code, Nbr_Faulty_Hems=len(down), timestamp=since))
        if not entries:
            return None
        self._notifications += 1
        return FaultNotification(Fault_Location_ID=f"{self.provider_id}-{self._notifications}",
                                 Fault_Location_Identification=entries)

    # -- HEMS status and voltage ----------------------------------------------------------------------------

    def _managed(self, hems_id: str) -> ManagedHems:
        if hems_id not in self.hems:
            raise NotFound(f"{self.provider_id} manages no HEMS {hems_id!r}")
        return self.hems[hems_id]

    def _on_status(self, message: HemsStatusRequest, context: ExchangeContext) -> HemsStatus:
        h = self._managed(message.Hems_ID)
        return HemsStatus(Voltage_Monitoring=[HemsStatusEntry(
            Hems_ID=h.hems_id, Status="on" if h.online else "off",
            Abnormal_Voltage=VoltageBand().is_abnormal(h.voltage), timestamp=self._clock(),
            Postal_Code=message.Postal_Code)])

    def _on_voltage(self, message: HemsVoltageRequest, context: ExchangeContext) -> HemsVoltage:
        h = self._managed(message.Hems_ID)
        return HemsVoltage(Voltage_Monitoring=[HemsVoltageReading(Hems_ID=h.hems_id, timestamp=self._clock(),
                                                                  Voltage_from_Hems=h.voltage)])

    # -- disaggregated data and incentives ------------------------------------------------------------------

    def _on_disaggregated(self, message: DisaggregatedDataRequest, context: ExchangeContext) -> DisaggregatedData:
        start = self._clock().replace(minute=0, second=0, microsecond=0) - timedelta(hours=24)
        customers = []
        for customer in message.customers_ids:
            loads = []
            for load_type, level in (("base", 0.3), ("EV", 1.2), ("heat_pump", 0.8)):
                series = [ConsumptionPoint(timestamp=start + timedelta(hours=h),
                                           consumption=round(max(0.0, level * self._rng.uniform(0.2, 1.5)), 3))
                          for h in range(24)]
                loads.append(LoadConsumption(load_type=load_type, unit="kW", series=series))
            customers.append(CustomerData(customer_id=customer, loads=loads))
        return DisaggregatedData(customers=customers)

    def _on_incentive(self, message: IncentiveOffer, context: ExchangeContext) -> IncentiveResponse:
        return IncentiveResponse(offer_id=message.offer_id, end_user=message.end_user,
                                 accepted=message.incentive >= self.min_incentive)

    def _on_elasticity(self, message: ElasticityInput, context: ExchangeContext) -> ElasticityOutput:
        settings = BackendSettings()  # raises ValueError for an input the method cannot take
        return elasticity_output(message, tz=settings.timezone, quantiles=settings.elasticity_quantiles)

    # -- data sharing -------------------------------------------------------------------------------------

    def authorization_request(self, end_user: str, start: datetime, end: datetime) -> AuthorizationRequest:
        """Ask the DSO for access to an end user's data over a window."""
        return AuthorizationRequest(end_user=end_user, service_provider=self.provider_id, start=start, end=end)

    def metering_request(self, end_user: str, token: str, start: datetime, end: datetime,
                         granularity: int = 1) -> MeteringRequest:
        """Ask the DSO for an end user's metering data with an authorization token."""
        return MeteringRequest(data_type=DataType.USER, id=end_user, authorization_token=token,
                               granularity=granularity, start=start, end=end)

    def zone_request(self, zone_id: str, start: datetime, end: datetime, granularity: int = 2) -> MeteringRequest:
        """Ask the DSO for a zone's anonymised metering data."""
        return MeteringRequest(data_type=DataType.ANONYMIZED, id=zone_id, granularity=granularity, start=start,
                               end=end)


class ThirdPartyRole:
    """A third party looking for flexibility business opportunities (HLUC 11 PUC 3)."""

    def __init__(self, knowledge_base_id: str) -> None:
        self.knowledge_base_id = knowledge_base_id

    def opportunities_request(self, zip_codes: Iterable[str]) -> OpportunitiesRequest:
        """Ask the DSO for opportunities around ``zip_codes``."""
        return OpportunitiesRequest(zip_codes=list(zip_codes))
