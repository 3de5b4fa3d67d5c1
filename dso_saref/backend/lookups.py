"""Lookups of the DSO data layer (spec 4.2): the typed form of a Knowledge Engine ASK on a reading or
topology pattern, and the typed answers.

An ASK on ``lv-client-reading`` (and the other readings) binds some of the pattern's variables, the
reading's ``id`` and perhaps its ``timestamp``; the adapter turns the bound JSON keys into a
:class:`ReadingLookup` and the handler answers every matching reading as a list (``LvClientReadings``,
...), each element one answer of the ASK. An ASK on ``grid-topology`` binds any of the entry's keys
(:class:`TopologyLookup`) and is answered with the matching :class:`GridTopology`::

    handlers["lv-client-reading"](ReadingLookup(id="LV0001"), context)   # -> LvClientReadings
    handlers["grid-topology"](TopologyLookup(voltage_level="MV"), context)  # -> GridTopology
"""

from __future__ import annotations

from typing import ClassVar

from dso_saref.messages.common import Identifier, ListMessage, Message, Timestamp, VoltageLevel
from dso_saref.messages.grid_data import (
    LvClientReading,
    MvClientReading,
    PrimarySubstationReading,
    SecondarySubstationReading,
)

__all__ = [
    "LvClientReadings",
    "MvClientReadings",
    "PrimarySubstationReadings",
    "ReadingLookup",
    "SecondarySubstationReadings",
    "TopologyLookup",
]


class ReadingLookup(Message):
    """What an ASK on a reading pattern binds: the client's or substation's ``id`` and/or the
    ``timestamp``; absent keys match anything."""

    name: ClassVar[str] = "reading-lookup"

    id: Identifier | None = None
    timestamp: Timestamp | None = None


class TopologyLookup(Message):
    """What an ASK on the grid-topology pattern binds (any of the entry's keys); absent keys match
    anything."""

    name: ClassVar[str] = "topology-lookup"

    client_id: Identifier | None = None
    voltage_level: VoltageLevel | None = None
    secondary_substation: Identifier | None = None
    ss_feeder: Identifier | None = None
    primary_substation: Identifier | None = None
    ps_feeder: Identifier | None = None


class LvClientReadings(ListMessage):
    """Every LV client reading matching a lookup (each one answer of the ASK)."""

    name: ClassVar[str] = "lv-client-reading"

    root: list[LvClientReading]


class MvClientReadings(ListMessage):
    """Every MV client reading matching a lookup."""

    name: ClassVar[str] = "mv-client-reading"

    root: list[MvClientReading]


class SecondarySubstationReadings(ListMessage):
    """Every secondary substation reading matching a lookup."""

    name: ClassVar[str] = "secondary-substation-reading"

    root: list[SecondarySubstationReading]


class PrimarySubstationReadings(ListMessage):
    """Every primary substation reading matching a lookup."""

    name: ClassVar[str] = "primary-substation-reading"

    root: list[PrimarySubstationReading]
