"""Linear quantile regression on one feature, with the standard library only.

The ``q``-quantile line ``y = a + b x`` minimises the check loss ``sum(rho_q(y_i - a - b x_i))`` with
``rho_q(r) = r (q - [r < 0])`` (Koenker & Bassett, 1978). For a fixed slope ``b`` the best intercept is
the ``q``-quantile of the residuals ``y_i - b x_i``, so the loss left as a function of ``b`` alone,
``g(b)``, is convex (a partial minimum of a jointly convex function) and piecewise linear, with its kinks
at slopes through pairs of points. Every such slope lies within ``+/- (max y - min y) / (smallest gap
between distinct x)``, so a golden-section search over that bracket converges to a minimiser (equal values
at the two probes keep the span between them, which is safe for a convex function). The result is exact up to the
search tolerance; with fewer than two distinct ``x`` the slope is 0 and the intercept the quantile of
``y``::

    quantile_line([0, 1, 2, 3], [1, 3, 5, 7], 0.5)    # QuantileLine(intercept=1.0, slope=2.0) (to 1e-9)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["QuantileLine", "check_loss", "empirical_quantile", "quantile_line"]

_GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True)
class QuantileLine:
    """A fitted quantile line."""

    intercept: float
    slope: float
    quantile: float

    def __call__(self, x: float) -> float:
        return self.intercept + self.slope * x


def empirical_quantile(values: Sequence[float], q: float) -> float:
    """The smallest value ``v`` with at least a fraction ``q`` of ``values`` at or below it (a
    minimiser of the check loss). Raises :class:`ValueError` for no values or ``q`` outside ]0, 1[."""
    if not values:
        raise ValueError("no values")
    if not 0 < q < 1:
        raise ValueError("the quantile must be strictly between 0 and 1")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def check_loss(residuals: Sequence[float], q: float) -> float:
    """``sum(rho_q(r))``: the quantile regression loss of residuals ``r``."""
    return math.fsum(r * q if r >= 0 else r * (q - 1) for r in residuals)


def _loss_at(xs: Sequence[float], ys: Sequence[float], q: float, slope: float) -> tuple[float, float]:
    residuals = [y - slope * x for x, y in zip(xs, ys, strict=True)]
    intercept = empirical_quantile(residuals, q)
    return check_loss([r - intercept for r in residuals], q), intercept


def quantile_line(xs: Sequence[float], ys: Sequence[float], q: float, *, tolerance: float = 1e-10) -> QuantileLine:
    """The ``q``-quantile regression line of ``ys`` on ``xs`` (see the module doc).

    Raises :class:`ValueError` for sequences of different or zero length, non-finite values or ``q``
    outside ]0, 1[."""
    if len(xs) != len(ys) or not xs:
        raise ValueError("xs and ys must be non-empty and of one length")
    if not all(math.isfinite(v) for v in (*xs, *ys)):
        raise ValueError("values must be finite")
    distinct = sorted(set(xs))
    if len(distinct) < 2:
        return QuantileLine(empirical_quantile(ys, q), 0.0, q)
    gap = min(b - a for a, b in itertools.pairwise(distinct))
    bound = (max(ys) - min(ys)) / gap
    low, high = -bound, bound
    m1, m2 = high - _GOLDEN * (high - low), low + _GOLDEN * (high - low)
    f1, f2 = _loss_at(xs, ys, q, m1)[0], _loss_at(xs, ys, q, m2)[0]
    while high - low > tolerance * (1.0 + abs(low + high) / 2):
        if f1 < f2:
            high, m2, f2 = m2, m1, f1
            m1 = high - _GOLDEN * (high - low)
            f1 = _loss_at(xs, ys, q, m1)[0]
        elif f1 > f2:
            low, m1, f1 = m1, m2, f2
            m2 = low + _GOLDEN * (high - low)
            f2 = _loss_at(xs, ys, q, m2)[0]
        else:
            low, high = m1, m2
            m1, m2 = high - _GOLDEN * (high - low), low + _GOLDEN * (high - low)
            f1, f2 = _loss_at(xs, ys, q, m1)[0], _loss_at(xs, ys, q, m2)[0]
    slope = (low + high) / 2
    intercept = _loss_at(xs, ys, q, slope)[1]
    return QuantileLine(intercept, slope, q)
