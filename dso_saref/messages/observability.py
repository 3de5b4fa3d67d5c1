"""HLUC 11 observability messages (spec 3.2.3): fault notifications, fault-location settings,
HEMS status and voltage, opportunities, disaggregated data.

Keys are kept exactly as the specification prints them (``Voltage_Monitoring``, ``Hems_ID``)::

    HemsVoltage.model_validate({"Voltage_Monitoring": [{"Hems_ID": "ID1234", "timestamp":
        "2021-12-03T15:11:20Z", "Voltage_from_Hems": "240", "Voltage_from_Hems_unit": "volts"}]})
    HemsStatus.model_validate({"Voltage_Monitoring": [{"Hems_ID": "ID1234", "Abnormal_Voltage": "Yes",
        "timestamp": "2021-12-03T15:11:20Z"}]})

PUC 1 (fault detection): the DSO sets the service provider's fault-location parameters
(``fault-min-hems``, ``fault-min-elapsed-time``) and subscribes postal codes (``fault-postal-codes``,
answered by a ``subscription-response``); the service provider then posts ``fault-notification``; the
DSO asks for the status (``hems-status-request``) and voltage (``hems-voltage-request``) of a HEMS.
PUC 3: a third party asks the DSO for flexibility ``opportunities`` by zip code; the DSO asks a data
service provider for the ``disaggregated-data`` of its customers.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, field_validator, model_validator

from dso_saref.messages.common import (
    Count,
    Identifier,
    Message,
    NonNegative,
    Number,
    Text,
    Timestamp,
    Unit,
    YesNo,
    check_unique,
)
from dso_saref.terms import format_datetime

__all__ = [
    "ConsumptionPoint",
    "CustomerData",
    "DisaggregatedData",
    "DisaggregatedDataRequest",
    "FaultLocationEntry",
    "FaultMinElapsedTime",
    "FaultMinHems",
    "FaultNotification",
    "FaultPostalCodes",
    "HemsStatus",
    "HemsStatusEntry",
    "HemsStatusRequest",
    "HemsVoltage",
    "HemsVoltageReading",
    "HemsVoltageRequest",
    "LoadConsumption",
    "MinElapsedTimeInput",
    "MinFaultyHemsInput",
    "OnOff",
    "Opportunities",
    "OpportunitiesRequest",
    "Opportunity",
    "PostalCodeInput",
    "SubscriptionResponse",
    "SubscriptionStatus",
]


# ---------------------------------------------------------------------------------------------------
# field types of this module


class OnOff(StrEnum):
    """Communication status of a HEMS (3.2.3.2, Table 8: "Hems status (on/off)")."""

    ON = "on"
    OFF = "off"


def _on_off(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


HemsOnOff = Annotated[OnOff, BeforeValidator(_on_off)]
"""``on`` or ``off``; ``On``/``OFF`` are accepted and written back in lower case."""



class SubscriptionStatus(StrEnum):
    """Outcome of a postal-code subscription (3.2.3.2.1.3): ``accepted``, or ``denied`` when the
    service provider cannot reach the postal code or the minimum number of HEMS. Not the
    acknowledgement's ``accepted``/``rejected``."""

    ACCEPTED = "accepted"
    DENIED = "denied"


# ---------------------------------------------------------------------------------------------------
# PUC 1: fault notification (incoming, 3.2.3.1.1.1.1)


class FaultLocationEntry(Message):
    """One postal code with a potential outage, optionally with the number of HEMS that went silent
    there and the time of the notification."""

    Postal_Code: Identifier
    Nbr_Faulty_Hems: Count | None = None
    timestamp: Timestamp | None = None


class FaultNotification(Message):
    """The service provider notifies the DSO of a potential fault and its location: the postal codes
    where HEMS stopped communicating (3.2.3.1.1.1.1, PostCode_Fault notification (POST)); sent when the
    DSO's settings (minimum faulty HEMS, minimum elapsed time) are met; acknowledged by the DSO."""

    name = "fault-notification"

    Fault_Location_ID: Identifier | None = None
    Fault_Location_Identification: list[FaultLocationEntry] = Field(min_length=1)

    @field_validator("Fault_Location_Identification")
    @classmethod
    def _one_entry_per_postal_code(cls, entries: list[FaultLocationEntry]) -> list[FaultLocationEntry]:
        check_unique(entries, lambda e: e.Postal_Code, "Postal_Code")
        return entries


# ---------------------------------------------------------------------------------------------------
# PUC 3: flexibility opportunities (incoming, 3.2.3.1.1.1.2)


class OpportunitiesRequest(Message):
    """A third party asks the DSO for business opportunities (flexibility needs) in the zip codes it
    names and their surroundings (3.2.3.1.1.1.2, Flexibility_Opportunities (GET))."""

    name = "opportunities-request"

    zip_codes: list[Identifier] = Field(min_length=1)


class Opportunity(Message):
    """The DSO's recommendations for one zip code (free texts such as "The number of EVs charging
    during 14h00 and 16h30 should increase by 6."); an empty list says there are none."""

    zip_code: Identifier
    message: list[Text]


class Opportunities(Message):
    """The DSO's answer to an opportunities request: recommendations per zip code (3.2.3.1.1.1.2).
    The spec prints the entries inside an extra pair of braces; the fixed form is accepted."""

    name = "opportunities"

    opportunities: list[Opportunity] = Field(min_length=1)

    @field_validator("opportunities")
    @classmethod
    def _one_entry_per_zip_code(cls, entries: list[Opportunity]) -> list[Opportunity]:
        check_unique(entries, lambda o: o.zip_code, "zip_code")
        return entries


# ---------------------------------------------------------------------------------------------------
# PUC 1: fault-location settings and subscription (outgoing, 3.2.3.2.1.1 - 3.2.3.2.1.3)


def _check_one_setting(inputs: list[Any], value: Callable[[Any], Any]) -> None:
    """Raise ``ValueError`` unless every entry gives the same setting: the spec's array holds one, and
    two different minimums for one postal code contradict each other (a repeated entry is harmless)."""
    values = {value(i) for i in inputs}
    if len(values) > 1:
        raise ValueError(f"one setting per message: the entries give {len(values)} different values")


class MinFaultyHemsInput(Message):
    """The minimum number of faulty HEMS that triggers a fault identification (the spec writes
    ``"3"``; a count of at least 1)."""

    Min_nbr_Hems_faulty: Count


class FaultMinHems(Message):
    """The DSO sets the minimum number of faulty HEMS that triggers the service provider's fault
    identification (3.2.3.2.1.1, HEMS_NBR (POST)); ``Postal_Code`` comes from the URL path
    (``.../{Postal Code}/HEMS_Nbr/``) and is optional in the body: without it the setting applies to
    every subscribed postal code. Acknowledged by the service provider."""

    name = "fault-min-hems"

    Postal_Code: Identifier | None = None
    Fault_Location_Inputs: list[MinFaultyHemsInput] = Field(min_length=1)

    @field_validator("Fault_Location_Inputs")
    @classmethod
    def _one_setting(cls, inputs: list[MinFaultyHemsInput]) -> list[MinFaultyHemsInput]:
        _check_one_setting(inputs, lambda i: i.Min_nbr_Hems_faulty)
        return inputs


class MinElapsedTimeInput(Message):
    """The minimum time of interruption (non-negative) before a fault is identified, with its unit
    (``seconds`` by default). The spec writes the unit under a repeated ``Min_time_of_interruption``
    key; the fixed key is ``Min_time_of_interruption_unit``."""

    Min_time_of_interruption: NonNegative
    Min_time_of_interruption_unit: Unit("duration") = "seconds"


class FaultMinElapsedTime(Message):
    """The DSO sets the minimum elapsed time of an interruption that triggers the service provider's
    fault identification (3.2.3.2.1.2, HEMS ELPS_TIME (POST)); ``Postal_Code`` as in
    :class:`FaultMinHems`. Acknowledged by the service provider."""

    name = "fault-min-elapsed-time"

    Postal_Code: Identifier | None = None
    Fault_Location_Inputs: list[MinElapsedTimeInput] = Field(min_length=1)

    @field_validator("Fault_Location_Inputs")
    @classmethod
    def _one_setting(cls, inputs: list[MinElapsedTimeInput]) -> list[MinElapsedTimeInput]:
        _check_one_setting(inputs, lambda i: (i.Min_time_of_interruption, i.Min_time_of_interruption_unit))
        return inputs


class PostalCodeInput(Message):
    """One postal code in which HEMS are to be monitored for fault notifications."""

    Postal_Code: Identifier


class FaultPostalCodes(Message):
    """The DSO subscribes the postal codes in which HEMS are to be monitored for fault
    notifications (3.2.3.2.1.3, POSTAL CODE (POST)); answered with a subscription response."""

    name = "fault-postal-codes"

    Fault_Location_Inputs: list[PostalCodeInput] = Field(min_length=1)


class SubscriptionResponse(Message):
    """The service provider's answer to a postal-code subscription (3.2.3.2.1.3): ``accepted``, or
    ``denied`` when it cannot reach the postal code or the minimum number of HEMS; optional reason."""

    name = "subscription-response"

    status: SubscriptionStatus
    reason: Text | None = None


# ---------------------------------------------------------------------------------------------------
# PUC 1: HEMS status and voltage (outgoing, 3.2.3.2.1.4 - 3.2.3.2.1.5)


class HemsStatusRequest(Message):
    """The DSO inquires the communication status of one HEMS (3.2.3.2.1.4, HEMS ID_STATUS (GET));
    ``Hems_ID`` comes from the URL path, ``Postal_Code`` (optional) narrows the question to the HEMS
    of that postal code. An ASK on the ``hems-status`` pattern."""

    name = "hems-status-request"

    Hems_ID: Identifier
    Postal_Code: Identifier | None = None


class HemsStatusEntry(Message):
    """The status of one HEMS at a time: ``Status`` on/off (optional), whether its voltage is
    abnormal (the spec writes ``Yes``), and ``Postal_Code``, an optional echo of the request's postal
    code (an extension of the spec's answer: see docs/messages/observability.md)."""

    Hems_ID: Identifier
    Status: HemsOnOff | None = None
    Abnormal_Voltage: YesNo
    timestamp: Timestamp
    Postal_Code: Identifier | None = None


class HemsStatus(Message):
    """The service provider's answer: the status of each HEMS asked for (3.2.3.2.1.4)."""

    name = "hems-status"

    Voltage_Monitoring: list[HemsStatusEntry] = Field(min_length=1)

    @field_validator("Voltage_Monitoring")
    @classmethod
    def _one_status_per_hems_and_time(cls, entries: list[HemsStatusEntry]) -> list[HemsStatusEntry]:
        check_unique(entries, lambda e: (e.Hems_ID, format_datetime(e.timestamp)), "status of HEMS at time")
        postal: dict[str, str | None] = {}
        for i, entry in enumerate(entries):
            if postal.setdefault(entry.Hems_ID, entry.Postal_Code) != entry.Postal_Code:
                raise ValueError(f"[{i}]: HEMS {entry.Hems_ID!r} is given with different Postal_Code values "
                                 "(a HEMS lies in one postal code: give the same one, or none, in each entry)")
        return entries


class HemsVoltageRequest(Message):
    """The DSO asks a service provider for the last voltage reading of one HEMS (3.2.3.2.1.5)."""

    name = "hems-voltage-request"

    Hems_ID: Identifier


class HemsVoltageReading(Message):
    """One single-phase voltage reading of a HEMS."""

    Hems_ID: Identifier
    timestamp: Timestamp
    Voltage_from_Hems: Number
    Voltage_from_Hems_unit: Unit("hems-voltage") = "volts"


class HemsVoltage(Message):
    """The service provider's answer: the last voltage reading of each HEMS asked for (3.2.3.2.1.5)."""

    name = "hems-voltage"

    Voltage_Monitoring: list[HemsVoltageReading]

    @model_validator(mode="after")
    def _one_reading_per_hems_and_time(self) -> Self:
        check_unique(self.Voltage_Monitoring, lambda r: (r.Hems_ID, r.timestamp), "reading of HEMS at time")
        return self


# ---------------------------------------------------------------------------------------------------
# PUC 3: disaggregated data (outgoing, 3.2.3.3.1.1)


class DisaggregatedDataRequest(Message):
    """The DSO asks a data service provider for the disaggregated consumption of a list of customers
    (3.2.3.3.1.1, DISAGGREGATED DATA (GET))."""

    name = "disaggregated-data-request"

    customers_ids: list[Identifier] = Field(min_length=1)


class ConsumptionPoint(Message):
    """One value of a load's consumption series: the consumption at (or over the interval starting
    at) ``timestamp``, in the load's unit; positive for consumption, negative for injection."""

    timestamp: Timestamp
    consumption: Number


class LoadConsumption(Message):
    """The consumption series of one load type of a customer (``EV``, ``heat_pump``, ...), in one unit
    of power or energy."""

    load_type: Identifier
    unit: Unit("consumption")
    series: list[ConsumptionPoint] = Field(min_length=1)

    @field_validator("series")
    @classmethod
    def _one_value_per_time(cls, series: list[ConsumptionPoint]) -> list[ConsumptionPoint]:
        check_unique(series, lambda p: format_datetime(p.timestamp), "value at timestamp")
        return series


class CustomerData(Message):
    """The disaggregated consumption of one customer: one series per load type."""

    customer_id: Identifier
    loads: list[LoadConsumption] = Field(min_length=1)

    @field_validator("loads")
    @classmethod
    def _one_series_per_load_type(cls, loads: list[LoadConsumption]) -> list[LoadConsumption]:
        check_unique(loads, lambda load: load.load_type, "load_type")
        return loads


class DisaggregatedData(Message):
    """The data service provider's answer: per customer, per load type, a consumption series with
    its unit (3.2.3.3.1.1; the spec leaves the shape open). One nesting chain
    ``customers[*].loads[*].series[*]``; a customer without data is left out."""

    name = "disaggregated-data"

    customers: list[CustomerData] = Field(min_length=1)

    @field_validator("customers")
    @classmethod
    def _one_entry_per_customer(cls, customers: list[CustomerData]) -> list[CustomerData]:
        check_unique(customers, lambda c: c.customer_id, "customer_id")
        return customers
