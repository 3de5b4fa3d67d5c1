"""The compiled engine: the catalog's SHACL shapes compiled into checks over binding columns.

pySHACL validates a zone-day of metering (100k readings) in tens of minutes; this engine does it in
a fraction of a second and gives the same results (same focus node, path, value, source shape,
constraint and messages), which the engine test suite checks against pySHACL on every example, on
every refused payload of the shapes table, on graph mutations and on generated payloads::

    CompiledEngine().results(catalog["hems-voltage"], Triples.of_table(table))

Two parts, each of which may decline (the caller then runs pySHACL, so the answer is the reference
answer): :mod:`.plan` compiles a shape once per message (a SHACL feature it does not know means the
message is not for this engine: :attr:`CompiledEngine.unsupported` says why), and :mod:`.run`
evaluates the plan over :mod:`.data` (a value it cannot judge exactly as pySHACL would means the
payload is not for this engine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dso_saref.validation.engines.compiled.data import Data
from dso_saref.validation.engines.compiled.plan import Plan, Unsupported, compile_shape
from dso_saref.validation.engines.compiled.run import Finding, Uncertain, run
from dso_saref.validation.results import Result

if TYPE_CHECKING:
    from dso_saref.catalog import Description
    from dso_saref.validation.triples import Triples

__all__ = ["CompiledEngine", "Data", "Plan", "Uncertain", "Unsupported", "plan_of"]


def plan_of(description: Description) -> Plan | Unsupported:
    """The compiled plan of a message's shape (kept on its description), or why it does not compile."""

    def build(description: Description) -> Plan | Unsupported:
        try:
            return compile_shape(description.name, description.shapes_graph)
        except Unsupported as exc:
            return exc

    return description.compiled("compiled-engine-plan", build)


class CompiledEngine:
    """Runs compiled plans; declines (``None``) shapes it does not compile and data it cannot judge."""

    name = "compiled"

    def __init__(self) -> None:
        #: per message whose shape did not compile, why (those are validated by another engine)
        self.unsupported: dict[str, str] = {}

    def plan(self, description: Description) -> Plan | None:
        """The message's compiled plan, or ``None`` when its shape uses SHACL the compiler does not know."""
        found = plan_of(description)
        if isinstance(found, Unsupported):
            self.unsupported[description.name] = str(found)
            return None
        return found

    def results(self, description: Description, triples: Triples) -> list[Result] | None:
        """The results of the message's shape on the triples, or ``None`` (not for this engine)."""
        plan = self.plan(description)
        if plan is None:
            return None
        data = triples.data()
        try:
            findings = run(plan, data)
        except Uncertain:
            return None
        return [_result(plan, finding, data) for finding in findings]


def _result(plan: Plan, finding: Finding, data: Data) -> Result:
    return Result(plan.labels.get(finding.shape), finding.component, data.literal(finding.focus), finding.path,
                  data.literal(finding.value) if finding.value is not None else None, finding.messages)
