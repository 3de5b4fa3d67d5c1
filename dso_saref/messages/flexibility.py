"""HLUC 10 flexibility messages (spec 2.1.2, 3.2.2): needs, offers, activation plan, acknowledgement.

A service provider asks for the DSO's flexibility needs in a window, or the DSO publishes them; the
service provider posts offers against a need (by its ``request_id``); the DSO posts the activation plan
of those offers; every POST is answered with an acknowledgement::

    FlexibilityNeeds.model_validate([{"request_id": 1, "needs": "100", "unit": "kW", "direction": "Down",
        "power_type": "Active", "start": "2021/09/27 10:00", "end": "2021/09/27 13:00",
        "eligible_clients": ["M1", "M2"]}])

Quantities (``needs``, ``offer``, ``quantity``) are non-negative: the need's ``direction`` carries the
sign. Prices (EUR/kWh) may be negative.
"""

from __future__ import annotations

import re
from typing import Any, Self

from pydantic import model_validator

from dso_saref.messages.common import (
    Direction,
    Identifier,
    ListMessage,
    Message,
    NonNegative,
    Number,
    PowerType,
    Status,
    Text,
    Unit,
    Windowed,
    YesNo,
    check_unique,
)

__all__ = [
    "Acknowledgement",
    "ActivationPlan",
    "ActivationPlanEntry",
    "FlexibilityNeed",
    "FlexibilityNeeds",
    "FlexibilityNeedsRequest",
    "FlexibilityOffer",
    "FlexibilityOffers",
]

Activation = YesNo
"""Whether an offer is activated; ``"Yes"``/``"No"`` (the spec's wording) are accepted."""

_QUANTITY_WITH_UNIT = re.compile(r"\s*([+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?)\s*([^\d\s].*?)\s*\Z")


class FlexibilityNeedsRequest(Windowed):
    """A service provider asks the DSO for its flexibility needs within a window
    (3.2.2.1.1.1, Flexibility Needs (GET); day ahead or intraday)."""

    name = "flexibility-needs-request"


class FlexibilityNeed(Windowed):
    """One flexibility need: ``needs`` (non-negative) of active or reactive power in ``direction``
    over the window, which the clients of ``eligible_clients`` (meter ids) may provide; optionally the
    grid zone. ``request_id`` identifies the need: offers and activation entries refer to it."""

    request_id: Identifier
    needs: NonNegative
    unit: Unit("flexibility")
    direction: Direction
    power_type: PowerType
    eligible_clients: list[Identifier]
    zone_id: Identifier | None = None

    @model_validator(mode="after")
    def _meters_once(self) -> Self:
        check_unique(self.eligible_clients, lambda m: m, "eligible meter")
        return self


class FlexibilityNeeds(ListMessage):
    """The DSO's flexibility needs (3.2.2.1.1.1, the answer to a needs request; and 3.2.2.2.1.1,
    Flexibility Needs (POST), the DSO's own publication, acknowledged by the service provider)."""

    name = "flexibility-needs"

    root: list[FlexibilityNeed]

    @model_validator(mode="after")
    def _one_need_per_request_id(self) -> Self:
        check_unique(self.root, lambda n: n.request_id, "request_id")
        return self


class FlexibilityOffer(Windowed):
    """One offer for the need ``request_id``: ``offer`` (non-negative, default unit kW) over the window
    at ``price`` EUR/kWh (may be negative), provided by the clients of ``meter_ids``."""

    request_id: Identifier
    offer_id: Identifier
    offer: NonNegative
    unit: Unit("flexibility") = "kW"
    price: Number
    meter_ids: list[Identifier]

    @model_validator(mode="after")
    def _meters_once(self) -> Self:
        check_unique(self.meter_ids, lambda m: m, "meter")
        return self


class FlexibilityOffers(ListMessage):
    """A service provider posts its flexibility offers to the DSO (3.2.2.1.1.2, Flexibility Offers
    (POST); day ahead once a day, intraday as needed); the DSO acknowledges them."""

    name = "flexibility-offers"

    root: list[FlexibilityOffer]

    @model_validator(mode="after")
    def _one_offer_per_id(self) -> Self:
        check_unique(self.root, lambda o: (o.request_id, o.offer_id), "offer (request_id, offer_id)")
        return self


class ActivationPlanEntry(Windowed):
    """Whether the offer ``offer_id`` for the need ``request_id`` is activated, with which
    ``quantity`` (non-negative) over which window. The spec's ``Quantity: 20 kW`` is accepted as one
    string when ``unit`` is absent."""

    request_id: Identifier
    offer_id: Identifier
    activation: Activation
    quantity: NonNegative
    unit: Unit("flexibility")

    @model_validator(mode="before")
    @classmethod
    def _split_quantity_with_unit(cls, data: Any) -> Any:
        if isinstance(data, dict) and "unit" not in data and isinstance(data.get("quantity"), str):
            match = _QUANTITY_WITH_UNIT.match(data["quantity"])
            if match:
                data = {**data, "quantity": match.group(1), "unit": match.group(2)}
        return data


class ActivationPlan(ListMessage):
    """The DSO posts the activation plan of previously sent offers to the service provider
    (3.2.2.2.1.2, Activation Plan (POST)); the service provider acknowledges it."""

    name = "activation-plan"

    root: list[ActivationPlanEntry]

    @model_validator(mode="after")
    def _one_entry_per_offer_and_start(self) -> Self:
        check_unique(self.root, lambda e: (e.request_id, e.offer_id, e.start),
                     "activation of offer (request_id, offer_id) at start")
        return self


class Acknowledgement(Message):
    """The answer to every POST of the interface (3.2.2.1.1.2, 3.2.2.2.1.1, 3.2.2.2.1.2 and the other
    POSTs of the catalog): ``accepted`` or ``rejected``, optionally the identifier of what it refers
    to and a reason."""

    name = "acknowledgement"

    status: Status
    reference: Identifier | None = None
    reason: Text | None = None
