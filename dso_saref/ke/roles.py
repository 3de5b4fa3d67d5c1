"""Which knowledge interactions each party of the DSO interface registers, generated from the catalog.

Every exchange of the catalog (a message with an ``[interaction]`` table) names the roles that start
it (``initiators``) and the roles that serve it (``responders``). A role registers, per exchange:

- POST/REACT: a POST (initiator) or REACT (responder) with the core of the starting message's pattern
  as argument and the core of the result message's pattern as result; a POST or REACT without result
  for each part of the starting message (its optional values, sent before the core, docs/patterns.md);
  an ASK or ANSWER for each part of the result (fetched after the core answer);
- ASK/ANSWER: an ASK (initiator) or ANSWER (responder) on the core of the answer message's pattern,
  and one on each of its parts.

The ``knowledgeInteractionName`` is the catalog name of the starting message for the core, the part's
key for a part of the starting message (``fault-notification--timestamp``), and the part's key with
``--ask`` or ``--answer`` for a part of the answer (``acknowledgement--reason--ask``). A role may play
several pattern profiles (docs/interop.md): ``saref`` (the default descriptions) registers the names
above, another profile its exchanges' KIs named ``NAME--PROFILE`` (``lv-client-reading--interconnect``;
the KE allows no ``@`` in a name)::

    >>> [ki.name for ki in interactions_for("dso")][:2]
    ['activation-plan', 'authorization-request']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dso_saref.catalog import ASK_ANSWER, DEFAULT, ROLES, Catalog, Description
from dso_saref.parts import ki_name
from dso_saref.profiles import DEFAULT_PROFILE

__all__ = ["ANSWER", "ASK", "POST", "REACT", "ROLES", "KnowledgeInteractionSpec", "interactions_for", "ki_of",
           "parts_owner", "profiles_of"]

ASK = "AskKnowledgeInteraction"
ANSWER = "AnswerKnowledgeInteraction"
POST = "PostKnowledgeInteraction"
REACT = "ReactKnowledgeInteraction"


@dataclass(frozen=True)
class KnowledgeInteractionSpec:
    """One KI registration: its name, type, pattern(s) in KE syntax and prefixes, the ``exchange`` it
    belongs to (the catalog name of the starting message) and, for a part, the part's ``key``
    (``None`` for the exchange's core KI)."""

    name: str
    type: str
    graph_pattern: str | None
    argument_pattern: str | None
    result_pattern: str | None
    prefixes: dict[str, str]
    exchange: str = ""
    part: str | None = None

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


def _specs(exchange: Description, counterpart: Description, initiates: bool) -> list[KnowledgeInteractionSpec]:
    interaction = exchange.interaction
    if interaction is None:  # pragma: no cover - callers pass exchanges only
        raise ValueError(f"{exchange.name} starts no exchange")
    prefixes = {**exchange.prefixes, **counterpart.prefixes}
    ask, post = (ASK, POST) if initiates else (ANSWER, REACT)
    core, *answer_parts = counterpart.parts
    name = ki_name(exchange.name)
    if interaction.type == ASK_ANSWER:
        specs = [KnowledgeInteractionSpec(name, ask, core.pattern.to_text(prefixes), None, None, prefixes,
                                          exchange.name)]
    else:
        specs = [KnowledgeInteractionSpec(name, post, None, exchange.parts[0].pattern.to_text(prefixes),
                                          core.pattern.to_text(prefixes), prefixes, exchange.name)]
        # a part belongs to the message that has it (an exchange's profile may share the default's parts)
        specs += [KnowledgeInteractionSpec(ki_name(part.key), post, None, part.pattern.to_text(prefixes), None,
                                           prefixes, part.key.partition(".")[0], part.key)
                  for part in exchange.parts[1:]]
    # one role may send a message's parts, fetch them as an answer's parts and serve them: three names
    suffix = "--ask" if initiates else "--answer"
    specs += [KnowledgeInteractionSpec(ki_name(part.key) + suffix, ask, part.pattern.to_text(prefixes), None, None,
                                       prefixes, exchange.name, part.key) for part in answer_parts]
    return specs


def ki_of(exchange: str, profile: str = DEFAULT_PROFILE) -> str:
    """The KI name of exchange ``exchange`` in ``profile`` (``lv-client-reading--interconnect``)."""
    return exchange if profile == DEFAULT_PROFILE else ki_name(f"{exchange}@{profile}")


def parts_owner(exchange: Description) -> str:
    """Under which message the parts of ``exchange``'s message arrive (an exchange's profile may
    send its request's optional values in the default's parts)."""
    return exchange.parts[1].key.partition(".")[0] if len(exchange.parts) > 1 else exchange.name


def profiles_of(catalog: Catalog | None = None) -> list[str]:
    """Every pattern profile some message of the catalog has, ``saref`` first."""
    catalog = DEFAULT if catalog is None else catalog
    found = {profile for name in catalog for profile in catalog.profiles(name)}
    return [DEFAULT_PROFILE, *sorted(found - {DEFAULT_PROFILE})]


def interactions_for(role: str, catalog: Catalog | None = None,
                     profiles: Sequence[str] = (DEFAULT_PROFILE,)) -> list[KnowledgeInteractionSpec]:
    """The KIs ``role`` registers in ``profiles`` (each exchange in every one of them that it has),
    by exchange name; raises ``ValueError`` for an unknown role or profile."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
    catalog = DEFAULT if catalog is None else catalog
    known = profiles_of(catalog)
    unknown = [p for p in profiles if p not in known]
    if unknown or not profiles:
        raise ValueError(f"unknown profile {unknown[0] if unknown else ''!r} (expected some of {', '.join(known)})")
    specs: dict[str, KnowledgeInteractionSpec] = {}
    exchanges = [by_profile[p] for name in sorted(catalog) for by_profile in [catalog.profiles(name)]
                 for p in dict.fromkeys(profiles) if p in by_profile]
    for exchange in exchanges:
        interaction = exchange.interaction
        if interaction is None:
            continue
        counterpart = catalog[interaction.counterpart]
        for initiates, roles in ((True, interaction.initiators), (False, interaction.responders)):
            if role in roles:
                for spec in _specs(exchange, counterpart, initiates):
                    specs.setdefault(spec.name, spec)  # a result's parts are one KI, whatever exchange brought it
    return list(specs.values())
