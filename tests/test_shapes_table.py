"""Every constraint of every shape, broken once: the table-driven refusal suite of shapes/*.ttl.

Each row of :data:`ROWS` names one constraint of one message's shape (the property or node shape's
local name in ``shapes/NAME.ttl`` and the SHACL constraint, such as ``sh:minInclusive``) and a
mutation of the message's example that breaks exactly that constraint, with the JSON location where
the refusal must be reported:

- JSON mutations (``Set``, ``Delete``) change the payload. The shape layer alone
  (tests/support/shape_layer.py, on every engine) must refuse it with that constraint only, at that location, and the
  model layer (:func:`dso_saref.validate`) must refuse it too (at ``model_at`` when the model reports
  the element rather than the key, as for start < end): the two layers agree.
- Graph mutations (``Drop``, ``Add``, ``Replace``, ``Untype``) change the example's triples; they test
  what no JSON payload can break (cardinalities above one, classes of linked nodes, cross-node rules):
  these are the shape-only cases, listed in docs/shapes.md.

``test_every_constraint_has_a_row`` lists the constraints no row breaks, so a constraint added to a
shape without a refused payload is visible.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, SH

import dso_saref
from dso_saref.terms import NONE, PREFIXES, parse_term
from dso_saref.validation import SHAPES
from tests.conftest import NAMES
from tests.support.shape_layer import shape_layer

# -- the mutation language ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Set:
    """JSON: set the value at ``path`` (a concrete JSONPath such as ``$[0].needs``)."""

    path: str
    value: Any


@dataclass(frozen=True)
class Delete:
    """JSON: delete the key at ``path``."""

    path: str


@dataclass(frozen=True)
class Drop:
    """Graph: remove every ``(node, predicate, *)`` triple; ``node`` is a pattern variable, taken from
    the first binding row that binds it."""

    node: str
    predicate: str


@dataclass(frozen=True)
class Add:
    """Graph: add ``obj`` to ``node`` along ``path`` (CURIEs separated by spaces: fresh intermediate
    nodes are minted for a sequence); ``cls`` types the added object."""

    node: str
    path: str
    obj: str
    cls: str | None = None


@dataclass(frozen=True)
class Replace:
    """Graph: replace every object of ``(node, predicate)`` with ``obj`` (typed ``cls`` if given)."""

    node: str
    predicate: str
    obj: str
    cls: str | None = None


@dataclass(frozen=True)
class Twin:
    """Graph: give ``node`` a second object along ``predicate``: a fresh node with every outgoing
    triple of the current object (so only the count changes)."""

    node: str
    predicate: str


@dataclass(frozen=True)
class Untype:
    """Graph: remove ``(node, rdf:type, cls)``."""

    node: str
    cls: str


Mutation = Set | Delete | Drop | Add | Replace | Twin | Untype
Mutations = Mutation | tuple[Mutation, ...]


def parts(mutation: Mutations) -> tuple[Mutation, ...]:
    """The single mutations of a row (a tuple applies JSON ones first, then graph ones)."""
    return mutation if isinstance(mutation, tuple) else (mutation,)


@dataclass(frozen=True)
class Row:
    """One constraint broken once: message, shape (local name), rule, mutation, expected location
    (default: the mutated JSON path) and the model layer's location when it differs. ``also`` lists
    the other constraints (``"Shape-local sh:rule"``) that the mutation cannot help breaking, where
    the shape's constraints are entangled (a second linked node is refused by its own shape too)."""

    message: str
    shape: str
    rule: str
    mutation: Mutations
    at: str | None = None
    model_at: str | None = None
    also: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        if self.at is not None:
            return self.at
        if isinstance(self.mutation, Set | Delete):
            return self.mutation.path
        raise ValueError(f"{self}: a graph mutation needs an explicit location")

    @property
    def json_only(self) -> bool:
        """Whether the row changes the JSON payload only (then the model layer must refuse it too)."""
        return all(isinstance(m, Set | Delete) for m in parts(self.mutation))

    def __str__(self) -> str:
        return f"{self.message}:{self.shape}:{self.rule}"


def term(text: str) -> URIRef | Literal:
    """A term from a CURIE (``om:volt``), ``<iri>`` or an N-Triples literal (``"1.5"^^xsd:double``)."""
    if text.startswith(('"', "<")):
        text = re.sub(r"\^\^(\w+):(\S+)$", lambda m: f"^^<{PREFIXES[m.group(1)]}{m.group(2)}>", text)
        return parse_term(text)
    prefix, _, local = text.partition(":")
    return URIRef(PREFIXES[prefix] + local)


_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]")


def json_steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    pos = 1
    while pos < len(path):
        match = _STEP.match(path, pos)
        assert match, f"cannot read {path!r} at {path[pos:]!r}"
        steps.append(int(match.group(3)) if match.group(3) else (match.group(1) or match.group(2)))
        pos = match.end()
    return steps


def mutate_json(payload: Any, mutation: Set | Delete) -> Any:
    data = copy.deepcopy(payload)
    *parents, last = json_steps(mutation.path)
    node = data
    for step in parents:
        node = node[step]
    if isinstance(mutation, Delete):
        del node[last]
    else:
        node[last] = mutation.value
    return data


def graph_edit(mutation: Drop | Add | Replace | Twin | Untype):
    def edit(graph: Graph, rows: list[dict[str, Any]]) -> None:
        node = next(row[mutation.node] for row in rows if row.get(mutation.node, NONE) != NONE)
        if isinstance(mutation, Drop):
            graph.remove((node, term(mutation.predicate), None))
        elif isinstance(mutation, Untype):
            assert (node, RDF.type, term(mutation.cls)) in graph, mutation
            graph.remove((node, RDF.type, term(mutation.cls)))
        elif isinstance(mutation, Twin):
            predicate = term(mutation.predicate)
            original = graph.value(node, predicate)
            twin = URIRef("urn:dso-saref:test:twin")
            for p, o in list(graph.predicate_objects(original)):
                graph.add((twin, p, o))
            graph.add((node, predicate, twin))
        elif isinstance(mutation, Replace):
            predicate = term(mutation.predicate)
            assert (node, predicate, None) in graph, mutation
            graph.remove((node, predicate, None))
            graph.add((node, predicate, term(mutation.obj)))
            if mutation.cls:
                graph.add((term(mutation.obj), RDF.type, term(mutation.cls)))
        else:
            *hops, last = mutation.path.split()
            subject = node
            for i, hop in enumerate(hops):
                fresh = URIRef(f"urn:dso-saref:test:hop{i}")
                graph.add((subject, term(hop), fresh))
                subject = fresh
            graph.add((subject, term(last), term(mutation.obj)))
            if mutation.cls:
                graph.add((term(mutation.obj), RDF.type, term(mutation.cls)))

    return edit


# -- the constraints of a shape ------------------------------------------------------------------------

PARAMETERS = {
    SH.minCount: "sh:minCount",
    SH.maxCount: "sh:maxCount",
    SH.datatype: "sh:datatype",
    SH.pattern: "sh:pattern",
    SH.minInclusive: "sh:minInclusive",
    SH.maxInclusive: "sh:maxInclusive",
    SH.minExclusive: "sh:minExclusive",
    SH["in"]: "sh:in",
    SH["class"]: "sh:class",
    SH.nodeKind: "sh:nodeKind",
    SH.hasValue: "sh:hasValue",
    SH.qualifiedMinCount: "sh:qualifiedMinCount",
    SH.qualifiedMaxCount: "sh:qualifiedMaxCount",
    SH.sparql: "sh:sparql",
}


def constraints(name: str) -> set[tuple[str, str]]:
    """Every (shape local name, rule) of message ``name``'s shape."""
    graph = dso_saref.catalog[name].shapes_graph
    prefix = f"{SHAPES}{name}#"
    found = set()
    for shape in set(graph.subjects(RDF.type, SH.PropertyShape)) | set(graph.subjects(RDF.type, SH.NodeShape)):
        for parameter, rule in PARAMETERS.items():
            if (shape, parameter, None) in graph:
                found.add((str(shape).removeprefix(prefix), rule))
    return found


# -- the table ----------------------------------------------------------------------------------------

# The table: one line per constraint broken (continuation lines are indented further), under the
# message's [name]. A line reads: SHAPE RULE MUTATION [+ MUTATION] [@ LOCATION] [model@ LOCATION]
# [also SHAPE:RULE,...]. Mutations: set PATH JSON | delete PATH | drop VAR PRED | twin VAR PRED |
# untype VAR CLASS | add VAR PRED[/PRED] OBJ [a CLASS] | replace VAR PRED OBJ [a CLASS]; OBJ is a CURIE,
# <iri>, OTHER (a fresh IRI) or an N-Triples literal ("5"^^xsd:integer); VAR is a pattern variable.
TABLE = """
[acknowledgement]
  Acknowledgement-hasAcknowledgementStatus sh:in set $.status "furlong"
  Acknowledgement-hasAcknowledgementStatus sh:maxCount add acknowledgement dso:hasAcknowledgementStatus dso:Rejected
      @ $.status
  Acknowledgement-hasAcknowledgementStatus sh:minCount drop acknowledgement dso:hasAcknowledgementStatus @ $.status
  Acknowledgement-hasReason sh:datatype set $.reason true
  Acknowledgement-hasReason sh:maxCount add acknowledgement dso:hasReason "other" @ $.reason
  Acknowledgement-hasReference sh:datatype set $.reference true
  Acknowledgement-hasReference sh:maxCount add acknowledgement dso:hasReference "other" @ $.reference
  Acknowledgement-hasReference sh:pattern set $.reference "  "
[activation-plan]
  Entry-concernsOffer sh:class replace entry dso:concernsOffer OTHER @ $[0]
  Entry-concernsOffer sh:maxCount twin entry dso:concernsOffer @ $[0]
  Entry-concernsOffer sh:minCount drop entry dso:concernsOffer @ $[0]
  Entry-hasTime sh:class replace entry saref:hasTime OTHER @ $[0]
  Entry-hasTime sh:maxCount twin entry saref:hasTime @ $[0]
  Entry-hasTime sh:minCount drop entry saref:hasTime @ $[0]
  Entry-hasValue sh:datatype replace entry saref:hasValue "5"^^xsd:integer @ $[0].quantity
  Entry-hasValue sh:maxCount add entry saref:hasValue "1000.0"^^xsd:decimal @ $[0].quantity
  Entry-hasValue sh:minCount delete $[0].quantity
  Entry-hasValue sh:minInclusive set $[0].quantity -1
  Entry-isActivated sh:datatype set $[0].activation "maybe"
  Entry-isActivated sh:maxCount add entry dso:isActivated "false"^^xsd:boolean @ $[0].activation
  Entry-isActivated sh:minCount delete $[0].activation
  Entry-isMeasuredIn sh:in set $[0].unit "furlong"
  Entry-isMeasuredIn sh:maxCount add entry saref:isMeasuredIn om:megawatt @ $[0].unit
  Entry-isMeasuredIn sh:minCount delete $[0].unit
  Interval-end sh:datatype set $[0].end "not-a-time"
  Interval-end sh:maxCount add interval time:hasEnd/time:inXSDDateTimeStamp
      "2099-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $[0].end
  Interval-end sh:minCount delete $[0].end
  Interval-start sh:datatype set $[0].start "not-a-time"
  Interval-start sh:maxCount add interval time:hasBeginning/time:inXSDDateTimeStamp
      "1999-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $[0].start
  Interval-start sh:minCount delete $[0].start
  Interval-window sh:sparql set $[0].end "2021-09-27T10:00:00Z" model@ $[0]
  Need-hasIdentifier sh:datatype set $[0].request_id true
  Need-hasIdentifier sh:maxCount add need dso:hasIdentifier "other" @ $[0].request_id
  Need-hasIdentifier sh:minCount drop need dso:hasIdentifier @ $[0].request_id
  Need-hasIdentifier sh:pattern set $[0].request_id "  "
  Offer-hasIdentifier sh:datatype set $[0].offer_id true
  Offer-hasIdentifier sh:maxCount add offer dso:hasIdentifier "other" @ $[0].offer_id
  Offer-hasIdentifier sh:minCount delete $[0].offer_id
  Offer-hasIdentifier sh:pattern set $[0].offer_id "  "
  Offer-isOfferFor sh:class replace offer dso:isOfferFor OTHER @ $[0].request_id
  Offer-isOfferFor sh:maxCount twin offer dso:isOfferFor @ $[0].request_id
  Offer-isOfferFor sh:minCount delete $[0].request_id
[authorization-request]
  Consent-hasConsentStatus sh:maxCount add consent dpv:hasConsentStatus OTHER @ $
  Consent-hasDataSubject sh:class replace consent dpv:hasDataSubject OTHER @ $.end_user
  Consent-hasDataSubject sh:maxCount twin consent dpv:hasDataSubject @ $.end_user
  Consent-hasDataSubject sh:minCount delete $.end_user
  Consent-hasRecipient sh:class replace consent dpv:hasRecipient OTHER @ $.service_provider
  Consent-hasRecipient sh:maxCount twin consent dpv:hasRecipient @ $.service_provider
  Consent-hasTime sh:class replace consent saref:hasTime OTHER @ $
  Consent-hasTime sh:maxCount twin consent saref:hasTime @ $
  Consent-hasTime sh:minCount drop consent saref:hasTime @ $
  Interval-end sh:datatype set $.end "not-a-time"
  Interval-end sh:maxCount add interval time:hasEnd/time:inXSDDateTimeStamp
      "2099-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $.end
  Interval-end sh:minCount delete $.end
  Interval-start sh:datatype set $.start "not-a-time"
  Interval-start sh:maxCount add interval time:hasBeginning/time:inXSDDateTimeStamp
      "1999-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $.start
  Interval-start sh:minCount delete $.start
  Interval-window sh:sparql set $.end "2021-09-27T10:00:00Z" model@ $
  Recipient-hasIdentifier sh:datatype set $.service_provider true
  Recipient-hasIdentifier sh:maxCount add recipient dso:hasIdentifier "other" @ $.service_provider
  Recipient-hasIdentifier sh:minCount drop recipient dso:hasIdentifier @ $.service_provider
  Recipient-hasIdentifier sh:pattern set $.service_provider "  "
  User-hasIdentifier sh:datatype set $.end_user true
  User-hasIdentifier sh:maxCount add user dso:hasIdentifier "other" @ $.end_user
  User-hasIdentifier sh:minCount drop user dso:hasIdentifier @ $.end_user
  User-hasIdentifier sh:pattern set $.end_user "  "
[authorization-response]
  Consent-hasAuthorizationToken sh:class replace consent dso:hasAuthorizationToken OTHER @ $.authorization_token
  Consent-hasAuthorizationToken sh:maxCount twin consent dso:hasAuthorizationToken @ $.authorization_token
  Consent-hasConsentStatus sh:maxCount add consent dpv:hasConsentStatus dpv:ConsentRefused @ $.granted
  Consent-hasDataSubject sh:class replace consent dpv:hasDataSubject OTHER @ $.end_user
  Consent-hasDataSubject sh:maxCount twin consent dpv:hasDataSubject @ $.end_user
  Consent-hasDataSubject sh:minCount delete $.end_user
  Consent-hasReason sh:datatype set $.reason true
  Consent-hasReason sh:maxCount set $.reason "some text" + add consent dso:hasReason "other" @ $.reason
  Consent-hasRecipient sh:class replace consent dpv:hasRecipient OTHER @ $.service_provider
  Consent-hasRecipient sh:maxCount twin consent dpv:hasRecipient @ $.service_provider
  Consent-hasTime sh:class replace consent saref:hasTime OTHER @ $
  Consent-hasTime sh:maxCount twin consent saref:hasTime @ $
  Consent-hasTime sh:minCount drop consent saref:hasTime @ $
  Interval-end sh:datatype set $.end "not-a-time"
  Interval-end sh:maxCount add interval time:hasEnd/time:inXSDDateTimeStamp
      "2099-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $.end
  Interval-end sh:minCount delete $.end
  Interval-start sh:datatype set $.start "not-a-time"
  Interval-start sh:maxCount add interval time:hasBeginning/time:inXSDDateTimeStamp
      "1999-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $.start
  Interval-start sh:minCount delete $.start
  Interval-window sh:sparql set $.end "2021-09-27T10:00:00Z" model@ $
  Recipient-hasIdentifier sh:datatype set $.service_provider true
  Recipient-hasIdentifier sh:maxCount add recipient dso:hasIdentifier "other" @ $.service_provider
  Recipient-hasIdentifier sh:minCount drop recipient dso:hasIdentifier @ $.service_provider
  Recipient-hasIdentifier sh:pattern set $.service_provider "  "
  Token-hasIdentifier sh:datatype set $.authorization_token true
  Token-hasIdentifier sh:maxCount add token dso:hasIdentifier "other" @ $.authorization_token
  Token-hasIdentifier sh:minCount drop token dso:hasIdentifier @ $.authorization_token
  Token-hasIdentifier sh:pattern set $.authorization_token "  "
  User-hasIdentifier sh:datatype set $.end_user true
  User-hasIdentifier sh:maxCount add user dso:hasIdentifier "other" @ $.end_user
  User-hasIdentifier sh:minCount drop user dso:hasIdentifier @ $.end_user
  User-hasIdentifier sh:pattern set $.end_user "  "
[disaggregated-data]
  Customer-hasIdentifier sh:datatype set $.customers[0].customer_id true
  Customer-hasIdentifier sh:maxCount add customer dso:hasIdentifier "other" @ $.customers[0].customer_id
  Customer-hasIdentifier sh:minCount drop customer dso:hasIdentifier @ $.customers[0].customer_id
  Customer-hasIdentifier sh:pattern set $.customers[0].customer_id "  "
  Load-hasLoadType sh:datatype set $.customers[0].loads[0].load_type true
  Load-hasLoadType sh:maxCount add load dso:hasLoadType "other" @ $.customers[0].loads[0].load_type
  Load-hasLoadType sh:minCount delete $.customers[0].loads[0].load_type
  Load-hasLoadType sh:pattern set $.customers[0].loads[0].load_type "  "
  Load-hasProperty sh:qualifiedMaxCount twin load saref:hasProperty @ $.customers[0]
  Load-hasProperty sh:qualifiedMinCount drop load saref:hasProperty @ $.customers[0] also Measurement:sh:sparql
  Load-isLoadOf sh:class untype customer dso:Customer @ $.customers[0].customer_id
  Load-isLoadOf sh:maxCount twin load dso:isLoadOf @ $.customers[0].customer_id
  Load-isLoadOf sh:minCount delete $.customers[0].customer_id
  Measurement sh:sparql replace load saref:hasProperty OTHER a dso:DisaggregatedConsumption @ $.customers[0]
  Measurement-hasTimestamp sh:datatype set $.customers[0].loads[0].series[0].timestamp "not-a-time"
  Measurement-hasTimestamp sh:maxCount add measurement saref:hasTimestamp "2099-01-01T00:00:00Z"^^xsd:dateTime @
      $.customers[0].loads[0].series[0].timestamp
  Measurement-hasTimestamp sh:minCount delete $.customers[0].loads[0].series[0].timestamp
  Measurement-hasValue sh:datatype set $.customers[0].loads[0].series[0].consumption "not-a-number"
  Measurement-hasValue sh:maxCount add measurement saref:hasValue "1000.0"^^xsd:decimal @
      $.customers[0].loads[0].series[0].consumption
  Measurement-hasValue sh:minCount delete $.customers[0].loads[0].series[0].consumption
  Measurement-isMeasuredIn sh:in set $.customers[0].loads[0].unit "furlong"
  Measurement-isMeasuredIn sh:maxCount add measurement saref:isMeasuredIn om:watt @ $.customers[0].loads[0].unit
  Measurement-isMeasuredIn sh:minCount delete $.customers[0].loads[0].unit
  Measurement-isMeasurementOf sh:maxCount twin measurement saref:isMeasurementOf @ $.customers[0]
  Measurement-relatesToProperty sh:class untype property dso:DisaggregatedConsumption @ $.customers[0] also
      Load-hasProperty:sh:qualifiedMinCount
  Measurement-relatesToProperty sh:maxCount twin measurement saref:relatesToProperty @ $.customers[0] also
      Measurement:sh:sparql
  Measurement-relatesToProperty sh:minCount drop measurement saref:relatesToProperty @ $.customers[0]
[disaggregated-data-request]
  Request-isAbout sh:class untype requested_customer dso:Customer @ $.customers_ids[0]
  Request-isAbout sh:maxCount twin request saref:isAbout @ $.customers_ids[0]
  Request-isAbout sh:minCount drop request saref:isAbout @ $.customers_ids[0]
  RequestedCustomer-hasIdentifier sh:datatype set $.customers_ids[0] true
  RequestedCustomer-hasIdentifier sh:maxCount add requested_customer dso:hasIdentifier "other" @ $.customers_ids[0]
  RequestedCustomer-hasIdentifier sh:minCount drop requested_customer dso:hasIdentifier @ $.customers_ids[0]
  RequestedCustomer-hasIdentifier sh:pattern set $.customers_ids[0] "  "
[elasticity-input]
  Co2Measurement sh:sparql replace co2_measurement saref:relatesToProperty OTHER a dso:CO2EmissionsSignal @
      $.user_profile[0]
  Co2Measurement-hasTimestamp sh:datatype replace co2_measurement saref:hasTimestamp "abc" @
      $.user_profile[0].timestamp
  Co2Measurement-hasTimestamp sh:maxCount add co2_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.user_profile[0].timestamp
  Co2Measurement-hasTimestamp sh:minCount drop co2_measurement saref:hasTimestamp @ $.user_profile[0].timestamp
  Co2Measurement-hasValue sh:datatype replace co2_measurement saref:hasValue "5"^^xsd:integer @
      $.user_profile[0]['signal_incentive_Class:CO2_Emissions']
  Co2Measurement-hasValue sh:maxCount add co2_measurement saref:hasValue "1000.0"^^xsd:decimal @
      $.user_profile[0]['signal_incentive_Class:CO2_Emissions']
  Co2Measurement-hasValue sh:minCount drop co2_measurement saref:hasValue @
      $.user_profile[0]['signal_incentive_Class:CO2_Emissions']
  Co2Measurement-hasValue sh:minInclusive set $.user_profile[0]['signal_incentive_Class:CO2_Emissions'] -1
  Co2Measurement-isMeasuredIn sh:in set $.user_profile[0]['signal_incentive_Class:CO2_Emissions_unit'] "furlong"
  Co2Measurement-isMeasurementOf sh:class replace co2_measurement saref:isMeasurementOf OTHER @
      $.user_profile[0].userID also Co2Measurement:sh:sparql
  Co2Measurement-isMeasurementOf sh:maxCount twin co2_measurement saref:isMeasurementOf @ $.user_profile[0].userID
  Co2Measurement-isMeasurementOf sh:minCount drop co2_measurement saref:isMeasurementOf @ $.user_profile[0].userID
  Co2Measurement-relatesToProperty sh:maxCount twin co2_measurement saref:relatesToProperty @
      $.user_profile[0].userID also Co2Measurement:sh:sparql
  ConsumptionMeasurement sh:sparql replace consumption_measurement saref:relatesToProperty OTHER a
      s4grid:ActivePower @ $.user_profile[0]
  ConsumptionMeasurement-hasTimestamp sh:datatype replace consumption_measurement saref:hasTimestamp "abc" @
      $.user_profile[0].timestamp
  ConsumptionMeasurement-hasTimestamp sh:maxCount add consumption_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.user_profile[0].timestamp
  ConsumptionMeasurement-hasTimestamp sh:minCount drop consumption_measurement saref:hasTimestamp @
      $.user_profile[0].timestamp
  ConsumptionMeasurement-hasValue sh:datatype set $.user_profile[0].customer_consumption "not-a-number"
  ConsumptionMeasurement-hasValue sh:maxCount add consumption_measurement saref:hasValue "1000.0"^^xsd:decimal @
      $.user_profile[0].customer_consumption
  ConsumptionMeasurement-hasValue sh:minCount delete $.user_profile[0].customer_consumption
  ConsumptionMeasurement-isMeasuredIn sh:in set $.user_profile[0].customer_consumption_unit "furlong"
  ConsumptionMeasurement-isMeasuredIn sh:maxCount add consumption_measurement saref:isMeasuredIn om:megawatt @
      $.user_profile[0].customer_consumption_unit
  ConsumptionMeasurement-isMeasurementOf sh:maxCount twin consumption_measurement saref:isMeasurementOf @
      $.user_profile[0].userID
  ConsumptionMeasurement-relatesToProperty sh:maxCount twin consumption_measurement saref:relatesToProperty @
      $.user_profile[0].userID also ConsumptionMeasurement:sh:sparql
  CostMeasurement sh:sparql replace cost_measurement saref:relatesToProperty OTHER a dso:CostSignal @
      $.user_profile[0]
  CostMeasurement-hasTimestamp sh:datatype replace cost_measurement saref:hasTimestamp "abc" @
      $.user_profile[0].timestamp
  CostMeasurement-hasTimestamp sh:maxCount add cost_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.user_profile[0].timestamp
  CostMeasurement-hasTimestamp sh:minCount drop cost_measurement saref:hasTimestamp @ $.user_profile[0].timestamp
  CostMeasurement-hasValue sh:datatype set $.user_profile[0]['signal_incentive_Class:Cost'] "not-a-number"
  CostMeasurement-hasValue sh:maxCount add cost_measurement saref:hasValue "1000.0"^^xsd:decimal @
      $.user_profile[0]['signal_incentive_Class:Cost']
  CostMeasurement-hasValue sh:minCount drop cost_measurement saref:hasValue @
      $.user_profile[0]['signal_incentive_Class:Cost']
  CostMeasurement-isMeasuredIn sh:in set $.user_profile[0]['signal_incentive_Class:Cost_unit'] "furlong"
  CostMeasurement-isMeasurementOf sh:class replace cost_measurement saref:isMeasurementOf OTHER @
      $.user_profile[0].userID also CostMeasurement:sh:sparql
  CostMeasurement-isMeasurementOf sh:maxCount twin cost_measurement saref:isMeasurementOf @ $.user_profile[0].userID
  CostMeasurement-isMeasurementOf sh:minCount drop cost_measurement saref:isMeasurementOf @ $.user_profile[0].userID
  CostMeasurement-relatesToProperty sh:maxCount twin cost_measurement saref:relatesToProperty @
      $.user_profile[0].userID also CostMeasurement:sh:sparql
  Customer-hasIdentifier sh:datatype set $.user_profile[0].userID true
  Customer-hasIdentifier sh:maxCount add customer dso:hasIdentifier "other" @ $.user_profile[0].userID
  Customer-hasIdentifier sh:minCount drop customer dso:hasIdentifier @ $.user_profile[0].userID
  Customer-hasIdentifier sh:pattern set $.user_profile[0].userID "  "
  Customer-hasProperty-Co2Measurand sh:qualifiedMaxCount add customer saref:hasProperty OTHER a
      dso:CO2EmissionsSignal @ $.user_profile[0].userID
  Customer-hasProperty-ConsumptionMeasurand sh:qualifiedMaxCount twin customer saref:hasProperty @
      $.user_profile[0].userID
  Customer-hasProperty-ConsumptionMeasurand sh:qualifiedMinCount untype consumption_measurand s4grid:ActivePower @
      $.user_profile[0].userID
  Customer-hasProperty-CostMeasurand sh:qualifiedMaxCount add customer saref:hasProperty OTHER a dso:CostSignal @
      $.user_profile[0].userID
  Customer-hasProperty-IndoorMeasurand sh:qualifiedMaxCount add customer saref:hasProperty OTHER a
      dso:IndoorTemperature @ $.user_profile[0].userID
  Customer-hasProperty-MaxPowerMeasurand sh:qualifiedMaxCount add customer saref:hasProperty OTHER a
      dso:MaximumPowerSignal @ $.user_profile[0].userID
  Customer-hasProperty-OccupancyMeasurand sh:qualifiedMaxCount add customer saref:hasProperty OTHER a
      saref:Occupancy @ $.user_profile[0].userID
  Customer-hasProperty-OutdoorMeasurand sh:qualifiedMaxCount add customer saref:hasProperty OTHER a
      dso:OutdoorTemperature @ $.user_profile[0].userID
  Customer-hasProperty-RenewableMeasurand sh:qualifiedMaxCount add customer saref:hasProperty OTHER a
      dso:RenewableEnergyShareSignal @ $.user_profile[0].userID
  IndoorMeasurement sh:sparql replace indoor_measurement saref:relatesToProperty OTHER a dso:IndoorTemperature @
      $.user_profile[0]
  IndoorMeasurement-hasTimestamp sh:datatype replace indoor_measurement saref:hasTimestamp "abc" @
      $.user_profile[0].timestamp
  IndoorMeasurement-hasTimestamp sh:maxCount add indoor_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.user_profile[0].timestamp
  IndoorMeasurement-hasTimestamp sh:minCount drop indoor_measurement saref:hasTimestamp @
      $.user_profile[0].timestamp
  IndoorMeasurement-hasValue sh:datatype set $.user_profile[0].indoor_temperature_sensor "not-a-number"
  IndoorMeasurement-hasValue sh:maxCount add indoor_measurement saref:hasValue "1000.0"^^xsd:decimal @
      $.user_profile[0].indoor_temperature_sensor
  IndoorMeasurement-hasValue sh:minCount drop indoor_measurement saref:hasValue @
      $.user_profile[0].indoor_temperature_sensor
  IndoorMeasurement-isMeasuredIn sh:in set $.user_profile[0].indoor_temperature_sensor_unit "furlong"
  IndoorMeasurement-isMeasurementOf sh:class replace indoor_measurement saref:isMeasurementOf OTHER @
      $.user_profile[0].userID also IndoorMeasurement:sh:sparql
  IndoorMeasurement-isMeasurementOf sh:maxCount twin indoor_measurement saref:isMeasurementOf @
      $.user_profile[0].userID
  IndoorMeasurement-isMeasurementOf sh:minCount drop indoor_measurement saref:isMeasurementOf @
      $.user_profile[0].userID
  IndoorMeasurement-relatesToProperty sh:maxCount twin indoor_measurement saref:relatesToProperty @
      $.user_profile[0].userID also IndoorMeasurement:sh:sparql
  MaxPowerMeasurement sh:sparql replace max_power_measurement saref:relatesToProperty OTHER a dso:MaximumPowerSignal
      @ $.user_profile[0]
  MaxPowerMeasurement-hasTimestamp sh:datatype replace max_power_measurement saref:hasTimestamp "abc" @
      $.user_profile[0].timestamp
  MaxPowerMeasurement-hasTimestamp sh:maxCount add max_power_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.user_profile[0].timestamp
  MaxPowerMeasurement-hasTimestamp sh:minCount drop max_power_measurement saref:hasTimestamp @
      $.user_profile[0].timestamp
  MaxPowerMeasurement-hasValue sh:datatype replace max_power_measurement saref:hasValue "5"^^xsd:integer @
      $.user_profile[0]['signal_incentive_Class:maximum_power']
  MaxPowerMeasurement-hasValue sh:maxCount add max_power_measurement saref:hasValue "1000.0"^^xsd:decimal @
      $.user_profile[0]['signal_incentive_Class:maximum_power']
  MaxPowerMeasurement-hasValue sh:minCount drop max_power_measurement saref:hasValue @
      $.user_profile[0]['signal_incentive_Class:maximum_power']
  MaxPowerMeasurement-hasValue sh:minInclusive set $.user_profile[0]['signal_incentive_Class:maximum_power'] -1
  MaxPowerMeasurement-isMeasuredIn sh:in set $.user_profile[0]['signal_incentive_Class:maximum_power_unit']
      "furlong"
  MaxPowerMeasurement-isMeasuredIn sh:maxCount add max_power_measurement saref:isMeasuredIn om:megawattHour @
      $.user_profile[0]['signal_incentive_Class:maximum_power_unit']
  MaxPowerMeasurement-isMeasurementOf sh:class replace max_power_measurement saref:isMeasurementOf OTHER @
      $.user_profile[0].userID also MaxPowerMeasurement:sh:sparql
  MaxPowerMeasurement-isMeasurementOf sh:maxCount twin max_power_measurement saref:isMeasurementOf @
      $.user_profile[0].userID
  MaxPowerMeasurement-isMeasurementOf sh:minCount drop max_power_measurement saref:isMeasurementOf @
      $.user_profile[0].userID
  MaxPowerMeasurement-relatesToProperty sh:maxCount twin max_power_measurement saref:relatesToProperty @
      $.user_profile[0].userID also MaxPowerMeasurement:sh:sparql
  OccupancyMeasurement sh:sparql replace occupancy_measurement saref:relatesToProperty OTHER a saref:Occupancy @
      $.user_profile[0]
  OccupancyMeasurement-hasTimestamp sh:datatype replace occupancy_measurement saref:hasTimestamp "abc" @
      $.user_profile[0].timestamp
  OccupancyMeasurement-hasTimestamp sh:maxCount add occupancy_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.user_profile[0].timestamp
  OccupancyMeasurement-hasTimestamp sh:minCount drop occupancy_measurement saref:hasTimestamp @
      $.user_profile[0].timestamp
  OccupancyMeasurement-hasValue sh:datatype replace occupancy_measurement saref:hasValue "5"^^xsd:integer @
      $.user_profile[0].occupancy_rate
  OccupancyMeasurement-hasValue sh:maxCount add occupancy_measurement saref:hasValue "1000.0"^^xsd:decimal @
      $.user_profile[0].occupancy_rate
  OccupancyMeasurement-hasValue sh:minCount drop occupancy_measurement saref:hasValue @
      $.user_profile[0].occupancy_rate
  OccupancyMeasurement-hasValue sh:minInclusive set $.user_profile[0].occupancy_rate -1
  OccupancyMeasurement-isMeasuredIn sh:hasValue drop occupancy_measurement saref:isMeasuredIn @ $.user_profile[0]
  OccupancyMeasurement-isMeasuredIn sh:maxCount add occupancy_measurement saref:isMeasuredIn OTHER @
      $.user_profile[0]
  OccupancyMeasurement-isMeasurementOf sh:class replace occupancy_measurement saref:isMeasurementOf OTHER @
      $.user_profile[0].userID also OccupancyMeasurement:sh:sparql
  OccupancyMeasurement-isMeasurementOf sh:maxCount twin occupancy_measurement saref:isMeasurementOf @
      $.user_profile[0].userID
  OccupancyMeasurement-isMeasurementOf sh:minCount drop occupancy_measurement saref:isMeasurementOf @
      $.user_profile[0].userID
  OccupancyMeasurement-relatesToProperty sh:maxCount twin occupancy_measurement saref:relatesToProperty @
      $.user_profile[0].userID also OccupancyMeasurement:sh:sparql
  OutdoorMeasurement sh:sparql replace outdoor_measurement saref:relatesToProperty OTHER a dso:OutdoorTemperature @
      $.user_profile[0]
  OutdoorMeasurement-hasTimestamp sh:datatype replace outdoor_measurement saref:hasTimestamp "abc" @
      $.user_profile[0].timestamp
  OutdoorMeasurement-hasTimestamp sh:maxCount add outdoor_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.user_profile[0].timestamp
  OutdoorMeasurement-hasTimestamp sh:minCount drop outdoor_measurement saref:hasTimestamp @
      $.user_profile[0].timestamp
  OutdoorMeasurement-hasValue sh:datatype set $.user_profile[0].external_temperature "not-a-number"
  OutdoorMeasurement-hasValue sh:maxCount add outdoor_measurement saref:hasValue "1000.0"^^xsd:decimal @
      $.user_profile[0].external_temperature
  OutdoorMeasurement-hasValue sh:minCount drop outdoor_measurement saref:hasValue @
      $.user_profile[0].external_temperature
  OutdoorMeasurement-isMeasuredIn sh:in set $.user_profile[0].external_temperature_unit "furlong"
  OutdoorMeasurement-isMeasurementOf sh:class replace outdoor_measurement saref:isMeasurementOf OTHER @
      $.user_profile[0].userID also OutdoorMeasurement:sh:sparql
  OutdoorMeasurement-isMeasurementOf sh:maxCount twin outdoor_measurement saref:isMeasurementOf @
      $.user_profile[0].userID
  OutdoorMeasurement-isMeasurementOf sh:minCount drop outdoor_measurement saref:isMeasurementOf @
      $.user_profile[0].userID
  OutdoorMeasurement-relatesToProperty sh:maxCount twin outdoor_measurement saref:relatesToProperty @
      $.user_profile[0].userID also OutdoorMeasurement:sh:sparql
  RenewableMeasurement sh:sparql replace renewable_measurement saref:relatesToProperty OTHER a
      dso:RenewableEnergyShareSignal @ $.user_profile[0]
  RenewableMeasurement-hasTimestamp sh:datatype replace renewable_measurement saref:hasTimestamp "abc" @
      $.user_profile[0].timestamp
  RenewableMeasurement-hasTimestamp sh:maxCount add renewable_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.user_profile[0].timestamp
  RenewableMeasurement-hasTimestamp sh:minCount drop renewable_measurement saref:hasTimestamp @
      $.user_profile[0].timestamp
  RenewableMeasurement-hasValue sh:datatype replace renewable_measurement saref:hasValue "5"^^xsd:integer @
      $.user_profile[0]['signal_incentive_Class:Renew_Energy_Percentage']
  RenewableMeasurement-hasValue sh:maxCount add renewable_measurement saref:hasValue "1000.0"^^xsd:decimal @
      $.user_profile[0]['signal_incentive_Class:Renew_Energy_Percentage']
  RenewableMeasurement-hasValue sh:minCount drop renewable_measurement saref:hasValue @
      $.user_profile[0]['signal_incentive_Class:Renew_Energy_Percentage']
  RenewableMeasurement-hasValue sh:minInclusive set
      $.user_profile[0]['signal_incentive_Class:Renew_Energy_Percentage'] -1
  RenewableMeasurement-isMeasuredIn sh:in set
      $.user_profile[0]['signal_incentive_Class:Renew_Energy_Percentage_unit'] "furlong"
  RenewableMeasurement-isMeasurementOf sh:class replace renewable_measurement saref:isMeasurementOf OTHER @
      $.user_profile[0].userID also RenewableMeasurement:sh:sparql
  RenewableMeasurement-isMeasurementOf sh:maxCount twin renewable_measurement saref:isMeasurementOf @
      $.user_profile[0].userID
  RenewableMeasurement-isMeasurementOf sh:minCount drop renewable_measurement saref:isMeasurementOf @
      $.user_profile[0].userID
  RenewableMeasurement-relatesToProperty sh:maxCount twin renewable_measurement saref:relatesToProperty @
      $.user_profile[0].userID also RenewableMeasurement:sh:sparql
[elasticity-output]
  Customer-hasIdentifier sh:datatype set $.userID true
  Customer-hasIdentifier sh:maxCount add customer dso:hasIdentifier "other" @ $.userID
  Customer-hasIdentifier sh:minCount drop customer dso:hasIdentifier @ $.userID
  Customer-hasIdentifier sh:pattern set $.userID "  "
  Customer-hasProperty sh:nodeKind replace customer saref:hasProperty "abc" @ $ also Estimate:sh:sparql
  Estimate sh:sparql drop customer saref:hasProperty @ $
  Estimate-hasHour sh:datatype set $.flexibility_response[0].flexibility_hour "x"
  Estimate-hasHour sh:maxCount add estimate dso:hasHour "97"^^xsd:integer @
      $.flexibility_response[0].flexibility_hour
  Estimate-hasHour sh:minCount delete $.flexibility_response[0].flexibility_hour
  Estimate-hasValue sh:datatype set $.flexibility_response[0].y_PowerD true
  Estimate-hasValue sh:maxCount add estimate saref:hasValue "1000.0"^^xsd:decimal @
      $.flexibility_response[0].y_PowerD
  Estimate-hasValue sh:minCount drop estimate saref:hasValue @ $.flexibility_response[0].y_PowerD
  Estimate-isMeasuredIn sh:in set $.flexibility_response[0].y_PowerD_unit "furlong"
  Estimate-isMeasuredIn sh:maxCount add estimate saref:isMeasuredIn om:megawatt @
      $.flexibility_response[0].y_PowerD_unit
  Estimate-isMeasuredIn sh:minCount drop estimate saref:isMeasuredIn @ $.flexibility_response[0].y_PowerD_unit
  Estimate-isMeasurementOf sh:class untype customer dso:ElasticityCustomer @ $.userID
  Estimate-isMeasurementOf sh:maxCount twin estimate saref:isMeasurementOf @ $.userID
  Estimate-isMeasurementOf sh:minCount delete $.userID
  Estimate-relatesToProperty sh:maxCount twin estimate saref:relatesToProperty @ $ also Estimate:sh:sparql
  Estimate-relatesToProperty sh:minCount drop estimate saref:relatesToProperty @ $
  Estimate-relatesToProperty sh:nodeKind replace estimate saref:relatesToProperty "abc" @ $ also
      Estimate:sh:sparql,Property-type:sh:qualifiedMinCount
  Estimate-underScenario sh:class replace estimate dso:underScenario OTHER @ $
  Estimate-underScenario sh:maxCount twin estimate dso:underScenario @ $
  Estimate-underScenario sh:minCount drop estimate dso:underScenario @ $
  Property-type sh:qualifiedMaxCount add property rdf:type s4ener:PowerMin @ $.flexibility_response[0].y_PowerD
  Property-type sh:qualifiedMinCount untype property s4ener:PowerExpected @ $.flexibility_response[0].y_PowerD
  Scenario-hasIdentifier sh:datatype replace scenario dso:hasIdentifier "1"^^xsd:integer @
      $.flexibility_response[0].y_PowerD
  Scenario-hasIdentifier sh:maxCount add scenario dso:hasIdentifier "other" @ $.flexibility_response[0].y_PowerD
  Scenario-hasIdentifier sh:minCount drop scenario dso:hasIdentifier @ $.flexibility_response[0].y_PowerD
[fault-min-elapsed-time]
  PostalCodeArea-hasIdentifier sh:datatype set $.Postal_Code true
  PostalCodeArea-hasIdentifier sh:maxCount add postal_code_area dso:hasIdentifier "other" @ $.Postal_Code
  PostalCodeArea-hasIdentifier sh:minCount drop postal_code_area dso:hasIdentifier @ $.Postal_Code
  PostalCodeArea-hasIdentifier sh:pattern set $.Postal_Code "  "
  Setting-hasUnit sh:in set $.Fault_Location_Inputs[0].Min_time_of_interruption_unit "furlong"
  Setting-hasUnit sh:maxCount add setting s4grid:hasUnit om:minute-Time @
      $.Fault_Location_Inputs[0].Min_time_of_interruption_unit
  Setting-hasUnit sh:minCount drop setting s4grid:hasUnit @ $.Fault_Location_Inputs[0].Min_time_of_interruption_unit
  Setting-hasValue sh:datatype replace setting s4grid:hasValue "5"^^xsd:integer @
      $.Fault_Location_Inputs[0].Min_time_of_interruption
  Setting-hasValue sh:maxCount add setting s4grid:hasValue "1000.0"^^xsd:decimal @
      $.Fault_Location_Inputs[0].Min_time_of_interruption
  Setting-hasValue sh:minCount delete $.Fault_Location_Inputs[0].Min_time_of_interruption
  Setting-hasValue sh:minInclusive set $.Fault_Location_Inputs[0].Min_time_of_interruption -1
  Setting-isAbout sh:class replace setting saref:isAbout OTHER @ $.Postal_Code
  Setting-isAbout sh:maxCount twin setting saref:isAbout @ $.Postal_Code
[fault-min-hems]
  PostalCodeArea-hasIdentifier sh:datatype set $.Postal_Code true
  PostalCodeArea-hasIdentifier sh:maxCount add postal_code_area dso:hasIdentifier "other" @ $.Postal_Code
  PostalCodeArea-hasIdentifier sh:minCount drop postal_code_area dso:hasIdentifier @ $.Postal_Code
  PostalCodeArea-hasIdentifier sh:pattern set $.Postal_Code "  "
  Setting-hasValue sh:datatype set $.Fault_Location_Inputs[0].Min_nbr_Hems_faulty 1.5
  Setting-hasValue sh:maxCount add setting s4grid:hasValue "7"^^xsd:integer @
      $.Fault_Location_Inputs[0].Min_nbr_Hems_faulty
  Setting-hasValue sh:minCount drop setting s4grid:hasValue @ $.Fault_Location_Inputs[0].Min_nbr_Hems_faulty
  Setting-hasValue sh:minInclusive set $.Fault_Location_Inputs[0].Min_nbr_Hems_faulty 0
  Setting-isAbout sh:class replace setting saref:isAbout OTHER @ $.Postal_Code
  Setting-isAbout sh:maxCount twin setting saref:isAbout @ $.Postal_Code
[fault-notification]
  FaultLocation-hasIdentifier sh:datatype set $.Fault_Location_ID true
  FaultLocation-hasIdentifier sh:maxCount add fault_location dso:hasIdentifier "other" @ $.Fault_Location_ID
  FaultLocation-hasIdentifier sh:minCount drop fault_location dso:hasIdentifier @ $.Fault_Location_ID
  FaultLocation-hasIdentifier sh:pattern set $.Fault_Location_ID "  "
  FaultLocation-hasPotentialOutage sh:class untype outage dso:PotentialOutage @
      $.Fault_Location_Identification[0].Postal_Code
  Outage-hasTimestamp sh:datatype set $.Fault_Location_Identification[0].timestamp "not-a-time"
  Outage-hasTimestamp sh:maxCount add outage saref:hasTimestamp "2099-01-01T00:00:00Z"^^xsd:dateTime @
      $.Fault_Location_Identification[0].timestamp
  Outage-isAbout sh:class untype postal_code_area dso:PostalCodeArea @
      $.Fault_Location_Identification[0].Postal_Code
  Outage-isAbout sh:maxCount twin outage saref:isAbout @ $.Fault_Location_Identification[0].Postal_Code
  Outage-isAbout sh:minCount drop outage saref:isAbout @ $.Fault_Location_Identification[0].Postal_Code
  Outage-numberOfFaultyHems sh:datatype set $.Fault_Location_Identification[0].Nbr_Faulty_Hems 1.5
  Outage-numberOfFaultyHems sh:maxCount add outage dso:numberOfFaultyHems "7"^^xsd:integer @
      $.Fault_Location_Identification[0].Nbr_Faulty_Hems
  Outage-numberOfFaultyHems sh:minInclusive set $.Fault_Location_Identification[0].Nbr_Faulty_Hems 0
  PostalCodeArea-hasIdentifier sh:datatype set $.Fault_Location_Identification[0].Postal_Code true
  PostalCodeArea-hasIdentifier sh:maxCount add postal_code_area dso:hasIdentifier "other" @
      $.Fault_Location_Identification[0].Postal_Code
  PostalCodeArea-hasIdentifier sh:minCount drop postal_code_area dso:hasIdentifier @
      $.Fault_Location_Identification[0].Postal_Code
  PostalCodeArea-hasIdentifier sh:pattern set $.Fault_Location_Identification[0].Postal_Code "  "
[fault-postal-codes]
  PostalCodeArea-hasIdentifier sh:datatype set $.Fault_Location_Inputs[0].Postal_Code true
  PostalCodeArea-hasIdentifier sh:maxCount add postal_code_area dso:hasIdentifier "other" @
      $.Fault_Location_Inputs[0].Postal_Code
  PostalCodeArea-hasIdentifier sh:minCount drop postal_code_area dso:hasIdentifier @
      $.Fault_Location_Inputs[0].Postal_Code
  PostalCodeArea-hasIdentifier sh:pattern set $.Fault_Location_Inputs[0].Postal_Code "  "
  Subscription-isAbout sh:class untype postal_code_area dso:PostalCodeArea @ $.Fault_Location_Inputs[0].Postal_Code
  Subscription-isAbout sh:maxCount twin subscription saref:isAbout @ $.Fault_Location_Inputs[0].Postal_Code
  Subscription-isAbout sh:minCount drop subscription saref:isAbout @ $.Fault_Location_Inputs[0].Postal_Code
[flexibility-data]
  Interval-date sh:datatype set $.dates[0] "not-a-time"
  Interval-date sh:maxCount add interval time:hasBeginning/time:inXSDDateTimeStamp
      "1999-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $.dates[0]
  Interval-date sh:minCount drop interval time:hasBeginning @ $.dates[0]
  Zone-hasIdentifier sh:datatype set $.zone_id true
  Zone-hasIdentifier sh:maxCount add zone dso:hasIdentifier "other" @ $.zone_id
  Zone-hasIdentifier sh:minCount drop zone dso:hasIdentifier @ $.zone_id
  Zone-hasIdentifier sh:pattern set $.zone_id "  "
  ZoneNeed-hasDirection sh:in set $.directions[0] "furlong"
  ZoneNeed-hasDirection sh:maxCount add zone_need dso:hasDirection dso:Upward @ $.directions[0]
  ZoneNeed-hasDirection sh:minCount drop zone_need dso:hasDirection @ $.directions[0]
  ZoneNeed-hasEligibleMeter sh:class replace zone_need dso:hasEligibleMeter OTHER @ $.eligible_clients[0][0]
  ZoneNeed-hasPowerType sh:in set $.power_types[0] "furlong"
  ZoneNeed-hasPowerType sh:maxCount add zone_need dso:hasPowerType dso:ReactivePower @ $.power_types[0]
  ZoneNeed-hasPowerType sh:minCount drop zone_need dso:hasPowerType @ $.power_types[0]
  ZoneNeed-hasTime sh:maxCount twin zone_need saref:hasTime @ $.dates[0]
  ZoneNeed-hasValue sh:datatype replace zone_need saref:hasValue "5"^^xsd:integer @ $.needs[0]
  ZoneNeed-hasValue sh:maxCount add zone_need saref:hasValue "1000.0"^^xsd:decimal @ $.needs[0]
  ZoneNeed-hasValue sh:minCount drop zone_need saref:hasValue @ $.needs[0]
  ZoneNeed-hasValue sh:minInclusive set $.needs[0] -1
  ZoneNeed-isMeasuredIn sh:in set $.units[0] "furlong"
  ZoneNeed-isMeasuredIn sh:maxCount add zone_need saref:isMeasuredIn om:megawatt @ $.units[0]
  ZoneNeed-isMeasuredIn sh:minCount drop zone_need saref:isMeasuredIn @ $.units[0]
  ZoneNeed-isNeedOf sh:class untype zone dso:GridZone @ $.zone_id
  ZoneNeed-isNeedOf sh:maxCount twin zone_need dso:isNeedOf @ $.zone_id
  ZoneNeed-isNeedOf sh:minCount delete $.zone_id
  ZoneNeedMeter-hasIdentifier sh:datatype set $.eligible_clients[0][0] true
  ZoneNeedMeter-hasIdentifier sh:maxCount add zone_need_meter dso:hasIdentifier "other" @ $.eligible_clients[0][0]
  ZoneNeedMeter-hasIdentifier sh:minCount drop zone_need_meter dso:hasIdentifier @ $.eligible_clients[0][0]
  ZoneNeedMeter-hasIdentifier sh:pattern set $.eligible_clients[0][0] "  "
[flexibility-data-request]
  Interval-end sh:datatype set $.end "not-a-time"
  Interval-end sh:maxCount add interval time:hasEnd/time:inXSDDate "2099-01-01"^^xsd:date @ $.end
  Interval-end sh:minCount delete $.end
  Interval-start sh:datatype set $.start "not-a-time" also Interval-window:sh:sparql
  Interval-start sh:maxCount add interval time:hasBeginning/time:inXSDDate "1999-01-01"^^xsd:date @ $.start
  Interval-start sh:minCount delete $.start
  Interval-window sh:sparql set $.end "2021-09-27" model@ $
  Request-hasTime sh:class replace request saref:hasTime OTHER @ $
  Request-hasTime sh:maxCount twin request saref:hasTime @ $
  Request-hasTime sh:minCount drop request saref:hasTime @ $
  Request-isAbout sh:class replace request saref:isAbout OTHER @ $.zone_id
  Request-isAbout sh:maxCount twin request saref:isAbout @ $.zone_id
  Request-isAbout sh:minCount delete $.zone_id
  Zone-hasIdentifier sh:datatype set $.zone_id true
  Zone-hasIdentifier sh:maxCount add zone dso:hasIdentifier "other" @ $.zone_id
  Zone-hasIdentifier sh:minCount drop zone dso:hasIdentifier @ $.zone_id
  Zone-hasIdentifier sh:pattern set $.zone_id "  "
[flexibility-needs]
  Interval-end sh:datatype set $[0].end "not-a-time"
  Interval-end sh:maxCount add interval time:hasEnd/time:inXSDDateTimeStamp
      "2099-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $[0].end
  Interval-start sh:datatype set $[0].start "not-a-time"
  Interval-start sh:maxCount add interval time:hasBeginning/time:inXSDDateTimeStamp
      "1999-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $[0].start
  Interval-start sh:minCount delete $[0].start
  Interval-window sh:sparql set $[0].end "2021-09-27T10:00:00Z" model@ $[0]
  Meter-hasIdentifier sh:datatype set $[0].eligible_clients[0] true
  Meter-hasIdentifier sh:maxCount add meter dso:hasIdentifier "other" @ $[0].eligible_clients[0]
  Meter-hasIdentifier sh:minCount drop meter dso:hasIdentifier @ $[0].eligible_clients[0]
  Meter-hasIdentifier sh:pattern set $[0].eligible_clients[0] "  "
  Need-hasDirection sh:in set $[0].direction "furlong"
  Need-hasDirection sh:maxCount add need dso:hasDirection dso:Upward @ $[0].direction
  Need-hasDirection sh:minCount delete $[0].direction
  Need-hasEligibleMeter sh:class replace need dso:hasEligibleMeter OTHER @ $[0].eligible_clients[0]
  Need-hasIdentifier sh:datatype set $[0].request_id true
  Need-hasIdentifier sh:maxCount add need dso:hasIdentifier "other" @ $[0].request_id
  Need-hasIdentifier sh:pattern set $[0].request_id "  "
  Need-hasPowerType sh:in set $[0].power_type "furlong"
  Need-hasPowerType sh:maxCount add need dso:hasPowerType dso:ReactivePower @ $[0].power_type
  Need-hasPowerType sh:minCount delete $[0].power_type
  Need-hasTime sh:maxCount twin need saref:hasTime @ $[0]
  Need-hasValue sh:datatype replace need saref:hasValue "5"^^xsd:integer @ $[0].needs
  Need-hasValue sh:maxCount add need saref:hasValue "1000.0"^^xsd:decimal @ $[0].needs
  Need-hasValue sh:minCount delete $[0].needs
  Need-hasValue sh:minInclusive set $[0].needs -1
  Need-isMeasuredIn sh:in set $[0].unit "furlong"
  Need-isMeasuredIn sh:maxCount add need saref:isMeasuredIn om:megawatt @ $[0].unit
  Need-isMeasuredIn sh:minCount delete $[0].unit
  Need-isNeedOf sh:class replace need dso:isNeedOf OTHER @ $[0].zone_id
  Need-isNeedOf sh:maxCount twin need dso:isNeedOf @ $[0].zone_id
  Zone-hasIdentifier sh:datatype set $[0].zone_id true
  Zone-hasIdentifier sh:maxCount add zone dso:hasIdentifier "other" @ $[0].zone_id
  Zone-hasIdentifier sh:minCount drop zone dso:hasIdentifier @ $[0].zone_id
  Zone-hasIdentifier sh:pattern set $[0].zone_id "  "
[flexibility-needs-request]
  Interval-end sh:datatype set $.end "not-a-time"
  Interval-end sh:maxCount add interval time:hasEnd/time:inXSDDateTimeStamp
      "2099-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $.end
  Interval-end sh:minCount delete $.end
  Interval-start sh:datatype set $.start "not-a-time"
  Interval-start sh:maxCount add interval time:hasBeginning/time:inXSDDateTimeStamp
      "1999-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $.start
  Interval-start sh:minCount delete $.start
  Interval-window sh:sparql set $.end "2021-09-27T00:00:00Z" model@ $
  Request-hasTime sh:class replace request saref:hasTime OTHER @ $
  Request-hasTime sh:maxCount twin request saref:hasTime @ $
  Request-hasTime sh:minCount drop request saref:hasTime @ $
[flexibility-offers]
  Interval-end sh:datatype set $[0].end "not-a-time"
  Interval-end sh:maxCount add interval time:hasEnd/time:inXSDDateTimeStamp
      "2099-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $[0].end
  Interval-end sh:minCount delete $[0].end
  Interval-start sh:datatype set $[0].start "not-a-time"
  Interval-start sh:maxCount add interval time:hasBeginning/time:inXSDDateTimeStamp
      "1999-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $[0].start
  Interval-start sh:minCount delete $[0].start
  Interval-window sh:sparql set $[0].end "2021-09-27T10:00:00Z" model@ $[0]
  Need-hasIdentifier sh:datatype set $[0].request_id true
  Need-hasIdentifier sh:maxCount add need dso:hasIdentifier "other" @ $[0].request_id
  Need-hasIdentifier sh:minCount drop need dso:hasIdentifier @ $[0].request_id
  Need-hasIdentifier sh:pattern set $[0].request_id "  "
  Offer-hasIdentifier sh:datatype set $[0].offer_id true
  Offer-hasIdentifier sh:maxCount add offer dso:hasIdentifier "other" @ $[0].offer_id
  Offer-hasIdentifier sh:minCount delete $[0].offer_id
  Offer-hasIdentifier sh:pattern set $[0].offer_id "  "
  Offer-hasPrice sh:maxCount twin offer saref:hasPrice @ $[0]
  Offer-hasProvidingMeter sh:class replace offer dso:hasProvidingMeter OTHER @ $[0].meter_ids[0]
  Offer-hasTime sh:class replace offer saref:hasTime OTHER @ $[0]
  Offer-hasTime sh:maxCount twin offer saref:hasTime @ $[0]
  Offer-hasTime sh:minCount drop offer saref:hasTime @ $[0]
  Offer-hasValue sh:datatype replace offer saref:hasValue "5"^^xsd:integer @ $[0].offer
  Offer-hasValue sh:maxCount add offer saref:hasValue "1000.0"^^xsd:decimal @ $[0].offer
  Offer-hasValue sh:minCount delete $[0].offer
  Offer-hasValue sh:minInclusive set $[0].offer -1
  Offer-isMeasuredIn sh:in set $[0].unit "furlong"
  Offer-isMeasuredIn sh:maxCount add offer saref:isMeasuredIn om:megawatt @ $[0].unit
  Offer-isMeasuredIn sh:minCount drop offer saref:isMeasuredIn @ $[0].unit
  Offer-isOfferFor sh:class replace offer dso:isOfferFor OTHER @ $[0].request_id
  Offer-isOfferFor sh:maxCount twin offer dso:isOfferFor @ $[0].request_id
  Offer-isOfferFor sh:minCount delete $[0].request_id
  Price-hasValue sh:datatype set $[0].price "not-a-number"
  Price-hasValue sh:maxCount add price saref:hasValue "1000.0"^^xsd:decimal @ $[0].price
  Price-hasValue sh:minCount delete $[0].price
  Price-isMeasuredIn sh:hasValue drop price saref:isMeasuredIn @ $[0]
  Price-isMeasuredIn sh:maxCount add price saref:isMeasuredIn OTHER @ $[0]
  ProvidingMeter-hasIdentifier sh:datatype set $[0].meter_ids[0] true
  ProvidingMeter-hasIdentifier sh:maxCount add providing_meter dso:hasIdentifier "other" @ $[0].meter_ids[0]
  ProvidingMeter-hasIdentifier sh:minCount drop providing_meter dso:hasIdentifier @ $[0].meter_ids[0]
  ProvidingMeter-hasIdentifier sh:pattern set $[0].meter_ids[0] "  "
[grid-topology]
  Client-hasIdentifier sh:datatype set $[0].client_id true
  Client-hasIdentifier sh:maxCount add client dso:hasIdentifier "other" @ $[0].client_id
  Client-hasIdentifier sh:minCount drop client dso:hasIdentifier @ $[0].client_id
  Client-hasIdentifier sh:pattern set $[0].client_id "  "
  Client-hasVoltageLevel sh:in set $[0].voltage_level "furlong"
  Client-hasVoltageLevel sh:maxCount add client dso:hasVoltageLevel dso:MediumVoltage @ $[0].voltage_level
  Client-hasVoltageLevel sh:minCount delete $[0].voltage_level
  Client-isConnectedTo sh:class replace client dso:isConnectedTo OTHER @ $[0]
  Client-isConnectedTo sh:maxCount twin client dso:isConnectedTo @ $[0]
  Client-isFedBy sh:maxCount twin client dso:isFedBy @ $[0]
  Client-isSuppliedBy sh:class replace client dso:isSuppliedBy OTHER @ $[0].secondary_substation
  Client-isSuppliedBy sh:maxCount twin client dso:isSuppliedBy @ $[0].secondary_substation
  Ps-hasIdentifier sh:datatype replace ps dso:hasIdentifier "1"^^xsd:integer @ $[0].primary_substation
  Ps-hasIdentifier sh:maxCount add ps dso:hasIdentifier "other" @ $[0].primary_substation
  Ps-hasIdentifier sh:minCount drop ps dso:hasIdentifier @ $[0].primary_substation
  Ps-hasIdentifier sh:pattern replace ps dso:hasIdentifier " " @ $[0].primary_substation
  PsFeederNode-hasIdentifier sh:datatype replace ps_feeder_node dso:hasIdentifier "1"^^xsd:integer @ $[0].ps_feeder
  PsFeederNode-hasIdentifier sh:maxCount add ps_feeder_node dso:hasIdentifier "other" @ $[0].ps_feeder
  PsFeederNode-hasIdentifier sh:minCount drop ps_feeder_node dso:hasIdentifier @ $[0].ps_feeder
  PsFeederNode-hasIdentifier sh:pattern replace ps_feeder_node dso:hasIdentifier " " @ $[0].ps_feeder
  PsFeederNode-isFeederOf sh:class replace ps_feeder_node dso:isFeederOf OTHER @ $[0].primary_substation
  PsFeederNode-isFeederOf sh:maxCount twin ps_feeder_node dso:isFeederOf @ $[0].primary_substation
  PsFeederNode-isFeederOf sh:minCount drop ps_feeder_node dso:isFeederOf @ $[0].primary_substation
  Ss-hasIdentifier sh:datatype set $[0].secondary_substation true
  Ss-hasIdentifier sh:maxCount add ss dso:hasIdentifier "other" @ $[0].secondary_substation
  Ss-hasIdentifier sh:minCount drop ss dso:hasIdentifier @ $[0].secondary_substation
  Ss-hasIdentifier sh:pattern set $[0].secondary_substation "  "
  Ss-isFedBy sh:class untype ps_feeder_node dso:Feeder @ $[0]
  Ss-isFedBy sh:maxCount twin ss dso:isFedBy @ $[0]
  Ss-isFedBy sh:minCount drop ss dso:isFedBy @ $[0]
  SsFeederNode-hasIdentifier sh:datatype set $[0].ss_feeder true
  SsFeederNode-hasIdentifier sh:maxCount add ss_feeder_node dso:hasIdentifier "other" @ $[0].ss_feeder
  SsFeederNode-hasIdentifier sh:minCount delete $[0].ss_feeder
  SsFeederNode-hasIdentifier sh:pattern set $[0].ss_feeder "  "
  SsFeederNode-isFeederOf sh:class replace ss_feeder_node dso:isFeederOf OTHER @ $[0].secondary_substation
  SsFeederNode-isFeederOf sh:maxCount twin ss_feeder_node dso:isFeederOf @ $[0].secondary_substation
  SsFeederNode-isFeederOf sh:minCount delete $[0].secondary_substation
[hems-status]
  Hems-hasIdentifier sh:datatype set $.Voltage_Monitoring[0].Hems_ID true
  Hems-hasIdentifier sh:maxCount add hems dso:hasIdentifier "other" @ $.Voltage_Monitoring[0].Hems_ID
  Hems-hasIdentifier sh:minCount drop hems dso:hasIdentifier @ $.Voltage_Monitoring[0].Hems_ID
  Hems-hasIdentifier sh:pattern set $.Voltage_Monitoring[0].Hems_ID "  "
  Hems-hasState sh:maxCount twin hems saref:hasState @ $.Voltage_Monitoring[0]
  Hems-isInPostalCodeArea sh:class replace hems dso:isInPostalCodeArea OTHER @ $.Voltage_Monitoring[0].Postal_Code
  Hems-isInPostalCodeArea sh:maxCount twin hems dso:isInPostalCodeArea @ $.Voltage_Monitoring[0].Postal_Code
  PostalCodeArea-hasIdentifier sh:datatype set $.Voltage_Monitoring[0].Postal_Code true
  PostalCodeArea-hasIdentifier sh:maxCount add postal_code_area dso:hasIdentifier "other" @
      $.Voltage_Monitoring[0].Postal_Code
  PostalCodeArea-hasIdentifier sh:minCount drop postal_code_area dso:hasIdentifier @
      $.Voltage_Monitoring[0].Postal_Code
  PostalCodeArea-hasIdentifier sh:pattern set $.Voltage_Monitoring[0].Postal_Code "  "
  State-hasAbnormalVoltage sh:datatype set $.Voltage_Monitoring[0].Abnormal_Voltage "maybe"
  State-hasAbnormalVoltage sh:maxCount add state dso:hasAbnormalVoltage "false"^^xsd:boolean @
      $.Voltage_Monitoring[0].Abnormal_Voltage
  State-hasAbnormalVoltage sh:minCount delete $.Voltage_Monitoring[0].Abnormal_Voltage
  State-hasTimestamp sh:datatype set $.Voltage_Monitoring[0].timestamp "not-a-time"
  State-hasTimestamp sh:maxCount add state saref:hasTimestamp "2099-01-01T00:00:00Z"^^xsd:dateTime @
      $.Voltage_Monitoring[0].timestamp
  State-hasTimestamp sh:minCount delete $.Voltage_Monitoring[0].timestamp
  State-type sh:qualifiedMaxCount add state rdf:type saref:OffState @ $.Voltage_Monitoring[0].Status
[hems-status-request]
  Hems-hasIdentifier sh:datatype set $.Hems_ID true
  Hems-hasIdentifier sh:maxCount add hems dso:hasIdentifier "other" @ $.Hems_ID
  Hems-hasIdentifier sh:minCount drop hems dso:hasIdentifier @ $.Hems_ID
  Hems-hasIdentifier sh:pattern set $.Hems_ID "  "
  Hems-isInPostalCodeArea sh:class replace hems dso:isInPostalCodeArea OTHER @ $.Postal_Code
  Hems-isInPostalCodeArea sh:maxCount twin hems dso:isInPostalCodeArea @ $.Postal_Code
  PostalCodeArea-hasIdentifier sh:datatype set $.Postal_Code true
  PostalCodeArea-hasIdentifier sh:maxCount add postal_code_area dso:hasIdentifier "other" @ $.Postal_Code
  PostalCodeArea-hasIdentifier sh:minCount drop postal_code_area dso:hasIdentifier @ $.Postal_Code
  PostalCodeArea-hasIdentifier sh:pattern set $.Postal_Code "  "
[hems-voltage]
  Hems-hasIdentifier sh:datatype set $.Voltage_Monitoring[0].Hems_ID true
  Hems-hasIdentifier sh:maxCount add hems dso:hasIdentifier "other" @ $.Voltage_Monitoring[0].Hems_ID
  Hems-hasIdentifier sh:minCount drop hems dso:hasIdentifier @ $.Voltage_Monitoring[0].Hems_ID
  Hems-hasIdentifier sh:pattern set $.Voltage_Monitoring[0].Hems_ID "  "
  Hems-hasProperty sh:qualifiedMaxCount twin hems saref:hasProperty @ $.Voltage_Monitoring[0].Hems_ID
  Hems-hasProperty sh:qualifiedMinCount drop hems saref:hasProperty @ $.Voltage_Monitoring[0].Hems_ID also
      Measurement:sh:sparql
  Measurement sh:sparql replace hems saref:hasProperty OTHER a s4grid:Voltage @ $.Voltage_Monitoring[0].Hems_ID
  Measurement-hasTimestamp sh:datatype set $.Voltage_Monitoring[0].timestamp "not-a-time"
  Measurement-hasTimestamp sh:maxCount add measurement saref:hasTimestamp "2099-01-01T00:00:00Z"^^xsd:dateTime @
      $.Voltage_Monitoring[0].timestamp
  Measurement-hasTimestamp sh:minCount delete $.Voltage_Monitoring[0].timestamp
  Measurement-hasValue sh:datatype set $.Voltage_Monitoring[0].Voltage_from_Hems "not-a-number"
  Measurement-hasValue sh:maxCount add measurement saref:hasValue "1000.0"^^xsd:decimal @
      $.Voltage_Monitoring[0].Voltage_from_Hems
  Measurement-hasValue sh:minCount delete $.Voltage_Monitoring[0].Voltage_from_Hems
  Measurement-isMeasuredIn sh:in set $.Voltage_Monitoring[0].Voltage_from_Hems_unit "furlong"
  Measurement-isMeasuredIn sh:minCount drop measurement saref:isMeasuredIn @
      $.Voltage_Monitoring[0].Voltage_from_Hems_unit
  Measurement-measurementMadeBy sh:maxCount twin measurement saref:measurementMadeBy @
      $.Voltage_Monitoring[0].Hems_ID
  Measurement-relatesToProperty sh:class untype property s4grid:Voltage @ $.Voltage_Monitoring[0].Hems_ID also
      Hems-hasProperty:sh:qualifiedMinCount
  Measurement-relatesToProperty sh:maxCount twin measurement saref:relatesToProperty @
      $.Voltage_Monitoring[0].Hems_ID also Measurement:sh:sparql
  Measurement-relatesToProperty sh:minCount drop measurement saref:relatesToProperty @
      $.Voltage_Monitoring[0].Hems_ID
[hems-voltage-request]
  Hems-hasIdentifier sh:datatype set $.Hems_ID true
  Hems-hasIdentifier sh:maxCount add hems dso:hasIdentifier "other" @ $.Hems_ID
  Hems-hasIdentifier sh:minCount drop hems dso:hasIdentifier @ $.Hems_ID
  Hems-hasIdentifier sh:pattern set $.Hems_ID "  "
[incentive-offer]
  Interval-end sh:datatype set $.end "not-a-time"
  Interval-end sh:maxCount add interval time:hasEnd/time:inXSDDateTimeStamp
      "2099-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $.end
  Interval-end sh:minCount delete $.end
  Interval-start sh:datatype set $.start "not-a-time"
  Interval-start sh:maxCount add interval time:hasBeginning/time:inXSDDateTimeStamp
      "1999-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $.start
  Interval-start sh:minCount delete $.start
  Interval-window sh:sparql set $.end "2021-10-01T00:00:00Z" model@ $
  Offer-hasContractedPower sh:class replace offer dso:hasContractedPower OTHER @ $.offer_id
  Offer-hasContractedPower sh:maxCount twin offer dso:hasContractedPower @ $.offer_id
  Offer-hasContractedPower sh:minCount drop offer dso:hasContractedPower @ $.offer_id
  Offer-hasIdentifier sh:datatype set $.offer_id true
  Offer-hasIdentifier sh:maxCount add offer dso:hasIdentifier "other" @ $.offer_id
  Offer-hasIdentifier sh:minCount drop offer dso:hasIdentifier @ $.offer_id
  Offer-hasIdentifier sh:pattern set $.offer_id "  "
  Offer-hasPrice sh:maxCount twin offer saref:hasPrice @ $.offer_id
  Offer-hasTime sh:class replace offer saref:hasTime OTHER @ $
  Offer-hasTime sh:maxCount twin offer saref:hasTime @ $
  Offer-hasTime sh:minCount drop offer saref:hasTime @ $
  Offer-isOfferedTo sh:class replace offer dso:isOfferedTo OTHER @ $.end_user
  Offer-isOfferedTo sh:maxCount twin offer dso:isOfferedTo @ $.end_user
  Offer-isOfferedTo sh:minCount delete $.end_user
  PowerLimit-hasValue sh:datatype replace power_limit saref:hasValue "5"^^xsd:integer @ $.contracted_power
  PowerLimit-hasValue sh:maxCount add power_limit saref:hasValue "1000.0"^^xsd:decimal @ $.contracted_power
  PowerLimit-hasValue sh:minCount delete $.contracted_power
  PowerLimit-hasValue sh:minInclusive set $.contracted_power -1
  PowerLimit-isMeasuredIn sh:in set $.contracted_power_unit "furlong"
  PowerLimit-isMeasuredIn sh:maxCount add power_limit saref:isMeasuredIn om:megawatt @ $.contracted_power_unit
  PowerLimit-isMeasuredIn sh:minCount delete $.contracted_power_unit
  Price-hasValue sh:datatype set $.incentive "not-a-number"
  Price-hasValue sh:maxCount add price saref:hasValue "1000.0"^^xsd:decimal @ $.incentive
  Price-hasValue sh:minCount delete $.incentive
  Price-isMeasuredIn sh:in set $.incentive_unit "furlong"
  Price-isMeasuredIn sh:maxCount add price saref:isMeasuredIn om:euro @ $.incentive_unit
  Price-isMeasuredIn sh:minCount delete $.incentive_unit
  User-hasIdentifier sh:datatype set $.end_user true
  User-hasIdentifier sh:maxCount add user dso:hasIdentifier "other" @ $.end_user
  User-hasIdentifier sh:minCount drop user dso:hasIdentifier @ $.end_user
  User-hasIdentifier sh:pattern set $.end_user "  "
[incentive-response]
  Offer-hasIdentifier sh:datatype set $.offer_id true
  Offer-hasIdentifier sh:maxCount add offer dso:hasIdentifier "other" @ $.offer_id
  Offer-hasIdentifier sh:minCount drop offer dso:hasIdentifier @ $.offer_id
  Offer-hasIdentifier sh:pattern set $.offer_id "  "
  Offer-hasIncentiveDecision sh:maxCount add offer dso:hasIncentiveDecision dso:IncentiveRejected @ $.accepted
  Offer-isOfferedTo sh:class replace offer dso:isOfferedTo OTHER @ $.end_user
  Offer-isOfferedTo sh:maxCount twin offer dso:isOfferedTo @ $.end_user
  Offer-isOfferedTo sh:minCount delete $.end_user
  User-hasIdentifier sh:datatype set $.end_user true
  User-hasIdentifier sh:maxCount add user dso:hasIdentifier "other" @ $.end_user
  User-hasIdentifier sh:minCount drop user dso:hasIdentifier @ $.end_user
  User-hasIdentifier sh:pattern set $.end_user "  "
[lv-client-reading]
  ActivePowerInjectedMeasurement sh:sparql replace active_power_injected_measurement saref:relatesToProperty OTHER a
      dso:ActivePowerInjected @ $
  ActivePowerInjectedMeasurement-hasTimestamp sh:datatype replace active_power_injected_measurement
      saref:hasTimestamp "abc" @ $.timestamp
  ActivePowerInjectedMeasurement-hasTimestamp sh:maxCount add active_power_injected_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  ActivePowerInjectedMeasurement-hasTimestamp sh:minCount drop active_power_injected_measurement saref:hasTimestamp
      @ $.timestamp
  ActivePowerInjectedMeasurement-hasValue sh:datatype replace active_power_injected_measurement saref:hasValue
      "5"^^xsd:integer @ $.active_power_injected
  ActivePowerInjectedMeasurement-hasValue sh:maxCount add active_power_injected_measurement saref:hasValue
      "1000.0"^^xsd:decimal @ $.active_power_injected
  ActivePowerInjectedMeasurement-hasValue sh:minCount delete $.active_power_injected
  ActivePowerInjectedMeasurement-hasValue sh:minInclusive set $.active_power_injected -1
  ActivePowerInjectedMeasurement-isMeasuredIn sh:hasValue drop active_power_injected_measurement saref:isMeasuredIn
      @ $
  ActivePowerInjectedMeasurement-isMeasuredIn sh:maxCount add active_power_injected_measurement saref:isMeasuredIn
      OTHER @ $
  ActivePowerInjectedMeasurement-isMeasurementOf sh:maxCount twin active_power_injected_measurement
      saref:isMeasurementOf @ $.id
  ActivePowerInjectedMeasurement-relatesToProperty sh:maxCount twin active_power_injected_measurement
      saref:relatesToProperty @ $.id also ActivePowerInjectedMeasurement:sh:sparql
  ActivePowerWithdrawnMeasurement sh:sparql replace active_power_withdrawn_measurement saref:relatesToProperty OTHER
      a dso:ActivePowerWithdrawn @ $
  ActivePowerWithdrawnMeasurement-hasTimestamp sh:datatype replace active_power_withdrawn_measurement
      saref:hasTimestamp "abc" @ $.timestamp
  ActivePowerWithdrawnMeasurement-hasTimestamp sh:maxCount add active_power_withdrawn_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  ActivePowerWithdrawnMeasurement-hasTimestamp sh:minCount drop active_power_withdrawn_measurement
      saref:hasTimestamp @ $.timestamp
  ActivePowerWithdrawnMeasurement-hasValue sh:datatype replace active_power_withdrawn_measurement saref:hasValue
      "5"^^xsd:integer @ $.active_power_withdrawn
  ActivePowerWithdrawnMeasurement-hasValue sh:maxCount add active_power_withdrawn_measurement saref:hasValue
      "1000.0"^^xsd:decimal @ $.active_power_withdrawn
  ActivePowerWithdrawnMeasurement-hasValue sh:minCount delete $.active_power_withdrawn
  ActivePowerWithdrawnMeasurement-hasValue sh:minInclusive set $.active_power_withdrawn -1
  ActivePowerWithdrawnMeasurement-isMeasuredIn sh:hasValue drop active_power_withdrawn_measurement
      saref:isMeasuredIn @ $
  ActivePowerWithdrawnMeasurement-isMeasuredIn sh:maxCount add active_power_withdrawn_measurement saref:isMeasuredIn
      OTHER @ $
  ActivePowerWithdrawnMeasurement-isMeasurementOf sh:maxCount twin active_power_withdrawn_measurement
      saref:isMeasurementOf @ $.id
  ActivePowerWithdrawnMeasurement-relatesToProperty sh:maxCount twin active_power_withdrawn_measurement
      saref:relatesToProperty @ $.id also ActivePowerWithdrawnMeasurement:sh:sparql
  Client-hasIdentifier sh:datatype set $.id true
  Client-hasIdentifier sh:maxCount add client dso:hasIdentifier "other" @ $.id
  Client-hasIdentifier sh:minCount drop client dso:hasIdentifier @ $.id
  Client-hasIdentifier sh:pattern set $.id "  "
  Client-hasProperty-ActivePowerInjectedProperty sh:qualifiedMaxCount twin client saref:hasProperty @ $.id
  Client-hasProperty-ActivePowerInjectedProperty sh:qualifiedMinCount untype active_power_injected_property
      dso:ActivePowerInjected @ $.id
  Client-hasProperty-ActivePowerWithdrawnProperty sh:qualifiedMaxCount add client saref:hasProperty OTHER a
      dso:ActivePowerWithdrawn @ $.id
  Client-hasProperty-ActivePowerWithdrawnProperty sh:qualifiedMinCount untype active_power_withdrawn_property
      dso:ActivePowerWithdrawn @ $.id
  Client-hasProperty-ReactivePowerInjectedProperty sh:qualifiedMaxCount add client saref:hasProperty OTHER a
      dso:ReactivePowerInjected @ $.id
  Client-hasProperty-ReactivePowerInjectedProperty sh:qualifiedMinCount untype reactive_power_injected_property
      dso:ReactivePowerInjected @ $.id
  Client-hasProperty-ReactivePowerWithdrawnProperty sh:qualifiedMaxCount add client saref:hasProperty OTHER a
      dso:ReactivePowerWithdrawn @ $.id
  Client-hasProperty-ReactivePowerWithdrawnProperty sh:qualifiedMinCount untype reactive_power_withdrawn_property
      dso:ReactivePowerWithdrawn @ $.id
  Client-hasProperty-VoltageProperty sh:qualifiedMaxCount add client saref:hasProperty OTHER a s4grid:Voltage @ $.id
  Client-hasProperty-VoltageProperty sh:qualifiedMinCount untype voltage_property s4grid:Voltage @ $.id
  ReactivePowerInjectedMeasurement sh:sparql replace reactive_power_injected_measurement saref:relatesToProperty
      OTHER a dso:ReactivePowerInjected @ $
  ReactivePowerInjectedMeasurement-hasTimestamp sh:datatype replace reactive_power_injected_measurement
      saref:hasTimestamp "abc" @ $.timestamp
  ReactivePowerInjectedMeasurement-hasTimestamp sh:maxCount add reactive_power_injected_measurement
      saref:hasTimestamp "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  ReactivePowerInjectedMeasurement-hasTimestamp sh:minCount drop reactive_power_injected_measurement
      saref:hasTimestamp @ $.timestamp
  ReactivePowerInjectedMeasurement-hasValue sh:datatype replace reactive_power_injected_measurement saref:hasValue
      "5"^^xsd:integer @ $.reactive_power_injected
  ReactivePowerInjectedMeasurement-hasValue sh:maxCount add reactive_power_injected_measurement saref:hasValue
      "1000.0"^^xsd:decimal @ $.reactive_power_injected
  ReactivePowerInjectedMeasurement-hasValue sh:minCount delete $.reactive_power_injected
  ReactivePowerInjectedMeasurement-hasValue sh:minInclusive set $.reactive_power_injected -1
  ReactivePowerInjectedMeasurement-isMeasuredIn sh:hasValue drop reactive_power_injected_measurement
      saref:isMeasuredIn @ $
  ReactivePowerInjectedMeasurement-isMeasuredIn sh:maxCount add reactive_power_injected_measurement
      saref:isMeasuredIn OTHER @ $
  ReactivePowerInjectedMeasurement-isMeasurementOf sh:maxCount twin reactive_power_injected_measurement
      saref:isMeasurementOf @ $.id
  ReactivePowerInjectedMeasurement-relatesToProperty sh:maxCount twin reactive_power_injected_measurement
      saref:relatesToProperty @ $.id also ReactivePowerInjectedMeasurement:sh:sparql
  ReactivePowerWithdrawnMeasurement sh:sparql replace reactive_power_withdrawn_measurement saref:relatesToProperty
      OTHER a dso:ReactivePowerWithdrawn @ $
  ReactivePowerWithdrawnMeasurement-hasTimestamp sh:datatype replace reactive_power_withdrawn_measurement
      saref:hasTimestamp "abc" @ $.timestamp
  ReactivePowerWithdrawnMeasurement-hasTimestamp sh:maxCount add reactive_power_withdrawn_measurement
      saref:hasTimestamp "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  ReactivePowerWithdrawnMeasurement-hasTimestamp sh:minCount drop reactive_power_withdrawn_measurement
      saref:hasTimestamp @ $.timestamp
  ReactivePowerWithdrawnMeasurement-hasValue sh:datatype replace reactive_power_withdrawn_measurement saref:hasValue
      "5"^^xsd:integer @ $.reactive_power_withdrawn
  ReactivePowerWithdrawnMeasurement-hasValue sh:maxCount add reactive_power_withdrawn_measurement saref:hasValue
      "1000.0"^^xsd:decimal @ $.reactive_power_withdrawn
  ReactivePowerWithdrawnMeasurement-hasValue sh:minCount delete $.reactive_power_withdrawn
  ReactivePowerWithdrawnMeasurement-hasValue sh:minInclusive set $.reactive_power_withdrawn -1
  ReactivePowerWithdrawnMeasurement-isMeasuredIn sh:hasValue drop reactive_power_withdrawn_measurement
      saref:isMeasuredIn @ $
  ReactivePowerWithdrawnMeasurement-isMeasuredIn sh:maxCount add reactive_power_withdrawn_measurement
      saref:isMeasuredIn OTHER @ $
  ReactivePowerWithdrawnMeasurement-isMeasurementOf sh:maxCount twin reactive_power_withdrawn_measurement
      saref:isMeasurementOf @ $.id
  ReactivePowerWithdrawnMeasurement-relatesToProperty sh:maxCount twin reactive_power_withdrawn_measurement
      saref:relatesToProperty @ $.id also ReactivePowerWithdrawnMeasurement:sh:sparql
  VoltageMeasurement sh:sparql replace voltage_measurement saref:relatesToProperty OTHER a s4grid:Voltage @ $
  VoltageMeasurement-hasTimestamp sh:datatype replace voltage_measurement saref:hasTimestamp "abc" @ $.timestamp
  VoltageMeasurement-hasTimestamp sh:maxCount add voltage_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  VoltageMeasurement-hasTimestamp sh:minCount drop voltage_measurement saref:hasTimestamp @ $.timestamp
  VoltageMeasurement-hasValue sh:datatype replace voltage_measurement saref:hasValue "5"^^xsd:integer @ $.voltage
  VoltageMeasurement-hasValue sh:maxCount add voltage_measurement saref:hasValue "1000.0"^^xsd:decimal @ $.voltage
  VoltageMeasurement-hasValue sh:minCount delete $.voltage
  VoltageMeasurement-hasValue sh:minInclusive set $.voltage -1
  VoltageMeasurement-isMeasuredIn sh:hasValue drop voltage_measurement saref:isMeasuredIn @ $
  VoltageMeasurement-isMeasuredIn sh:maxCount add voltage_measurement saref:isMeasuredIn OTHER @ $
  VoltageMeasurement-isMeasurementOf sh:maxCount twin voltage_measurement saref:isMeasurementOf @ $.id
  VoltageMeasurement-relatesToProperty sh:maxCount twin voltage_measurement saref:relatesToProperty @ $.id also
      VoltageMeasurement:sh:sparql
[metering-data]
  Property sh:class untype property saref:Power @ $[0].id
  Reading sh:sparql drop subject saref:hasProperty @ $[0].id also Subject-hasProperty:sh:qualifiedMinCount
  Reading-hasTimestamp sh:datatype set $[0].readings[0].time "not-a-time"
  Reading-hasTimestamp sh:maxCount add reading saref:hasTimestamp "2099-01-01T00:00:00Z"^^xsd:dateTime @
      $[0].readings[0].time
  Reading-hasTimestamp sh:minCount delete $[0].readings[0].time
  Reading-hasValue sh:datatype set $[0].readings[0].measurement "not-a-number"
  Reading-hasValue sh:maxCount add reading saref:hasValue "1000.0"^^xsd:decimal @ $[0].readings[0].measurement
  Reading-hasValue sh:minCount delete $[0].readings[0].measurement
  Reading-isMeasuredIn sh:in set $[0].readings[0].unit "furlong"
  Reading-isMeasuredIn sh:maxCount add reading saref:isMeasuredIn om:megawatt @ $[0].readings[0].unit
  Reading-isMeasuredIn sh:minCount delete $[0].readings[0].unit
  Reading-isMeasurementOf sh:maxCount twin reading saref:isMeasurementOf @ $[0].id
  Reading-relatesToProperty sh:class untype property s4grid:ActivePower @ $[0].id also
      Subject-hasProperty:sh:qualifiedMinCount
  Reading-relatesToProperty sh:maxCount twin reading saref:relatesToProperty @ $[0].id also Reading:sh:sparql
  Reading-relatesToProperty sh:minCount drop reading saref:relatesToProperty @ $[0].id
  Subject-hasIdentifier sh:datatype set $[0].id true
  Subject-hasIdentifier sh:maxCount add subject dso:hasIdentifier "other" @ $[0].id
  Subject-hasIdentifier sh:minCount drop subject dso:hasIdentifier @ $[0].id
  Subject-hasIdentifier sh:pattern set $[0].id "  "
  Subject-hasProperty sh:qualifiedMaxCount twin subject saref:hasProperty @ $[0].id
  Subject-hasProperty sh:qualifiedMinCount drop subject saref:hasProperty @ $[0].id also Reading:sh:sparql
[metering-request]
  Interval-end sh:datatype set $.end "not-a-time"
  Interval-end sh:maxCount add interval time:hasEnd/time:inXSDDateTimeStamp
      "2099-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $.end
  Interval-end sh:minCount delete $.end
  Interval-start sh:datatype set $.start "not-a-time"
  Interval-start sh:maxCount add interval time:hasBeginning/time:inXSDDateTimeStamp
      "1999-01-01T00:00:00Z"^^xsd:dateTimeStamp @ $.start
  Interval-start sh:minCount delete $.start
  Interval-window sh:sparql set $.end "2021-09-27T10:00:00Z" model@ $
  Request-hasAuthorizationToken sh:class replace request dso:hasAuthorizationToken OTHER @ $.authorization_token
  Request-hasAuthorizationToken sh:maxCount twin request dso:hasAuthorizationToken @ $.authorization_token
  Request-hasData sh:in replace request dpv:hasData OTHER @ $.data_type
  Request-hasData sh:maxCount add request dpv:hasData dpv:AnonymisedData @ $.data_type
  Request-hasData sh:minCount drop request dpv:hasData @ $.data_type
  Request-hasGranularity sh:in set $.granularity "furlong"
  Request-hasGranularity sh:maxCount add request dso:hasGranularity dso:Hourly @ $.granularity
  Request-hasGranularity sh:minCount delete $.granularity
  Request-hasTime sh:class replace request saref:hasTime OTHER @ $
  Request-hasTime sh:maxCount twin request saref:hasTime @ $
  Request-hasTime sh:minCount drop request saref:hasTime @ $
  Request-isAbout sh:maxCount twin request saref:isAbout @ $.id
  Request-isAbout sh:minCount delete $.id
  Request-isAbout sh:nodeKind replace request saref:isAbout "abc" @ $.id also
      Subject-hasIdentifier:sh:minCount,Subject-type:sh:qualifiedMinCount
  Subject-hasIdentifier sh:datatype set $.id true
  Subject-hasIdentifier sh:maxCount add subject dso:hasIdentifier "other" @ $.id
  Subject-hasIdentifier sh:minCount drop subject dso:hasIdentifier @ $.id
  Subject-hasIdentifier sh:pattern set $.id "  "
  Subject-type sh:qualifiedMaxCount add subject rdf:type dso:GridZone @ $.data_type
  Subject-type sh:qualifiedMinCount untype subject dso:EndUser @ $.data_type
  Token-hasIdentifier sh:datatype set $.authorization_token true
  Token-hasIdentifier sh:maxCount add token dso:hasIdentifier "other" @ $.authorization_token
  Token-hasIdentifier sh:minCount drop token dso:hasIdentifier @ $.authorization_token
  Token-hasIdentifier sh:pattern set $.authorization_token "  "
[mv-client-reading]
  ActivePowerWithdrawnMeasurement sh:sparql replace active_power_withdrawn_measurement saref:relatesToProperty OTHER
      a dso:ActivePowerWithdrawn @ $
  ActivePowerWithdrawnMeasurement-hasTimestamp sh:datatype replace active_power_withdrawn_measurement
      saref:hasTimestamp "abc" @ $.timestamp
  ActivePowerWithdrawnMeasurement-hasTimestamp sh:maxCount add active_power_withdrawn_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  ActivePowerWithdrawnMeasurement-hasTimestamp sh:minCount drop active_power_withdrawn_measurement
      saref:hasTimestamp @ $.timestamp
  ActivePowerWithdrawnMeasurement-hasValue sh:datatype replace active_power_withdrawn_measurement saref:hasValue
      "5"^^xsd:integer @ $.active_power_withdrawn
  ActivePowerWithdrawnMeasurement-hasValue sh:maxCount add active_power_withdrawn_measurement saref:hasValue
      "1000.0"^^xsd:decimal @ $.active_power_withdrawn
  ActivePowerWithdrawnMeasurement-hasValue sh:minCount delete $.active_power_withdrawn
  ActivePowerWithdrawnMeasurement-hasValue sh:minInclusive set $.active_power_withdrawn -1
  ActivePowerWithdrawnMeasurement-isMeasuredIn sh:hasValue drop active_power_withdrawn_measurement
      saref:isMeasuredIn @ $
  ActivePowerWithdrawnMeasurement-isMeasuredIn sh:maxCount add active_power_withdrawn_measurement saref:isMeasuredIn
      OTHER @ $
  ActivePowerWithdrawnMeasurement-isMeasurementOf sh:maxCount twin active_power_withdrawn_measurement
      saref:isMeasurementOf @ $.id
  ActivePowerWithdrawnMeasurement-relatesToProperty sh:maxCount twin active_power_withdrawn_measurement
      saref:relatesToProperty @ $.id also ActivePowerWithdrawnMeasurement:sh:sparql
  Client-hasIdentifier sh:datatype set $.id true
  Client-hasIdentifier sh:maxCount add client dso:hasIdentifier "other" @ $.id
  Client-hasIdentifier sh:minCount drop client dso:hasIdentifier @ $.id
  Client-hasIdentifier sh:pattern set $.id "  "
  Client-hasProperty-ActivePowerWithdrawnProperty sh:qualifiedMaxCount twin client saref:hasProperty @ $.id
  Client-hasProperty-ActivePowerWithdrawnProperty sh:qualifiedMinCount untype active_power_withdrawn_property
      dso:ActivePowerWithdrawn @ $.id
  Client-hasProperty-ReactivePowerInjectedProperty sh:qualifiedMaxCount add client saref:hasProperty OTHER a
      dso:ReactivePowerInjected @ $.id
  Client-hasProperty-ReactivePowerInjectedProperty sh:qualifiedMinCount untype reactive_power_injected_property
      dso:ReactivePowerInjected @ $.id
  Client-hasProperty-ReactivePowerWithdrawnProperty sh:qualifiedMaxCount add client saref:hasProperty OTHER a
      dso:ReactivePowerWithdrawn @ $.id
  Client-hasProperty-ReactivePowerWithdrawnProperty sh:qualifiedMinCount untype reactive_power_withdrawn_property
      dso:ReactivePowerWithdrawn @ $.id
  ReactivePowerInjectedMeasurement sh:sparql replace reactive_power_injected_measurement saref:relatesToProperty
      OTHER a dso:ReactivePowerInjected @ $
  ReactivePowerInjectedMeasurement-hasTimestamp sh:datatype replace reactive_power_injected_measurement
      saref:hasTimestamp "abc" @ $.timestamp
  ReactivePowerInjectedMeasurement-hasTimestamp sh:maxCount add reactive_power_injected_measurement
      saref:hasTimestamp "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  ReactivePowerInjectedMeasurement-hasTimestamp sh:minCount drop reactive_power_injected_measurement
      saref:hasTimestamp @ $.timestamp
  ReactivePowerInjectedMeasurement-hasValue sh:datatype replace reactive_power_injected_measurement saref:hasValue
      "5"^^xsd:integer @ $.reactive_power_injected
  ReactivePowerInjectedMeasurement-hasValue sh:maxCount add reactive_power_injected_measurement saref:hasValue
      "1000.0"^^xsd:decimal @ $.reactive_power_injected
  ReactivePowerInjectedMeasurement-hasValue sh:minCount delete $.reactive_power_injected
  ReactivePowerInjectedMeasurement-hasValue sh:minInclusive set $.reactive_power_injected -1
  ReactivePowerInjectedMeasurement-isMeasuredIn sh:hasValue drop reactive_power_injected_measurement
      saref:isMeasuredIn @ $
  ReactivePowerInjectedMeasurement-isMeasuredIn sh:maxCount add reactive_power_injected_measurement
      saref:isMeasuredIn OTHER @ $
  ReactivePowerInjectedMeasurement-isMeasurementOf sh:maxCount twin reactive_power_injected_measurement
      saref:isMeasurementOf @ $.id
  ReactivePowerInjectedMeasurement-relatesToProperty sh:maxCount twin reactive_power_injected_measurement
      saref:relatesToProperty @ $.id also ReactivePowerInjectedMeasurement:sh:sparql
  ReactivePowerWithdrawnMeasurement sh:sparql replace reactive_power_withdrawn_measurement saref:relatesToProperty
      OTHER a dso:ReactivePowerWithdrawn @ $
  ReactivePowerWithdrawnMeasurement-hasTimestamp sh:datatype replace reactive_power_withdrawn_measurement
      saref:hasTimestamp "abc" @ $.timestamp
  ReactivePowerWithdrawnMeasurement-hasTimestamp sh:maxCount add reactive_power_withdrawn_measurement
      saref:hasTimestamp "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  ReactivePowerWithdrawnMeasurement-hasTimestamp sh:minCount drop reactive_power_withdrawn_measurement
      saref:hasTimestamp @ $.timestamp
  ReactivePowerWithdrawnMeasurement-hasValue sh:datatype replace reactive_power_withdrawn_measurement saref:hasValue
      "5"^^xsd:integer @ $.reactive_power_withdrawn
  ReactivePowerWithdrawnMeasurement-hasValue sh:maxCount add reactive_power_withdrawn_measurement saref:hasValue
      "1000.0"^^xsd:decimal @ $.reactive_power_withdrawn
  ReactivePowerWithdrawnMeasurement-hasValue sh:minCount delete $.reactive_power_withdrawn
  ReactivePowerWithdrawnMeasurement-hasValue sh:minInclusive set $.reactive_power_withdrawn -1
  ReactivePowerWithdrawnMeasurement-isMeasuredIn sh:hasValue drop reactive_power_withdrawn_measurement
      saref:isMeasuredIn @ $
  ReactivePowerWithdrawnMeasurement-isMeasuredIn sh:maxCount add reactive_power_withdrawn_measurement
      saref:isMeasuredIn OTHER @ $
  ReactivePowerWithdrawnMeasurement-isMeasurementOf sh:maxCount twin reactive_power_withdrawn_measurement
      saref:isMeasurementOf @ $.id
  ReactivePowerWithdrawnMeasurement-relatesToProperty sh:maxCount twin reactive_power_withdrawn_measurement
      saref:relatesToProperty @ $.id also ReactivePowerWithdrawnMeasurement:sh:sparql
[opportunities]
  Area-hasIdentifier sh:datatype set $.opportunities[0].zip_code true
  Area-hasIdentifier sh:maxCount add area dso:hasIdentifier "other" @ $.opportunities[0].zip_code
  Area-hasIdentifier sh:minCount drop area dso:hasIdentifier @ $.opportunities[0].zip_code
  Area-hasIdentifier sh:pattern set $.opportunities[0].zip_code "  "
  Opportunity-hasRecommendation sh:datatype set $.opportunities[0].message[0] true
  Opportunity-isAbout sh:class untype area dso:PostalCodeArea @ $.opportunities[0].zip_code
  Opportunity-isAbout sh:maxCount twin opportunity saref:isAbout @ $.opportunities[0].zip_code
  Opportunity-isAbout sh:minCount drop opportunity saref:isAbout @ $.opportunities[0].zip_code
[opportunities-request]
  Request-isAbout sh:class untype requested_area dso:PostalCodeArea @ $.zip_codes[0]
  Request-isAbout sh:maxCount twin request saref:isAbout @ $.zip_codes[0]
  Request-isAbout sh:minCount drop request saref:isAbout @ $.zip_codes[0]
  RequestedArea-hasIdentifier sh:datatype set $.zip_codes[0] true
  RequestedArea-hasIdentifier sh:maxCount add requested_area dso:hasIdentifier "other" @ $.zip_codes[0]
  RequestedArea-hasIdentifier sh:minCount drop requested_area dso:hasIdentifier @ $.zip_codes[0]
  RequestedArea-hasIdentifier sh:pattern set $.zip_codes[0] "  "
[primary-substation-reading]
  ActivePowerMeasurement sh:sparql replace active_power_measurement saref:relatesToProperty OTHER a
      s4grid:ActivePower @ $
  ActivePowerMeasurement-hasTimestamp sh:datatype replace active_power_measurement saref:hasTimestamp "abc" @
      $.timestamp
  ActivePowerMeasurement-hasTimestamp sh:maxCount add active_power_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  ActivePowerMeasurement-hasTimestamp sh:minCount drop active_power_measurement saref:hasTimestamp @ $.timestamp
  ActivePowerMeasurement-hasValue sh:datatype set $.active_power "not-a-number"
  ActivePowerMeasurement-hasValue sh:maxCount add active_power_measurement saref:hasValue "1000.0"^^xsd:decimal @
      $.active_power
  ActivePowerMeasurement-hasValue sh:minCount delete $.active_power
  ActivePowerMeasurement-isMeasuredIn sh:hasValue drop active_power_measurement saref:isMeasuredIn @ $
  ActivePowerMeasurement-isMeasuredIn sh:maxCount add active_power_measurement saref:isMeasuredIn OTHER @ $
  ActivePowerMeasurement-isMeasurementOf sh:maxCount twin active_power_measurement saref:isMeasurementOf @ $.id
  ActivePowerMeasurement-relatesToProperty sh:maxCount twin active_power_measurement saref:relatesToProperty @ $.id
      also ActivePowerMeasurement:sh:sparql
  CurrentMeasurement sh:sparql replace current_measurement saref:relatesToProperty OTHER a s4grid:Current @ $
  CurrentMeasurement-hasTimestamp sh:datatype replace current_measurement saref:hasTimestamp "abc" @ $.timestamp
  CurrentMeasurement-hasTimestamp sh:maxCount add current_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  CurrentMeasurement-hasTimestamp sh:minCount drop current_measurement saref:hasTimestamp @ $.timestamp
  CurrentMeasurement-hasValue sh:datatype replace current_measurement saref:hasValue "5"^^xsd:integer @ $.current
  CurrentMeasurement-hasValue sh:maxCount add current_measurement saref:hasValue "1000.0"^^xsd:decimal @ $.current
  CurrentMeasurement-hasValue sh:minCount delete $.current
  CurrentMeasurement-hasValue sh:minInclusive set $.current -1
  CurrentMeasurement-isMeasuredIn sh:hasValue drop current_measurement saref:isMeasuredIn @ $
  CurrentMeasurement-isMeasuredIn sh:maxCount add current_measurement saref:isMeasuredIn OTHER @ $
  CurrentMeasurement-isMeasurementOf sh:class replace current_measurement saref:isMeasurementOf OTHER @ $.id also
      CurrentMeasurement:sh:sparql
  CurrentMeasurement-isMeasurementOf sh:maxCount twin current_measurement saref:isMeasurementOf @ $.id
  CurrentMeasurement-isMeasurementOf sh:minCount drop current_measurement saref:isMeasurementOf @ $.id
  CurrentMeasurement-relatesToProperty sh:maxCount twin current_measurement saref:relatesToProperty @ $.id also
      CurrentMeasurement:sh:sparql
  ReactivePowerMeasurement sh:sparql replace reactive_power_measurement saref:relatesToProperty OTHER a
      s4grid:ReactivePower @ $
  ReactivePowerMeasurement-hasTimestamp sh:datatype replace reactive_power_measurement saref:hasTimestamp "abc" @
      $.timestamp
  ReactivePowerMeasurement-hasTimestamp sh:maxCount add reactive_power_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  ReactivePowerMeasurement-hasTimestamp sh:minCount drop reactive_power_measurement saref:hasTimestamp @ $.timestamp
  ReactivePowerMeasurement-hasValue sh:datatype set $.reactive_power "not-a-number"
  ReactivePowerMeasurement-hasValue sh:maxCount add reactive_power_measurement saref:hasValue "1000.0"^^xsd:decimal
      @ $.reactive_power
  ReactivePowerMeasurement-hasValue sh:minCount delete $.reactive_power
  ReactivePowerMeasurement-isMeasuredIn sh:hasValue drop reactive_power_measurement saref:isMeasuredIn @ $
  ReactivePowerMeasurement-isMeasuredIn sh:maxCount add reactive_power_measurement saref:isMeasuredIn OTHER @ $
  ReactivePowerMeasurement-isMeasurementOf sh:class replace reactive_power_measurement saref:isMeasurementOf OTHER @
      $.id also ReactivePowerMeasurement:sh:sparql
  ReactivePowerMeasurement-isMeasurementOf sh:maxCount twin reactive_power_measurement saref:isMeasurementOf @ $.id
  ReactivePowerMeasurement-isMeasurementOf sh:minCount drop reactive_power_measurement saref:isMeasurementOf @ $.id
  ReactivePowerMeasurement-relatesToProperty sh:maxCount twin reactive_power_measurement saref:relatesToProperty @
      $.id also ReactivePowerMeasurement:sh:sparql
  Substation-hasIdentifier sh:datatype set $.id true
  Substation-hasIdentifier sh:maxCount add substation dso:hasIdentifier "other" @ $.id
  Substation-hasIdentifier sh:minCount drop substation dso:hasIdentifier @ $.id
  Substation-hasIdentifier sh:pattern set $.id "  "
  Substation-hasProperty-ActivePowerProperty sh:qualifiedMaxCount twin substation saref:hasProperty @ $.id
  Substation-hasProperty-ActivePowerProperty sh:qualifiedMinCount untype active_power_property s4grid:ActivePower @
      $.id
  Substation-hasProperty-CurrentProperty sh:qualifiedMaxCount add substation saref:hasProperty OTHER a
      s4grid:Current @ $.id
  Substation-hasProperty-CurrentProperty sh:qualifiedMinCount untype current_property s4grid:Current @ $.id
  Substation-hasProperty-ReactivePowerProperty sh:qualifiedMaxCount add substation saref:hasProperty OTHER a
      s4grid:ReactivePower @ $.id
  Substation-hasProperty-ReactivePowerProperty sh:qualifiedMinCount untype reactive_power_property
      s4grid:ReactivePower @ $.id
  Substation-hasProperty-TapPositionProperty sh:qualifiedMaxCount add substation saref:hasProperty OTHER a
      dso:TapPosition @ $.id
  Substation-hasProperty-TapPositionProperty sh:qualifiedMinCount untype tap_position_property dso:TapPosition @
      $.id
  Substation-hasProperty-VoltageProperty sh:qualifiedMaxCount add substation saref:hasProperty OTHER a
      s4grid:Voltage @ $.id
  Substation-hasProperty-VoltageProperty sh:qualifiedMinCount untype voltage_property s4grid:Voltage @ $.id
  TapPositionMeasurement sh:sparql replace tap_position_measurement saref:relatesToProperty OTHER a dso:TapPosition
      @ $
  TapPositionMeasurement-hasTimestamp sh:datatype replace tap_position_measurement saref:hasTimestamp "abc" @
      $.timestamp
  TapPositionMeasurement-hasTimestamp sh:maxCount add tap_position_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  TapPositionMeasurement-hasTimestamp sh:minCount drop tap_position_measurement saref:hasTimestamp @ $.timestamp
  TapPositionMeasurement-hasValue sh:datatype set $.tap_position "x"
  TapPositionMeasurement-hasValue sh:maxCount add tap_position_measurement saref:hasValue "7"^^xsd:integer @
      $.tap_position
  TapPositionMeasurement-hasValue sh:minCount delete $.tap_position
  TapPositionMeasurement-isMeasuredIn sh:hasValue drop tap_position_measurement saref:isMeasuredIn @ $
  TapPositionMeasurement-isMeasuredIn sh:maxCount add tap_position_measurement saref:isMeasuredIn OTHER @ $
  TapPositionMeasurement-isMeasurementOf sh:class replace tap_position_measurement saref:isMeasurementOf OTHER @
      $.id also TapPositionMeasurement:sh:sparql
  TapPositionMeasurement-isMeasurementOf sh:maxCount twin tap_position_measurement saref:isMeasurementOf @ $.id
  TapPositionMeasurement-isMeasurementOf sh:minCount drop tap_position_measurement saref:isMeasurementOf @ $.id
  TapPositionMeasurement-relatesToProperty sh:maxCount twin tap_position_measurement saref:relatesToProperty @ $.id
      also TapPositionMeasurement:sh:sparql
  VoltageMeasurement sh:sparql replace voltage_measurement saref:relatesToProperty OTHER a s4grid:Voltage @ $
  VoltageMeasurement-hasTimestamp sh:datatype replace voltage_measurement saref:hasTimestamp "abc" @ $.timestamp
  VoltageMeasurement-hasTimestamp sh:maxCount add voltage_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  VoltageMeasurement-hasTimestamp sh:minCount drop voltage_measurement saref:hasTimestamp @ $.timestamp
  VoltageMeasurement-hasValue sh:datatype replace voltage_measurement saref:hasValue "5"^^xsd:integer @ $.voltage
  VoltageMeasurement-hasValue sh:maxCount add voltage_measurement saref:hasValue "1000.0"^^xsd:decimal @ $.voltage
  VoltageMeasurement-hasValue sh:minCount delete $.voltage
  VoltageMeasurement-hasValue sh:minInclusive set $.voltage -1
  VoltageMeasurement-isMeasuredIn sh:hasValue drop voltage_measurement saref:isMeasuredIn @ $
  VoltageMeasurement-isMeasuredIn sh:maxCount add voltage_measurement saref:isMeasuredIn OTHER @ $
  VoltageMeasurement-isMeasurementOf sh:maxCount twin voltage_measurement saref:isMeasurementOf @ $.id
  VoltageMeasurement-relatesToProperty sh:maxCount twin voltage_measurement saref:relatesToProperty @ $.id also
      VoltageMeasurement:sh:sparql
[secondary-substation-reading]
  ActivePowerInjectedMeasurement sh:sparql replace active_power_injected_measurement saref:relatesToProperty OTHER a
      dso:ActivePowerInjected @ $
  ActivePowerInjectedMeasurement-hasTimestamp sh:datatype replace active_power_injected_measurement
      saref:hasTimestamp "abc" @ $.timestamp
  ActivePowerInjectedMeasurement-hasTimestamp sh:maxCount add active_power_injected_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  ActivePowerInjectedMeasurement-hasTimestamp sh:minCount drop active_power_injected_measurement saref:hasTimestamp
      @ $.timestamp
  ActivePowerInjectedMeasurement-hasValue sh:datatype replace active_power_injected_measurement saref:hasValue
      "5"^^xsd:integer @ $.active_power_injected
  ActivePowerInjectedMeasurement-hasValue sh:maxCount add active_power_injected_measurement saref:hasValue
      "1000.0"^^xsd:decimal @ $.active_power_injected
  ActivePowerInjectedMeasurement-hasValue sh:minCount delete $.active_power_injected
  ActivePowerInjectedMeasurement-hasValue sh:minInclusive set $.active_power_injected -1
  ActivePowerInjectedMeasurement-isMeasuredIn sh:hasValue drop active_power_injected_measurement saref:isMeasuredIn
      @ $
  ActivePowerInjectedMeasurement-isMeasuredIn sh:maxCount add active_power_injected_measurement saref:isMeasuredIn
      OTHER @ $
  ActivePowerInjectedMeasurement-isMeasurementOf sh:maxCount twin active_power_injected_measurement
      saref:isMeasurementOf @ $.id
  ActivePowerInjectedMeasurement-relatesToProperty sh:maxCount twin active_power_injected_measurement
      saref:relatesToProperty @ $.id also ActivePowerInjectedMeasurement:sh:sparql
  ActivePowerWithdrawnMeasurement sh:sparql replace active_power_withdrawn_measurement saref:relatesToProperty OTHER
      a dso:ActivePowerWithdrawn @ $
  ActivePowerWithdrawnMeasurement-hasTimestamp sh:datatype replace active_power_withdrawn_measurement
      saref:hasTimestamp "abc" @ $.timestamp
  ActivePowerWithdrawnMeasurement-hasTimestamp sh:maxCount add active_power_withdrawn_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  ActivePowerWithdrawnMeasurement-hasTimestamp sh:minCount drop active_power_withdrawn_measurement
      saref:hasTimestamp @ $.timestamp
  ActivePowerWithdrawnMeasurement-hasValue sh:datatype replace active_power_withdrawn_measurement saref:hasValue
      "5"^^xsd:integer @ $.active_power_withdrawn
  ActivePowerWithdrawnMeasurement-hasValue sh:maxCount add active_power_withdrawn_measurement saref:hasValue
      "1000.0"^^xsd:decimal @ $.active_power_withdrawn
  ActivePowerWithdrawnMeasurement-hasValue sh:minCount delete $.active_power_withdrawn
  ActivePowerWithdrawnMeasurement-hasValue sh:minInclusive set $.active_power_withdrawn -1
  ActivePowerWithdrawnMeasurement-isMeasuredIn sh:hasValue drop active_power_withdrawn_measurement
      saref:isMeasuredIn @ $
  ActivePowerWithdrawnMeasurement-isMeasuredIn sh:maxCount add active_power_withdrawn_measurement saref:isMeasuredIn
      OTHER @ $
  ActivePowerWithdrawnMeasurement-isMeasurementOf sh:maxCount twin active_power_withdrawn_measurement
      saref:isMeasurementOf @ $.id
  ActivePowerWithdrawnMeasurement-relatesToProperty sh:maxCount twin active_power_withdrawn_measurement
      saref:relatesToProperty @ $.id also ActivePowerWithdrawnMeasurement:sh:sparql
  ReactivePowerInjectedMeasurement sh:sparql replace reactive_power_injected_measurement saref:relatesToProperty
      OTHER a dso:ReactivePowerInjected @ $
  ReactivePowerInjectedMeasurement-hasTimestamp sh:datatype replace reactive_power_injected_measurement
      saref:hasTimestamp "abc" @ $.timestamp
  ReactivePowerInjectedMeasurement-hasTimestamp sh:maxCount add reactive_power_injected_measurement
      saref:hasTimestamp "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  ReactivePowerInjectedMeasurement-hasTimestamp sh:minCount drop reactive_power_injected_measurement
      saref:hasTimestamp @ $.timestamp
  ReactivePowerInjectedMeasurement-hasValue sh:datatype replace reactive_power_injected_measurement saref:hasValue
      "5"^^xsd:integer @ $.reactive_power_injected
  ReactivePowerInjectedMeasurement-hasValue sh:maxCount add reactive_power_injected_measurement saref:hasValue
      "1000.0"^^xsd:decimal @ $.reactive_power_injected
  ReactivePowerInjectedMeasurement-hasValue sh:minCount delete $.reactive_power_injected
  ReactivePowerInjectedMeasurement-hasValue sh:minInclusive set $.reactive_power_injected -1
  ReactivePowerInjectedMeasurement-isMeasuredIn sh:hasValue drop reactive_power_injected_measurement
      saref:isMeasuredIn @ $
  ReactivePowerInjectedMeasurement-isMeasuredIn sh:maxCount add reactive_power_injected_measurement
      saref:isMeasuredIn OTHER @ $
  ReactivePowerInjectedMeasurement-isMeasurementOf sh:maxCount twin reactive_power_injected_measurement
      saref:isMeasurementOf @ $.id
  ReactivePowerInjectedMeasurement-relatesToProperty sh:maxCount twin reactive_power_injected_measurement
      saref:relatesToProperty @ $.id also ReactivePowerInjectedMeasurement:sh:sparql
  ReactivePowerWithdrawnMeasurement sh:sparql replace reactive_power_withdrawn_measurement saref:relatesToProperty
      OTHER a dso:ReactivePowerWithdrawn @ $
  ReactivePowerWithdrawnMeasurement-hasTimestamp sh:datatype replace reactive_power_withdrawn_measurement
      saref:hasTimestamp "abc" @ $.timestamp
  ReactivePowerWithdrawnMeasurement-hasTimestamp sh:maxCount add reactive_power_withdrawn_measurement
      saref:hasTimestamp "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  ReactivePowerWithdrawnMeasurement-hasTimestamp sh:minCount drop reactive_power_withdrawn_measurement
      saref:hasTimestamp @ $.timestamp
  ReactivePowerWithdrawnMeasurement-hasValue sh:datatype replace reactive_power_withdrawn_measurement saref:hasValue
      "5"^^xsd:integer @ $.reactive_power_withdrawn
  ReactivePowerWithdrawnMeasurement-hasValue sh:maxCount add reactive_power_withdrawn_measurement saref:hasValue
      "1000.0"^^xsd:decimal @ $.reactive_power_withdrawn
  ReactivePowerWithdrawnMeasurement-hasValue sh:minCount delete $.reactive_power_withdrawn
  ReactivePowerWithdrawnMeasurement-hasValue sh:minInclusive set $.reactive_power_withdrawn -1
  ReactivePowerWithdrawnMeasurement-isMeasuredIn sh:hasValue drop reactive_power_withdrawn_measurement
      saref:isMeasuredIn @ $
  ReactivePowerWithdrawnMeasurement-isMeasuredIn sh:maxCount add reactive_power_withdrawn_measurement
      saref:isMeasuredIn OTHER @ $
  ReactivePowerWithdrawnMeasurement-isMeasurementOf sh:maxCount twin reactive_power_withdrawn_measurement
      saref:isMeasurementOf @ $.id
  ReactivePowerWithdrawnMeasurement-relatesToProperty sh:maxCount twin reactive_power_withdrawn_measurement
      saref:relatesToProperty @ $.id also ReactivePowerWithdrawnMeasurement:sh:sparql
  Substation-hasIdentifier sh:datatype set $.id true
  Substation-hasIdentifier sh:maxCount add substation dso:hasIdentifier "other" @ $.id
  Substation-hasIdentifier sh:minCount drop substation dso:hasIdentifier @ $.id
  Substation-hasIdentifier sh:pattern set $.id "  "
  Substation-hasProperty-ActivePowerInjectedProperty sh:qualifiedMaxCount twin substation saref:hasProperty @ $.id
  Substation-hasProperty-ActivePowerInjectedProperty sh:qualifiedMinCount untype active_power_injected_property
      dso:ActivePowerInjected @ $.id
  Substation-hasProperty-ActivePowerWithdrawnProperty sh:qualifiedMaxCount add substation saref:hasProperty OTHER a
      dso:ActivePowerWithdrawn @ $.id
  Substation-hasProperty-ActivePowerWithdrawnProperty sh:qualifiedMinCount untype active_power_withdrawn_property
      dso:ActivePowerWithdrawn @ $.id
  Substation-hasProperty-ReactivePowerInjectedProperty sh:qualifiedMaxCount add substation saref:hasProperty OTHER a
      dso:ReactivePowerInjected @ $.id
  Substation-hasProperty-ReactivePowerInjectedProperty sh:qualifiedMinCount untype reactive_power_injected_property
      dso:ReactivePowerInjected @ $.id
  Substation-hasProperty-ReactivePowerWithdrawnProperty sh:qualifiedMaxCount add substation saref:hasProperty OTHER
      a dso:ReactivePowerWithdrawn @ $.id
  Substation-hasProperty-ReactivePowerWithdrawnProperty sh:qualifiedMinCount untype
      reactive_power_withdrawn_property dso:ReactivePowerWithdrawn @ $.id
  Substation-hasProperty-VoltageProperty sh:qualifiedMaxCount add substation saref:hasProperty OTHER a
      s4grid:Voltage @ $.id
  Substation-hasProperty-VoltageProperty sh:qualifiedMinCount untype voltage_property s4grid:Voltage @ $.id
  VoltageMeasurement sh:sparql replace voltage_measurement saref:relatesToProperty OTHER a s4grid:Voltage @ $
  VoltageMeasurement-hasTimestamp sh:datatype replace voltage_measurement saref:hasTimestamp "abc" @ $.timestamp
  VoltageMeasurement-hasTimestamp sh:maxCount add voltage_measurement saref:hasTimestamp
      "2099-01-01T00:00:00Z"^^xsd:dateTime @ $.timestamp
  VoltageMeasurement-hasTimestamp sh:minCount drop voltage_measurement saref:hasTimestamp @ $.timestamp
  VoltageMeasurement-hasValue sh:datatype replace voltage_measurement saref:hasValue "5"^^xsd:integer @ $.voltage
  VoltageMeasurement-hasValue sh:maxCount add voltage_measurement saref:hasValue "1000.0"^^xsd:decimal @ $.voltage
  VoltageMeasurement-hasValue sh:minCount delete $.voltage
  VoltageMeasurement-hasValue sh:minInclusive set $.voltage -1
  VoltageMeasurement-isMeasuredIn sh:hasValue drop voltage_measurement saref:isMeasuredIn @ $
  VoltageMeasurement-isMeasuredIn sh:maxCount add voltage_measurement saref:isMeasuredIn OTHER @ $
  VoltageMeasurement-isMeasurementOf sh:maxCount twin voltage_measurement saref:isMeasurementOf @ $.id
  VoltageMeasurement-relatesToProperty sh:maxCount twin voltage_measurement saref:relatesToProperty @ $.id also
      VoltageMeasurement:sh:sparql
[subscription-response]
  Response-hasReason sh:datatype set $.reason true
  Response-hasReason sh:maxCount add response dso:hasReason "other" @ $.reason
  Response-hasSubscriptionStatus sh:in set $.status "furlong"
  Response-hasSubscriptionStatus sh:maxCount add response dso:hasSubscriptionStatus dso:SubscriptionAccepted @
      $.status
  Response-hasSubscriptionStatus sh:minCount drop response dso:hasSubscriptionStatus @ $.status
"""

OTHER = "<urn:dso-saref:test:other>"
_WORD = re.compile(r'"(?:[^"\\]|\\.)*"\S*|\S+')


def parse_mutation(words: list[str]) -> Mutation:
    verb, *args = words
    obj = args[2].replace("OTHER", OTHER) if len(args) > 2 else ""
    cls = args[args.index("a") + 1] if "a" in args[2:] else None
    if verb == "set":
        return Set(args[0], json.loads(" ".join(args[1:])))
    if verb == "delete":
        return Delete(args[0])
    if verb == "drop":
        return Drop(args[0], args[1])
    if verb == "twin":
        return Twin(args[0], args[1])
    if verb == "untype":
        return Untype(args[0], args[1])
    if verb == "add":
        return Add(args[0], args[1].replace("/", " "), obj, cls)
    if verb == "replace":
        return Replace(args[0], args[1], obj, cls)
    raise ValueError(f"unknown mutation {verb!r}")


def parse_table(text: str) -> list[Row]:
    """The rows of :data:`TABLE`."""
    entries: list[list[str]] = []
    message = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("["):
            message = line.strip()[1:-1]
        elif line.startswith("      "):
            entries[-1][1] += " " + line.strip()
        else:
            entries.append([message, line.strip()])
    rows = []
    for message, line in entries:
        words = _WORD.findall(line)
        shape, rule, rest = words[0], words[1], words[2:]
        options: dict[str, Any] = {}
        for keyword, name in (("also", "also"), ("model@", "model_at"), ("@", "at")):
            if keyword in rest:
                i = rest.index(keyword)
                value = rest[i + 1]
                options[name] = tuple(a.replace(":", " ", 1) for a in value.split(",")) if name == "also" else value
                rest = rest[:i] + rest[i + 2:]
        mutations: list[list[str]] = [[]]
        for word in rest:
            if word == "+":
                mutations.append([])
            else:
                mutations[-1].append(word)
        parsed = tuple(parse_mutation(m) for m in mutations)
        rows.append(Row(message, shape, rule, parsed[0] if len(parsed) == 1 else parsed, **options))
    return rows


ROWS = parse_table(TABLE)


@pytest.mark.parametrize("name", NAMES)
def test_every_constraint_has_a_row(name: str) -> None:
    covered = {(row.shape, row.rule) for row in ROWS if row.message == name}
    missing = constraints(name) - covered
    assert not missing, f"constraints of shapes/{name}.ttl that no row breaks: {sorted(missing)}"
    unknown = covered - constraints(name)
    assert not unknown, f"rows of {name} for constraints its shape does not have: {sorted(unknown)}"


@pytest.mark.parametrize("engine", ["pyshacl", "compiled"])
@pytest.mark.parametrize("row", [r for r in ROWS if r.message in NAMES], ids=str)
def test_row_is_refused_by_exactly_its_constraint(row: Row, engine: str) -> None:
    payload = dso_saref.catalog[row.message].example()
    edits = []
    for mutation in parts(row.mutation):
        if isinstance(mutation, Set | Delete):
            payload = mutate_json(payload, mutation)
        else:
            edits.append(graph_edit(mutation))

    def edit(graph: Graph, rows: list[dict[str, Any]]) -> None:
        for one in edits:
            one(graph, rows)

    report = shape_layer(row.message, payload, edit=edit, engine=engine)
    broken = {(e.shape.partition("#")[2] if e.shape else None, e.rule) for e in report.errors}
    expected = {(row.shape, row.rule)} | {tuple(a.split()) for a in row.also}
    assert broken == expected, [str(e) for e in report.errors]
    mine = {e.location for e in report.errors if (e.shape or "").endswith(f"#{row.shape}") and e.rule == row.rule}
    assert mine == {row.location}, [str(e) for e in report.errors]
    assert all(e.layer == "shape" and e.message for e in report.errors)
    if row.json_only:
        model = dso_saref.validate(row.message, payload)
        assert not model.conforms
        where = row.model_at or row.location
        assert any(e.layer == "model" and e.location == where for e in model.errors), (
            f"the model layer does not refuse it at {where}: {[str(e) for e in model.errors]}"
        )


def test_rows_are_unique_and_name_known_messages() -> None:
    keys = [(row.message, row.shape, row.rule) for row in ROWS]
    assert len(keys) == len(set(keys))
