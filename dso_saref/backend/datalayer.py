"""Reading and topology lookups of the DSO data layer (spec 4.2 over the Knowledge Engine).

Who may see which readings is the access policy's to say (:meth:`dso_saref.backend.policy.AccessPolicy.
readings`): client readings are personal data, served to the DSO's own systems and, inside the window of
a live consent of the client's end user, to the provider holding it; readings of a grid asset serving
fewer than k customers are personal data too, served only to the DSO's own systems. A lookup naming what
the requester may not see is refused (and registered); a lookup naming nothing returns only what it may
see. The consents are read with a shared lock in the transaction that reads the readings and registers
the lookup, so that no reading is served once a revocation has committed. The topology goes to any
party with an agreement (checked, like every exchange, by the policy's guard).
"""

from __future__ import annotations

from datetime import datetime

from dso_saref.backend.grid import GridData
from dso_saref.backend.lookups import (
    LvClientReadings,
    MvClientReadings,
    PrimarySubstationReadings,
    ReadingLookup,
    SecondarySubstationReadings,
    TopologyLookup,
)
from dso_saref.backend.policy import AccessPolicy
from dso_saref.backend.registry import OperationsRegistry, Outcome
from dso_saref.backend.storage import Transaction
from dso_saref.messages.common import ListMessage
from dso_saref.messages.grid_data import GridTopology

__all__ = ["ANSWERS", "DataLayerService"]

#: The list message answering a lookup of each kind of reading.
ANSWERS: dict[str, type[ListMessage]] = {
    "lv-client-reading": LvClientReadings,
    "mv-client-reading": MvClientReadings,
    "secondary-substation-reading": SecondarySubstationReadings,
    "primary-substation-reading": PrimarySubstationReadings,
}


class DataLayerService:
    """Answers reading and topology lookups under the access policy."""

    def __init__(self, grid: GridData, policy: AccessPolicy, registry: OperationsRegistry) -> None:
        self._grid = grid
        self._policy = policy
        self._registry = registry

    def readings(self, name: str, lookup: ReadingLookup, *, requester: str, now: datetime) -> ListMessage:
        """The readings of kind ``name`` matching ``lookup`` that ``requester`` may see; raises
        :class:`~dso_saref.backend.errors.Refused` (registered)."""

        def serve(db: Transaction) -> list:
            found = self._grid.readings(name, id=lookup.id, timestamp=lookup.timestamp)
            visible = self._policy.readings(db, name, lookup.id, found, requester, now)
            self._registry.write(db, at=now, actor=self._policy.requester(requester).actor, operation=name,
                                 subject=lookup.id or "*", outcome=Outcome.SERVED, reason=f"{len(visible)} readings")
            return visible

        return ANSWERS[name](self._policy.decide(name, serve))

    def topology(self, lookup: TopologyLookup, *, requester: str, now: datetime) -> GridTopology:
        """The topology entries matching every bound key of ``lookup`` (registered)."""
        entries = self._grid.topology(client_id=lookup.client_id,
                                      voltage_level=lookup.voltage_level.value if lookup.voltage_level else None,
                                      secondary_substation=lookup.secondary_substation,
                                      primary_substation=lookup.primary_substation).root
        entries = [e for e in entries if (lookup.ss_feeder is None or e.ss_feeder == lookup.ss_feeder)
                   and (lookup.ps_feeder is None or e.ps_feeder == lookup.ps_feeder)]
        self._registry.log(at=now, actor=self._policy.requester(requester).actor, operation="grid-topology",
                           subject=lookup.client_id or "*", outcome=Outcome.SERVED, reason=f"{len(entries)} entries")
        return GridTopology(entries)
