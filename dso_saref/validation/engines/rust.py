"""The Rust engine of the PyPI package ``shacl`` (optional: ``pip install 'dso-saref[rust]'``).

Young and single-maintainer, so never the reference: the engine suite (tests/test_engines.py) runs it
against pySHACL whenever it is installed. It reads the triples as N-Triples text and the message's
shape file as Turtle (compiled once per message and kept on its description)::

    RustEngine().results(catalog["metering-data"], Triples.of_document(text, "nt"))
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rdflib import BNode, URIRef

from dso_saref.errors import DsoSarefError
from dso_saref.terms import TermError, parse_term
from dso_saref.validation.results import Result, shape_label

if TYPE_CHECKING:
    from dso_saref.catalog import Description
    from dso_saref.validation.triples import Triples

__all__ = ["RustEngine"]

_SUFFIX = "ConstraintComponent"
_IRI = re.compile(r"<([^<>]*)>")
_STEP = re.compile(r"\^?<[^<>]*>")


class RustEngine:
    """Validates with ``shacl`` (raises DsoSarefError when the package is not installed)."""

    name = "shacl"

    def __init__(self) -> None:
        try:
            import shacl
        except ImportError as exc:
            raise DsoSarefError("the 'shacl' engine needs the optional package: pip install 'dso-saref[rust]'") \
                from exc
        self._shacl = shacl

    def results(self, description: Description, triples: Triples) -> list[Result]:
        """Every result of the message's shape on the triples."""
        shapes = description.compiled("rust-shapes", lambda d: self._shacl.Shapes.from_text(
            d.shape_path.read_text(encoding="utf-8")))
        report = shapes.validate_text(triples.ntriples(), format="ntriples", allow_warnings=True)
        return [_result(r) for r in report.results]


def _result(found: Any) -> Result:
    component = str(found.component or "")
    severity = str(found.severity or "Violation").lower()
    return Result(shape_label(_term(found.source_shape)),
                  component[: -len(_SUFFIX)] if component.endswith(_SUFFIX) else component,
                  _term(found.focus_node), _path(found.path), _term(found.value), tuple(found.messages or ()),
                  severity if severity in ("violation", "warning", "info") else "violation")


def _term(text: str | None) -> Any:
    if text is None:
        return None
    if text.startswith("_:"):
        return BNode(text[2:])
    try:
        return parse_term(text)
    except TermError:
        return text


def _path(text: str | None) -> Any:
    """A path as the engine writes it (``<p>``, ``^<p>``, ``<p>/<q>``) in the report's path form."""
    if text is None:
        return None
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    steps = _STEP.findall(text)
    if len(steps) > 1 and "/".join(steps) == text:
        return ("sequence", tuple(_path(step) for step in steps))
    if text.startswith("^"):
        return ("inverse", _path(text[1:]))
    match = _IRI.fullmatch(text)
    return URIRef(match.group(1)) if match else text
