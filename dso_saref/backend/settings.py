"""The reference DSO's configuration, as small frozen value objects::

    settings = BackendSettings(k_anonymity=10, token_lifetime=timedelta(days=7),
                               voltage_band=VoltageBand(nominal=230.0, tolerance=0.10),
                               timezone=ZoneInfo("Europe/Lisbon"))
    backend = DsoBackend(Storage("dso.sqlite"), settings=settings)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, timedelta, tzinfo

__all__ = ["BackendSettings", "VoltageBand"]


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
class BackendSettings:
    """How the reference DSO behaves.

    - ``k_anonymity``: the fewest households a zone (and each reported interval) must aggregate for
      anonymised metering data to be given out (default 5).
    - ``token_lifetime``: how long an authorization token stays valid after the end user grants it
      (default 30 days); revocation ends it at once.
    - ``voltage_band``: normal supply voltage for abnormal-voltage detection (EN 50160 by default).
    - ``timezone``: where hourly and daily metering buckets and flexibility-data dates are counted.
    - ``internal_requesters``: knowledge-base ids of the DSO's own systems (ADMS, analytics) allowed to
      look up client readings, which are personal data; substation readings and the topology are open.
    - ``elasticity_quantiles``: the lower and upper quantiles of the elasticity band (default 10 %/90 %).
    """

    k_anonymity: int = 5
    token_lifetime: timedelta = timedelta(days=30)
    voltage_band: VoltageBand = field(default_factory=VoltageBand)
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
