"""Test-only helpers: the shape layer without the model (shape_layer), binding rows of synthetic
variable declarations (rows_of)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from dso_saref.catalog import Description
from dso_saref.patterns import parse
from dso_saref.terms import DEFAULT_BASE
from dso_saref.variables import Variable


def rows_of(variables: dict[str, Variable], data: Any, base: str = DEFAULT_BASE, *,
            pattern: str | None = None) -> list[dict[str, Any]]:
    """The binding rows (rdflib terms, ``rdf:nil`` where a part is absent) that the binding table gives
    for canonical JSON ``data`` under synthetic variable declarations (the parts' binding sets joined);
    ``pattern`` (KE syntax, full IRIs) ties the variables to each other, by default each hangs from
    a constant subject."""
    text = pattern or " ".join(f"<urn:test:s> <urn:test:{name}> ?{name} ." for name in variables)
    description = Description(name="test", description="", spec="", direction="", model=BaseModel, prefixes={},
                              pattern=parse(text, {}), pattern_text=text, variables=variables, interaction=None,
                              source=Path("test.toml"))
    return description.parse_bindings(description.builder.build(data, base).bindings())
