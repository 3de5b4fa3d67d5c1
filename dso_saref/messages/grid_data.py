"""DSO data layer messages (spec 4.2, Tables 15-19): client and substation readings, grid topology.

Section 4.2 lists the data the DSO interface keeps from the DSO's operational systems: readings of
low-voltage clients (Table 15), of special low-voltage and medium-voltage clients (Table 16), of
secondary (Table 17) and primary substations (Table 18), and the grid topology that ties each client
to its feeders and substations (Table 19). Each is looked up by an identifier the asker binds (KE
ASK/ANSWER). Units are fixed by the tables, so the JSON carries none::

    LvClientReading.model_validate({"id": 1, "timestamp": "2021/09/27 10:00", "active_power_injected": 0,
        "active_power_withdrawn": "1.2", "reactive_power_injected": 0.1, "reactive_power_withdrawn": 0,
        "voltage": 231.4})
    GridTopology.model_validate([{"client_id": "MV0001", "voltage_level": "MV",
        "primary_substation": "PS01", "ps_feeder": "PS01-F7"}])

Every quantity of the tables is required: the tables list them all, and a reading keyed by one
timestamp is one complete row of the DSO's data model. Quantities that the tables split by direction
(injected / withdrawn) are non-negative magnitudes, as are voltages and currents; the primary
substation's active and reactive power are signed (reverse power flow, capacitive reactive power),
and its tap position is a whole number that may be negative (positions around a neutral tap).
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from dso_saref.messages.common import (
    Identifier,
    Integer,
    ListMessage,
    Message,
    NonNegative,
    Number,
    Timestamp,
    VoltageLevel,
    check_unique,
)

__all__ = [
    "GridTopology",
    "GridTopologyEntry",
    "LvClientReading",
    "MvClientReading",
    "PrimarySubstationReading",
    "SecondarySubstationReading",
]


class _LowVoltageReading(Message):
    """The measures of Tables 15 and 17: active and reactive power each way (kW, kVAr) and voltage (V)."""

    id: Identifier
    timestamp: Timestamp
    active_power_injected: NonNegative
    active_power_withdrawn: NonNegative
    reactive_power_injected: NonNegative
    reactive_power_withdrawn: NonNegative
    voltage: NonNegative


class LvClientReading(_LowVoltageReading):
    """A reading of a participant low-voltage client at one time (4.2, Table 15 "Low voltage clients
    data model"): active power injected and withdrawn (kW), reactive power injected and withdrawn
    (kVAr, capacitive/inductive) and voltage (V)."""

    name = "lv-client-reading"


class MvClientReading(Message):
    """A reading of a participant special low-voltage or medium-voltage client at one time (4.2,
    Table 16 "Special LV clients and MV clients data model"): active power withdrawn (kW) and
    reactive power injected and withdrawn (kVAr)."""

    name = "mv-client-reading"

    id: Identifier
    timestamp: Timestamp
    active_power_withdrawn: NonNegative
    reactive_power_injected: NonNegative
    reactive_power_withdrawn: NonNegative


class SecondarySubstationReading(_LowVoltageReading):
    """A reading of a secondary (MV/LV) substation at one time (4.2, Table 17 "Secondary substation
    data model"): the same measures as a low-voltage client (kW, kVAr, V)."""

    name = "secondary-substation-reading"


class PrimarySubstationReading(Message):
    """A reading of a primary (HV/MV) substation at one time (4.2, Table 18 "Primary substation data
    model"): active power (MW), reactive power (MVAr), current (A), voltage (kV) and the tap position
    of its transformer's tap changer (a whole number, no unit)."""

    name = "primary-substation-reading"

    id: Identifier
    timestamp: Timestamp
    active_power: Number
    reactive_power: Number
    current: NonNegative
    voltage: NonNegative
    tap_position: Integer


class GridTopologyEntry(Message):
    """Where one client or producer sits in the grid (4.2, Table 19 "Grid topology data model").

    A low-voltage client is supplied by a secondary substation through one of its feeders, which is
    in turn fed by a feeder of a primary substation; a medium-voltage client hangs directly on a
    primary substation's feeder, so it has no secondary substation nor SS feeder.
    """

    client_id: Identifier
    voltage_level: VoltageLevel
    secondary_substation: Identifier | None = Field(default=None, validate_default=True)
    ss_feeder: Identifier | None = Field(default=None, validate_default=True)
    primary_substation: Identifier
    ps_feeder: Identifier

    @field_validator("secondary_substation", "ss_feeder")
    @classmethod
    def _secondary_side_matches_voltage_level(cls, value: str | None, info: ValidationInfo) -> str | None:
        level = info.data.get("voltage_level")
        if level is VoltageLevel.LV and value is None:
            raise ValueError(f"a LV client needs a {info.field_name} (Table 19)")
        if level is VoltageLevel.MV and value is not None:
            raise ValueError(f"a MV client has no {info.field_name}: it is on a primary substation's feeder (Table 19)")
        return value


class GridTopology(ListMessage):
    """The grid topology of clients and producers, one entry per client (4.2, Table 19)."""

    name = "grid-topology"

    root: list[GridTopologyEntry]

    @model_validator(mode="after")
    def _one_entry_per_client(self) -> Self:
        check_unique(self.root, lambda entry: entry.client_id, "client_id")
        return self
