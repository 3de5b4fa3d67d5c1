"""Why a peer's knowledge interaction does, or does not, reach ours: ``dso-saref ke match`` and
``dso_saref.match``.

A peer's graph pattern (prefixed text, a ``.gp`` file's content, or a KE registration JSON body with its
``prefixes``) is compared with every knowledge interaction our roles register, in every profile, the
way the real Knowledge Engine matches at reasoner level 1 (:func:`dso_saref.ke.emulator_rules.match`,
the stand-in's own matcher): their ASK against our ANSWERs, their ANSWER against our ASKs, their POST
against our REACTs, their REACT against our POSTs (all four when the kind is not known). Failing an
exact match, the report gives the nearest three with the triples that differ, the terms that no
ontology we know declares (with the nearest declared term) and a profile TOML that would match::

    >>> report = match("?h a dso:HomeEnergyManagementSystem . ?h dso:hasIdentifier ?id .", kind="ask")
    >>> [m.candidate.ki for m in report.matches]  # ANSWERs holding (at least) these triples
    ['hems-status-request', 'hems-status--postal-code--answer', 'hems-voltage-request']
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rdflib import URIRef
from rdflib.namespace import RDF

from dso_saref.catalog import DEFAULT, Catalog
from dso_saref.errors import PatternError
from dso_saref.ke.alignment import Alignment, align
from dso_saref.ke.emulator_rules import ANSWER, ASK, POST, REACT, Interaction, result_match
from dso_saref.ke.emulator_rules import match as level_1_match
from dso_saref.ke.roles import ROLES, interactions_for, profiles_of
from dso_saref.ke.vocabulary import Vocabulary
from dso_saref.patterns import Pattern, Term, Triple, Var, parse, write_term
from dso_saref.terms import PREFIXES

__all__ = ["KINDS", "Candidate", "Exact", "ForeignInteraction", "MatchReport", "Near", "UnknownTerm", "candidates",
           "match", "read_interaction"]

#: The kinds a peer's interaction may be given as, by their short names.
KINDS = {"ask": ASK, "answer": ANSWER, "post": POST, "react": REACT}
_SHORT = {value: key.upper() for key, value in KINDS.items()}
_COUNTERPART = {ASK: ANSWER, ANSWER: ASK, POST: REACT, REACT: POST}
#: Namespaces a pilot's pattern may use without declaring them (the InterConnect ones are under
#: http://ontology.tno.nl/interconnect/, issue 13).
WELL_KNOWN = {
    **PREFIXES,
    "owl": "http://www.w3.org/2002/07/owl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "schema": "http://schema.org/",
    "sosa": "http://www.w3.org/ns/sosa/",
    "ssn": "http://www.w3.org/ns/ssn/",
    "dcterms": "http://purl.org/dc/terms/",
    **{f"ic-{m}": f"http://ontology.tno.nl/interconnect/{ns}#" for m, ns in (
        ("data", "datapoint"), ("dev", "device"), ("flex", "flexibility"), ("fc", "forecast"),
        ("inc", "incentivetable"), ("pwlm", "powerlimit"), ("tplg", "topology"), ("uom", "units"), ("user", "user"))},
}
#: The largest peer pattern diagnosed (KE patterns are tens of triples).
MAX_TRIPLES = 300
_DECLARATION = re.compile(r"^\s*(?:@prefix|PREFIX)\s+([A-Za-z][\w.-]*)?:\s*<([^<>\s]*)>\s*\.?\s*$", re.I | re.M)


@dataclass(frozen=True)
class ForeignInteraction:
    """A peer's knowledge interaction as read: its kind (``None``: not known), its graph pattern
    (POST/REACT: the argument), its result pattern, the prefixes it came with and its name."""

    kind: str | None
    pattern: Pattern
    result: Pattern | None
    prefixes: dict[str, str]
    name: str | None = None


@dataclass(frozen=True)
class Candidate:
    """One knowledge interaction of ours: its KI name and type, the message and profile its pattern
    comes from, and its patterns (POST/REACT: argument and result)."""

    ki: str
    kind: str
    message: str
    profile: str
    pattern: Pattern
    result: Pattern | None
    prefixes: dict[str, str]

    @property
    def label(self) -> str:
        """``message@profile (ki, KIND)``."""
        return f"{self.message}@{self.profile} ({self.ki}, {_SHORT[self.kind]})"

    def interaction(self) -> Interaction:
        """The stand-in's view of this interaction (what its matcher compares)."""
        return _interaction(f"ours:{self.label}", self.kind, self.pattern, self.result)


@dataclass(frozen=True)
class Exact:
    """A KI of ours that the peer's interaction (taken as ``kind``) meets at level 1; for POST/REACT,
    ``results`` says whether the result patterns match too (else the results are not merged)."""

    candidate: Candidate
    kind: str
    results: bool | None = None


@dataclass(frozen=True)
class Near:
    """A KI of ours that the peer's interaction (taken as ``kind``) misses, and how."""

    candidate: Candidate
    kind: str
    alignment: Alignment


@dataclass(frozen=True)
class UnknownTerm:
    """An IRI of the peer's pattern that no ontology we know declares, and the nearest declared one."""

    iri: str
    suggestion: str | None


@dataclass(frozen=True)
class MatchReport:
    """What :func:`match` found: exact matches, else the nearest three, unknown terms, a profile."""

    interaction: ForeignInteraction
    matches: tuple[Exact, ...]
    nearest: tuple[Near, ...]
    unknown_terms: tuple[UnknownTerm, ...]
    suggestion: str | None = None
    prefixes: dict[str, str] = field(default_factory=dict)

    @property
    def matched(self) -> bool:
        """Whether at least one KI of ours matches exactly."""
        return bool(self.matches)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON (``dso-saref ke match --format json``)."""
        short = self.short
        return {
            "matched": self.matched,
            "kind": _SHORT.get(self.interaction.kind or ""),
            "matches": [{**self._which(m.candidate, m.kind), "results_match": m.results} for m in self.matches],
            "nearest": [{
                **self._which(n.candidate, n.kind),
                "score": round(n.alignment.score, 3),
                "missing": [self.triple(t) for t in n.alignment.missing],
                "extra": [self.triple(t) for t in n.alignment.extra],
                "different": [{"theirs": self.triple(d.theirs_triple), "ours": self.triple(d.ours_triple),
                               "position": d.position, "their_term": short(d.theirs), "our_term": short(d.ours)}
                              for d in n.alignment.different],
            } for n in self.nearest],
            "unknown_terms": [{"term": short(URIRef(u.iri)), "iri": u.iri,
                               "suggestion": u.suggestion and short(URIRef(u.suggestion)),
                               "suggestion_iri": u.suggestion} for u in self.unknown_terms],
            "suggested_profile": self.suggestion,
        }

    @staticmethod
    def _which(candidate: Candidate, kind: str) -> dict[str, str]:
        return {"message": candidate.message, "profile": candidate.profile, "ki": candidate.ki,
                "ours": _SHORT[candidate.kind], "as": _SHORT[kind]}

    def short(self, term: Term) -> str:
        """``term`` written with the report's prefixes (a prefixed name where one fits)."""
        if isinstance(term, Var):
            return str(term)
        return "rdf:type" if term == RDF.type else write_term(term, self.prefixes)

    def triple(self, triple: Triple) -> str:
        """``triple`` in KE syntax with the report's prefixes."""
        return " ".join(write_term(t, self.prefixes) for t in triple) + " ."

    def to_text(self) -> str:
        """The report for people (``dso-saref ke match``)."""
        short = self.short
        kind = _SHORT.get(self.interaction.kind or "", "ASK/ANSWER/POST/REACT (kind not given)")
        lines = [f"their interaction: {kind}, {len(self.interaction.pattern.triples)} triple(s)"]
        if self.matched:
            lines.append("MATCH at reasoner level 1 with:")
            for m in self.matches:
                note = "" if m.results is None else (" (result patterns match too)" if m.results else
                                                     " (result patterns differ: their results are not merged)")
                lines.append(f"  {m.candidate.label} as their {_SHORT[m.kind]}{note}")
        else:
            lines.append("NO MATCH at reasoner level 1. Nearest:")
            for i, n in enumerate(self.nearest, 1):
                a = n.alignment
                lines.append(f"  {i}. {n.candidate.label} as their {_SHORT[n.kind]}: {len(a.exact)} triple(s) "
                             f"the same, score {a.score:.2f}")
                lines += [f"     different {d.position}: {short(d.theirs)} where ours has {short(d.ours)}   "
                          f"(theirs: {self.triple(d.theirs_triple)})" for d in a.different]
                lines += [f"     missing (ours only): {self.triple(t)}" for t in a.missing]
                lines += [f"     extra (theirs only): {self.triple(t)}" for t in a.extra]
                lines.append(f"     {_rule(n.kind)}")
        for u in self.unknown_terms:
            hint = f"; did you mean {short(URIRef(u.suggestion))}?" if u.suggestion else ""
            lines.append(f"declared in no ontology we know: {short(URIRef(u.iri))}{hint}")
        if self.suggestion:
            lines += ["", "A profile that would make it match (complete the TODOs):", self.suggestion]
        return "\n".join(lines)


def _rule(kind: str) -> str:
    return {
        ASK: "(an ANSWER must hold every triple of the ASK; it may hold more)",
        ANSWER: "(an ANSWER must hold every triple of the ASK; it may hold more)",
        POST: "(POST and REACT argument patterns must hold the same triples)",
        REACT: "(POST and REACT argument patterns must hold the same triples)",
    }[kind]


def _interaction(ident: str, kind: str, pattern: Pattern, result: Pattern | None) -> Interaction:
    if kind in (ASK, ANSWER):
        return Interaction(ident, ident, kind, None, pattern=pattern)
    return Interaction(ident, ident, kind, None, argument=pattern, result=result)


def _kind(value: str | None, where: str) -> str | None:
    if value is None:
        return None
    kind = KINDS.get(value.lower()) or (value if value in _COUNTERPART else None)
    if kind is None:
        raise PatternError(f"{where}: unknown kind {value!r} (expected one of {', '.join(KINDS)} or a KE type)")
    return kind


def read_interaction(source: str | Mapping[str, Any], *, kind: str | None = None,
                     prefixes: Mapping[str, str] | None = None) -> ForeignInteraction:
    """A peer's interaction from a registration JSON body (a mapping or its text) or prefixed pattern
    text (``@prefix``/``PREFIX`` lines are read as prefixes; well-known prefixes need no declaration).
    Raises :class:`~dso_saref.errors.PatternError` naming what cannot be read."""
    known = {**WELL_KNOWN, **(prefixes or {})}
    if isinstance(source, str) and source.lstrip().startswith("{"):
        try:
            source = json.loads(source)
        except ValueError as exc:
            raise PatternError(f"the registration body is not JSON: {exc}") from None
    if isinstance(source, Mapping):
        return _read_body(source, kind, known)
    if not isinstance(source, str):
        raise PatternError(f"a pattern must be text or a registration JSON object, got {type(source).__name__}")
    declared = {m.group(1) or "": m.group(2) for m in _DECLARATION.finditer(source)}
    text = _DECLARATION.sub("", source)
    return ForeignInteraction(_kind(kind, "kind"), _parse(text, {**known, **declared}, "the pattern"), None,
                              {**known, **declared})


def _read_body(body: Mapping[str, Any], kind: str | None, known: dict[str, str]) -> ForeignInteraction:
    declared = body.get("prefixes", {})
    if not isinstance(declared, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in declared.items()):
        raise PatternError("prefixes: must be an object of prefix name -> namespace IRI strings")
    prefixes = {**known, **declared}
    found = _kind(kind or _text(body, "knowledgeInteractionType"), "knowledgeInteractionType")
    name = _text(body, "knowledgeInteractionName")
    graph, argument = _text(body, "graphPattern"), _text(body, "argumentGraphPattern")
    if (graph is None) == (argument is None):
        raise PatternError("give graphPattern (ASK/ANSWER) or argumentGraphPattern (POST/REACT), not both or neither")
    if found is not None and (found in (ASK, ANSWER)) != (graph is not None):
        expected = "graphPattern" if found in (ASK, ANSWER) else "argumentGraphPattern"
        raise PatternError(f"knowledgeInteractionType: a {_SHORT[found]} has {expected}")
    if graph is not None:
        return ForeignInteraction(found, _parse(graph, prefixes, "graphPattern"), None, prefixes, name)
    result = _text(body, "resultGraphPattern")
    return ForeignInteraction(
        found, _parse(argument or "", prefixes, "argumentGraphPattern"),
        None if result is None else _parse(result, prefixes, "resultGraphPattern"), prefixes, name)


def _text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise PatternError(f"{key}: must be a string, got {type(value).__name__}")
    return value


def _parse(text: str, prefixes: Mapping[str, str], where: str) -> Pattern:
    try:
        pattern = parse(text, prefixes)
    except PatternError as exc:
        raise PatternError(f"{where}: {exc}") from None
    if len(pattern.triples) > MAX_TRIPLES:
        raise PatternError(f"{where}: {len(pattern.triples)} triples; at most {MAX_TRIPLES} are diagnosed")
    return pattern


def candidates(catalog: Catalog | None = None) -> list[Candidate]:
    """Every knowledge interaction any role of ours registers, in every profile (an interaction that
    a profile leaves as the default is listed once, under ``saref``)."""
    catalog = DEFAULT if catalog is None else catalog
    seen: set[tuple[str, str, str | None, str | None]] = set()
    out: list[Candidate] = []
    for profile in profiles_of(catalog):
        for role in ROLES:
            for spec in interactions_for(role, catalog, profiles=(profile,)):
                key = (spec.type, spec.name, spec.graph_pattern or spec.argument_pattern, spec.result_pattern)
                if key in seen:
                    continue
                seen.add(key)
                out.append(Candidate(
                    spec.name, spec.type, _owner(catalog, spec.exchange, spec.type), profile,
                    parse(spec.graph_pattern or spec.argument_pattern or "", spec.prefixes),
                    parse(spec.result_pattern, spec.prefixes) if spec.result_pattern else None, dict(spec.prefixes)))
    return out


def _owner(catalog: Catalog, exchange: str, kind: str) -> str:
    """The message whose pattern a KI carries: the starting message's for POST/REACT arguments, the
    answer's for ASK/ANSWER patterns (by message name: its profile is the candidate's)."""
    description = catalog[exchange]
    interaction = description.interaction
    if kind in (POST, REACT) or interaction is None:
        return description.message
    return catalog[interaction.counterpart].message


def match(source: str | Mapping[str, Any], *, kind: str | None = None, prefixes: Mapping[str, str] | None = None,
          catalog: Catalog | None = None, vocabulary: Vocabulary | None = None) -> MatchReport:
    """Compare a peer's knowledge interaction with every one of ours (see the module docstring).

    ``source`` is prefixed pattern text or a KE registration body (JSON text or mapping); ``kind``
    (``ask``/``answer``/``post``/``react``) overrides the body's type. Raises
    :class:`~dso_saref.errors.PatternError` when the input cannot be read."""
    theirs = read_interaction(source, kind=kind, prefixes=prefixes)
    ours = candidates(catalog)
    kinds = [theirs.kind] if theirs.kind is not None else list(_COUNTERPART)
    pairs = [(as_kind, c) for as_kind in kinds for c in ours if c.kind == _COUNTERPART[as_kind]]
    exact = tuple(found for as_kind, c in pairs if (found := _exact(theirs, as_kind, c)) is not None)
    nearest: tuple[Near, ...] = () if exact else _nearest(theirs, pairs)
    vocabulary = Vocabulary.load() if vocabulary is None else vocabulary
    iris = sorted({str(t) for p in (theirs.pattern, theirs.result) if p for triple in p.triples for t in triple
                   if isinstance(t, URIRef)})
    unknown = tuple(UnknownTerm(iri, vocabulary.suggest(iri)) for iri in iris if iri not in vocabulary)
    shown = {**WELL_KNOWN, **theirs.prefixes, **{k: v for c in ours for k, v in c.prefixes.items()}}
    suggestion = _suggest_profile(theirs, nearest[0], shown) if nearest else None
    return MatchReport(theirs, exact, nearest, unknown, suggestion, shown)


def _exact(theirs: ForeignInteraction, as_kind: str, ours: Candidate) -> Exact | None:
    mine = _interaction(f"theirs:{as_kind}", as_kind, theirs.pattern, theirs.result)
    initiator, target = (mine, ours.interaction()) if as_kind in (ASK, POST) else (ours.interaction(), mine)
    if level_1_match(initiator, target) is None:
        return None
    if as_kind in (ASK, ANSWER):
        return Exact(ours, as_kind)
    return Exact(ours, as_kind, result_match(initiator, target) is not None)


def _overlap(theirs: Pattern, ours: Pattern) -> float:
    """A quick likeness: shared (predicate, constant object) pairs over all of them."""
    def marks(p: Pattern) -> set[tuple[str, str]]:
        return {(str(t[1]), "?" if isinstance(t[2], Var) else str(t[2])) for t in p.triples}
    a, b = marks(theirs), marks(ours)
    return len(a & b) / len(a | b) if a | b else 0.0


def _nearest(theirs: ForeignInteraction, pairs: list[tuple[str, Candidate]], count: int = 3,
             shortlist: int = 12) -> tuple[Near, ...]:
    ranked = sorted(pairs, key=lambda pair: -_overlap(theirs.pattern, pair[1].pattern))
    seen: set[tuple[str, str, str]] = set()
    aligned: list[Near] = []
    for as_kind, c in ranked:
        key = (c.ki, c.message, c.profile)
        if key in seen:
            continue  # the same pattern on the other side of the exchange
        seen.add(key)
        aligned.append(Near(c, as_kind, align(theirs.pattern, c.pattern)))
        if len(aligned) == shortlist:
            break
    aligned.sort(key=lambda n: (-n.alignment.score, n.candidate.label))
    return tuple(aligned[:count])


def _suggest_profile(theirs: ForeignInteraction, near: Near, prefixes: Mapping[str, str]) -> str:
    """A profile TOML for ``near``'s message whose pattern is theirs in our variable names."""
    ours = near.candidate
    renaming = dict(near.alignment.renaming)
    taken = set(ours.pattern.variables) | {v for p in (ours.result,) if p for v in p.variables}
    for name in sorted(theirs.pattern.variables - set(renaming)):
        renaming[name] = name if name not in taken else f"{name}_peer"
    pattern = Pattern(tuple(tuple(Var(renaming[t.name]) if isinstance(t, Var) else t for t in triple)
                            for triple in theirs.pattern.triples))  # type: ignore[misc]
    used = {t for triple in pattern.triples for t in triple if isinstance(t, URIRef)}
    needed = {k: v for k, v in sorted(prefixes.items()) if k and any(str(t).startswith(v) for t in used)}
    profile = re.sub(r"[^a-z0-9-]+", "-", (theirs.name or "peer").lower()).strip("-") or "peer"
    new = sorted(set(renaming.values()) - taken)
    dropped = sorted(taken - set(renaming.values()) - (ours.result.variables if ours.result else set()))
    lines = [
        f"# Suggested by `dso-saref ke match`: {ours.message} as the peer writes it ({ours.ki}, {_SHORT[ours.kind]}).",
        f"# Save as {ours.message}@{profile}.toml in a --patterns directory; the default profile's [variables]",
        "# still apply to the variables kept; give each TODO variable an iri template or a JSON path.",
        f'name = "{ours.message}"',
        f'profile = "{profile}"',
        f'description = "{ours.message} in the pattern of the peer\'s {_SHORT[near.kind]} interaction."',
        "",
        'pattern = """',
        pattern.to_text(needed),
        '"""',
        "",
        "[prefixes]",
        *(f'{k} = "{v}"' for k, v in needed.items()),
    ]
    for name in new:
        lines += ["", f"[variables.{name}]  # TODO: new in this profile", 'iri = "TODO/{...}"']
    if dropped:
        lines += ["", f"# Not in this pattern (their values cannot travel in this profile): "
                      f"{', '.join('?' + v for v in dropped)}"]
    return "\n".join(lines)
