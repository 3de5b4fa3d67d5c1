"""Clearing of flexibility offers against one need, by price (merit order). A pure function, no storage.

The need asks for ``need`` (kW, kVAr, ...) over ``[start, end)``; each offer (a :class:`Bid`) gives up to
``quantity`` in the same unit over a window inside the need's. The window is cut at every offer
boundary into elementary slots, and in each slot:

1. *firm* allocations (offers already accepted in an earlier round, HLUC 10 PUC 2) are kept as they are;
2. the rest of the need is filled in **merit order**: lowest price first (what the DSO pays per kWh;
   negative when the provider pays), ties broken by offer id (numerically when both are numbers, then
   as text) and then by provider id, so the result never depends on the order offers arrived in;
3. the marginal offer is accepted **partially** (only what is still needed), the rest get nothing.

So in no slot does the activated total exceed the need (unless firm allocations already did), and a
more expensive offer is used only when every cheaper one covering the slot is exhausted. Consecutive
slots where an offer gets the same quantity are merged into one :class:`Allocation`.

Clearing is **direction-aware** by construction: it runs per need, and a need has one direction and one
power type, so offers inherit the need's direction and Up and Down flexibility never net out.

A bad bid never fails the market: a bid given twice, with a quantity that is negative or not a finite
number, a price that is not a finite number, or a window that is empty or outside the need's is set
aside with its reason (:attr:`Clearing.refused`) and the others are cleared; a need that is not a finite,
non-negative quantity refuses every bid::

    clear(100.0, t0, t3, [Bid("SP1", "a", 0.10, 60.0, t0, t3), Bid("SP2", "b", 0.08, 70.0, t0, t3)]).allocations
    # -> [Allocation("SP2", "b", t0, t3, 70.0), Allocation("SP1", "a", t0, t3, 30.0)]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Allocation", "Bid", "Clearing", "clear", "merit_key", "natural_key"]


@dataclass(frozen=True)
class Bid:
    """An offer as clearing sees it: who, which offer, price, quantity (in the need's unit), window."""

    provider: str
    offer_id: str
    price: float
    quantity: float
    start: datetime
    end: datetime

    @property
    def key(self) -> tuple[str, str]:
        """(provider, offer id): the identity of the offer."""
        return self.provider, self.offer_id


@dataclass(frozen=True)
class Allocation:
    """How much of an offer is activated over ``[start, end)``."""

    provider: str
    offer_id: str
    start: datetime
    end: datetime
    quantity: float

    @property
    def key(self) -> tuple[str, str]:
        """(provider, offer id) of the activated offer."""
        return self.provider, self.offer_id


@dataclass(frozen=True)
class Clearing:
    """What clearing a need gave: every ``allocations`` (firm and new, in merit order then time) and the
    bids it set aside, ``refused`` (``{(provider, offer id): reason}``)."""

    allocations: list[Allocation]
    refused: dict[tuple[str, str], str]


def natural_key(identifier: str) -> tuple[int, int, str]:
    """Order identifiers numerically when they are numbers (``"9"`` before ``"10"``), then as text."""
    if identifier.isascii() and identifier.isdigit():
        return 0, int(identifier), identifier
    return 1, 0, identifier


def merit_key(bid: Bid) -> tuple[float, tuple[int, int, str], str]:
    """The merit order: price, then offer id, then provider."""
    return bid.price, natural_key(bid.offer_id), bid.provider


def clear(need: float, start: datetime, end: datetime, bids: Sequence[Bid],
          firm: Sequence[Allocation] = ()) -> Clearing:
    """Allocate ``need`` over ``[start, end)`` to ``bids`` in merit order, keeping ``firm`` allocations;
    bids that cannot be cleared are set aside with a reason (see the module doc). Never raises for
    what the bids hold."""
    refused: dict[tuple[str, str], str] = {}
    valid: dict[tuple[str, str], Bid] = {}
    for bid in bids:
        problem = _bid_problem(bid, start, end, need)
        if bid.key in valid or bid.key in refused:
            problem = "the offer is given twice"
            valid.pop(bid.key, None)
        if problem is not None:
            refused[bid.key] = f"offer {bid.offer_id!r} of {bid.provider!r}: {problem}"
        else:
            valid[bid.key] = bid
    bids = list(valid.values())
    firm = [a for a in firm if a.key not in refused and math.isfinite(a.quantity)]
    tolerance = 1e-12 * max(1.0, abs(need))
    cuts = {start, end}
    for item in (*bids, *firm):
        cuts.update(t for t in (item.start, item.end) if start <= t <= end)
    times = sorted(cuts)
    ordered = sorted(bids, key=merit_key)
    price = {bid.key: merit_key(bid) for bid in bids}
    slots: dict[tuple[str, str], list[tuple[datetime, datetime, float]]] = {}
    for slot_start, slot_end in itertools.pairwise(times):
        kept: dict[tuple[str, str], float] = {}
        for allocation in firm:
            if allocation.start <= slot_start and allocation.end >= slot_end and allocation.quantity > 0:
                kept[allocation.key] = kept.get(allocation.key, 0.0) + allocation.quantity
        residual = need - math.fsum(kept.values())
        taken = dict(kept)
        for bid in ordered:
            if residual <= tolerance:
                break
            if bid.start <= slot_start and bid.end >= slot_end:
                take = min(bid.quantity - kept.get(bid.key, 0.0), residual)
                if take > tolerance:
                    taken[bid.key] = kept.get(bid.key, 0.0) + take
                    residual -= take
        for key, quantity in taken.items():
            slots.setdefault(key, []).append((slot_start, slot_end, quantity))
    out: list[Allocation] = []
    for key, pieces in slots.items():
        for piece_start, piece_end, quantity in _merge(pieces):
            out.append(Allocation(key[0], key[1], piece_start, piece_end, quantity))
    out.sort(key=lambda a: (price.get(a.key, (math.inf, natural_key(a.offer_id), a.provider)), a.start))
    return Clearing(out, refused)


def _bid_problem(bid: Bid, start: datetime, end: datetime, need: float) -> str | None:
    """Why ``bid`` cannot be cleared against a need of ``need`` over ``[start, end)``, or ``None``."""
    if not (math.isfinite(need) and need >= 0):
        return f"the need's quantity {need} is not a finite, non-negative number"
    if not (math.isfinite(bid.quantity) and bid.quantity >= 0):
        return f"quantity {bid.quantity} is not a finite, non-negative number"
    if not math.isfinite(bid.price):
        return f"price {bid.price} is not a finite number"
    if not bid.start < bid.end or bid.start < start or bid.end > end:
        return "its window is empty or outside the need's"
    return None


def _merge(pieces: list[tuple[datetime, datetime, float]]) -> list[tuple[datetime, datetime, float]]:
    merged: list[tuple[datetime, datetime, float]] = []
    for piece in sorted(pieces):
        if merged and merged[-1][1] == piece[0] and math.isclose(merged[-1][2], piece[2], rel_tol=1e-12,
                                                                  abs_tol=1e-12):
            merged[-1] = (merged[-1][0], piece[1], merged[-1][2])
        else:
            merged.append(piece)
    return merged
