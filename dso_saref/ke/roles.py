"""Which knowledge interactions each party of the DSO interface registers, generated from the catalog.

Every exchange of the catalog (a message with an ``[interaction]`` table) names the roles that start
it (``initiators``) and the roles that serve it (``responders``). A role registers, per exchange:

- POST/REACT: a POST (initiator) or REACT (responder) with the starting message's pattern as argument
  and the result message's pattern as result;
- ASK/ANSWER: an ASK (initiator) or ANSWER (responder) on the answer message's pattern.

The ``knowledgeInteractionName`` is the catalog name of the starting message::

    >>> [ki.name for ki in interactions_for("dso")][:2]
    ['activation-plan', 'authorization-request']
"""

from __future__ import annotations

from dataclasses import dataclass

from dso_saref.catalog import ASK_ANSWER, DEFAULT, ROLES, Catalog, Description

__all__ = ["ANSWER", "ASK", "POST", "REACT", "ROLES", "KnowledgeInteractionSpec", "interactions_for"]

ASK = "AskKnowledgeInteraction"
ANSWER = "AnswerKnowledgeInteraction"
POST = "PostKnowledgeInteraction"
REACT = "ReactKnowledgeInteraction"


@dataclass(frozen=True)
class KnowledgeInteractionSpec:
    """One KI registration: its name (the exchange), type, pattern(s) in KE syntax and prefixes."""

    name: str
    type: str
    graph_pattern: str | None
    argument_pattern: str | None
    result_pattern: str | None
    prefixes: dict[str, str]

    @property
    def initiates(self) -> bool:
        """Whether this side starts the exchange (ASK or POST)."""
        return self.type in (ASK, POST)

    def body(self) -> dict[str, object]:
        """The ``POST /sc/ki`` registration body."""
        body: dict[str, object] = {"knowledgeInteractionType": self.type, "knowledgeInteractionName": self.name}
        if self.graph_pattern is not None:
            body["graphPattern"] = self.graph_pattern
        if self.argument_pattern is not None:
            body["argumentGraphPattern"] = self.argument_pattern
        if self.result_pattern is not None:
            body["resultGraphPattern"] = self.result_pattern
        body["prefixes"] = dict(self.prefixes)
        return body


def _spec(exchange: Description, counterpart: Description, initiates: bool) -> KnowledgeInteractionSpec:
    interaction = exchange.interaction
    if interaction is None:  # pragma: no cover - callers pass exchanges only
        raise ValueError(f"{exchange.name} starts no exchange")
    prefixes = {**exchange.prefixes, **counterpart.prefixes}
    if interaction.type == ASK_ANSWER:
        return KnowledgeInteractionSpec(
            exchange.name, ASK if initiates else ANSWER, counterpart.pattern.to_text(prefixes), None, None, prefixes)
    return KnowledgeInteractionSpec(
        exchange.name, POST if initiates else REACT, None, exchange.pattern.to_text(prefixes),
        counterpart.pattern.to_text(prefixes), prefixes)


def interactions_for(role: str, catalog: Catalog | None = None) -> list[KnowledgeInteractionSpec]:
    """The KIs ``role`` registers, by exchange name; raises ``ValueError`` for an unknown role."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
    catalog = DEFAULT if catalog is None else catalog
    specs = []
    for name in sorted(catalog):
        exchange = catalog[name]
        interaction = exchange.interaction
        if interaction is None:
            continue
        counterpart = catalog[interaction.counterpart]
        if role in interaction.initiators:
            specs.append(_spec(exchange, counterpart, initiates=True))
        if role in interaction.responders:
            specs.append(_spec(exchange, counterpart, initiates=False))
    return specs
