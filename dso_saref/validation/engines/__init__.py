"""SHACL validation engines behind one small interface.

An :class:`Engine` takes a message's description and the triples to validate (:class:`~dso_saref.
validation.triples.Triples`, which gives each engine the form it reads) and returns the SHACL results,
or ``None`` when it cannot vouch for this shape or this data (the next engine then runs):

- ``pyshacl``: pySHACL, the reference engine (the only module that imports pyshacl); it also serves
  user-supplied shapes and RDFS inference.
- ``compiled``: the catalog's shapes compiled into checks over binding columns, tested to give
  pySHACL's results; declines shapes or values outside its subset.
- ``shacl``: the Rust engine of the PyPI package ``shacl`` (optional extra ``dso-saref[rust]``).

``auto`` (the default) is the compiled engine with pySHACL behind it::

    results = engines.get("auto").results(description, triples)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dso_saref.catalog import Description
    from dso_saref.validation.results import Result
    from dso_saref.validation.triples import Triples

__all__ = ["ENGINES", "Chain", "Engine", "get"]

#: The engines :func:`get` knows: ``auto`` (compiled, then pySHACL), ``compiled``, ``pyshacl``, ``shacl``.
ENGINES = ("auto", "compiled", "pyshacl", "shacl")


class Engine(Protocol):
    """Validates a message's triples against its shape."""

    name: str

    def results(self, description: Description, triples: Triples) -> list[Result] | None:
        """The SHACL results on ``triples``, or ``None`` when this engine cannot vouch for them."""
        ...


class Chain:
    """Engines tried in order: the first answer that is not ``None`` is the answer."""

    def __init__(self, name: str, engines: Sequence[Engine]) -> None:
        self.name = name
        self.engines = tuple(engines)
        #: the name of the engine that gave the last answer (for reports and benchmarks)
        self.last: str | None = None

    def results(self, description: Description, triples: Triples) -> list[Result] | None:
        """The first engine's answer that is not ``None``."""
        for engine in self.engines:
            found = engine.results(description, triples)
            if found is not None:
                self.last = engine.name
                return found
        return None


def get(name: str) -> Engine:
    """A new engine by name (see :data:`ENGINES`); raises ValueError for an unknown name and
    :class:`~dso_saref.errors.DsoSarefError` when ``shacl`` is asked for but not installed."""
    if name not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {name!r}")
    if name == "pyshacl":
        from dso_saref.validation.engines.pyshacl import PyShaclEngine

        return PyShaclEngine()
    if name == "shacl":
        from dso_saref.validation.engines.rust import RustEngine

        return RustEngine()
    from dso_saref.validation.engines.compiled import CompiledEngine

    if name == "compiled":
        return CompiledEngine()
    from dso_saref.validation.engines.pyshacl import PyShaclEngine

    return Chain("auto", [CompiledEngine(), PyShaclEngine()])
