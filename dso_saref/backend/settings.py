"""The reference DSO's configuration, as small frozen value objects::

    settings = BackendSettings(k_anonymity=10, token_lifetime=timedelta(days=7),
                               voltage_band=VoltageBand(nominal=230.0, tolerance=0.10),
                               bounds=Bounds(max_power=50_000.0, min_price=-0.5, max_price=4.0),
                               timezone=ZoneInfo("Europe/Lisbon"))
    backend = DsoBackend(Storage("dso.sqlite"), settings=settings)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, timedelta, tzinfo

__all__ = ["BackendSettings", "Bounds", "VoltageBand"]

#: The base unit (kW active, kVAr reactive) and factor to it of each unit of a flexibility quantity.
POWER_UNITS: dict[str, tuple[str, float]] = {"kW": ("kW", 1.0), "MW": ("kW", 1000.0), "kVAr": ("kVAr", 1.0),
                                             "MVAr": ("kVAr", 1000.0)}


@dataclass(frozen=True)
class VoltageBand:
    """The band of normal supply voltage: ``nominal`` volts +/- ``tolerance`` (a fraction).

    The default is EN 50160's low-voltage band, 230 V +/- 10 % (207 V to 253 V). Raises
    :class:`ValueError` for a non-positive nominal voltage or a tolerance outside ]0, 1[.
    """

    nominal: float = 230.0
    tolerance: float = 0.10

    def __post_init__(self) -> None:
        if not self.nominal > 0:
            raise ValueError("the nominal voltage must be positive")
        if not 0 < self.tolerance < 1:
            raise ValueError("the tolerance is a fraction between 0 and 1")

    @property
    def lower(self) -> float:
        """Lowest normal voltage (V)."""
        return self.nominal * (1 - self.tolerance)

    @property
    def upper(self) -> float:
        """Highest normal voltage (V)."""
        return self.nominal * (1 + self.tolerance)

    def is_abnormal(self, volts: float) -> bool:
        """Whether ``volts`` lies outside the band (the limits themselves are normal)."""
        return not self.lower <= volts <= self.upper


@dataclass(frozen=True)
class Bounds:
    """Physical bounds on the quantities and prices the DSO accepts in flexibility needs and offers.

    - ``max_power``: the largest power of a need, an offer or an intraday addition, in kW (kVAr for
      reactive power; MW and MVAr are converted). Default 1,000,000 kW (1 GW), above any flexibility a
      distribution grid can use (a primary substation carries tens of MW).
    - ``min_price``, ``max_price``: the price range of an offer in EUR/kWh. Default -10 to 10 EUR/kWh,
      the harmonised limits of the European intraday market (SIDC: -9,999 to +9,999 EUR/MWh).

    Raises :class:`ValueError` for bounds that are not finite, a ``max_power`` that is not positive or
    ``min_price >= max_price``.
    """

    max_power: float = 1_000_000.0
    min_price: float = -10.0
    max_price: float = 10.0

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (self.max_power, self.min_price, self.max_price)):
            raise ValueError("bounds must be finite numbers")
        if not self.max_power > 0:
            raise ValueError("max_power must be positive")
        if not self.min_price < self.max_price:
            raise ValueError("min_price must be below max_price")

    def power_problem(self, field: str, quantity: float, unit: str) -> str | None:
        """Why ``quantity`` in ``unit`` (kW, MW, kVAr, MVAr) at JSON path ``field`` is outside the
        bounds, or ``None`` when it is inside (0 and negative quantities are the messages' concern)."""
        if unit not in POWER_UNITS:
            return f"{field}: unit {unit!r} is not a unit of power ({', '.join(POWER_UNITS)})"
        base_unit, factor = POWER_UNITS[unit]
        if not math.isfinite(quantity * factor) or abs(quantity * factor) > self.max_power:
            return (f"{field}: {quantity:g} {unit} is above the largest power the DSO accepts "
                    f"({self.max_power:g} {base_unit})")
        return None

    def price_problem(self, field: str, price: float) -> str | None:
        """Why ``price`` (EUR/kWh) at JSON path ``field`` is outside the bounds, or ``None``."""
        if not (math.isfinite(price) and self.min_price <= price <= self.max_price):
            return (f"{field}: {price:g} EUR/kWh is outside the prices the DSO accepts "
                    f"({self.min_price:g} to {self.max_price:g} EUR/kWh)")
        return None


@dataclass(frozen=True)
class BackendSettings:
    """How the reference DSO behaves.

    - ``k_anonymity``: the fewest households a zone (and each reported interval) must aggregate for
      anonymised metering data to be given out (default 5).
    - ``token_lifetime``: how long an authorization token stays valid after the end user grants it
      (default 30 days); revocation ends it at once.
    - ``voltage_band``: normal supply voltage for abnormal-voltage detection (EN 50160 by default).
    - ``bounds``: physical bounds on the quantities and prices of flexibility needs and offers
      (:class:`Bounds`).
    - ``timezone``: where hourly and daily metering buckets and flexibility-data dates are counted.
    - ``internal_requesters``: knowledge-base ids of the DSO's own systems (ADMS, analytics): they see
      every reading, personal or not, and need no agreement (see :mod:`dso_saref.backend.policy`).
    - ``elasticity_quantiles``: the lower and upper quantiles of the elasticity band (default 10 %/90 %).
    """

    k_anonymity: int = 5
    token_lifetime: timedelta = timedelta(days=30)
    voltage_band: VoltageBand = field(default_factory=VoltageBand)
    bounds: Bounds = field(default_factory=Bounds)
    timezone: tzinfo = UTC
    internal_requesters: frozenset[str] = frozenset()
    elasticity_quantiles: tuple[float, float] = (0.1, 0.9)

    def __post_init__(self) -> None:
        if self.k_anonymity < 1:
            raise ValueError("k_anonymity must be at least 1")
        if self.token_lifetime <= timedelta(0):
            raise ValueError("token_lifetime must be positive")
        low, high = self.elasticity_quantiles
        if not 0 < low < 0.5 < high < 1:
            raise ValueError("elasticity_quantiles must be (lower, upper) with 0 < lower < 0.5 < upper < 1")
