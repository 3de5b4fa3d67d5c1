"""Who may look up what in the DSO data layer (spec 4.2 over the Knowledge Engine), and the lookups.

- Substation readings and the grid topology are grid data, not personal data: any requester may look
  them up (each lookup is logged).
- LV and MV client readings are personal data. The DSO's own systems (``BackendSettings.
  internal_requesters``) see them all. A service provider sees only the readings of clients whose end
  user has granted it a consent that is live now (not revoked, not expired), and only inside that
  consent's window: the requester's knowledge base is authenticated by the Knowledge Engine, so the ASK
  needs no token. A lookup naming a client the provider holds no live consent for is refused (and
  logged); a lookup naming no client returns only what the provider's consents cover. Anybody else is
  refused. The consents are read with a shared lock in the transaction that reads the readings and
  logs the lookup, so that no reading is served once a revocation has committed.
"""

from __future__ import annotations

from datetime import datetime

from dso_saref.backend.consent import ConsentRegistry
from dso_saref.backend.errors import Refused
from dso_saref.backend.grid import GridData
from dso_saref.backend.lookups import (
    LvClientReadings,
    MvClientReadings,
    PrimarySubstationReadings,
    ReadingLookup,
    SecondarySubstationReadings,
    TopologyLookup,
)
from dso_saref.backend.parties import Parties
from dso_saref.backend.registry import OperationsRegistry, Outcome
from dso_saref.backend.settings import BackendSettings
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
_PERSONAL = {"lv-client-reading", "mv-client-reading"}


class DataLayerService:
    """Answers reading and topology lookups under the access rules of the module doc."""

    def __init__(self, grid: GridData, parties: Parties, consents: ConsentRegistry, registry: OperationsRegistry,
                 settings: BackendSettings) -> None:
        self._grid = grid
        self._storage = grid.storage
        self._parties = parties
        self._consents = consents
        self._registry = registry
        self._settings = settings

    def readings(self, name: str, lookup: ReadingLookup, *, requester: str, now: datetime) -> ListMessage:
        """The readings of kind ``name`` matching ``lookup`` that ``requester`` may see; raises
        :class:`Refused` (logged)."""
        provider = self._parties.provider_for(requester)
        actor = provider.id if provider is not None else requester
        reason = None
        with self._storage.transaction(name) as db:
            found = self._grid.readings(name, id=lookup.id, timestamp=lookup.timestamp)
            if name in _PERSONAL and requester not in self._settings.internal_requesters:
                if provider is None:
                    reason = "client readings are personal data: unknown requester"
                else:
                    windows = self._consents.live_windows(db, provider.id, now)
                    if lookup.id is not None and lookup.id not in windows:
                        reason = "no live consent of this client's end user"
                    found = [r for r in found if any(s <= r.timestamp < e for s, e in windows.get(r.id, ()))]
            if reason is not None:
                self._registry.write(db, at=now, actor=actor, operation=name, subject=lookup.id or "",
                                     outcome=Outcome.REFUSED, reason=reason)
            else:
                self._registry.write(db, at=now, actor=actor, operation=name, subject=lookup.id or "*",
                                     outcome=Outcome.SERVED, reason=f"{len(found)} readings")
        if reason is not None:
            raise Refused(reason)
        return ANSWERS[name](found)

    def topology(self, lookup: TopologyLookup, *, requester: str, now: datetime) -> GridTopology:
        """The topology entries matching every bound key of ``lookup`` (logged)."""
        entries = self._grid.topology(client_id=lookup.client_id,
                                      voltage_level=lookup.voltage_level.value if lookup.voltage_level else None,
                                      secondary_substation=lookup.secondary_substation,
                                      primary_substation=lookup.primary_substation).root
        entries = [e for e in entries if (lookup.ss_feeder is None or e.ss_feeder == lookup.ss_feeder)
                   and (lookup.ps_feeder is None or e.ps_feeder == lookup.ps_feeder)]
        provider = self._parties.provider_for(requester)
        self._registry.log(at=now, actor=provider.id if provider else requester, operation="grid-topology",
                           subject=lookup.client_id or "*", outcome=Outcome.SERVED, reason=f"{len(entries)} entries")
        return GridTopology(entries)
