"""Properties of clearing by price (HLUC 10): never more than the need, cheapest first, partial marginal
offer, deterministic ties, firm allocations kept, and a bad bid isolated (issue 15 item 7): whatever the
bids hold, clearing never raises, refuses each bad bid with its reason and clears the others as if it
were not there."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dso_saref.backend.clearing import Allocation, Bid, clear, merit_key

T0 = datetime(2021, 9, 27, 10, tzinfo=UTC)
HOURS = 6
END = T0 + timedelta(hours=HOURS)


@st.composite
def bids(draw, max_size=8):
    count = draw(st.integers(min_value=0, max_value=max_size))
    out = []
    for i in range(count):
        a = draw(st.integers(min_value=0, max_value=HOURS - 1))
        b = draw(st.integers(min_value=a + 1, max_value=HOURS))
        out.append(Bid(provider=draw(st.sampled_from(["SP1", "SP2"])), offer_id=str(i),
                       price=draw(st.sampled_from([-0.05, 0.0, 0.05, 0.1, 0.1, 0.2])),
                       quantity=draw(st.floats(min_value=0, max_value=50, allow_nan=False)),
                       start=T0 + timedelta(hours=a), end=T0 + timedelta(hours=b)))
    return out


def per_hour(allocations):
    """{hour start: {offer key: quantity}} of a clearing."""
    out = {}
    for h in range(HOURS):
        start = T0 + timedelta(hours=h)
        out[start] = {}
        for a in allocations:
            if a.start <= start and a.end >= start + timedelta(hours=1):
                out[start][a.key] = out[start].get(a.key, 0.0) + a.quantity
    return out


@settings(max_examples=300, deadline=None)
@given(need=st.floats(min_value=0, max_value=100, allow_nan=False), offers=bids())
def test_clearing_never_activates_more_than_the_need_nor_the_offer(need, offers):
    allocations = clear(need, T0, END, offers).allocations
    by_key = {b.key: b for b in offers}
    for start, taken in per_hour(allocations).items():
        assert math.fsum(taken.values()) <= need + 1e-9 * max(1, need)
        for key, quantity in taken.items():
            bid = by_key[key]
            assert 0 < quantity <= bid.quantity + 1e-9
            assert bid.start <= start < bid.end


@settings(max_examples=300, deadline=None)
@given(need=st.floats(min_value=0, max_value=100, allow_nan=False), offers=bids())
def test_clearing_is_cheapest_first_and_fills_the_need_when_it_can(need, offers):
    allocations = clear(need, T0, END, offers).allocations
    for start, taken in per_hour(allocations).items():
        covering = sorted((b for b in offers if b.start <= start < b.end), key=merit_key)
        # merit order: an offer gets something only if every cheaper covering offer is exhausted
        for earlier, later in itertools.combinations(covering, 2):
            if taken.get(later.key, 0) > 0:
                assert taken.get(earlier.key, 0) == pytest.approx(earlier.quantity, abs=1e-9)
        available = math.fsum(b.quantity for b in covering)
        assert math.fsum(taken.values()) == pytest.approx(min(need, available), abs=1e-7)


@settings(max_examples=150, deadline=None)
@given(need=st.floats(min_value=0, max_value=100, allow_nan=False), offers=bids(), seed=st.integers(0, 1000))
def test_clearing_does_not_depend_on_the_order_offers_arrived_in(need, offers, seed):
    shuffled = list(offers)
    random.Random(seed).shuffle(shuffled)
    assert clear(need, T0, END, offers) == clear(need, T0, END, shuffled)


def test_ties_are_broken_by_offer_id_numerically_then_by_provider():
    offers = [Bid("SP2", "10", 0.1, 5, T0, END), Bid("SP1", "9", 0.1, 5, T0, END), Bid("SP1", "10", 0.1, 5, T0, END)]
    allocations = clear(12, T0, END, offers).allocations
    assert [(a.provider, a.offer_id, a.quantity) for a in allocations] == [("SP1", "9", 5), ("SP1", "10", 5),
                                                                           ("SP2", "10", 2)]


@settings(max_examples=150, deadline=None)
@given(need=st.floats(min_value=1, max_value=50, allow_nan=False), extra=st.floats(min_value=0, max_value=50),
       offers=bids(), late=bids(max_size=3))
def test_reclearing_with_a_larger_need_keeps_firm_allocations(need, extra, offers, late):
    first = clear(need, T0, END, offers).allocations
    late = [Bid(b.provider, f"late{b.offer_id}", b.price - 1, b.quantity, b.start, b.end) for b in late]
    second = clear(need + extra, T0, END, [*offers, *late], firm=first).allocations
    before, after = per_hour(first), per_hour(second)
    for start, taken in before.items():
        for key, quantity in taken.items():
            assert after[start].get(key, 0) >= quantity - 1e-9
        assert math.fsum(after[start].values()) <= need + extra + 1e-7


HOSTILE = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(
    [1e308, -1e308, math.inf, -math.inf, math.nan, -0.0, 5e-324, 1e15]))


@st.composite
def hostile_bids(draw):
    """Bids as a broken database or a careless caller could give them: any float as quantity and price,
    windows anywhere (empty, reversed, outside the need's), ids given twice."""
    out = []
    for i in range(draw(st.integers(min_value=0, max_value=8))):
        a = draw(st.integers(min_value=-2, max_value=HOURS + 2))
        b = draw(st.integers(min_value=-2, max_value=HOURS + 2))
        out.append(Bid(provider=draw(st.sampled_from(["SP1", "SP2"])), offer_id=str(draw(st.integers(0, i))),
                       price=draw(HOSTILE), quantity=draw(HOSTILE), start=T0 + timedelta(hours=a),
                       end=T0 + timedelta(hours=b)))
    return out


@settings(max_examples=400, deadline=None)
@given(need=st.one_of(st.floats(min_value=0, max_value=100), HOSTILE), good=bids(max_size=5), bad=hostile_bids())
def test_a_bad_bid_is_refused_alone_and_never_fails_the_clearing(need, good, bad):
    bad = [Bid(b.provider, f"x{b.offer_id}", b.price, b.quantity, b.start, b.end) for b in bad]
    result = clear(need, T0, END, [*good, *bad])
    assert all(isinstance(reason, str) and reason for reason in result.refused.values())
    given_keys = {b.key for b in (*good, *bad)}
    assert set(result.refused) <= given_keys
    assert {a.key for a in result.allocations}.isdisjoint(result.refused)
    sound = [b for b in (*good, *bad) if b.key not in result.refused]
    if math.isfinite(need) and need >= 0:
        assert not {b.key for b in good} & set(result.refused), "a sound bid was refused"
        # the others are cleared exactly as if the refused ones had never been given
        assert result.allocations == clear(need, T0, END, sound).allocations
    else:
        assert set(result.refused) == given_keys and result.allocations == []
    for bid in sound:
        assert math.isfinite(bid.quantity) and bid.quantity >= 0 and math.isfinite(bid.price)
        assert T0 <= bid.start < bid.end <= END


def test_clearing_refuses_duplicate_or_out_of_window_bids_alone():
    duplicate = clear(1, T0, END, [Bid("SP1", "1", 0.1, 1, T0, END), Bid("SP1", "1", 0.2, 1, T0, END),
                                   Bid("SP2", "1", 0.3, 1, T0, END)])
    assert "twice" in duplicate.refused[("SP1", "1")]
    assert duplicate.allocations == [Allocation("SP2", "1", T0, END, 1.0)]
    outside = clear(1, T0, END, [Bid("SP1", "1", 0.1, 1, T0, END + timedelta(hours=1))])
    assert "outside" in outside.refused[("SP1", "1")] and outside.allocations == []
    huge = clear(1, T0, END, [Bid("SP1", "1", 0.1, math.inf, T0, END), Bid("SP2", "2", 0.2, 1, T0, END)])
    assert "quantity inf" in huge.refused[("SP1", "1")]
    assert huge.allocations == [Allocation("SP2", "2", T0, END, 1.0)]


def test_partial_marginal_offer_example_of_the_docstring():
    result = clear(100.0, T0, END, [Bid("SP1", "a", 0.10, 60.0, T0, END), Bid("SP2", "b", 0.08, 70.0, T0, END)])
    assert result.refused == {}
    assert result.allocations == [Allocation("SP2", "b", T0, END, 70.0), Allocation("SP1", "a", T0, END, 30.0)]
