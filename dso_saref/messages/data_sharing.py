"""HLUC 5 data sharing messages (spec 2.1.1, 3.2.1): data access authorization (consent and token),
metering and anonymised data, historical flexibility data, contracted power incentives.

A service provider asks the DSO for access to an end user's data over a window; the DSO asks the end
user for consent and answers with an authorization token (or a refusal). With the token, the service
provider (or the end user) asks for the user's metering data; anonymised data of a zone needs no
token. Historical or forecast flexibility data of a zone, and the DSO's contracted power incentive
offers to end users, complete the use case::

    MeteringRequest.model_validate({"data_type": "User", "id": "U123456", "granularity": "1",
        "authorization_token": "49d259db-755c-4929-8410-15ede30dbc2d",
        "start": "2021/09/27 10:00", "end": "2021/09/27 11:00"})

The specification prints tables, not JSON, for these messages; the keys are those of MESSAGES.md.
"""

from __future__ import annotations

import json
from enum import IntEnum, StrEnum
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from dso_saref.messages.common import (
    Date,
    Direction,
    Identifier,
    ListMessage,
    Message,
    NonNegative,
    Number,
    PowerType,
    Row,
    Text,
    Timestamp,
    Unit,
    Windowed,
    canonical_list,
    check_unique,
    check_window,
)
from dso_saref.terms import format_datetime

__all__ = [
    "AuthorizationRequest",
    "AuthorizationResponse",
    "DataType",
    "FlexibilityData",
    "FlexibilityDataRequest",
    "Granularity",
    "IncentiveOffer",
    "IncentiveResponse",
    "MeteringData",
    "MeteringReading",
    "MeteringRequest",
    "MeteringSeries",
]


def _flag(value: Any) -> bool:
    """A JSON boolean; the strings ``"true"`` and ``"false"`` (as a binding reads back) are accepted."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip() in ("true", "false"):
        return value.strip() == "true"
    raise ValueError("expected true or false")


Flag = Annotated[bool, BeforeValidator(_flag)]
"""A yes/no answer: a JSON boolean (``"true"``/``"false"`` accepted), never ``1``, ``"yes"`` or ``null``."""


class DataType(StrEnum):
    """What metering data is asked for: one end user's (personal data, needs a token) or a zone's
    anonymised aggregate (3.2.1.1.1.2, "Type of Data (User/Anonymized)")."""

    USER = "User"
    ANONYMIZED = "Anonymized"


def _granularity(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("granularity must be 1 (15 min), 2 (hourly) or 3 (daily)")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class Granularity(IntEnum):
    """Time step of metering data: ``1`` = 15 minutes, ``2`` = hourly, ``3`` = daily (3.2.1.1.1.2)."""

    QUARTER_HOURLY = 1
    HOURLY = 2
    DAILY = 3


GranularityCode = Annotated[Granularity, BeforeValidator(_granularity)]
"""A granularity code; ``"1"`` and ``1.0`` are accepted."""


# ---------------------------------------------------------------------------------------------------
# PUC 1: authorization


class AuthorizationRequest(Windowed):
    """A service provider asks the DSO for access to the data of an end user over a window
    (3.2.1.1.1.1, Authorization; Table 3, PUC 1). The DSO asks the end user for consent and answers
    with an :class:`AuthorizationResponse`."""

    name = "authorization-request"

    end_user: Identifier
    service_provider: Identifier | None = None


class AuthorizationResponse(Windowed):
    """The DSO's answer to an authorization request (3.2.1.1.1.1, "Response: Authorization Token"):
    whether the end user ``granted`` access and, if so, the ``authorization_token`` that metering
    requests must carry; a refusal carries no token and may give a ``reason``."""

    name = "authorization-response"

    end_user: Identifier
    service_provider: Identifier | None = None
    granted: Flag
    authorization_token: Identifier | None = Field(default=None, validate_default=True)
    reason: Text | None = None

    @field_validator("authorization_token")
    @classmethod
    def _token_iff_granted(cls, token: str | None, info: ValidationInfo) -> str | None:
        granted = info.data.get("granted")
        if granted is True and token is None:
            raise ValueError("an authorization token is required when access is granted")
        if granted is False and token is not None:
            raise ValueError("a refused authorization carries no token")
        return token


# ---------------------------------------------------------------------------------------------------
# PUC 1 and PUC 2 SCN1: metering and anonymised data


class MeteringRequest(Windowed):
    """A service provider or end user asks the DSO for metering data (3.2.1.1.1.2, Metering Data):
    ``data_type`` ``User`` (``id`` is an end user; the ``authorization_token`` of a granted
    authorization is required) or ``Anonymized`` (``id`` is a zone; no token is needed), at a
    ``granularity`` of 15 minutes, an hour or a day, over the window."""

    name = "metering-request"

    data_type: DataType
    id: Identifier
    authorization_token: Identifier | None = Field(default=None, validate_default=True)
    granularity: GranularityCode

    @field_validator("authorization_token")
    @classmethod
    def _token_for_user_data(cls, token: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("data_type") == DataType.USER and token is None:
            raise ValueError("an end user's metering data needs an authorization token (data_type User)")
        return token


class MeteringReading(Row):
    """One value of a metering series: the (active) power over the step starting at ``time``."""

    time: Timestamp
    measurement: Number
    unit: Unit("power")


class MeteringSeries(Message):
    """The metering data of one end user or zone, divided by the requested granularity; it may be
    empty (no data in the window)."""

    id: Identifier
    readings: list[MeteringReading]

    @model_validator(mode="after")
    def _one_reading_per_time(self) -> Self:
        check_unique(self.readings, "time", "reading at time")
        return self


class MeteringData(ListMessage):
    """The DSO's answer to a metering request (3.2.1.1.1.2, "Response: Metering Data, Array of"):
    per end user or zone, its readings."""

    name = "metering-data"

    root: list[MeteringSeries]

    @model_validator(mode="after")
    def _one_series_per_id(self) -> Self:
        check_unique(self.root, lambda s: s.id, "id")
        return self


# ---------------------------------------------------------------------------------------------------
# PUC 2 SCN3: flexibility data


class FlexibilityDataRequest(Message):
    """A service provider asks the DSO for the historical or forecast flexibility data of a zone
    between two dates (3.2.1.1.1.3, Flexibility Data; the window is of dates, not times)."""

    name = "flexibility-data-request"

    zone_id: Identifier
    start: Date
    end: Date

    @model_validator(mode="after")
    def _start_before_end(self) -> Self:
        check_window(self.start, self.end)
        return self


_PARALLEL = ("dates", "needs", "units", "directions", "power_types", "eligible_clients")
_REACTIVE_UNITS = {"kVAr", "MVAr"}


class FlexibilityData(Message):
    """The DSO's flexibility data of a zone (3.2.1.1.1.3, "Flexibility Historical or Forecasted
    Data"): parallel arrays of one length, element ``i`` of each describing the ``i``-th need (its
    time, non-negative quantity, unit, direction, power type and eligible meters).

    The needs are a set: :meth:`canonical` sorts the zipped tuples together, so the arrays stay
    parallel, and sorts each list of eligible meters.
    """

    name = "flexibility-data"

    zone_id: Identifier
    dates: list[Timestamp]
    needs: list[NonNegative]
    units: list[Unit("flexibility")]
    directions: list[Direction]
    power_types: list[PowerType]
    eligible_clients: list[list[Identifier]]

    @field_validator("needs", "units", "directions", "power_types", "eligible_clients")
    @classmethod
    def _parallel(cls, values: list[Any], info: ValidationInfo) -> list[Any]:
        dates = info.data.get("dates")
        if dates is not None and len(values) != len(dates):
            raise ValueError(f"has {len(values)} elements, dates has {len(dates)}: the arrays are parallel")
        return values

    @field_validator("power_types")
    @classmethod
    def _unit_fits_power_type(cls, types: list[PowerType], info: ValidationInfo) -> list[PowerType]:
        units = info.data.get("units")
        if units is None:
            return types
        for i, (unit, kind) in enumerate(zip(units, types, strict=False)):
            if (unit in _REACTIVE_UNITS) != (kind == PowerType.REACTIVE):
                raise ValueError(f"[{i}] is {kind.value} but units[{i}] is {unit}")
        return types

    @field_validator("eligible_clients")
    @classmethod
    def _meters_once(cls, lists: list[list[str]]) -> list[list[str]]:
        for meters in lists:
            check_unique(meters, lambda m: m, "eligible meter")
        return lists

    @model_validator(mode="after")
    def _one_need_per_time_direction_and_type(self) -> Self:
        check_unique(list(zip(self.dates, self.directions, self.power_types, strict=True)),
                     lambda k: (format_datetime(k[0]), k[1].value, k[2].value), "need (date, direction, power type)")
        return self

    @classmethod
    def canonical(cls, data: Any) -> Any:
        """Canonical form: the needs sorted as tuples across the parallel arrays, meters sorted."""
        if not isinstance(data, dict) or any(not isinstance(data.get(k), list) for k in _PARALLEL):
            return super().canonical(data)
        rows = [list(row) for row in zip(*(data[k] for k in _PARALLEL), strict=False)]
        for row in rows:
            row[-1] = canonical_list(row[-1])
        rows.sort(key=lambda row: json.dumps(row, ensure_ascii=False))
        out = {k: v for k, v in data.items() if k not in _PARALLEL}
        for i, key in enumerate(_PARALLEL):
            out[key] = [row[i] for row in rows]
        return out


# ---------------------------------------------------------------------------------------------------
# PUC 2 SCN2: contracted power incentives


class IncentiveOffer(Windowed):
    """The DSO offers an end user (directly or through its service provider) an incentive to manage
    its contracted power (2.1.1 PUC 2 SCN2; 3.2.1.2 Table 4, "Contracted Power Management Flexibility
    Incentives Offer"): for a ``contracted_power`` (non-negative, kW), an ``incentive`` in EUR/kWh or
    EUR, valid over the window. The specification leaves the fields to the implementation."""

    name = "incentive-offer"

    offer_id: Identifier
    end_user: Identifier
    contracted_power: NonNegative
    contracted_power_unit: Unit("power")
    incentive: Number
    incentive_unit: Unit("incentive")


class IncentiveResponse(Message):
    """The end user's (or its service provider's) answer to an incentive offer: accepted or not
    (2.1.1 PUC 2 SCN2; Table 4, "Offer Response")."""

    name = "incentive-response"

    offer_id: Identifier
    end_user: Identifier
    accepted: Flag
