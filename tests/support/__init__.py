"""Test-only helpers: the shape layer without the model (shape_layer), binding rows of synthetic
variable declarations (rows_of)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from dso_saref.catalog import Description
from dso_saref.patterns import parse
from dso_saref.terms import DEFAULT_BASE, parse_term
from dso_saref.variables import Variable


def rows_of(variables: dict[str, Variable], data: Any, base: str = DEFAULT_BASE) -> list[dict[str, Any]]:
    """The binding rows (rdflib terms, ``rdf:nil`` where unbound) that the binding table gives for
    canonical JSON ``data`` under synthetic variable declarations."""
    text = " ".join(f"<urn:test:s> <urn:test:{name}> ?{name} ." for name in variables)
    description = Description(name="test", description="", spec="", direction="", model=BaseModel, prefixes={},
                              pattern=parse(text, {}), pattern_text=text, variables=variables, interaction=None,
                              source=Path("test.toml"))
    return [{k: parse_term(v) for k, v in row.items()} for row in description.builder.build(data, base).bindings()]
