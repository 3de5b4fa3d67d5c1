"""Typed results of the Knowledge Engine REST API, read from its JSON replies.

Binding sets stay in the KE's own form (a list of ``{variable: "<iri>" | "\\"lex\\"^^<dt>"}``);
:mod:`dso_saref.terms` reads the values. Each ``from_json`` raises
:class:`~dso_saref.ke.errors.UnexpectedResponse` naming the field when a reply does not have the
shape the API defines::

    result = client.ask(kb_id, ki_id, [{"m": "<https://example.org/m1>"}])
    for info in result.exchange_info:
        if not info.succeeded:
            print(info.knowledge_base_id, info.failed_message)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from dso_saref.ke.errors import UnexpectedResponse

__all__ = [
    "AskResult",
    "Binding",
    "BindingSet",
    "CommunicativeAct",
    "ExchangeInfo",
    "HandleRequest",
    "KnowledgeBaseInfo",
    "KnowledgeInteractionInfo",
    "Lease",
    "PostResult",
]

Binding = dict[str, str]
BindingSet = list[Binding]


class _Reader:
    """Reads fields of one JSON object, naming the path of whatever is missing or mistyped."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise UnexpectedResponse(f"{where} must be a JSON object, got {type(data).__name__}", body=data)
        self.data = data
        self.where = where

    def _fail(self, key: str, expected: str) -> UnexpectedResponse:
        return UnexpectedResponse(f"{self.where}.{key} must be {expected}", body=self.data)

    def string(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str):
            raise self._fail(key, "a string")
        return value

    def optional_string(self, key: str) -> str | None:
        return None if self.data.get(key) is None else self.string(key)

    def optional_int(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, "an integer")
        return value

    def time(self, key: str) -> datetime:
        value = self.data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, UTC)  # Jackson's default: epoch milliseconds
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                pass
            else:
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        raise self._fail(key, "an ISO 8601 date-time")

    def bindings(self, key: str, *, required: bool = True) -> BindingSet | None:
        value = self.data.get(key)
        if value is None and not required:
            return None
        return read_bindings(value, f"{self.where}.{key}")


def read_bindings(value: object, where: str) -> BindingSet:
    """A binding set from JSON; raises :class:`UnexpectedResponse` naming ``where`` if it is not one."""
    if not isinstance(value, list):
        raise UnexpectedResponse(f"{where} must be a JSON array of bindings", body=value)
    out: BindingSet = []
    for i, row in enumerate(value):
        if not isinstance(row, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in row.items()):
            raise UnexpectedResponse(f"{where}[{i}] must be an object of strings", body=value)
        out.append(dict(row))
    return out


@dataclass(frozen=True)
class KnowledgeBaseInfo:
    """A registered knowledge base (the KE's ``SmartConnector``)."""

    id: str
    name: str
    description: str
    lease_renewal_time: int | None = None
    reasoner_level: int | None = None

    @classmethod
    def from_json(cls, data: object, where: str = "$") -> KnowledgeBaseInfo:
        """Read a ``SmartConnector`` object."""
        r = _Reader(data, where)
        return cls(
            r.string("knowledgeBaseId"),
            r.string("knowledgeBaseName"),
            r.string("knowledgeBaseDescription"),
            r.optional_int("leaseRenewalTime"),
            r.optional_int("reasonerLevel"),
        )


@dataclass(frozen=True)
class Lease:
    """A renewed lease: the knowledge base is removed after ``expires`` unless renewed again."""

    knowledge_base_id: str
    expires: datetime

    @classmethod
    def from_json(cls, data: object, where: str = "$") -> Lease:
        """Read a ``SmartConnectorLease`` object."""
        r = _Reader(data, where)
        return cls(r.string("knowledgeBaseId"), r.time("expires"))


@dataclass(frozen=True)
class CommunicativeAct:
    """Why data is exchanged: purposes required from and satisfied for the other side (IRIs)."""

    required_purposes: tuple[str, ...]
    satisfied_purposes: tuple[str, ...]

    def to_json(self) -> dict[str, list[str]]:
        """The ``CommunicativeAct`` JSON object."""
        return {"requiredPurposes": list(self.required_purposes), "satisfiedPurposes": list(self.satisfied_purposes)}

    @classmethod
    def from_json(cls, data: object, where: str = "$") -> CommunicativeAct:
        """Read a ``CommunicativeAct`` object."""
        r = _Reader(data, where)
        purposes = []
        for key in ("requiredPurposes", "satisfiedPurposes"):
            value = r.data.get(key)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UnexpectedResponse(f"{where}.{key} must be a list of strings", body=data)
            purposes.append(tuple(value))
        return cls(purposes[0], purposes[1])


@dataclass(frozen=True)
class KnowledgeInteractionInfo:
    """A registered knowledge interaction as the KE reports it."""

    id: str
    type: str
    name: str | None = None
    graph_pattern: str | None = None
    argument_graph_pattern: str | None = None
    result_graph_pattern: str | None = None
    communicative_act: CommunicativeAct | None = None
    knowledge_gaps_enabled: bool = False

    @classmethod
    def from_json(cls, data: object, where: str = "$") -> KnowledgeInteractionInfo:
        """Read a ``KnowledgeInteractionWithId`` object."""
        r = _Reader(data, where)
        act = r.data.get("communicativeAct")
        return cls(
            r.string("knowledgeInteractionId"),
            r.string("knowledgeInteractionType"),
            r.optional_string("knowledgeInteractionName"),
            r.optional_string("graphPattern"),
            r.optional_string("argumentGraphPattern"),
            r.optional_string("resultGraphPattern"),
            None if act is None else CommunicativeAct.from_json(act, f"{where}.communicativeAct"),
            r.data.get("knowledgeGapsEnabled") is True,
        )


@dataclass(frozen=True)
class ExchangeInfo:
    """How one peer took part in an ASK or POST: when, whether it ``succeeded``, what it sent."""

    initiator: str
    knowledge_base_id: str
    knowledge_interaction_id: str
    exchange_start: datetime
    exchange_end: datetime
    status: str
    failed_message: str | None = None
    binding_set: BindingSet | None = None
    argument_binding_set: BindingSet | None = None
    result_binding_set: BindingSet | None = None

    @property
    def succeeded(self) -> bool:
        """Whether the peer replied in time with a valid answer."""
        return self.status == "SUCCEEDED"

    @classmethod
    def from_json(cls, data: object, where: str = "$") -> ExchangeInfo:
        """Read an ``AskExchangeInfo`` or ``PostExchangeInfo`` object."""
        r = _Reader(data, where)
        return cls(
            r.string("initiator"),
            r.string("knowledgeBaseId"),
            r.string("knowledgeInteractionId"),
            r.time("exchangeStart"),
            r.time("exchangeEnd"),
            r.string("status"),
            r.optional_string("failedMessage"),
            r.bindings("bindingSet", required=False),
            r.bindings("argumentBindingSet", required=False),
            r.bindings("resultBindingSet", required=False),
        )


def _infos(r: _Reader) -> list[ExchangeInfo]:
    value = r.data.get("exchangeInfo")
    if not isinstance(value, list):
        raise UnexpectedResponse(f"{r.where}.exchangeInfo must be a JSON array", body=r.data)
    return [ExchangeInfo.from_json(item, f"{r.where}.exchangeInfo[{i}]") for i, item in enumerate(value)]


@dataclass(frozen=True)
class AskResult:
    """The answer to an ASK: the union of every answerer's bindings and how each peer did."""

    binding_set: BindingSet
    exchange_info: list[ExchangeInfo]

    @classmethod
    def from_json(cls, data: object, where: str = "$") -> AskResult:
        """Read an ``AskResult`` object."""
        r = _Reader(data, where)
        return cls(r.bindings("bindingSet") or [], _infos(r))


@dataclass(frozen=True)
class PostResult:
    """The outcome of a POST: every reactor's results merged, and how each peer did."""

    result_binding_set: BindingSet
    exchange_info: list[ExchangeInfo]

    @classmethod
    def from_json(cls, data: object, where: str = "$") -> PostResult:
        """Read a ``PostResult`` object."""
        r = _Reader(data, where)
        return cls(r.bindings("resultBindingSet") or [], _infos(r))


@dataclass(frozen=True)
class HandleRequest:
    """Work for an ANSWER or REACT interaction, from the long poll: reply with its ``handle_request_id``."""

    knowledge_interaction_id: str
    handle_request_id: int
    binding_set: BindingSet
    requesting_knowledge_base_id: str | None = None

    @classmethod
    def from_json(cls, data: object, where: str = "$") -> HandleRequest:
        """Read a ``HandleRequest`` object."""
        r = _Reader(data, where)
        handle_id = r.optional_int("handleRequestId")
        if handle_id is None:
            raise UnexpectedResponse(f"{where}.handleRequestId must be an integer", body=data)
        return cls(
            r.string("knowledgeInteractionId"),
            handle_id,
            r.bindings("bindingSet") or [],
            r.optional_string("requestingKnowledgeBaseId"),
        )
