"""Who may receive each exchange of the DSO interface on the Knowledge Engine: addressed or broadcast.

The KE has no authentication: any knowledge base may register the DSO's interactions and so receive
every ASK or POST that is broadcast (issue 15, item 6). A message that carries an authorization token,
personal data, grid data kept for parties with an agreement, or one provider's commercial data, or
whose answer does, is therefore **addressed**: it is sent with a ``recipientSelector`` naming its
recipients, never to "whoever matches". Only public exchanges may be broadcast. :data:`ADDRESSING` is
the one table of which is which (docs/ke.md prints it); :func:`recipients_for` applies it::

    recipients_for("metering-request", responders=("dso",), given=None, peers=DEFAULT_PEERS)
    # ['https://dso.example.org/kb']: the configured DSO, never a broadcast
    recipients_for("flexibility-needs-request", responders=("dso",), given=None, peers=DEFAULT_PEERS)
    # None: public, every knowledge base that serves it is asked

``peers`` are the knowledge bases a party is configured to trust for a role, by role name: an
addressed exchange without explicit recipients goes to the configured knowledge bases of the roles
that serve it, and is refused (:class:`Unaddressed`) when there are none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = ["ADDRESSING", "DEFAULT_PEERS", "REFERENCE_DSO_KB", "Addressing", "Disclosure", "Unaddressed",
           "recipients_for"]

#: The knowledge base id of the reference DSO (``dso-saref serve``'s default ``--kb-id``).
REFERENCE_DSO_KB = "https://dso.example.org/kb"

#: The knowledge bases an adapter addresses when it is given no ``peers``: the reference DSO.
DEFAULT_PEERS: Mapping[str, tuple[str, ...]] = MappingProxyType({"dso": (REFERENCE_DSO_KB,)})


class Disclosure(StrEnum):
    """What an exchange (its request or its answer) carries, from the least to the most protected."""

    PUBLIC = "public"
    """Nothing personal or confidential: may go to every knowledge base that serves the exchange."""
    COMMERCIAL = "commercial"
    """One provider's offers, or the DSO's decision on them."""
    GRID = "grid"
    """Grid or zone data that goes only to parties with an agreement (issue 15, item 4)."""
    PERSONAL = "personal"
    """Personal data: an end user, a household's meter, HEMS or readings."""
    TOKEN = "token"
    """An authorization token (and the personal data it opens)."""


@dataclass(frozen=True)
class Addressing:
    """How exchange ``exchange`` travels: its :class:`Disclosure` and what makes it so."""

    exchange: str
    disclosure: Disclosure
    carries: str

    @property
    def addressed(self) -> bool:
        """Whether the exchange goes only to named recipients (everything but public)."""
        return self.disclosure is not Disclosure.PUBLIC


def _table(*rows: tuple[str, Disclosure, str]) -> Mapping[str, Addressing]:
    return MappingProxyType({name: Addressing(name, disclosure, carries) for name, disclosure, carries in rows})


#: Every exchange of the catalog (by the name of its starting message), one row each; a test keeps it
#: equal to the catalog's exchanges.
ADDRESSING: Mapping[str, Addressing] = _table(
    ("activation-plan", Disclosure.COMMERCIAL, "the DSO's decision on one provider's offers"),
    ("authorization-request", Disclosure.PERSONAL, "an end user's identity and the access asked to their data"),
    ("disaggregated-data-request", Disclosure.PERSONAL, "customer ids; the answer is their disaggregated load"),
    ("elasticity-input", Disclosure.PERSONAL, "end users' ids and consumption"),
    ("fault-min-elapsed-time", Disclosure.PUBLIC, "a postal code and a threshold"),
    ("fault-min-hems", Disclosure.PUBLIC, "a postal code and a threshold"),
    ("fault-notification", Disclosure.PUBLIC, "postal codes and counts of faulty HEMS"),
    ("fault-postal-codes", Disclosure.PUBLIC, "postal codes"),
    ("flexibility-data-request", Disclosure.GRID, "a zone; the answer is its flexibility history"),
    ("flexibility-needs", Disclosure.PUBLIC, "the DSO's needs, published to every provider"),
    ("flexibility-needs-request", Disclosure.PUBLIC, "a window; the answer is the published needs"),
    ("flexibility-offers", Disclosure.COMMERCIAL, "one provider's prices, quantities and meters"),
    ("grid-topology", Disclosure.GRID, "the answer ties clients to substations and feeders"),
    ("hems-status-request", Disclosure.PERSONAL, "a household's HEMS id; the answer is its status"),
    ("hems-voltage-request", Disclosure.PERSONAL, "a household's HEMS id; the answer is its voltage"),
    ("incentive-offer", Disclosure.PERSONAL, "an end user's id and contract"),
    ("lv-client-reading", Disclosure.PERSONAL, "the answer is a household's readings"),
    ("metering-request", Disclosure.TOKEN, "an authorization token and the end user or zone it opens"),
    ("mv-client-reading", Disclosure.PERSONAL, "the answer is a client's readings"),
    ("opportunities-request", Disclosure.PUBLIC, "zip codes; the answer is public opportunities"),
    ("primary-substation-reading", Disclosure.GRID, "the answer is a substation's readings"),
    ("secondary-substation-reading", Disclosure.GRID,
     "the answer is a substation's readings (personal when it serves fewer than k households)"),
)


class Unaddressed(ValueError):
    """An addressed exchange was to be sent with no recipient named or configured."""


def recipients_for(exchange: str, *, responders: Sequence[str], given: Sequence[str] | None,
                   peers: Mapping[str, Sequence[str]]) -> list[str] | None:
    """The knowledge bases an ASK or POST of ``exchange`` goes to: ``given`` when the caller names
    them, else, for an addressed exchange, the ``peers`` configured for the ``responders`` roles;
    ``None`` (broadcast) for a public exchange named by nobody. Raises :class:`Unaddressed` for an
    addressed exchange with no recipient, ``ValueError`` for an empty ``given`` (on the KE an empty
    list means everybody) or an exchange the table does not know."""
    row = ADDRESSING.get(exchange)
    if row is None:
        raise ValueError(f"{exchange!r} is not an exchange of the addressing table")
    if given is not None:
        named = list(dict.fromkeys(given))
        if not named:
            raise ValueError(f"{exchange}: an empty recipient list means every knowledge base on the KE; "
                             "pass None to broadcast a public exchange")
        return named
    if not row.addressed:
        return None
    configured = list(dict.fromkeys(kb for role in responders for kb in peers.get(role, ())))
    if not configured:
        raise Unaddressed(f"{exchange} carries {row.carries} ({row.disclosure.value}): it is sent only to named "
                          f"knowledge bases, and none is configured for {' or '.join(responders)}; pass "
                          "recipients=[...] or configure the adapter's peers")
    return configured
