"""What the developer portal says about each message, read from the catalog and the code that uses it.

:func:`message_page` gathers, for one catalog message: its purpose and spec section, its JSON example and
JSON Schema, the SAREF Turtle of the example, its graph patterns (every pattern the catalog offers for
it: today the core and one per group of optional values), what its SHACL shape checks (the
``sh:message`` of each constraint of ``shapes/NAME.ttl``), the Knowledge Engine registration bodies of
each role (:func:`~dso_saref.ke.roles.interactions_for`), and the REST operations it is the request or
the answer of, with their client snippets (:mod:`dso_saref.portal.snippets`)::

    page = message_page(DEFAULT["hems-voltage"], Registrations.of(DEFAULT))
    page.patterns[0].text          # '?hems a dso:HomeEnergyManagementSystem .\\n...'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rdflib import Literal, URIRef
from rdflib.namespace import RDF, RDFS, SH

from dso_saref.catalog import ROLES, Catalog, Description
from dso_saref.ke.roles import KnowledgeInteractionSpec, interactions_for
from dso_saref.portal.snippets import Snippets, snippets
from dso_saref.rest.operations import DSO_OPERATIONS, PARTNER_OPERATIONS, Operation
from dso_saref.terms import Settings

__all__ = ["USE_CASES", "Download", "MessagePage", "PatternView", "Registrations", "RestView", "ShapeView",
           "json_schema", "message_page", "use_case"]

#: The use case of each module of ``dso_saref.messages``, as the portal titles it.
USE_CASES: Mapping[str, str] = {
    "data_sharing": "Data sharing with consent (HLUC 5, D4.2 3.2.1)",
    "flexibility": "Flexibility: needs, offers, activation (HLUC 10, D4.2 3.2.2)",
    "observability": "Grid observability with HEMS data (HLUC 11, D4.2 3.2.3)",
    "elasticity": "Elasticity service (D4.2 3.2.3.3)",
    "grid_data": "The DSO data layer (D4.2 4.2)",
}


def use_case(description: Description) -> str:
    """The use case a message belongs to (by the module of its model)."""
    module = description.model.__module__.rpartition(".")[2]
    return USE_CASES.get(module, module.replace("_", " ").capitalize())


def json_schema(description: Description) -> dict[str, Any]:
    """The JSON Schema (2020-12) of the message's payload: its model's schema as read (keys as on the
    wire), titled with the message's name (``dso-saref schema NAME`` prints the same)."""
    schema = description.model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": description.name,
            "description": description.description}


@dataclass(frozen=True)
class PatternView:
    """One graph pattern of a message: its key in binding sets, what it is, and its text (KE syntax)."""

    key: str
    title: str
    text: str


@dataclass(frozen=True)
class ShapeView:
    """One node shape of the message's SHACL shapes: its label, target class and the messages of its
    constraints (what a violation says)."""

    label: str
    target: str
    checks: tuple[str, ...]


@dataclass(frozen=True)
class RestView:
    """A REST operation a message takes part in: who hosts it (``dso`` or ``partner``), the operation,
    whether the message is its ``request`` or its ``answer``, who may call it, and its snippets."""

    host: str
    operation: Operation
    relation: str
    callers: tuple[str, ...]
    answer: str
    snippets: Snippets | None


@dataclass(frozen=True)
class Download:
    """A file to download: its name under ``downloads/``, its label and its text."""

    name: str
    label: str
    text: str


@dataclass(frozen=True)
class MessagePage:
    """Everything the portal's page of one message shows."""

    name: str
    description: str
    spec: str
    direction: str
    use_case: str
    model: str
    interaction: str
    counterpart: str | None
    answers: tuple[str, ...]
    example: str
    schema: str
    turtle: str
    patterns: tuple[PatternView, ...]
    shapes: tuple[ShapeView, ...]
    registrations: Mapping[str, tuple[str, ...]]
    rest: tuple[RestView, ...]
    downloads: tuple[Download, ...]


class Registrations:
    """The KI registrations of every role, by exchange: ``of(catalog)`` computes each role's once."""

    def __init__(self, by_role: Mapping[str, Sequence[KnowledgeInteractionSpec]]) -> None:
        self.by_role = by_role

    @classmethod
    def of(cls, catalog: Catalog) -> Registrations:
        """Every role's KIs over ``catalog``."""
        return cls({role: interactions_for(role, catalog) for role in ROLES})

    def bodies(self, exchanges: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The ``POST /sc/ki`` bodies (JSON text) each role registers for ``exchanges``, roles with none left out."""
        out = {}
        for role, specs in self.by_role.items():
            bodies = tuple(json.dumps(s.body(), indent=2, ensure_ascii=False) for s in specs if s.exchange in exchanges)
            if bodies:
                out[role] = bodies
        return out


def _patterns(description: Description) -> tuple[PatternView, ...]:
    views = []
    for part in description.parts:
        if part.parent is None:
            title = "The core: bound whenever the message is sent"
        else:
            title = f"Optional values ({part.key.partition('.')[2]}): sent only when the payload has them"
        views.append(PatternView(part.key, title, part.pattern.to_text(description.prefixes)))
    return tuple(views)


def _short(term: object, prefixes: Mapping[str, str]) -> str:
    text = str(term)
    for prefix, namespace in sorted(prefixes.items(), key=lambda p: -len(p[1])):
        if text.startswith(namespace):
            return f"{prefix}:{text[len(namespace):]}"
    return text


def _shapes(description: Description) -> tuple[ShapeView, ...]:
    graph = description.shapes_graph
    prefixes = {p: str(ns) for p, ns in graph.namespaces()}
    views = []
    for node in set(graph.subjects(RDF.type, SH.NodeShape)):
        label = graph.value(node, RDFS.label)
        target = graph.value(node, SH.targetClass)
        checks: set[str] = set()
        for constraint in [*graph.objects(node, SH.property), *graph.objects(node, SH.sparql)]:
            checks.update(str(m) for m in graph.objects(constraint, SH.message) if isinstance(m, Literal))
        if isinstance(target, URIRef):
            views.append(ShapeView(str(label or _short(target, prefixes)), _short(target, prefixes),
                                   tuple(sorted(checks))))
    return tuple(sorted(views, key=lambda v: v.label))


def _rest(description: Description, catalog: Catalog) -> tuple[RestView, ...]:
    views = []
    for host, operations in (("dso", DSO_OPERATIONS), ("partner", PARTNER_OPERATIONS)):
        for op in operations:
            answer = op.answer(catalog)
            if description.name == op.exchange:
                views.append(RestView(host, op, "request", op.roles(catalog), answer,
                                      snippets(op, catalog[op.exchange], host)))
            elif description.name == answer:
                views.append(RestView(host, op, "answer", op.roles(catalog), answer, None))
    return tuple(views)


def _interaction(description: Description) -> str:
    interaction = description.interaction
    if interaction is None:
        return ""
    kind = "POST/REACT" if interaction.type == "post-react" else "ASK/ANSWER"
    return (f"{kind}: started by {', '.join(interaction.initiators) or 'nobody'}, served by "
            f"{', '.join(interaction.responders) or 'nobody'}; answered with {interaction.counterpart}")


def message_page(description: Description, registrations: Registrations, catalog: Catalog) -> MessagePage:
    """The portal page of ``description`` (see the module doc)."""
    name = description.name
    example = description.example()
    table = description.table(example, Settings())
    schema = json.dumps(json_schema(description), indent=2, ensure_ascii=False)
    example_text = json.dumps(example, indent=2, ensure_ascii=False)
    turtle = table.serialize("turtle")
    exchanges = ([name] if description.interaction is not None else []) + list(description.answers)
    rest = _rest(description, catalog)
    downloads = [Download(f"{name}.json", "JSON example", example_text + "\n"),
                 Download(f"{name}.ttl", "SAREF Turtle of the example", turtle),
                 Download(f"{name}.nt", "N-Triples of the example", table.serialize("nt")),
                 Download(f"{name}.schema.json", "JSON Schema", schema + "\n")]
    for view in rest:
        if view.snippets is not None:
            downloads += [Download(f"{name}.{view.host}.sh", f"curl ({view.host} API)", view.snippets.curl + "\n"),
                          Download(f"{name}.{view.host}.py", f"Python ({view.host} API)",
                                   view.snippets.python + "\n")]
    interaction = description.interaction
    return MessagePage(
        name=name, description=description.description, spec=description.spec, direction=description.direction,
        use_case=use_case(description), model=f"{description.model.__module__}.{description.model.__name__}",
        interaction=_interaction(description), counterpart=interaction.counterpart if interaction else None,
        answers=tuple(description.answers), example=example_text, schema=schema, turtle=turtle,
        patterns=_patterns(description), shapes=_shapes(description),
        registrations=registrations.bodies(exchanges), rest=rest, downloads=tuple(downloads))
