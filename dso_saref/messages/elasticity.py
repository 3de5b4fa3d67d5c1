"""HLUC 11 PUC 2 messages (spec 3.2.3.3 "OTHER REQUESTS"): the load-elasticity service's input and output.

The requester (the DSO, or a retailer) posts a user profile, a series of consumption readings with the
incentive signals and context (temperatures, occupancy) they came with; the elasticity service
answers with, per hour of the day, the expected load with its lower and upper bounds without ("D")
and under each of the incentive scenarios ``i1`` ... ``i24``, the price ranking of each scenario's
flexibility, and per scenario the reliability of its signal at each intervention hour::

    ElasticityInput.model_validate({"user_profile": [{"userID": "ID644", "timestamp": "2021-04-12T15:11:20Z",
        "customer_consumption": 0.2, "signal_incentive_Class:Cost": 0.11}]})
    ElasticityOutput.model_validate({"userID": "ID644", "flexibility_response": [
        {"flexibility_hour": 7, "y_PowerD": 2.1, "y_Power_i1": 1.8}]})

The output is *wide* JSON: ``y_Power_i7`` is a value of the series ``i7`` and the statistic ``Power``.
Its keys are generated here from :data:`SERIES` and :data:`STATISTICS`, so the models stay strict
(an unknown key is an error) while the graph pattern reads them with key steps (docs/patterns.md).

Every unit key is optional and defaults as the specification prints it (``kW``, ``€/kWh``,
``gCO2/kWh``, ``%/kWh``, ``kWh``, ``degreesCelcius``, ``h``, ``%``); it is kept only beside its value
(a unit whose value is absent is dropped, as it says nothing).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, ConfigDict, Field, create_model, model_validator

from dso_saref.messages.common import (
    Identifier,
    Integer,
    Message,
    NonNegative,
    Number,
    Timestamp,
    Unit,
    check_unique,
)
from dso_saref.terms import UNITS

__all__ = [
    "HOURS",
    "INTERVENTIONS",
    "SERIES",
    "STATISTICS",
    "ElasticityInput",
    "ElasticityOutput",
    "FlexibilityResponse",
    "RankingEntry",
    "UserProfileEntry",
    "flexibility_key",
    "ranking_key",
    "reliability_key",
    "reliability_list_key",
]

#: The incentive scenarios of the output (the spec's ``i1`` ... ``i24``).
INTERVENTIONS: tuple[str, ...] = tuple(f"i{n}" for n in range(1, 25))
#: The series of the flexibility response: ``D`` (no incentive signal) and every scenario.
SERIES: tuple[str, ...] = ("D", *INTERVENTIONS)
#: The statistics of a flexibility-response series: expected load, lower and upper bound.
STATISTICS: tuple[str, ...] = ("Power", "lower", "upper")
#: The hours an hour field accepts (0 to 24: the spec numbers hours but does not say from where).
HOURS = range(0, 25)


def flexibility_key(statistic: str, series: str) -> str:
    """The key of a flexibility-response value: ``y_PowerD``, ``y_lower_i3`` (the spec's spelling)."""
    return f"y_{statistic}{series}" if series == "D" else f"y_{statistic}_{series}"


def ranking_key(intervention: str) -> str:
    """The key of a price ranking: ``rank_Flex_i3_Price``."""
    return f"rank_Flex_{intervention}_Price"


def reliability_key(intervention: str) -> str:
    """The key of a signal reliability: ``i3_Signal_Power_reliability``."""
    return f"{intervention}_Signal_Power_reliability"


def reliability_list_key(intervention: str) -> str:
    """The key of a scenario's reliability list: ``Reliability_i3_hours``."""
    return f"Reliability_{intervention}_hours"


def _hour(value: int) -> int:
    if value not in HOURS:
        raise ValueError("an hour must be from 0 to 24")
    return value


def _percentage(value: float) -> float:
    if value > 100:
        raise ValueError("a percentage must be from 0 to 100")
    return value


Hour = Annotated[Integer, AfterValidator(_hour)]
"""An hour of the day, 0 to 24 (unit ``h``)."""

Percentage = Annotated[NonNegative, AfterValidator(_percentage)]
"""A percentage, 0 to 100 (scale ``%``)."""


class _Units(Message):
    """An element whose unit keys sit beside their values: ``UNITS`` maps each value field to its
    unit field and default unit; a unit is filled in beside a value and dropped without one."""

    UNITS: ClassVar[dict[str, tuple[str, str]]] = {}

    @model_validator(mode="after")
    def _units_beside_values(self) -> Self:
        for value_field, (unit_field, default) in self.UNITS.items():
            if getattr(self, value_field) is None:
                setattr(self, unit_field, None)
            elif getattr(self, unit_field) is None:
                setattr(self, unit_field, default)
        return self

    def _values(self) -> list[str]:
        return [f for f in self.UNITS if getattr(self, f) is not None]


# ---------------------------------------------------------------------------------------------------
# Input


class UserProfileEntry(_Units):
    """One reading of a user profile: consumption at a time, with the incentive signals and context.

    ``customer_consumption`` is required (it is what the elasticity is computed from) and may be
    negative (net consumption of a prosumer); the four incentive signals, the two temperatures and
    the occupancy are optional. Quantities that cannot be negative (CO2 emissions, renewable share,
    maximum power, occupancy) are checked; the cost signal, a price, may be negative.
    """

    # Keys with ':' are only accepted under their alias, never under the Python field name.
    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    UNITS: ClassVar[dict[str, tuple[str, str]]] = {
        "customer_consumption": ("customer_consumption_unit", "kW"),
        "cost": ("cost_unit", "€/kWh"),
        "co2_emissions": ("co2_emissions_unit", "gCO2/kWh"),
        "renewable_share": ("renewable_share_unit", "%/kWh"),
        "maximum_power": ("maximum_power_unit", "kWh"),
        "external_temperature": ("external_temperature_unit", "degreesCelcius"),
        "indoor_temperature_sensor": ("indoor_temperature_sensor_unit", "degreesCelcius"),
    }

    userID: Identifier
    timestamp: Timestamp
    customer_consumption: Number
    customer_consumption_unit: Unit("power") | None = None
    cost: Number | None = Field(None, alias="signal_incentive_Class:Cost")
    cost_unit: Unit("energy-price") | None = Field(None, alias="signal_incentive_Class:Cost_unit")
    co2_emissions: NonNegative | None = Field(None, alias="signal_incentive_Class:CO2_Emissions")
    co2_emissions_unit: Unit("emission-factor") | None = Field(None, alias="signal_incentive_Class:CO2_Emissions_unit")
    renewable_share: NonNegative | None = Field(None, alias="signal_incentive_Class:Renew_Energy_Percentage")
    renewable_share_unit: Unit("renewable-share") | None = Field(
        None, alias="signal_incentive_Class:Renew_Energy_Percentage_unit")
    maximum_power: NonNegative | None = Field(None, alias="signal_incentive_Class:maximum_power")
    maximum_power_unit: Unit("energy") | None = Field(None, alias="signal_incentive_Class:maximum_power_unit")
    external_temperature: Number | None = None
    external_temperature_unit: Unit("temperature") | None = None
    indoor_temperature_sensor: Number | None = None
    indoor_temperature_sensor_unit: Unit("temperature") | None = None
    occupancy_rate: NonNegative | None = None


class ElasticityInput(Message):
    """The elasticity service's input dataset (3.2.3.3, "Input Dataset"): the user profile readings,
    at least one, one per user and time."""

    name = "elasticity-input"

    user_profile: list[UserProfileEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_reading_per_user_and_time(self) -> Self:
        check_unique(self.user_profile, lambda r: (r.userID, r.timestamp), "reading of user at time")
        return self


# ---------------------------------------------------------------------------------------------------
# Output: wide elements, their keys generated from the series and statistics


def _unit_fields(values: dict[str, tuple[Any, str, Any, str]]) -> dict[str, Any]:
    """pydantic field definitions: each optional value and its optional ``unit_key`` (or scale)."""
    fields: dict[str, Any] = {}
    for key, (value_type, unit_key, unit_type, _default) in values.items():
        fields[key] = (value_type | None, None)
        fields[unit_key] = (unit_type | None, None)
    return fields


_FLEXIBILITY_VALUES = {flexibility_key(stat, series): (Number, f"{flexibility_key(stat, series)}_unit",
                                                       Unit("power"), "kW")
                       for series in SERIES for stat in STATISTICS}
_RANKING_VALUES = {ranking_key(i): (Percentage, f"{ranking_key(i)}_scale", Unit("percent"), "%")
                   for i in INTERVENTIONS}


class _WideEntry(_Units):
    """An output element: an hour and some values, at least one."""

    HOUR: ClassVar[str] = ""

    @model_validator(mode="after")
    def _some_value(self) -> Self:
        if not self._values():
            raise ValueError(f"an element needs at least one value beside {self.HOUR}")
        return self


class _FlexibilityBase(_WideEntry):
    HOUR: ClassVar[str] = "flexibility_hour"
    UNITS: ClassVar[dict[str, tuple[str, str]]] = {k: (u, d) for k, (_, u, _t, d) in _FLEXIBILITY_VALUES.items()}


FlexibilityResponse = create_model(
    "FlexibilityResponse",
    __base__=_FlexibilityBase,
    __doc__="One hour of the flexibility response: the expected load (``y_Power``) and its lower and upper "
            "bounds (``y_lower``, ``y_upper``), without incentive (``D``) and under scenarios ``i1``-``i24``.",
    flexibility_hour=(Hour, ...),
    flexibility_hour_unit=(Unit("hour"), "h"),
    **_unit_fields(_FLEXIBILITY_VALUES),
)


class _RankingBase(_WideEntry):
    HOUR: ClassVar[str] = "Ranking_hour"
    UNITS: ClassVar[dict[str, tuple[str, str]]] = {k: (u, d) for k, (_, u, _t, d) in _RANKING_VALUES.items()}


RankingEntry = create_model(
    "RankingEntry",
    __base__=_RankingBase,
    __doc__="One hour of the ranking: the price rank (%) of each scenario's flexibility (``rank_Flex_iN_Price``).",
    Ranking_hour=(Hour, ...),
    Ranking_hour_unit=(Unit("hour"), "h"),
    **_unit_fields(_RANKING_VALUES),
)


def _reliability_entry(intervention: str) -> type[Message]:
    value = reliability_key(intervention)

    class _ReliabilityBase(_Units):
        UNITS: ClassVar[dict[str, tuple[str, str]]] = {value: (f"{value}_scale", "%")}

    return create_model(
        f"Reliability_{intervention}_Entry",
        __base__=_ReliabilityBase,
        __doc__=f"The reliability (%) of scenario {intervention}'s signal at one intervention hour.",
        Intervention_hour=(Hour, ...),
        Intervention_hour_unit=(Unit("hour"), "h"),
        **{value: (Percentage, ...), f"{value}_scale": (Unit("percent") | None, None)},
    )


_RELIABILITY_ENTRIES = {i: _reliability_entry(i) for i in INTERVENTIONS}


class _OutputBase(Message):
    """Checks shared by the output (the fields are generated)."""

    name = "elasticity-output"

    @model_validator(mode="before")
    @classmethod
    def _empty_reliability_lists_are_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            empty = [k for k in map(reliability_list_key, INTERVENTIONS) if data.get(k) == []]
            if empty:
                data = {k: v for k, v in data.items() if k not in empty}
        return data

    @model_validator(mode="after")
    def _identifiable_and_not_empty(self) -> Self:
        check_unique(self.flexibility_response, lambda e: e.flexibility_hour, "flexibility_hour")
        check_unique(self.Ranking, lambda e: e.Ranking_hour, "Ranking_hour")
        lists = [getattr(self, reliability_list_key(i)) or [] for i in INTERVENTIONS]
        for intervention, entries in zip(INTERVENTIONS, lists, strict=True):
            check_unique(entries, lambda e: e.Intervention_hour, f"Intervention_hour of {intervention}")
        if not (self.flexibility_response or self.Ranking or any(lists)):
            raise ValueError("the output carries no value (flexibility_response, Ranking and every "
                             "Reliability_iN_hours are empty)")
        return self

    @classmethod
    def hypothesis_strategy(cls, st: Any, for_annotation: Any) -> Any:
        """A Hypothesis strategy of valid wide payloads (called by the test suite's strategies with the
        ``hypothesis.strategies`` module and its field-strategy function, so this module needs no
        Hypothesis): a few hours per section, a few values per hour, units present or not."""
        user = for_annotation(Identifier)
        number = for_annotation(Number)
        percent = st.floats(min_value=0, max_value=100, allow_nan=False)
        hours = st.lists(st.integers(min_value=0, max_value=24), unique=True, max_size=3)
        power_units = UNITS["power"].accepted()

        @st.composite
        def element(draw: Any, hour_key: str, hour: int, keys: list[str], values: Any, suffix: str,
                    units: list[str], min_size: int = 1) -> dict[str, Any]:
            out: dict[str, Any] = {hour_key: hour}
            if draw(st.booleans()):
                out[f"{hour_key}_unit"] = "h"
            for key in draw(st.lists(st.sampled_from(keys), min_size=min_size, max_size=4, unique=True)):
                out[key] = draw(values)
                unit = draw(st.none() | st.sampled_from(units))
                if unit is not None:
                    out[key + suffix] = unit
            return out

        @st.composite
        def payload(draw: Any) -> dict[str, Any]:
            out: dict[str, Any] = {"userID": draw(user)}
            flexibility = [draw(element("flexibility_hour", h, list(_FLEXIBILITY_VALUES), number, "_unit",
                                        power_units)) for h in draw(hours)]
            ranking = [draw(element("Ranking_hour", h, list(_RANKING_VALUES), percent, "_scale", ["%"]))
                       for h in draw(hours)]
            for key, entries in (("flexibility_response", flexibility), ("Ranking", ranking)):
                if entries or draw(st.booleans()):
                    out[key] = entries
            for intervention in draw(st.lists(st.sampled_from(INTERVENTIONS), unique=True, max_size=3)):
                out[reliability_list_key(intervention)] = [
                    draw(element("Intervention_hour", h, [reliability_key(intervention)], percent, "_scale", ["%"]))
                    for h in draw(hours)]
            if not (flexibility or ranking or any(out.get(reliability_list_key(i)) for i in INTERVENTIONS)):
                out["flexibility_response"] = [{"flexibility_hour": 0, "y_PowerD": draw(number)}]
            return out

        return payload()


ElasticityOutput = create_model(
    "ElasticityOutput",
    __base__=_OutputBase,
    __doc__="The elasticity service's output for one user (3.2.3.3, \"Output of the Service\"): the "
            "flexibility response and the ranking per hour (each may be empty; absent means empty), and the "
            "reliability of each scenario's signal per intervention hour (``Reliability_i1_hours`` ... "
            "``Reliability_i24_hours``, each optional; an empty list is the same as an absent one). At least "
            "one value in all.",
    userID=(Identifier, ...),
    flexibility_response=(list[FlexibilityResponse], []),
    Ranking=(list[RankingEntry], []),
    **{reliability_list_key(i): (list[entry] | None, None) for i, entry in _RELIABILITY_ENTRIES.items()},
)
