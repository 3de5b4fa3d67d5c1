"""The DSO's access policy: who may receive what, with which agreement or consent, under which
k-anonymity. It is written down once, in :data:`RULES` (rendered as the table of ``docs/backend.md``
by :func:`rules_markdown`), and enforced here, in one place:

- every exchange the DSO serves passes :meth:`AccessPolicy.guard`: a requester without an agreement
  (a party registered with the DSO, or one of its own systems, ``BackendSettings.internal_requesters``)
  gets nothing; a request the handler cannot read (a field out of range) is refused as malformed; every
  :class:`~dso_saref.backend.errors.Refused` becomes the exchange's form of refusal (an error, a
  rejected acknowledgement, an authorization not granted);
- the handlers ask the policy before they give out data: :meth:`AccessPolicy.user_data` (an end
  user's data under a token), :meth:`AccessPolicy.zone` (anonymised zone data, at least k households),
  :meth:`AccessPolicy.readings` (client readings under a live consent; grid asset readings only for
  assets serving at least k customers, below that they are personal data);
- messages the DSO sends that carry personal data go only to a recipient :meth:`AccessPolicy.recipient`
  accepts;
- every refusal goes through :meth:`AccessPolicy.refuse`: one row in the registry of operations and
  one structured log line (JSON, on the logger ``dso_saref.backend.policy``, without personal data:
  exchange, outcome, code, requester, channel, request id). What a refused requester reads never
  discloses what the refusal protects: an unknown token and a token of another party or end user get
  the same answer, a zone refused for k does not say how many households it has::

    policy = AccessPolicy(storage, grid, parties, consents, registry, settings)
    handler = policy.guard("secondary-substation-reading", lookup)   # what DsoBackend.handlers() does
    handler(Query(None, {"id": "SS02"}), ExchangeContext(kb_id, now))  # Refused: SS02 serves 4 < k = 5
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from dso_saref.backend.clearing import natural_key
from dso_saref.backend.consent import Consent, ConsentRegistry, ConsentState
from dso_saref.backend.errors import Refused
from dso_saref.backend.grid import GridData
from dso_saref.backend.parties import Parties, ServiceProvider
from dso_saref.backend.registry import OperationsRegistry, Outcome
from dso_saref.backend.settings import BackendSettings
from dso_saref.backend.storage import Storage, Transaction
from dso_saref.exchange import ExchangeContext, Handler, Query
from dso_saref.messages.common import Status
from dso_saref.messages.data_sharing import AuthorizationRequest, AuthorizationResponse, MeteringRequest
from dso_saref.messages.flexibility import Acknowledgement

__all__ = [
    "PERSONAL_READINGS",
    "RULES",
    "AccessPolicy",
    "Code",
    "Form",
    "Requester",
    "Rule",
    "rules_markdown",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The kinds of readings that are an end user's personal data (the others are grid assets').
PERSONAL_READINGS = frozenset({"lv-client-reading", "mv-client-reading"})


class Code(StrEnum):
    """The kind of a refusal (in the log line and :attr:`Refused.code`)."""

    NO_AGREEMENT = "no-agreement"      # the requester or recipient has no agreement with the DSO
    NO_CONSENT = "no-consent"          # personal data without a token or live consent that covers it
    K_ANONYMITY = "k-anonymity"        # aggregated data over fewer than k households or customers
    MALFORMED = "malformed"            # a request the DSO cannot read
    OUT_OF_BOUNDS = "out-of-bounds"    # a quantity or price outside the physical bounds
    INVALID = "invalid"                # a functional rejection (unknown need, window, unit, subscription)


class Form(StrEnum):
    """How an exchange says no: to its requester (served exchanges), or what the DSO does instead of
    sending (messages it sends)."""

    ERROR = "error (`Refused`)"                        # the carrier answers with an error
    ACKNOWLEDGEMENT = "rejected acknowledgement"      # an Acknowledgement with status rejected
    AUTHORIZATION = "authorization not granted"       # an AuthorizationResponse with granted false
    WITHHELD = "not sent (`Refused`)"                 # AccessPolicy.recipient refused the recipient
    UNKNOWN = "not sent (`NotFound`: no such provider)"  # addressed by provider id: an agreement by construction
    BROADCAST = "published to every party serving it"  # on the KE: every knowledge base that registered it


@dataclass(frozen=True)
class Rule:
    """The access rule of one message: ``sent_by`` the DSO (``"dso"``) or to it (``"party"``, served
    by a handler), what it ``gives``, of which ``data``, to whom (``receivers``), on which
    ``condition`` (agreement, consent), with which ``k`` rule, refused as ``form``."""

    message: str
    sent_by: str
    gives: str
    data: str
    receivers: str
    condition: str
    k: str = "-"
    form: Form = Form.ERROR
    case: str = ""

    @property
    def outcome(self) -> Outcome:
        """How the registry records a refusal of this exchange: rejected when it is acknowledged."""
        return Outcome.REJECTED if self.form is Form.ACKNOWLEDGEMENT else Outcome.REFUSED


_AGREEMENT = "agreement"
_ASSET_K = "an asset serving fewer than k customers (topology) is personal data: only the DSO's own systems"

#: The access policy of every message, the DSO's served exchanges first (see docs/backend.md).
RULES: tuple[Rule, ...] = (
    Rule("authorization-request", "party", "whether the end user granted access; the token once granted",
         "personal (token)", "the requesting party, for itself", f"{_AGREEMENT}; the end user's consent grants the "
         "token", form=Form.AUTHORIZATION),
    Rule("metering-request", "party", "an end user's metering data", "personal",
         "the party the token was issued to", f"{_AGREEMENT} + a live consent of that end user (its token; the "
         "window inside the consent's)", case="User"),
    Rule("metering-request", "party", "a zone's summed household data", "aggregated personal",
         "a party with an agreement", _AGREEMENT, "zone of at least k households; each bucket of at least k "
         "households with complete data", case="Anonymized"),
    Rule("flexibility-data-request", "party", "a zone's needs and their eligible meters", "grid",
         "a party with an agreement", _AGREEMENT),
    Rule("flexibility-needs-request", "party", "the open needs of a window", "grid", "a party with an agreement",
         _AGREEMENT),
    Rule("flexibility-offers", "party", "an acknowledgement of its own offers", "the party's own",
         "the offering party", f"{_AGREEMENT}; offers inside the physical bounds", form=Form.ACKNOWLEDGEMENT),
    Rule("fault-notification", "party", "an acknowledgement of its own notification", "the party's own",
         "the notifying party", f"{_AGREEMENT} + an accepted subscription of the postal codes",
         form=Form.ACKNOWLEDGEMENT),
    Rule("opportunities-request", "party", "the needs around zip codes", "grid", "a party with an agreement",
         _AGREEMENT),
    Rule("grid-topology", "party", "where clients are connected", "grid", "a party with an agreement",
         _AGREEMENT),
    Rule("lv-client-reading", "party", "LV client readings", "personal",
         "the DSO's own systems; a party with a live consent of the client's end user, inside its window",
         f"{_AGREEMENT} + a live consent", "- (readings without a consent are left out)"),
    Rule("mv-client-reading", "party", "MV client readings", "personal",
         "the DSO's own systems; a party with a live consent of the client's end user, inside its window",
         f"{_AGREEMENT} + a live consent", "- (readings without a consent are left out)"),
    Rule("secondary-substation-reading", "party", "secondary substation readings", "grid; personal below k",
         "the DSO's own systems; a party with an agreement for assets serving at least k customers",
         _AGREEMENT, _ASSET_K),
    Rule("primary-substation-reading", "party", "primary substation readings", "grid; personal below k",
         "the DSO's own systems; a party with an agreement for assets serving at least k customers",
         _AGREEMENT, _ASSET_K),
    Rule("flexibility-needs", "dso", "the DSO's needs", "grid", "every party with an agreement", _AGREEMENT,
         form=Form.BROADCAST),
    Rule("activation-plan", "dso", "the activation of its own offers", "the party's own",
         "the provider whose offers were cleared", _AGREEMENT, form=Form.UNKNOWN),
    Rule("fault-min-hems", "dso", "its fault-location setting", "the party's own", "the provider it is set for",
         _AGREEMENT, form=Form.UNKNOWN),
    Rule("fault-min-elapsed-time", "dso", "its fault-location setting", "the party's own",
         "the provider it is set for", _AGREEMENT, form=Form.UNKNOWN),
    Rule("fault-postal-codes", "dso", "the postal codes to monitor", "the party's own",
         "the provider asked to monitor them", _AGREEMENT, form=Form.UNKNOWN),
    Rule("hems-status-request", "dso", "a HEMS id", "the party's own", "the provider managing the HEMS",
         _AGREEMENT, form=Form.UNKNOWN),
    Rule("hems-voltage-request", "dso", "a HEMS id", "the party's own", "the provider managing the HEMS",
         _AGREEMENT, form=Form.UNKNOWN),
    Rule("incentive-offer", "dso", "an end user's contracted power incentive", "personal",
         "a party serving the end user", f"{_AGREEMENT} + it manages a HEMS at the end user's connection or holds "
         "a live consent of it", form=Form.WITHHELD),
    Rule("elasticity-input", "dso", "a user's consumption profile", "personal",
         "a party serving each end user of the profile (an id that is no end user is a pseudonym)",
         f"{_AGREEMENT} + a HEMS at the end user's connection or a live consent of it", form=Form.WITHHELD),
    Rule("disaggregated-data-request", "dso", "ids of the data service provider's own customers",
         "the party's own", "the data service provider asked", _AGREEMENT, form=Form.WITHHELD),
)

#: The rule of each exchange the DSO serves, by catalog name (both cases of metering-request share it).
SERVED: dict[str, Rule] = {rule.message: rule for rule in RULES if rule.sent_by == "party"}

NO_AGREEMENT = "no agreement with the DSO: it serves this exchange only to parties with an agreement"
NO_TOKEN = "an authorization token is required for an end user's data"
TOKEN_NOT_VALID = "the authorization token does not give access to this end user's data"
MALFORMED = "malformed request"

_CONTEXT: ContextVar[Any] = ContextVar("dso_saref_exchange_context", default=None)
_LIMIT = 200


def _clean(text: object, limit: int = _LIMIT) -> str:
    """``text`` (or its ``str``) safe to store and log: lone surrogates escaped, at most ``limit``
    characters."""
    if text is None or text == "":
        return ""
    safe = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


def _storable(text: str) -> bool:
    """Whether ``text`` can be encoded as UTF-8 (no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Requester:
    """Who asks: the knowledge base (or REST party) of the exchange, the service provider it is (the
    DSO has an agreement with it), or one of the DSO's own systems (``internal``)."""

    knowledge_base: str
    provider: ServiceProvider | None
    internal: bool

    @property
    def has_agreement(self) -> bool:
        """Whether the DSO serves this requester at all."""
        return self.internal or self.provider is not None

    @property
    def actor(self) -> str:
        """The requester's name in the registry of operations."""
        return self.provider.id if self.provider is not None else _clean(self.knowledge_base)


class AccessPolicy:
    """The rules of :data:`RULES` over one database (see the module doc)."""

    def __init__(self, storage: Storage, grid: GridData, parties: Parties, consents: ConsentRegistry,
                 registry: OperationsRegistry, settings: BackendSettings) -> None:
        self._storage = storage
        self._grid = grid
        self._parties = parties
        self._consents = consents
        self._registry = registry
        self._settings = settings

    # -- who asks ---------------------------------------------------------------------------------------

    def requester(self, knowledge_base: str) -> Requester:
        """The :class:`Requester` speaking from ``knowledge_base`` (one that is not even text the
        database can store, a lone surrogate, is nobody the DSO knows)."""
        if not _storable(knowledge_base):
            return Requester(knowledge_base, None, False)
        return Requester(knowledge_base, self._parties.provider_for(knowledge_base),
                         knowledge_base in self._settings.internal_requesters)

    def provider(self, knowledge_base: str, exchange: str, now: datetime, *, subject: str = "") -> ServiceProvider:
        """The service provider speaking from ``knowledge_base``; raises :class:`Refused` (registered)
        when the DSO has no agreement with it."""
        who = self.requester(knowledge_base)
        if who.provider is None:
            raise self.refuse(exchange, who.actor, now, code=Code.NO_AGREEMENT, reason=NO_AGREEMENT, subject=subject)
        return who.provider

    # -- every served exchange ----------------------------------------------------------------------------

    def guard(self, name: str, handler: Handler) -> Handler:
        """``handler`` behind the policy of exchange ``name`` (see the module doc); raises ``KeyError``
        for an exchange :data:`RULES` does not cover."""
        rule = SERVED[name]

        def guarded(message: Any, context: ExchangeContext) -> BaseModel:
            entered = _CONTEXT.set(context)
            try:
                who = self.requester(context.requester)
                if not who.has_agreement:
                    raise self.refuse(name, who.actor, context.received_at, code=Code.NO_AGREEMENT,
                                      reason=NO_AGREEMENT, subject=_subject(message), outcome=rule.outcome)
                return handler(message, context)
            except Refused as refusal:
                return _refusal_answer(rule, message, refusal)
            except (ValidationError, OverflowError) as exc:  # a value the handler cannot work with
                log.debug("%s: a value the handler could not work with", name, exc_info=True)
                raise self.malformed(name, context, exc) from None
            finally:
                _CONTEXT.reset(entered)

        guarded.__name__ = f"guarded_{name.replace('-', '_')}"
        guarded.__doc__ = handler.__doc__
        return guarded

    def malformed(self, exchange: str, context: ExchangeContext, error: BaseException | str) -> Refused:
        """Register and log a request of ``exchange`` that could not be read (by the carrier or the
        handler); returns the :class:`Refused` to answer with, which names the fields at fault."""
        who = self.requester(context.requester)
        entered = _CONTEXT.set(context)
        try:
            return self.refuse(exchange, who.actor, context.received_at, code=Code.MALFORMED,
                               reason=f"{MALFORMED}: {_problems(error)}")
        finally:
            _CONTEXT.reset(entered)

    # -- decisions the handlers ask for ----------------------------------------------------------------

    def user_data(self, db: Transaction, request: MeteringRequest, knowledge_base: str, now: datetime) -> Consent:
        """Inside the access's transaction ``db``: the consent under which ``knowledge_base`` may read the
        end user's data of ``request`` (locked against revocation until ``db`` ends); raises
        :class:`Refused` (registered in ``db``) otherwise. Only the holder of its own token for that end
        user learns why its token does not serve (revoked, expired, pending, window): any other token
        gets :data:`TOKEN_NOT_VALID`, whether it exists or not."""
        who = self.requester(knowledge_base)
        token = request.authorization_token
        consent = self._consents.locked_by_token(db, token) if token else None
        detail = _token_problem(consent, who, request, now, given=bool(token))
        if consent is not None and detail is None:
            return consent
        own = consent is not None and who.provider is not None and consent.service_provider == who.provider.id \
            and consent.end_user == request.id
        reason = detail if own or not token else TOKEN_NOT_VALID
        raise self.refuse("metering-request", who.actor, now, code=Code.NO_CONSENT, reason=reason, detail=detail,
                          subject=request.id, token=token, db=db)

    def zone(self, zone_id: str, knowledge_base: str, now: datetime) -> int:
        """The number of households of zone ``zone_id`` when its anonymised data may be given out (at
        least k); raises :class:`Refused` (registered) for an unknown zone or one below k, with the
        same answer for both."""
        k = self._settings.k_anonymity
        households = len(self._grid.clients(zone_id=zone_id, voltage_level="LV"))
        if households >= k:
            return households
        reason = f"no anonymised data for this zone: it is unknown or has fewer than the {k} households needed to " \
                 "anonymise it"
        detail = f"{households} households, fewer than k = {k}" if households else "unknown zone or no households"
        raise self.refuse("metering-request", self.requester(knowledge_base).actor, now, code=Code.K_ANONYMITY,
                          reason=reason, detail=detail, subject=zone_id)

    def readings(self, db: Transaction, name: str, asked: str | None, found: Sequence[Any], knowledge_base: str,
                 now: datetime) -> list[Any]:
        """Inside the lookup's transaction ``db``: the readings of ``found`` (of kind ``name``, looked up
        by id ``asked`` or by none) that ``knowledge_base`` may see; raises :class:`Refused` (registered
        in ``db``) when the id asked is one it may not see, whether it exists or not."""
        who = self.requester(knowledge_base)
        if who.internal:
            return list(found)
        if name in PERSONAL_READINGS:
            windows = self._consents.live_windows(db, who.provider.id, now) if who.provider is not None else {}
            if asked is not None and asked not in windows:
                raise self.refuse(name, who.actor, now, code=Code.NO_CONSENT, subject=asked, db=db,
                                  reason="no readings of this client can be given: no live consent of its end user "
                                         "covers them", detail="no live consent of this client's end user")
            return [r for r in found if any(s <= r.timestamp < e for s, e in windows.get(r.id, ()))]
        k = self._settings.k_anonymity
        served = self._grid.customers_served({r.id for r in found} | ({asked} if asked is not None else set()))
        if asked is not None and served[asked] < k:
            raise self.refuse(name, who.actor, now, code=Code.K_ANONYMITY, subject=asked, db=db,
                              reason=f"no readings of this asset can be given: it is unknown or serves fewer than "
                                     f"the {k} customers needed to anonymise them",
                              detail=f"the asset serves {served[asked]} customers, fewer than k = {k}")
        return [r for r in found if served[r.id] >= k]

    # -- messages the DSO sends --------------------------------------------------------------------------

    def recipient(self, message: str, recipient: str, now: datetime, *,
                  end_users: Collection[str] = ()) -> ServiceProvider:
        """The party (by knowledge base or provider id) the DSO may send ``message`` to, serving every
        known end user of ``end_users`` (it manages a HEMS at the end user's connection or holds a live
        consent of it); raises :class:`Refused` (registered) otherwise."""
        provider = self._parties.provider_for(recipient) or next(
            (p for p in self._parties.providers() if p.id == recipient), None)
        if provider is None:
            raise self.refuse(message, "DSO", now, code=Code.NO_AGREEMENT, subject=_clean(recipient),
                              reason=f"{message} is sent only to parties with an agreement with the DSO")
        for user in sorted(set(end_users)):
            if self._parties.end_user(user) is not None and not self._serves(provider, user, now):
                raise self.refuse(message, "DSO", now, code=Code.NO_CONSENT, subject=user,
                                  reason=f"{provider.id} neither manages a HEMS of this end user nor holds its "
                                         "live consent")
        return provider

    def _serves(self, provider: ServiceProvider, end_user: str, now: datetime) -> bool:
        row = self._storage.query_one("SELECT 1 FROM end_users u JOIN hems h ON h.client_id = u.client_id "
                                      "WHERE u.id = ? AND h.provider_id = ?", (end_user, provider.id))
        return row is not None or any(
            c.service_provider == provider.id and c.state(now) is ConsentState.GRANTED
            for c in self._consents.consents(end_user=end_user, status=ConsentState.GRANTED))

    # -- refusals ------------------------------------------------------------------------------------------

    def refuse(self, exchange: str, actor: str, now: datetime, *, code: Code, reason: str, detail: str | None = None,
               subject: str = "", token: str | None = None, db: Transaction | None = None,
               outcome: Outcome = Outcome.REFUSED) -> Refused:
        """Register a refusal (in ``db``, else in a transaction of its own) and log it; returns the
        :class:`Refused` to raise (or to turn into a rejected answer). ``reason`` is what the requester
        reads, ``detail`` (default ``reason``) what the registry keeps."""
        refusal = Refused(reason, code=code.value, detail=detail)
        row = {"at": now, "actor": _clean(actor), "operation": exchange, "subject": _clean(subject),
               "token": _clean(token) or None, "outcome": outcome, "reason": _clean(refusal.detail, 1000)}
        if db is None:
            self._registry.log(**row)
        else:
            self._registry.write(db, **row)
        context = _CONTEXT.get()
        record = {"event": "refusal", "exchange": exchange, "outcome": outcome.value, "code": code.value,
                  "requester": _clean(getattr(context, "requester", None) or actor),
                  "channel": getattr(context, "channel", None) or "local",
                  "request_id": _clean(getattr(context, "request_id", None)) or None}
        log.log(logging.INFO if outcome is Outcome.REJECTED else logging.WARNING, "%s",
                json.dumps(record, ensure_ascii=True, sort_keys=True), extra={"refusal": record})
        return refusal

    def decide(self, operation: str, work: Callable[[Transaction], T]) -> T:
        """Run ``work`` in one transaction named ``operation``; a :class:`Refused` it raises (registered
        in that transaction) is committed with it, then raised."""
        refusal: Refused | None = None
        with self._storage.transaction(operation) as db:
            try:
                return work(db)
            except Refused as exc:
                refusal = exc
        raise refusal


def _token_problem(consent: Consent | None, who: Requester, request: MeteringRequest, now: datetime, *,
                   given: bool) -> str | None:
    """Why ``consent`` (of the token given) does not let ``who`` read the request's data, or ``None``."""
    if not given:
        return NO_TOKEN
    if consent is None:
        return "unknown authorization token"
    if who.provider is None or consent.service_provider != who.provider.id:
        return "the token was issued to another service provider"
    if consent.end_user != request.id:
        return "the token does not cover this end user"
    state = consent.state(now)
    if state is ConsentState.REVOKED:
        return "the consent was revoked by the end user"
    if state is ConsentState.EXPIRED:
        return "the authorization token has expired"
    if state is not ConsentState.GRANTED:
        return f"the consent is {state.value}"
    if request.start < consent.start or request.end > consent.end:
        return "the requested window is outside the consented window"
    return None


def _subject(message: Any) -> str:
    """Whose data a request is about, for the registry (an end user, a zone, a client or asset)."""
    if isinstance(message, Query):
        return str(message.fields.get("id") or message.fields.get("client_id") or "")
    for key in ("end_user", "id", "zone_id", "Fault_Location_ID"):
        value = getattr(message, key, None)
        if isinstance(value, str):
            return value
    return _reference(message) or ""


def _reference(message: Any) -> str | None:
    """What an acknowledgement of ``message`` refers to: the offer ids of a posting, a fault location."""
    items = getattr(message, "root", None)
    if isinstance(items, list):
        return ",".join(sorted({str(getattr(o, "offer_id", "")) for o in items}, key=natural_key)) or None
    return getattr(message, "Fault_Location_ID", None)


def _refusal_answer(rule: Rule, message: Any, refusal: Refused) -> BaseModel:
    """The exchange's form of saying no (raises the refusal for :attr:`Form.ERROR`)."""
    if rule.form is Form.ACKNOWLEDGEMENT and refusal.code != Code.MALFORMED:
        return Acknowledgement(status=Status.REJECTED, reference=_reference(message), reason=refusal.reason)
    if rule.form is Form.AUTHORIZATION and isinstance(message, AuthorizationRequest):
        return AuthorizationResponse(end_user=message.end_user, service_provider=message.service_provider,
                                     granted=False, start=message.start, end=message.end, reason=refusal.reason)
    raise refusal


def _problems(error: BaseException | str) -> str:
    """Where a malformed request is wrong, in words safe to send back (no echo of the values)."""
    if isinstance(error, ValidationError):
        return _clean("; ".join(f"{'.'.join(str(p) for p in e['loc']) or '$'}: {e['msg']}"
                                for e in error.errors(include_url=False, include_input=False)), 500)
    if isinstance(error, OverflowError):
        return "a date or number is out of range"
    return _clean(str(error), 500)


def rules_markdown() -> str:
    """:data:`RULES` as the markdown table of docs/backend.md."""
    lines = ["| message | direction | what it gives | data | who may receive it | agreement or consent | k-anonymity | "
             "refused as |", "|---|---|---|---|---|---|---|---|"]
    for rule in RULES:
        name = f"`{rule.message}`" + (f" ({rule.case})" if rule.case else "")
        sender = "DSO → party" if rule.sent_by == "dso" else "party → DSO"
        lines.append(f"| {name} | {sender} | {rule.gives} | {rule.data} | {rule.receivers} | {rule.condition} | "
                     f"{rule.k} | {rule.form.value} |")
    return "\n".join(lines) + "\n"
