"""What a validation engine finds, and the one mapping from a finding to a located :class:`Violation`.

Every engine (pySHACL, the compiled engine, the Rust ``shacl`` engine) reports :class:`Result` s:
the SHACL validation result's source shape, constraint component, focus node, path, value, messages
and severity, with rdflib terms. :func:`violation` turns each into the :class:`Violation` a user
reads, located in the JSON payload by a locator (for JSON input) or at ``<focus> path`` (RDF input).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rdflib import BNode, Literal, URIRef

from dso_saref.validation.report import Violation, curie, render_path

__all__ = ["SHAPES", "VARIABLE", "Locate", "Result", "rule_of", "shape_label", "violation"]

#: Namespace of the shapes: ``shapes/NAME.ttl`` names its shapes ``<SHAPES + NAME + "#" + local>``.
SHAPES = "https://w3id.org/dso-saref/shapes/"

#: Annotation of node and property shapes: the graph pattern variable they check.
VARIABLE = URIRef(SHAPES + "variable")

Node = URIRef | BNode | Literal

Locate = Callable[[Any, Any, Any], str]
"""``(focus, path, value) -> location``: where in the input a result must be fixed."""


@dataclass(frozen=True)
class Result:
    """One SHACL validation result, whichever engine found it.

    ``shape`` is the source shape's label (its local name under :data:`SHAPES`, else a CURIE),
    ``component`` the constraint component's local name without ``ConstraintComponent`` (``MinCount``,
    ``SPARQL``), ``path`` an IRI or a ``(kind, parts)`` structure (see :func:`~.report.render_path`),
    ``messages`` the result messages (the shape's ``sh:message`` s).
    """

    shape: str | None
    component: str
    focus: Node | None
    path: Any
    value: Node | None
    messages: tuple[str, ...]
    severity: str = "violation"


def rule_of(component: str) -> str:
    """The rule name of a constraint component's local name: ``sh:minCount``, ``sh:sparql``."""
    if component == "SPARQL":
        return "sh:sparql"
    if component[:1].isupper():
        return f"sh:{component[:1].lower()}{component[1:]}"
    return component


def shape_label(shape: Any) -> str | None:
    """The label of a shape IRI (its local part under :data:`SHAPES`); ``None`` for a blank node."""
    if shape is None or isinstance(shape, BNode):
        return None
    text = str(shape)
    return text[len(SHAPES):] if text.startswith(SHAPES) else curie(shape)


def violation(result: Result, locate: Locate | None = None) -> Violation:
    """The violation a user reads of one result: its first message (with the offending value unless
    the message shows it), located by ``locate`` (else ``<focus> path``)."""
    rule = rule_of(result.component)
    message = result.messages[0] if result.messages else f"breaks {rule}"
    value = result.value
    if value is not None and rule not in ("sh:minCount", "sh:qualifiedMinCount"):
        shown = curie(value)
        if str(value) not in message and shown not in message:
            message += f" (got {shown[:80]})"
    focus = result.focus
    if locate is not None:
        location = locate(focus, result.path, value)
    else:
        location = curie(focus) if focus is not None else "<graph>"
        if result.path is not None:
            location += f" {render_path(result.path)}"
    return Violation(location, message, rule, "shape", result.severity, result.shape,
                     curie(focus) if focus is not None else None,
                     render_path(result.path) if result.path is not None else None,
                     curie(value) if value is not None else None)
