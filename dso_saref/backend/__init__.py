"""The reference DSO backend: every use case of the D4.2 specification running on a real database.

It speaks typed messages only (:mod:`dso_saref.messages`), never RDF nor HTTP: the Knowledge Engine
adapter turns exchanges into messages and calls :meth:`DsoBackend.handlers`; the DSO-initiated
exchanges are methods returning :class:`Outgoing` messages. See ``docs/backend.md``::

    from dso_saref.backend import DsoBackend, ExchangeContext, Storage
    from dso_saref.app.seed import seed          # the demo's reproducible data

    backend = DsoBackend(Storage("dso.sqlite"))
    seed(backend)
    answer = backend.handlers()["flexibility-needs-request"](request, ExchangeContext(kb_id, backend.now()))
"""

from dso_saref.backend.errors import BackendError, NotFound, Refused, StateError, StorageError
from dso_saref.backend.lookups import ReadingLookup, TopologyLookup
from dso_saref.backend.registry import Operation, Outcome
from dso_saref.backend.service import DsoBackend
from dso_saref.backend.settings import BackendSettings, Bounds, VoltageBand
from dso_saref.backend.storage import Storage
from dso_saref.exchange import ExchangeContext, Handler, Outgoing  # the contract with carriers, re-exported

__all__ = [
    "BackendError",
    "BackendSettings",
    "Bounds",
    "DsoBackend",
    "ExchangeContext",
    "Handler",
    "NotFound",
    "Operation",
    "Outcome",
    "Outgoing",
    "ReadingLookup",
    "Refused",
    "StateError",
    "Storage",
    "StorageError",
    "TopologyLookup",
    "VoltageBand",
]
