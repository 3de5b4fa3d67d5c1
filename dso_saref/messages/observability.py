"""HLUC 11 observability messages (spec 3.2.3): fault notifications, fault-location settings,
HEMS status and voltage, opportunities, disaggregated data.

Keys are kept exactly as the specification prints them (``Voltage_Monitoring``, ``Hems_ID``)::

    HemsVoltage.model_validate({"Voltage_Monitoring": [{"Hems_ID": "ID1234", "timestamp":
        "2021-12-03T15:11:20Z", "Voltage_from_Hems": "240", "Voltage_from_Hems_unit": "volts"}]})
"""

from __future__ import annotations

from typing import Self

from pydantic import model_validator

from dso_saref.messages.common import Identifier, Message, Number, Timestamp, Unit, check_unique

__all__ = ["HemsVoltage", "HemsVoltageReading", "HemsVoltageRequest"]


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
