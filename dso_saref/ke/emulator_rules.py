"""The stateless rules of the Knowledge Engine emulator: what a request body must look like, when two
knowledge interactions match, and how binding sets are checked, renamed and combined.

Every check raises :class:`Refusal` (an HTTP status and a message naming the field) before anything
is stored, so a refused request changes nothing::

    >>> ki = parse_interaction({"knowledgeInteractionType": "AskKnowledgeInteraction",
    ...                         "graphPattern": "?s <urn:p> ?o ."}, "http://kb.example/a")
    >>> ki.kind
    'AskKnowledgeInteraction'
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from rdflib import Literal, URIRef

from dso_saref.errors import PatternError
from dso_saref.ke.covering import Correspondence, cover
from dso_saref.ke.emulator_match import DEFAULT_MATCH_BUDGET, MatchBudgetExceeded, PatternShape, find_renaming
from dso_saref.patterns import Pattern, Var, parse
from dso_saref.terms import TermError, check_iri, format_term, parse_term

__all__ = [
    "ANSWER",
    "ASK",
    "INFORM_PURPOSE",
    "KI_TYPES",
    "POST",
    "REACT",
    "Bindings",
    "Interaction",
    "Refusal",
    "acts_match",
    "canonical_text",
    "check_bindings",
    "check_document",
    "check_kb_id",
    "compatible",
    "joint_isomorphism",
    "match",
    "parse_exchange_body",
    "parse_handle_response",
    "parse_interaction",
    "parse_knowledge_base",
    "rename",
    "result_match",
    "to_initiator",
    "to_target",
    "union",
]

ASK = "AskKnowledgeInteraction"
ANSWER = "AnswerKnowledgeInteraction"
POST = "PostKnowledgeInteraction"
REACT = "ReactKnowledgeInteraction"
KI_TYPES = (ASK, ANSWER, POST, REACT)
#: The purpose the KE gives a knowledge interaction registered without a communicative act.
INFORM_PURPOSE = "https://w3id.org/knowledge-engine/InformPurpose"

Bindings = list[dict[str, str]]

_log = logging.getLogger("dso_saref.ke.emulator")

_NAME = re.compile(r"[a-zA-Z0-9-]*\Z")
# Java's java.net.URL (used by the KE to check knowledge base ids) knows only these schemes.
_URL_SCHEMES = ("http", "https", "ftp", "file", "jar", "mailto")


class Refusal(Exception):
    """A request the emulator refuses: the HTTP ``status`` and a ``message`` naming the field."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Interaction:
    """A registered knowledge interaction (patterns parsed, prefixes already applied)."""

    id: str
    kb_id: str
    kind: str
    name: str | None
    pattern: Pattern | None = None
    argument: Pattern | None = None
    result: Pattern | None = None
    required: frozenset[str] = frozenset({INFORM_PURPOSE})
    satisfied: frozenset[str] = frozenset({INFORM_PURPOSE})

    def to_json(self) -> dict[str, object]:
        """The ``KnowledgeInteractionWithId`` JSON, patterns in canonical full-IRI form."""
        out: dict[str, object] = {"knowledgeInteractionId": self.id, "knowledgeInteractionType": self.kind}
        if self.name is not None:
            out["knowledgeInteractionName"] = self.name
        out["knowledgeGapsEnabled"] = False
        out["communicativeAct"] = {
            "requiredPurposes": sorted(self.required),
            "satisfiedPurposes": sorted(self.satisfied),
        }
        for key, pattern in (("graphPattern", self.pattern), ("argumentGraphPattern", self.argument),
                             ("resultGraphPattern", self.result)):
            if pattern is not None:
                out[key] = canonical_text(pattern)
        return out

    @cached_property
    def signature(self) -> tuple[object, ...]:
        """What matching reads of this interaction (type, communicative act, patterns with their
        variable names): two with the same signature match everything alike, whoever registered them."""
        texts = tuple(None if p is None else canonical_text(p) for p in (self.pattern, self.argument, self.result))
        return (self.kind, self.required, self.satisfied, *texts)

    @property
    def reply_pattern(self) -> Pattern | None:
        """The pattern a reply to this (ANSWER or REACT) interaction must bind completely."""
        return self.pattern if self.kind == ANSWER else self.result

    @cached_property
    def shape(self) -> PatternShape | None:
        """What matching needs of the pattern that decides a match (ASK/ANSWER: the graph pattern;
        POST/REACT: the argument pattern), computed once; ``None`` without a pattern."""
        pattern = self.pattern if self.kind in (ASK, ANSWER) else self.argument
        return PatternShape.of([pattern]) if pattern is not None else None

    @cached_property
    def result_shape(self) -> PatternShape | None:
        """The shape of a POST/REACT's result pattern (``None`` without one)."""
        return PatternShape.of([self.result]) if self.result is not None else None

    @cached_property
    def joint_shape(self) -> PatternShape | None:
        """The shape of a POST/REACT's argument and result patterns told apart (``None`` without a result)."""
        if self.argument is None or self.result is None:
            return None
        return PatternShape.of([self.argument, self.result])


def canonical_text(pattern: Pattern) -> str:
    """``pattern`` written with full IRIs only (no prefixes, no ``a``), one triple per line."""
    return "\n".join(
        " ".join(str(t) if isinstance(t, Var) else format_term(t) for t in triple) + " ." for triple in pattern.triples
    )


def _fields(body: object, allowed: Iterable[str], what: str) -> dict[str, object]:
    if not isinstance(body, Mapping):
        raise Refusal(400, f"the {what} must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise Refusal(400, f"unknown field(s) in the {what}: {', '.join(unknown)}")
    return {key: value for key, value in body.items() if value is not None}


def _string(fields: Mapping[str, object], key: str, *, required: bool) -> str | None:
    value = fields.get(key)
    if value is None:
        if required:
            raise Refusal(400, f"{key} is required")
        return None
    if not isinstance(value, str):
        raise Refusal(400, f"{key} must be a string, got {type(value).__name__}")
    return value


def _integer(fields: Mapping[str, object], key: str, low: int, high: int) -> int | None:
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Refusal(400, f"{key} must be an integer from {low} to {high}, got {value!r}")
    return value


def check_document(value: object, max_depth: int, where: str = "the body") -> None:
    """Refuse (400) a decoded JSON document nested deeper than ``max_depth`` arrays and objects, or
    holding a key or string that cannot be written back as UTF-8 (a lone surrogate such as
    ``"\\ud800"``): what is stored must always be sendable. The message names where it was found."""
    stack: list[tuple[object, str, int]] = [(value, "$", 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, f"{where} at {path}")
            continue
        if isinstance(item, Mapping):
            children: Iterable[tuple[str, object]] = (
                (f"{path}.{_path_key(key, where, path)}", child) for key, child in item.items()
            )
        elif isinstance(item, list):
            children = ((f"{path}[{i}]", child) for i, child in enumerate(item))
        else:
            continue
        if depth > max_depth:
            raise Refusal(400, f"{where} is nested deeper than {max_depth} arrays and objects (at {path})")
        for child_path, child in children:
            if isinstance(child, str):
                _check_text(child, f"{where} at {child_path}")
            elif isinstance(child, Mapping | list):
                stack.append((child, child_path, depth + 1))


def _path_key(key: object, where: str, path: str) -> str:
    text = str(key)
    _check_text(text, f"a key of {where} at {path}")
    return text if _NAME.match(text) and text else json.dumps(text)


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = ascii(text[exc.start : exc.end])
        raise Refusal(400, f"{where}: {bad} cannot be encoded as UTF-8 (a lone surrogate?); "
                           "send valid Unicode text") from None


def check_kb_id(kb_id: str, field: str = "knowledgeBaseId") -> str:
    """``kb_id`` if it is an absolute IRI of a scheme the KE accepts; else a 400 :class:`Refusal`."""
    if not kb_id:
        raise Refusal(400, f"{field} must be a non-empty URI")
    try:
        check_iri(kb_id)
    except TermError as exc:
        raise Refusal(400, f"{field} must be a valid IRI: {exc}") from exc
    if kb_id.split(":", 1)[0].lower() not in _URL_SCHEMES:
        raise Refusal(400, f"{field} must be a URL the KE accepts ({', '.join(_URL_SCHEMES)}), got {kb_id!r}")
    return kb_id


def parse_knowledge_base(body: object) -> dict[str, object]:
    """The fields of a ``POST /sc`` body, checked: id, name, description, lease time, reasoner level."""
    fields = _fields(
        body,
        ("knowledgeBaseId", "knowledgeBaseName", "knowledgeBaseDescription", "leaseRenewalTime",
         "reasonerLevel", "reasonerEnabled"),
        "smart connector",
    )
    kb_id = _string(fields, "knowledgeBaseId", required=True) or ""
    name = _string(fields, "knowledgeBaseName", required=True)
    description = _string(fields, "knowledgeBaseDescription", required=True)
    if "reasonerEnabled" in fields and not isinstance(fields["reasonerEnabled"], bool):
        raise Refusal(400, "reasonerEnabled must be a boolean")
    return {
        "id": check_kb_id(kb_id),
        "name": name,
        "description": description,
        "lease": _integer(fields, "leaseRenewalTime", 30, 3600),
        "level": _integer(fields, "reasonerLevel", 1, 5),
    }


def _pattern(fields: Mapping[str, object], key: str, prefixes: Mapping[str, str], *, required: bool) -> Pattern | None:
    text = _string(fields, key, required=required)
    if text is None:
        return None
    try:
        return parse(text, prefixes)
    except (PatternError, TermError) as exc:
        raise Refusal(400, f"invalid {key}: {exc}") from exc


def _purposes(act: Mapping[str, object], key: str) -> frozenset[str]:
    value = act.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise Refusal(400, f"communicativeAct.{key} must be a non-empty list of IRIs")
    try:
        return frozenset(check_iri(v) for v in value)
    except TermError as exc:
        raise Refusal(400, f"communicativeAct.{key}: {exc}") from exc


def parse_interaction(body: object, kb_id: str) -> Interaction:
    """The knowledge interaction a ``POST /sc/ki`` body registers for ``kb_id`` (id not yet unique)."""
    fields = _fields(
        body,
        ("knowledgeInteractionType", "knowledgeInteractionName", "knowledgeGapsEnabled", "includeMetaKIs",
         "communicativeAct", "prefixes", "graphPattern", "argumentGraphPattern", "resultGraphPattern"),
        "knowledge interaction",
    )
    kind = _string(fields, "knowledgeInteractionType", required=True)
    if kind not in KI_TYPES:
        raise Refusal(400, f"knowledgeInteractionType must be one of {', '.join(KI_TYPES)}, got {kind!r}")
    for flag in ("knowledgeGapsEnabled", "includeMetaKIs"):
        if flag in fields and fields[flag] is not False:
            raise Refusal(400, f"{flag} is not supported by the emulator (leave it out or false)")
    name = _string(fields, "knowledgeInteractionName", required=False) or None
    if name is not None and not _NAME.match(name):
        raise Refusal(400, f"knowledgeInteractionName {name!r} must match ^[a-zA-Z0-9-]*$")
    prefixes = fields.get("prefixes", {})
    if not isinstance(prefixes, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in prefixes.items()
    ):
        raise Refusal(400, "prefixes must be an object of prefix name -> namespace IRI strings")
    act = fields.get("communicativeAct")
    required = satisfied = frozenset({INFORM_PURPOSE})
    if act is not None:
        act_fields = _fields(act, ("requiredPurposes", "satisfiedPurposes"), "communicativeAct")
        required = _purposes(act_fields, "requiredPurposes")
        satisfied = _purposes(act_fields, "satisfiedPurposes")
    other = ("argumentGraphPattern", "resultGraphPattern") if kind in (ASK, ANSWER) else ("graphPattern",)
    misplaced = [key for key in other if key in fields]
    if misplaced:
        raise Refusal(400, f"{', '.join(misplaced)} does not belong to a {kind}")
    ki_id = f"{kb_id}/interaction/{name or uuid.uuid4()}"
    common = {"id": ki_id, "kb_id": kb_id, "kind": kind, "name": name, "required": required, "satisfied": satisfied}
    if kind in (ASK, ANSWER):
        return Interaction(**common, pattern=_pattern(fields, "graphPattern", prefixes, required=True))
    return Interaction(
        **common,
        argument=_pattern(fields, "argumentGraphPattern", prefixes, required=True),
        result=_pattern(fields, "resultGraphPattern", prefixes, required=False),
    )


def acts_match(left: Interaction, right: Interaction) -> bool:
    """Whether two communicative acts fit: each side's required purposes are satisfied by the other."""
    return left.required <= right.satisfied and right.required <= left.satisfied


def match(
    initiator: Interaction, target: Interaction, *, budget: int = DEFAULT_MATCH_BUDGET
) -> Correspondence | None:
    """How ``target`` meets ``initiator`` if the two match at reasoner level 1 as the real KE 1.5.0
    decides it, else ``None``: ASK/ANSWER when the ANSWER's pattern covers the ASK's (it may have more
    triples; a variable may meet a constant); POST/REACT when their argument patterns cover each other
    (result patterns are not compared: see :func:`result_match`). A comparison that takes more than
    ``budget`` steps counts as no match and is logged."""
    if not acts_match(initiator, target) or (initiator.kind, target.kind) not in ((ASK, ANSWER), (POST, REACT)):
        return None
    if initiator.shape is None or target.shape is None:
        return None
    try:
        return cover(initiator.shape, target.shape, both_ways=initiator.kind == POST, budget=budget)
    except MatchBudgetExceeded:
        _log.warning("matching %s against %s gave up after %d steps: treated as no match",
                     initiator.id, target.id, budget)
        return None


def result_match(post: Interaction, react: Interaction, *, budget: int = DEFAULT_MATCH_BUDGET) -> Correspondence | None:
    """How a REACT's result pattern meets a POST's (both ways; under the argument's correspondence
    where one fits both), or ``None``: the KE calls a matching REACT whatever its result pattern, but
    merges only rows of a result pattern that matches."""
    if post.result_shape is None or react.result_shape is None or post.joint_shape is None or react.joint_shape is None:
        return None
    try:
        joint = cover(post.joint_shape, react.joint_shape, both_ways=True, budget=budget)
        return joint or cover(post.result_shape, react.result_shape, both_ways=True, budget=budget)
    except MatchBudgetExceeded:
        _log.warning("matching the results of %s and %s gave up after %d steps", post.id, react.id, budget)
        return None


def to_target(rows: Iterable[Mapping[str, str]], correspondence: Correspondence) -> Bindings:
    """An initiator's binding set in the target's variables: renamed, values for initiator variables
    that meet a target constant left out, the initiator's constants bound to the target variables
    they meet (an ASK without bindings is sent as ``[{}]``, as the KE does, so that they are bound)."""
    fixed = {name: format_term(term) for name, term in correspondence.fixed.items()}
    renaming = correspondence.renaming
    out = [{**{renaming[k]: v for k, v in row.items() if k in renaming}, **fixed} for row in rows]
    return out


def to_initiator(rows: Iterable[Mapping[str, str]], correspondence: Correspondence) -> Bindings:
    """A target's binding set in the initiator's variables: renamed, the target's variables the
    initiator does not have left out, the target's constants filled in for initiator variables."""
    back = {v: k for k, v in correspondence.renaming.items()}
    filled = {name: format_term(term) for name, term in correspondence.filled.items()}
    return [{**{back[k]: v for k, v in row.items() if k in back}, **filled} for row in rows]


def joint_isomorphism(
    pairs: Sequence[tuple[Pattern, Pattern]], *, budget: int = DEFAULT_MATCH_BUDGET
) -> dict[str, str] | None:
    """One renaming of the left patterns' variables onto the right ones' that makes every left
    pattern the same as its right partner, or ``None``."""
    left = PatternShape.of([a for a, _ in pairs])
    right = PatternShape.of([b for _, b in pairs])
    return _renaming(left, right, budget, "joint patterns")


def _renaming(left: PatternShape, right: PatternShape, budget: int, what: str) -> dict[str, str] | None:
    try:
        return find_renaming(left, right, budget=budget)
    except MatchBudgetExceeded:
        _log.warning("matching %s gave up after %d steps: treated as no match", what, budget)
        return None


def _subject_variables(pattern: Pattern) -> frozenset[str]:
    return frozenset(t.name for s, p, _ in pattern.triples for t in (s, p) if isinstance(t, Var))


def check_bindings(value: object, field: str, pattern: Pattern | None, *, complete: bool) -> Bindings:
    """A binding set read from JSON and written canonically (``"x"^^xsd:string`` becomes ``"x"``).

    Every key must be a variable of ``pattern`` (with no pattern, no keys at all), every value a KE
    term (an IRI for subject and predicate variables); ``complete`` requires every variable bound.
    """
    if not isinstance(value, list):
        raise Refusal(400, f"{field} must be a JSON array of bindings")
    variables = pattern.variables if pattern is not None else frozenset()
    iri_only = _subject_variables(pattern) if pattern is not None else frozenset()
    out: Bindings = []
    for i, row in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(row, Mapping):
            raise Refusal(400, f"{where} must be a JSON object (bindings must be non-null)")
        binding: dict[str, str] = {}
        for key, text in row.items():
            if key not in variables:
                raise Refusal(400, f"{where}: ?{key} is not a variable of the graph pattern")
            if not isinstance(text, str):
                raise Refusal(400, f"{where}.{key} must be a string in KE term syntax")
            try:
                term = parse_term(text)
            except TermError as exc:
                raise Refusal(400, f"{where}.{key}: {exc}") from exc
            if key in iri_only and not isinstance(term, URIRef):
                raise Refusal(400, f"{where}.{key}: a subject or predicate variable must be bound to an IRI")
            binding[key] = format_term(term)
        missing = sorted(variables - set(binding)) if complete else []
        if missing:
            raise Refusal(400, f"{where}: every variable must be bound; missing ?{', ?'.join(missing)}")
        out.append(binding)
    return out


def parse_exchange_body(body: object) -> tuple[frozenset[str] | None, object]:
    """The recipients (``None``: everyone) and the raw binding set of an ASK or POST body."""
    if isinstance(body, list):
        return None, body
    if not isinstance(body, Mapping):
        raise Refusal(400, "the body must be a binding set (JSON array) or an object with "
                           "recipientSelector and bindingSet")
    fields = _fields(body, ("recipientSelector", "bindingSet"), "request body")
    if "recipientSelector" not in fields or "bindingSet" not in fields:
        raise Refusal(400, "the JSON object must contain both recipientSelector and bindingSet")
    selector = _fields(fields["recipientSelector"], ("knowledgeBases", "singleKnowledgeBase"), "recipientSelector")
    many, single = selector.get("knowledgeBases"), selector.get("singleKnowledgeBase")
    if many is not None:
        if not isinstance(many, list) or not many or not all(isinstance(k, str) for k in many):
            raise Refusal(400, "recipientSelector.knowledgeBases must be a non-empty list of knowledge base ids")
        return frozenset(many), fields["bindingSet"]
    if isinstance(single, str):
        return frozenset({single}), fields["bindingSet"]
    raise Refusal(400, "recipientSelector needs knowledgeBases (a list) or singleKnowledgeBase (a string)")


def parse_handle_response(body: object) -> tuple[int, object, str | None]:
    """The handle request id, raw binding set and error message of a ``POST /sc/handle`` body
    (exactly one of the last two is given)."""
    fields = _fields(body, ("handleRequestId", "bindingSet", "errorMessage"), "handle response")
    handle_id = fields.get("handleRequestId")
    if isinstance(handle_id, bool) or not isinstance(handle_id, int):
        raise Refusal(400, "handleRequestId must be an integer")
    if ("bindingSet" in fields) == ("errorMessage" in fields):
        raise Refusal(400, "give exactly one of bindingSet and errorMessage")
    error = _string(fields, "errorMessage", required=False)
    return handle_id, fields.get("bindingSet"), error


def rename(bindings: Iterable[Mapping[str, str]], mapping: Mapping[str, str]) -> Bindings:
    """``bindings`` with every variable renamed through ``mapping``."""
    return [{mapping[key]: value for key, value in row.items()} for row in bindings]


def _key(row: Mapping[str, str], terms: dict[str, URIRef | Literal]) -> tuple[tuple[str, URIRef | Literal], ...]:
    """``row`` as its variables and terms, sorted; ``terms`` remembers each binding string's term."""
    pairs = []
    for k, v in row.items():
        term = terms.get(v)
        if term is None:
            term = terms[v] = parse_term(v)
        pairs.append((k, term))
    return tuple(sorted(pairs))


def compatible(row: Mapping[str, str], filters: Sequence[Mapping[str, str]]) -> bool:
    """Whether ``row`` agrees with at least one of ``filters`` on the variables that one binds
    (an empty filter set lets everything through)."""
    if not filters:
        return True
    return any(all(k in row and parse_term(row[k]) == parse_term(v) for k, v in f.items()) for f in filters)


def union(sets: Iterable[Iterable[Mapping[str, str]]]) -> Bindings:
    """The union of binding sets, each distinct binding once, in arrival order."""
    seen: set[tuple[tuple[str, URIRef | Literal], ...]] = set()
    terms: dict[str, URIRef | Literal] = {}
    out: Bindings = []
    for rows in sets:
        for row in rows:
            key = _key(row, terms)
            if key not in seen:
                seen.add(key)
                out.append(dict(row))
    return out
