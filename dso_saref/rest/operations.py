"""The REST operations: every exchange of the catalog as a resource with its verb, on the DSO's API and on
the APIs of the external platforms that the DSO calls (D4.2 3.2, Tables 3-8).

The DSO hosts (:data:`DSO_OPERATIONS`):

- ``request`` and ``lookup`` operations, one per exchange the catalog says the DSO *responds* to
  (``"dso" in interaction.responders``): a GET whose query parameters are the request's JSON fields, or
  a POST whose body is the request; a lookup (readings, topology) is a GET whose query parameters narrow
  the answer, like the fields an asker binds in a Knowledge Engine ASK;
- ``push`` operations, one per *answer* to an exchange the DSO starts, when that answer carries data
  that its sender may have later than the DSO asked (a person's decision, a computation, a HEMS's
  report): incentive responses, HEMS status and voltage, disaggregated data, elasticity outputs. The
  partner POSTs it; the DSO acknowledges. Receipts (acknowledgements, subscription responses) come back
  in the reply of the partner's endpoint and have no push operation.

The partners host (:data:`PARTNER_OPERATIONS`) one operation per exchange the DSO starts (needs
publication, activation plans, fault-location settings and subscriptions, HEMS status and voltage,
disaggregated data, incentive offers, elasticity inputs); :mod:`dso_saref.rest.client` calls them and
:func:`dso_saref.rest.app.create_partner_app` serves them with a counterpart's handlers.

:func:`dso_exchanges` and :func:`pushed_answers` derive from the catalog what must have an operation; a
test checks both ways that the table matches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from dso_saref.catalog import ASK_ANSWER, DEFAULT, Catalog

__all__ = [
    "DSO_OPERATIONS",
    "PARTNER_OPERATIONS",
    "RECEIPTS",
    "ROLE_ACTS_AS",
    "Operation",
    "dso_exchanges",
    "operation",
    "partner_exchanges",
    "pushed_answers",
]

#: Answers that only say "received" (they travel in the reply of the partner's endpoint, never pushed).
RECEIPTS = ("acknowledgement", "subscription-response")

#: The catalog role each kind of party acts in (spec 3.2.3.1.1.1.2: "Third-party (e.g., aggregator)").
ROLE_ACTS_AS: Mapping[str, str] = MappingProxyType({
    "service-provider": "service-provider",
    "data-service-provider": "data-service-provider",
    "third-party": "third-party",
    "aggregator": "third-party",
    "dso": "dso",
})

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Operation:
    """One REST operation: the catalog ``exchange`` its request (or pushed answer) is, the HTTP
    ``method`` and ``path`` (``{Key}`` segments are JSON keys of the request), its ``kind``
    (``request``, ``lookup``, ``push``), a one-line ``summary``, the spec section, and request fields
    carried in headers instead of the URL (``{"authorization_token": "Consent-Token"}``)."""

    exchange: str
    method: str
    path: str
    kind: str
    summary: str
    spec: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def path_fields(self) -> list[str]:
        """The JSON keys taken from the path."""
        return _FIELD.findall(self.path)

    @property
    def operation_id(self) -> str:
        """The OpenAPI operation id (the exchange's name in snake case)."""
        return self.exchange.replace("-", "_")

    def answer(self, catalog: Catalog = DEFAULT) -> str:
        """The catalog name of the answer: the exchange's counterpart, an acknowledgement for a push."""
        if self.kind == "push":
            return "acknowledgement"
        interaction = catalog[self.exchange].interaction
        return interaction.counterpart if interaction is not None else self.exchange

    def roles(self, catalog: Catalog = DEFAULT) -> tuple[str, ...]:
        """The catalog roles that may call it: the exchange's initiators, or for a push the responders
        of the exchange it answers."""
        if self.kind == "push":
            return tuple(sorted({role for d in catalog.values() if d.interaction is not None
                                 and d.interaction.counterpart == self.exchange for role in d.interaction.responders}))
        interaction = catalog[self.exchange].interaction
        return interaction.initiators if interaction is not None else ()


DSO_OPERATIONS: tuple[Operation, ...] = (
    # HLUC 5 (3.2.1.1): data sharing
    Operation("authorization-request", "POST", "/v1/data/authorizations", "request",
              "Ask for access to an end user's data (201 granted with a token, 202 pending the end user's consent)",
              "3.2.1.1.1.1"),
    Operation("metering-request", "GET", "/v1/data/metering", "request",
              "An end user's metering data (with the consent token) or a zone's anonymised data", "3.2.1.1.1.2",
              {"authorization_token": "Consent-Token"}),
    Operation("flexibility-data-request", "GET", "/v1/data/flexibility", "request",
              "Historical or forecast flexibility needs of a zone", "3.2.1.1.1.3"),
    Operation("incentive-response", "POST", "/v1/data/incentive-responses", "push",
              "The answer to a contracted power incentive offer the DSO sent", "3.2.1.2 Table 4"),
    # HLUC 10 (3.2.2.1): flexibility
    Operation("flexibility-needs-request", "GET", "/v1/flexibility/needs", "request",
              "The DSO's open flexibility needs of a window", "3.2.2.1.1.1"),
    Operation("flexibility-offers", "POST", "/v1/flexibility/offers", "request",
              "Flexibility offers for the DSO's needs (201 when stored)", "3.2.2.1.1.2"),
    # HLUC 11 (3.2.3.1, 3.2.3.2): observability
    Operation("fault-notification", "POST", "/v1/grid-observability/fault-notifications", "request",
              "Notify the DSO of a potential fault and its location (postal codes)", "3.2.3.1.1.1.1"),
    Operation("opportunities-request", "GET", "/v1/grid-observability/opportunities", "request",
              "Flexibility business opportunities around zip codes", "3.2.3.1.1.1.2"),
    Operation("hems-status", "POST", "/v1/grid-observability/hems-status", "push",
              "HEMS communication status and abnormal voltage flags, reported to the DSO", "3.2.3.2.1.4"),
    Operation("hems-voltage", "POST", "/v1/grid-observability/hems-voltage", "push",
              "HEMS voltage readings, reported to the DSO", "3.2.3.2.1.5"),
    Operation("disaggregated-data", "POST", "/v1/grid-observability/disaggregated-data", "push",
              "Disaggregated consumption the DSO asked a data service provider for", "3.2.3.3.1.1"),
    Operation("elasticity-output", "POST", "/v1/elasticity/outputs", "push",
              "The output of an elasticity computation the DSO asked for", "3.2.3.3"),
    # Spec 4.2: the DSO data layer
    Operation("lv-client-reading", "GET", "/v1/data-layer/lv-client-readings", "lookup",
              "LV client readings (personal data: only under a live consent of the end user)", "4.2 Table 15"),
    Operation("mv-client-reading", "GET", "/v1/data-layer/mv-client-readings", "lookup",
              "MV client readings (personal data: only under a live consent of the end user)", "4.2 Table 16"),
    Operation("secondary-substation-reading", "GET", "/v1/data-layer/secondary-substation-readings", "lookup",
              "Secondary substation readings", "4.2 Table 17"),
    Operation("primary-substation-reading", "GET", "/v1/data-layer/primary-substation-readings", "lookup",
              "Primary substation readings", "4.2 Table 18"),
    Operation("grid-topology", "GET", "/v1/data-layer/topology", "lookup",
              "Where each client is connected: substations and feeders", "4.2 Table 19"),
)

PARTNER_OPERATIONS: tuple[Operation, ...] = (
    Operation("flexibility-needs", "POST", "/v1/flexibility/needs", "request",
              "The DSO publishes flexibility needs (day ahead, or intraday additions)", "3.2.2.2.1.1"),
    Operation("activation-plan", "POST", "/v1/flexibility/activation-plans", "request",
              "The DSO's activation plan for the provider's offers", "3.2.2.2.1.2"),
    Operation("fault-min-hems", "POST", "/v1/grid-observability/settings/min-faulty-hems", "request",
              "Minimum number of faulty HEMS to trigger a fault notification", "3.2.3.2.1.1"),
    Operation("fault-min-elapsed-time", "POST", "/v1/grid-observability/settings/min-elapsed-time", "request",
              "Minimum elapsed time of an interruption to trigger a fault notification", "3.2.3.2.1.2"),
    Operation("fault-postal-codes", "POST", "/v1/grid-observability/subscriptions", "request",
              "Postal codes whose HEMS the provider is to watch for faults", "3.2.3.2.1.3"),
    Operation("hems-status-request", "GET", "/v1/grid-observability/hems/{Hems_ID}/status", "request",
              "A HEMS's communication status", "3.2.3.2.1.4"),
    Operation("hems-voltage-request", "GET", "/v1/grid-observability/hems/{Hems_ID}/voltage", "request",
              "A HEMS's last voltage reading", "3.2.3.2.1.5"),
    Operation("disaggregated-data-request", "GET", "/v1/grid-observability/disaggregated-data", "request",
              "Disaggregated consumption of customers", "3.2.3.3.1.1"),
    Operation("incentive-offer", "POST", "/v1/data/incentive-offers", "request",
              "A contracted power incentive offer for an end user", "3.2.1.2 Table 4"),
    Operation("elasticity-input", "POST", "/v1/elasticity/inputs", "request",
              "A user profile for the elasticity service", "3.2.3.3"),
)


def operation(name: str, operations: tuple[Operation, ...] = DSO_OPERATIONS) -> Operation:
    """The operation of exchange ``name``; raises KeyError."""
    for op in operations:
        if op.exchange == name:
            return op
    raise KeyError(f"no REST operation for {name!r}")


def dso_exchanges(catalog: Catalog = DEFAULT) -> dict[str, str]:
    """Every exchange the DSO responds to, with its kind (``lookup`` for an ASK answered by its own
    message, else ``request``)."""
    out = {}
    for name, d in catalog.items():
        if d.interaction is not None and "dso" in d.interaction.responders:
            lookup = d.interaction.type == ASK_ANSWER and d.interaction.counterpart == name
            out[name] = "lookup" if lookup else "request"
    return out


def partner_exchanges(catalog: Catalog = DEFAULT) -> set[str]:
    """Every exchange the DSO starts (each hosted by the partners that respond to it)."""
    return {name for name, d in catalog.items() if d.interaction is not None and "dso" in d.interaction.initiators}


def pushed_answers(catalog: Catalog = DEFAULT) -> set[str]:
    """The answers to exchanges the DSO starts that carry data (not a receipt): each is pushed to the DSO."""
    return {catalog[name].interaction.counterpart for name in partner_exchanges(catalog)} - set(RECEIPTS)
